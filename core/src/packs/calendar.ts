import { addDays, addMonths, toDate } from '../dates';
import type { CalendarDefinition, Duration } from './types';

export class CalendarRangeError extends Error {}

/**
 * A pack's working-day calendar: its weekend and public holidays, and school terms where cycles
 * count in terms. Counting past the last year the calendar knows is an error, not a guess: a due
 * date that silently ignored an unknown holiday would be wrong.
 */
export class WorkingCalendar {
  private readonly holidays: Set<string>;
  private readonly weekend: Set<number>;
  private readonly lastKnownYear: number;

  constructor(readonly definition: CalendarDefinition) {
    this.holidays = new Set(definition.holidays.map((h) => h.date));
    this.weekend = new Set(definition.weekend);
    this.lastKnownYear = Math.max(...definition.holidays.map((h) => Number(h.date.slice(0, 4))), 0);
  }

  isWorkingDay(iso: string): boolean {
    return !this.weekend.has(toDate(iso).getUTCDay()) && !this.holidays.has(iso);
  }

  holidayOn(iso: string): string | null {
    return this.definition.holidays.find((h) => h.date === iso)?.name ?? null;
  }

  /** The date `count` working days after `iso` (the start day itself is not counted). */
  addWorkingDays(iso: string, count: number): string {
    let date = iso;
    for (let counted = 0; counted < count;) {
      date = addDays(date, 1);
      if (Number(date.slice(0, 4)) > this.lastKnownYear) {
        throw new CalendarRangeError(
          `calendar "${this.definition.key}" lists holidays only to ${this.lastKnownYear}; cannot count working days into ${date.slice(0, 4)}`,
        );
      }
      if (this.isWorkingDay(date)) counted++;
    }
    return date;
  }

  /** The end of the Nth school term that starts after `iso` (a PEP held in one term is due by the end of the next). */
  endOfSchoolTerm(iso: string, count: number): string {
    const terms = [...(this.definition.schoolTerms ?? [])].sort((a, b) => a.start.localeCompare(b.start));
    const next = terms.findIndex((t) => t.start > iso);
    const term = next >= 0 ? terms[next + count - 1] : undefined;
    if (!term)
      throw new CalendarRangeError(`calendar "${this.definition.key}" has no school term ${count} after ${iso}`);
    return term.end;
  }

  add(iso: string, duration: Duration): string {
    if (duration.days !== undefined) return addDays(iso, duration.days);
    if (duration.weeks !== undefined) return addDays(iso, duration.weeks * 7);
    if (duration.months !== undefined) return addMonths(iso, duration.months);
    if (duration.years !== undefined) return addMonths(iso, duration.years * 12);
    if (duration.workingDays !== undefined) return this.addWorkingDays(iso, duration.workingDays);
    if (duration.schoolTerms !== undefined) return this.endOfSchoolTerm(iso, duration.schoolTerms);
    throw new Error(`empty duration ${JSON.stringify(duration)}`);
  }
}

/** Calendar arithmetic that never needs the holiday list (a duration without working days or terms). */
export function addPlainDuration(iso: string, duration: Duration): string {
  return new WorkingCalendar({ key: 'none', name: 'none', source: 'none', weekend: [], holidays: [] }).add(
    iso,
    duration,
  );
}
