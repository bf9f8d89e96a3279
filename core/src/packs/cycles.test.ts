import { addMonths } from '../dates';
import { WorkingCalendar } from './calendar';
import { dueDates } from './cycles';
import type { CalendarDefinition, CycleDefinition } from './types';

// England and Wales bank holidays around the dates below (GOV.UK, https://www.gov.uk/bank-holidays).
const englandAndWales: CalendarDefinition = {
  key: 'england-and-wales',
  name: 'England and Wales',
  source: 'https://www.gov.uk/bank-holidays',
  weekend: [0, 6],
  holidays: [
    { date: '2026-04-03', name: 'Good Friday' },
    { date: '2026-04-06', name: 'Easter Monday' },
    { date: '2026-05-04', name: 'Early May bank holiday' },
    { date: '2026-05-25', name: 'Spring bank holiday' },
    { date: '2026-08-31', name: 'Summer bank holiday' },
    { date: '2026-12-25', name: 'Christmas Day' },
    { date: '2026-12-28', name: 'Boxing Day (substitute day)' },
    { date: '2027-01-01', name: "New Year's Day" },
  ],
  schoolTerms: [
    { name: 'autumn 2026', start: '2026-09-02', end: '2026-12-18' },
    { name: 'spring 2027', start: '2027-01-05', end: '2027-03-26' },
    { name: 'summer 2027', start: '2027-04-12', end: '2027-07-21' },
  ],
};
const calendar = new WorkingCalendar(englandAndWales);

const childReview: CycleDefinition = {
  key: 'child-review',
  name: 'Looked-after child review',
  source: 'Care Planning, Placement and Case Review (England) Regulations 2010, reg 33',
  subject: 'child',
  trigger: 'child.entered_care',
  completedBy: 'child.review_held',
  steps: [
    { key: 'first', due: { workingDays: 20 }, from: 'trigger' },
    { key: 'second', due: { months: 3 }, from: 'previous' },
    { key: 'subsequent', due: { months: 6 }, from: 'previous', repeat: true },
  ],
};

const socialWorkerVisit: CycleDefinition = {
  key: 'social-worker-visit',
  name: 'Social worker visit',
  source: 'Care Planning, Placement and Case Review (England) Regulations 2010, reg 28',
  subject: 'placement',
  trigger: 'placement.started',
  steps: [
    { key: 'first', due: { weeks: 1 }, from: 'trigger' },
    { key: 'first-year', due: { weeks: 6 }, from: 'previous', repeat: true, until: { months: 12 } },
    {
      key: 'long-term',
      due: { months: 3 },
      from: 'previous',
      repeat: true,
      when: { all: [{ fact: 'longTerm', operator: 'equal', value: true }] },
    },
    { key: 'standard', due: { weeks: 6 }, from: 'previous', repeat: true },
  ],
};

describe('working days', () => {
  it('skip weekends and bank holidays, and refuse to count past the years the calendar knows', () => {
    expect(calendar.isWorkingDay('2026-04-03')).toBe(false);
    expect(calendar.isWorkingDay('2026-04-04')).toBe(false);
    expect(calendar.isWorkingDay('2026-04-07')).toBe(true);
    // Thursday 2 April 2026 + 1 working day: Good Friday, the weekend and Easter Monday are skipped.
    expect(calendar.addWorkingDays('2026-04-02', 1)).toBe('2026-04-07');
    expect(() => calendar.addWorkingDays('2027-12-20', 30)).toThrow(/holidays only to 2027/);
  });

  it('add months keeping the day where it exists', () => {
    expect(addMonths('2026-01-31', 1)).toBe('2026-02-28');
    expect(addMonths('2028-01-31', 1)).toBe('2028-02-29');
    expect(addMonths('2026-08-15', 6)).toBe('2027-02-15');
  });
});

