import type { Layered, ResolvedPack } from '../packs/registry';
import type { PaymentPolicy, RateDefinition, RateRules, RateTable } from '../packs/types';
import { placementSegments, RateBook } from './engine';

/**
 * The engine against the published 2025-26 national minimum allowance (GOV.UK "Help with the cost of fostering", effective 6 April 2025) and the California basic rate
 * (LA County DCFS 0900-511.10, $1,129 a month from 1 July 2022).
 * Expected amounts are worked by hand in each test from those tables.
 */
const NMA_2025: RateTable = {
  kind: 'table',
  key: 'nma-allowance',
  name: 'National minimum allowance',
  component: 'allowance',
  period: 'week',
  floor: true,
  dimensions: ['ageBand', 'region'],
  ageBands: [
    { key: '0-2', minAge: 0, maxAge: 2 },
    { key: '3-4', minAge: 3, maxAge: 4 },
    { key: '5-10', minAge: 5, maxAge: 10 },
    { key: '11-15', minAge: 11, maxAge: 15 },
    { key: '16-17', minAge: 16, maxAge: 17 },
  ],
  values: [
    {
      effectiveFrom: '2025-04-06',
      source: 'GOV.UK, Help with the cost of fostering (2025-26)',
      amounts: {
        '0-2': { london: 19800, south_east: 18900, rest_of_england: 17000 },
        '3-4': { london: 20100, south_east: 19600, rest_of_england: 17600 },
        '5-10': { london: 22500, south_east: 21600, rest_of_england: 19400 },
        '11-15': { london: 25700, south_east: 24700, rest_of_england: 22000 },
        '16-17': { london: 29900, south_east: 28800, rest_of_england: 25800 },
      },
    },
  ],
};

const allowanceRules: RateRules = {
  kind: 'rules',
  key: 'placement-rules',
  name: 'rules',
  rules: [
    {
      name: 'allowance-every-night',
      conditions: { all: [{ fact: 'inCare', operator: 'equal', value: true }] },
      event: { type: 'component', params: { component: 'allowance', table: 'nma-allowance' } },
    },
  ],
};

const ukPolicy: PaymentPolicy = {
  kind: 'policy',
  key: 'payment-policy',
  name: 'per night',
  paymentUnit: 'night',
  departureDayPaid: false,
  conversion: 'weekly_div_7',
  rounding: 'half_up_per_line',
  schedule: { frequency: 'weekly', timing: 'arrears' },
};

function pack(id: string, rates: RateDefinition[]): ResolvedPack {
  const map = new Map<string, Layered<RateDefinition>>(
    rates.map((r) => [r.key, { value: r, layer: id, folder: '', file: `${r.key}.json`, pointer: '' }]),
  );
  const empty = <T>() => new Map<string, Layered<T>>();
  return {
    manifest: { id, version: '1.0.0', name: id, jurisdiction: 'XX', currency: 'GBP', defaultTimeZone: 'UTC' },
    chain: [id],
    calendar: null,
    points: {
      terminology: empty(),
      notifications: empty(),
      portal: empty(),
      lookups: empty(),
      calendars: empty(),
      forms: empty(),
      workflows: empty(),
      cycles: empty(),
      rates: map,
      templates: empty(),
      extracts: empty(),
      accounts: empty(),
      retention: empty(),
    },
  };
}

const uk = new RateBook(pack('uk', [NMA_2025, allowanceRules, ukPolicy]));