describe('the looked-after child review cycle', () => {
  it('puts the first review 20 working days after the child becomes looked after, skipping the Easter bank holidays', async () => {
    // Looked after from Monday 23 March 2026. Counting 20 working days: 24-27 March (4), 30 March-2
    // April (4 more, 8), Good Friday 3 April and Easter Monday 6 April skipped, 7-10 April (12),
    // 13-17 April (17), 20-22 April (20): Wednesday 22 April. Without the holidays it would be 20 April.
    const due = await dueDates(childReview, calendar, { triggerDate: '2026-03-23', until: '2027-12-31' });
    expect(due[0]).toMatchObject({
      step: 'first',
      dueDate: '2026-04-22',
      countedFrom: { basis: 'trigger', date: '2026-03-23' },
    });
    // Second within 3 months of the first; then every 6 months.
    expect(due.slice(1, 4).map((d) => [d.step, d.dueDate])).toEqual([
      ['second', '2026-07-22'],
      ['subsequent', '2027-01-22'],
      ['subsequent', '2027-07-22'],
    ]);
  });

  it('counts the next review from the day the previous one was held, when it was held early', async () => {
    const due = await dueDates(childReview, calendar, {
      triggerDate: '2026-03-23',
      completed: ['2026-04-15', '2026-06-30'],
      until: '2027-03-01',
    });
    expect(due.map((d) => [d.step, d.dueDate, d.countedFrom.basis])).toEqual([
      ['first', '2026-04-22', 'trigger'],
      ['second', '2026-07-15', 'previous_done'],
      ['subsequent', '2026-12-30', 'previous_done'],
    ]);
  });

  it('stops after maxOccurrences, whatever until says (the done ones and the next)', async () => {
    const due = await dueDates(childReview, calendar, {
      triggerDate: '2026-03-23',
      completed: ['2026-04-15'],
      until: '9999-12-31',
      maxOccurrences: 2,
    });
    expect(due.map((d) => [d.occurrence, d.step, d.dueDate, d.completedOn])).toEqual([
      [1, 'first', '2026-04-22', '2026-04-15'],
      [2, 'second', '2026-07-15', null],
    ]);
  });
});

describe('social worker visits', () => {
  it('follow the 1-week then 6-week rule in the first year, then 3 months for a long-term placement', async () => {
    const due = await dueDates(socialWorkerVisit, calendar, {
      triggerDate: '2026-01-05',
      facts: { longTerm: true },
      until: '2027-06-30',
    });
    const dates = due.map((d) => d.dueDate);
    expect(due[0]).toMatchObject({ step: 'first', dueDate: '2026-01-12' });
    // Every 6 weeks from the first visit while within a year of the start...
    const firstYear = due.filter((d) => d.step === 'first-year');
    expect(firstYear[0]!.dueDate).toBe('2026-02-23');
    for (let i = 1; i < firstYear.length; i++) {
      expect((Date.parse(firstYear[i]!.dueDate) - Date.parse(firstYear[i - 1]!.dueDate)) / 86_400_000).toBe(42);
    }
    expect(firstYear[firstYear.length - 1]!.dueDate <= '2027-01-05').toBe(true);
    // ...then every 3 months, because the placement is long-term.
    const after = due.filter((d) => d.step === 'long-term');
    expect(after.length).toBeGreaterThan(0);
    expect(after[0]!.dueDate).toBe(addMonths(firstYear[firstYear.length - 1]!.dueDate, 3));
    expect(dates).toEqual([...dates].sort());
  });

  it('stay at 6 weeks after the first year when the placement is not long-term', async () => {
    const due = await dueDates(socialWorkerVisit, calendar, {
      triggerDate: '2026-01-05',
      facts: { longTerm: false },
      until: '2027-06-30',
    });
    expect(due.filter((d) => d.step === 'long-term')).toHaveLength(0);
    expect(due.filter((d) => d.step === 'standard').length).toBeGreaterThan(0);
  });
});

describe('age-dependent and termly cycles', () => {
  it('review health assessments every 6 months under 5 and every 12 months from 5', async () => {
    const health: CycleDefinition = {
      key: 'review-health-assessment',
      name: 'Review health assessment',
      source: 'Promoting the health and wellbeing of looked-after children (statutory guidance, 2015)',
      subject: 'child',
      trigger: 'child.initial_health_assessment',
      steps: [
        {
          key: 'under-five',
          due: { months: 6 },
          from: 'previous',
          repeat: true,
          when: { all: [{ fact: 'ageYears', operator: 'lessThan', value: 5 }] },
        },
        {
          key: 'five-and-over',
          due: { months: 12 },
          from: 'previous',
          repeat: true,
          when: { all: [{ fact: 'ageYears', operator: 'greaterThanInclusive', value: 5 }] },
        },
      ],
    };
    const due = await dueDates(health, calendar, {
      triggerDate: '2026-01-10',
      dateOfBirth: '2021-09-01',
      until: '2028-12-31',
    });
    // Born 1 September 2021: 4 on 10 July 2026 (so 6 months again), 5 by 10 January 2027 (so 12 months).
    expect(due.map((d) => [d.step, d.dueDate])).toEqual([
      ['under-five', '2026-07-10'],
      ['under-five', '2027-01-10'],
      ['five-and-over', '2028-01-10'],
    ]);
  });

  it('review a PEP by the end of the next school term', async () => {
    const pep: CycleDefinition = {
      key: 'pep-review',
      name: 'PEP review',
      source: 'statutory guidance on PEPs',
      subject: 'child',
      trigger: 'child.pep_started',
      steps: [{ key: 'termly', due: { schoolTerms: 1 }, from: 'previous', repeat: true }],
    };
    const due = await dueDates(pep, calendar, { triggerDate: '2026-10-01', until: '2027-06-30' });
    expect(due.map((d) => d.dueDate)).toEqual(['2027-03-26']);
  });
});