describe('England: the national minimum allowance per night', () => {
  const bands: Array<[string, string]> = [
    ['0-2', '2025-01-01'],
    ['3-4', '2022-01-01'],
    ['5-10', '2018-01-01'],
    ['11-15', '2012-01-01'],
    ['16-17', '2009-01-01'],
  ];
  const regions = ['london', 'south_east', 'rest_of_england'];

  it.each(bands.flatMap(([band, dob]) => regions.map((region) => [band, region, dob] as const)))(
    'pays a whole week at the %s band in %s as the weekly table amount',
    async (band, region, dob) => {
      // Seven nights, 1-7 June 2025 (arrival on the 1st, departure on the 8th, which is not paid).
      const segments = await placementSegments(
        uk,
        { startDate: '2025-06-01', endDate: '2025-06-08', childDateOfBirth: dob, region },
        { from: '2025-06-01', to: '2025-06-30' },
      );
      const weekly = (NMA_2025.values[0]!.amounts as Record<string, Record<string, number>>)[band]![region]!;
      expect(segments).toEqual([
        expect.objectContaining({
          component: 'allowance',
          from: '2025-06-01',
          to: '2025-06-07',
          nights: 7,
          amount: weekly,
        }),
      ]);
      expect(segments[0]!.explanation).toMatchObject({
        rule: 'allowance-every-night',
        table: 'nma-allowance',
        layer: 'pack:uk',
        effectiveFrom: '2025-04-06',
        facts: { ageBand: band, region },
      });
    },
  );

  it('splits nights across a birthday that moves the child into the next band', async () => {
    // Turns 5 on 10 June 2025; Rest of England: 4 nights (6-9 June) at £176/7, 3 nights (10-12 June) at £194/7.
    const segments = await placementSegments(
      uk,
      { startDate: '2025-06-06', endDate: '2025-06-13', childDateOfBirth: '2020-06-10', region: 'rest_of_england' },
      { from: '2025-06-01', to: '2025-06-30' },
    );
    expect(segments.map((s) => [s.from, s.to, s.nights, s.explanation.facts.ageBand, s.amount])).toEqual([
      ['2025-06-06', '2025-06-09', 4, '3-4', 10057], // 17600 × 4 / 7 = 10057.14 → 10057
      ['2025-06-10', '2025-06-12', 3, '5-10', 8314], // 19400 × 3 / 7 = 8314.29 → 8314
    ]);
  });

  it('pays a London carer more than a Rest of England carer for the same child and nights', async () => {
    const nights = { startDate: '2025-07-01', endDate: '2025-07-11', childDateOfBirth: '2013-03-03' };
    const [london] = await placementSegments(
      uk,
      { ...nights, region: 'london' },
      { from: '2025-07-01', to: '2025-07-31' },
    );
    const [rest] = await placementSegments(
      uk,
      { ...nights, region: 'rest_of_england' },
      { from: '2025-07-01', to: '2025-07-31' },
    );
    // 10 nights at the 11-15 band: £257 × 10 / 7 = £367.142… and £220 × 10 / 7 = £314.285…
    expect([london!.amount, rest!.amount]).toEqual([36714, 31429]);
  });

  it('does not pay the night of departure, and pays a continuing placement to the end of the period', async () => {
    const ended = await placementSegments(
      uk,
      { startDate: '2025-06-28', endDate: '2025-07-02', childDateOfBirth: '2015-01-01', region: 'south_east' },
      { from: '2025-06-01', to: '2025-07-31' },
    );
    expect(ended.map((s) => [s.from, s.to, s.nights])).toEqual([['2025-06-28', '2025-07-01', 4]]);
    expect(ended[0]!.amount).toBe(12343); // 21600 × 4 / 7 = 12342.86 → 12343
    const continuing = await placementSegments(
      uk,
      { startDate: '2025-06-28', endDate: null, childDateOfBirth: '2015-01-01', region: 'south_east' },
      { from: '2025-07-01', to: '2025-07-07' },
    );
    expect(continuing.map((s) => [s.from, s.to, s.nights, s.amount])).toEqual([['2025-07-01', '2025-07-07', 7, 21600]]);
  });

  it('splits a period that straddles a change in the table at the date the new value takes effect', async () => {
    // The table's dated values are what the engine reads "as of" each night; the later value here is a
    // test input (a 2026-27 figure is not yet published in the reference), the split is what is tested.
    const withNextYear: RateTable = {
      ...NMA_2025,
      values: [
        ...NMA_2025.values,
        {
          effectiveFrom: '2026-04-06',
          source: 'test input, not a published figure',
          amounts: {
            ...(NMA_2025.values[0]!.amounts as object),
            '5-10': { london: 23300, south_east: 22400, rest_of_england: 20100 },
          },
        },
      ],
    };
    const book = new RateBook(pack('uk', [withNextYear, allowanceRules, ukPolicy]));
    const segments = await placementSegments(
      book,
      { startDate: '2026-03-30', endDate: null, childDateOfBirth: '2018-01-01', region: 'rest_of_england' },
      { from: '2026-03-30', to: '2026-04-12' },
    );
    expect(segments.map((s) => [s.from, s.to, s.nights, s.explanation.effectiveFrom, s.amount])).toEqual([
      ['2026-03-30', '2026-04-05', 7, '2025-04-06', 19400],
      ['2026-04-06', '2026-04-12', 7, '2026-04-06', 20100],
    ]);
  });
});

describe('California: the basic monthly rate, paid per night', () => {
  const BASIC: RateTable = {
    kind: 'table',
    key: 'basic-rate',
    name: 'Home-based family care basic rate',
    component: 'allowance',
    period: 'month',
    floor: true,
    dimensions: [],
    values: [
      { effectiveFrom: '2022-07-01', source: 'LA County DCFS policy guide 0900-511.10; WIC 11461', amounts: 112900 },
    ],
  };
  const rules: RateRules = {
    kind: 'rules',
    key: 'placement-rules',
    name: 'rules',
    rules: [
      {
        name: 'basic-rate-every-night',
        conditions: { all: [{ fact: 'inCare', operator: 'equal', value: true }] },
        event: { type: 'component', params: { component: 'basic_rate', table: 'basic-rate' } },
      },
    ],
  };
  const policy: PaymentPolicy = {
    kind: 'policy',
    key: 'payment-policy',
    name: 'per night, monthly in arrears',
    paymentUnit: 'night',
    departureDayPaid: false,
    conversion: 'monthly_div_days_in_month',
    rounding: 'half_up_per_line',
    schedule: { frequency: 'monthly', timing: 'arrears' },
  };
  const ca = new RateBook(pack('usa/ca', [BASIC, rules, policy]));

  it('pays a whole month at the basic rate', async () => {
    const segments = await placementSegments(
      ca,
      { startDate: '2022-08-01', endDate: null, childDateOfBirth: '2012-01-01' },
      { from: '2022-09-01', to: '2022-09-30' },
    );
    expect(segments.map((s) => [s.nights, s.amount])).toEqual([[30, 112900]]);
  });

  it('pays a mid-month placement for the nights in the home, per night of the month', async () => {
    // Arrives 16 September 2022: 15 nights of a 30-day month = $1,129 × 15 / 30 = $564.50.
    const september = await placementSegments(
      ca,
      { startDate: '2022-09-16', endDate: null, childDateOfBirth: '2012-01-01' },
      { from: '2022-09-01', to: '2022-09-30' },
    );
    expect(september.map((s) => [s.from, s.to, s.nights, s.amount])).toEqual([['2022-09-16', '2022-09-30', 15, 56450]]);
    // Leaves 11 October: 10 nights of a 31-day month = 112900 × 10 / 31 = 36419.35 → 36419.
    const october = await placementSegments(
      ca,
      { startDate: '2022-09-16', endDate: '2022-10-11', childDateOfBirth: '2012-01-01' },
      { from: '2022-10-01', to: '2022-10-31' },
    );
    expect(october.map((s) => [s.from, s.to, s.nights, s.amount])).toEqual([['2022-10-01', '2022-10-10', 10, 36419]]);
  });
});
