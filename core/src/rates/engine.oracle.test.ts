import fc from 'fast-check';
import { addMonths } from '../dates';
import { loadPacks, type Layered, type ResolvedPack } from '../packs/registry';
import type { Amounts, PaymentPolicy, RateDefinition, RateRules, RateTable, RuleDefinition } from '../packs/types';
import {
  placementSegments,
  RateBook,
  type Occasion,
  type OverlayRateValue,
  type OverlayRuleChange,
  type PlacementFactChange,
  type PlacementForRates,
} from './engine';
import { placementSegmentsNightByNight } from './nightByNight';

/*
 * The segment engine against the night-by-night oracle: for generated placements, periods, dated
 * facts and tenant overlays, both must give deep-equal segments (same order, amounts and
 * explanations) or fail with the same error. Amounts in the synthetic tables below are test inputs,
 * not published figures; the real packs carry their own sources.
 */

const RUNS = Number(process.env.HEARTH_PROPERTY_RUNS ?? 250);
const SEED = process.env.HEARTH_PROPERTY_SEED === undefined ? undefined : Number(process.env.HEARTH_PROPERTY_SEED);

const DAY_MS = 86_400_000;
const shift = (iso: string, days: number) => new Date(Date.parse(iso) + days * DAY_MS).toISOString().slice(0, 10);

function syntheticPack(id: string, rates: RateDefinition[]): ResolvedPack {
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

const inCare = { all: [{ fact: 'inCare', operator: 'equal', value: true }] };
const rule = (
  name: string,
  component: string,
  table: string,
  conditions: RuleDefinition['conditions'] = inCare,
  weeks?: number,
): RuleDefinition => ({
  name,
  conditions,
  event: { type: 'component', params: { component, table, ...(weeks === undefined ? {} : { weeks }) } },
});

const NMA_AMOUNTS = {
  '0-2': { london: 19800, south_east: 18900, rest_of_england: 17000 },
  '3-4': { london: 20100, south_east: 19600, rest_of_england: 17600 },
  '5-10': { london: 22500, south_east: 21600, rest_of_england: 19400 },
  '11-15': { london: 25700, south_east: 24700, rest_of_england: 22000 },
  '16-17': { london: 29900, south_east: 28800, rest_of_england: 25800 },
};
const UK_BANDS = [
  { key: '0-2', minAge: 0, maxAge: 2 },
  { key: '3-4', minAge: 3, maxAge: 4 },
  { key: '5-10', minAge: 5, maxAge: 10 },
  { key: '11-15', minAge: 11, maxAge: 15 },
  { key: '16-17', minAge: 16, maxAge: 17 },
];

/** A weekly England-shaped book with two dated years, its own age bands on a second table, a daily and a yearly table, and extras. */
function weeklyBook(): ResolvedPack {
  const nma: RateTable = {
    kind: 'table',
    key: 'nma-allowance',
    name: 'allowance',
    component: 'allowance',
    period: 'week',
    floor: true,
    dimensions: ['ageBand', 'region'],
    ageBands: UK_BANDS,
    values: [
      { effectiveFrom: '2025-04-06', source: 'test input', amounts: NMA_AMOUNTS },
      {
        effectiveFrom: '2026-04-06',
        source: 'test input',
        amounts: { ...NMA_AMOUNTS, '5-10': { london: 23300, south_east: 22400, rest_of_england: 20100 } },
      },
    ],
  };
  const teen: RateTable = {
    kind: 'table',
    key: 'age-supplement',
    name: 'supplement by its own age bands',
    component: 'supplement',
    period: 'week',
    dimensions: ['ageBand'],
    ageBands: [
      { key: 'under-11', minAge: 0, maxAge: 10 },
      { key: '11-plus', minAge: 11, maxAge: 17 },
    ],
    values: [
      { effectiveFrom: '2025-04-06', source: 'test input', amounts: { 'under-11': 1000, '11-plus': 2500 } },
      { effectiveFrom: '2025-09-01', source: 'test input', amounts: { 'under-11': 1100, '11-plus': 2600 } },
    ],
  };
  const daily: RateTable = {
    kind: 'table',
    key: 'daily-supplement',
    name: 'daily',
    component: 'supplement',
    period: 'day',
    dimensions: ['placementType'],
    values: [
      {
        effectiveFrom: '2025-01-01',
        source: 'test input',
        amounts: { foster_unrelated: 333, foster_family_friends: 250 },
      },
    ],
  };
  const yearly: RateTable = {
    kind: 'table',
    key: 'annual-fee',
    name: 'yearly',
    component: 'fee',
    period: 'year',
    dimensions: ['carerLevel'],
    values: [
      { effectiveFrom: '2025-06-01', source: 'test input', amounts: { level_1: 0, level_2: 520000, level_3: 1040000 } },
    ],
  };
  const once: RateTable = {
    kind: 'table',
    key: 'one-off',
    name: 'once',
    component: 'extra',
    period: 'once',
    dimensions: [],
    values: [{ effectiveFrom: '2025-01-01', source: 'test input', amounts: 5000 }],
  };
  const rules: RateRules = {
    kind: 'rules',
    key: 'placement-rules',
    name: 'rules',
    rules: [
      rule('allowance-every-night', 'allowance', 'nma-allowance'),
      rule('age-supplement', 'age_supplement', 'age-supplement', {
        all: [{ fact: 'respite', operator: 'equal', value: false }],
      }),
      rule('daily-supplement', 'daily_supplement', 'daily-supplement', {
        all: [{ fact: 'placementType', operator: 'in', value: ['foster_unrelated', 'foster_family_friends'] }],
      }),
      rule('annual-fee', 'fee', 'annual-fee', {
        all: [{ fact: 'carerLevel', operator: 'in', value: ['level_1', 'level_2', 'level_3'] }],
      }),
    ],
  };
  const extras: RateRules = {
    kind: 'rules',
    key: 'extras',
    name: 'extras',
    rules: [
      rule(
        'birthday_extra',
        'birthday_extra',
        'nma-allowance',
        { all: [{ fact: 'occasion', operator: 'equal', value: 'birthday' }] },
        1,
      ),
      rule(
        'festival_extra',
        'festival_extra',
        'daily-supplement',
        { all: [{ fact: 'occasion', operator: 'equal', value: 'festival' }] },
        2,
      ),
      rule(
        'holiday_extra',
        'holiday_extra',
        'age-supplement',
        { all: [{ fact: 'occasion', operator: 'equal', value: 'holiday' }] },
        1,
      ),
    ],
  };
  const policy: PaymentPolicy = {
    kind: 'policy',
    key: 'payment-policy',
    name: 'per night',
    paymentUnit: 'night',
    departureDayPaid: false,
    conversion: 'weekly_div_7',
    rounding: 'half_up_per_line',
    schedule: { frequency: 'weekly', timing: 'arrears' },
  };
  return syntheticPack('synthetic-weekly', [nma, teen, daily, yearly, once, rules, extras, policy]);
}

/** A California-shaped monthly book with two dated years, a level-of-care table, the departure day paid and half-even rounding. */
function monthlyBook(): ResolvedPack {
  const basic: RateTable = {
    kind: 'table',
    key: 'basic-rate',
    name: 'basic',
    component: 'allowance',
    period: 'month',
    floor: true,
    dimensions: [],
    values: [
      { effectiveFrom: '2022-07-01', source: 'test input', amounts: 112900 },
      { effectiveFrom: '2023-07-01', source: 'test input', amounts: 119900 },
    ],
  };
  const loc: RateTable = {
    kind: 'table',
    key: 'level-of-care',
    name: 'loc',
    component: 'level_of_care',
    period: 'month',
    floor: true,
    dimensions: ['levelOfCare'],
    values: [
      {
        effectiveFrom: '2022-07-01',
        source: 'test input',
        amounts: { loc_1: 0, loc_2: 22500, loc_3: 45100, loc_4: 67600 },
      },
    ],
  };
  const rules: RateRules = {
    kind: 'rules',
    key: 'placement-rules',
    name: 'rules',
    rules: [
      rule('basic-rate-every-night', 'basic_rate', 'basic-rate'),
      rule('level-of-care', 'level_of_care', 'level-of-care', {
        all: [{ fact: 'levelOfCare', operator: 'in', value: ['loc_2', 'loc_3', 'loc_4'] }],
      }),
    ],
  };
  // Extras on a daily table, where the day of departure is paid but is not the child's night in the placement.
  const daily: RateTable = {
    kind: 'table',
    key: 'occasion-day',
    name: 'daily',
    component: 'extra',
    period: 'day',
    dimensions: ['levelOfCare'],
    values: [
      {
        effectiveFrom: '2022-07-01',
        source: 'test input',
        amounts: { loc_1: 1500, loc_2: 2500, loc_3: 3500, loc_4: 4500 },
      },
    ],
  };
  const extras: RateRules = {
    kind: 'rules',
    key: 'extras',
    name: 'extras',
    rules: [
      rule(
        'birthday_extra',
        'birthday_extra',
        'occasion-day',
        { all: [{ fact: 'occasion', operator: 'equal', value: 'birthday' }] },
        1,
      ),
      rule(
        'festival_extra',
        'festival_extra',
        'occasion-day',
        { all: [{ fact: 'occasion', operator: 'in', value: ['festival', 'holiday'] }] },
        2,
      ),
    ],
  };
  const policy: PaymentPolicy = {
    kind: 'policy',
    key: 'payment-policy',
    name: 'per night',
    paymentUnit: 'night',
    departureDayPaid: true,
    conversion: 'monthly_div_days_in_month',
    rounding: 'half_even_per_line',
    schedule: { frequency: 'monthly', timing: 'arrears' },
  };
  return syntheticPack('synthetic-monthly', [basic, loc, daily, rules, extras, policy]);
}

interface Scenario {
  name: string;
  pack: ResolvedPack;
  /** Where periods start: each near a change (6 April, 1 July, a month or year end, 29 February). */
  anchors: string[];
  regions: Array<string | null>;
  carerLevels: Array<string | null>;
  placementTypes: Array<string | null>;
  levelsOfCare: Array<string | null>;
  /** What a tenant overlay may price, given a delta to move the amounts by. */
  overlayAmounts: Array<{ table: string; amounts: (delta: number, partial: boolean) => Amounts }>;
  overlayRules: RuleDefinition[];
  removableRules: string[];
  /** Extras a tenant overlay may add or take away (none where the pack has no extras). */
  overlayExtras?: RuleDefinition[];
  removableExtras?: string[];
}

const shiftAmounts = (amounts: Amounts, delta: number, keep: (key: string) => boolean = () => true): Amounts =>
  typeof amounts === 'number'
    ? Math.max(0, amounts + delta)
    : Object.fromEntries(
        Object.entries(amounts)
          .filter(([k]) => keep(k))
          .map(([k, v]) => [k, shiftAmounts(v, delta)]),
      );

const registry = loadPacks();
const levels = ['level_1', 'level_2', 'level_3', null, 'level_9'];
const englandTypes = [
  'foster_unrelated',
  'foster_unrelated',
  'foster_family_friends',
  'foster_family_friends',
  'temporary_carer_holiday',
  null,
];
const englandRegions = ['london', 'south_east', 'rest_of_england', 'london', 'south_east', 'rest_of_england', null];

const scenarios: Scenario[] = [
  {
    name: 'the real UK pack',
    pack: registry.resolve('uk'),
    anchors: [
      '2025-03-24',
      '2024-03-25',
      '2026-03-28',
      '2025-06-01',
      '2024-12-20',
      '2028-02-15',
      '2025-02-15',
      '2027-02-20',
      '2025-08-25',
    ],
    regions: englandRegions,
    carerLevels: levels,
    placementTypes: englandTypes,
    levelsOfCare: [null],
    overlayAmounts: [
      {
        table: 'nma-allowance',
        amounts: (delta, partial) =>
          shiftAmounts(NMA_AMOUNTS, delta, partial ? (k) => k === '5-10' || k === '11-15' : undefined),
      },
      {
        table: 'fee-by-level',
        amounts: (delta, partial) =>
          shiftAmounts(
            { level_1: 0, level_2: 10000, level_3: 20000 },
            delta + 1500,
            partial ? (k) => k !== 'level_1' : undefined,
          ),
      },
    ],
    overlayRules: [
      rule('fee_by_level', 'fee', 'fee-by-level', {
        all: [
          { fact: 'carerLevel', operator: 'in', value: ['level_2', 'level_3'] },
          { fact: 'respite', operator: 'equal', value: false },
        ],
      }),
      rule('respite_fee', 'respite_fee', 'fee-by-level', {
        all: [
          { fact: 'respite', operator: 'equal', value: true },
          { fact: 'carerLevel', operator: 'in', value: ['level_2', 'level_3'] },
        ],
      }),
      rule('teenager_allowance', 'allowance', 'nma-allowance', {
        all: [
          { fact: 'ageYears', operator: 'greaterThanInclusive', value: 11 },
          { fact: 'region', operator: 'notEqual', value: null },
        ],
      }),
      rule('weeks_in_night_rules', 'stray_extra', 'nma-allowance', inCare, 1),
      rule('level_3_supplement', 'supplement', 'fee-by-level', {
        all: [
          { fact: 'carerLevel', operator: 'equal', value: 'level_3' },
          { fact: 'ageBand', operator: 'in', value: ['11-15', '16-17'] },
        ],
      }),
    ],
    removableRules: ['fee_by_level', 'allowance_respite_night', 'allowance_foster_night'],
    overlayExtras: [
      rule(
        'festival_extra',
        'festival_extra',
        'nma-allowance',
        { all: [{ fact: 'occasion', operator: 'equal', value: 'festival' }] },
        2,
      ),
      rule(
        'respite_birthday',
        'birthday_extra',
        'fee-by-level',
        {
          all: [
            { fact: 'occasion', operator: 'equal', value: 'birthday' },
            { fact: 'respite', operator: 'equal', value: true },
          ],
        },
        1,
      ),
    ],
    removableExtras: ['birthday_extra', 'holiday_extra'],
  },
  {
    name: 'the real California pack',
    pack: registry.resolve('usa/ca'),
    anchors: ['2022-06-20', '2022-09-01', '2023-02-18', '2024-02-10', '2023-06-15', '2022-12-15'],
    regions: [null],
    carerLevels: [null],
    placementTypes: [null],
    levelsOfCare: ['loc_1', 'loc_1', 'basic', null, 'loc_2', 'loc_3', 'loc_4', 'isfc'],
    overlayAmounts: [
      { table: 'basic-rate', amounts: (delta) => 112900 + delta },
      {
        table: 'level-of-care',
        amounts: (delta, partial) =>
          shiftAmounts(
            { loc_1: 0, loc_2: 22500, loc_3: 45100, loc_4: 67600, isfc: 90000 },
            Math.abs(delta),
            partial ? (k) => k !== 'isfc' : undefined,
          ),
      },
    ],
    overlayRules: [
      rule('level-of-care-supplement', 'level_of_care', 'level-of-care', {
        all: [{ fact: 'levelOfCare', operator: 'in', value: ['loc_2', 'loc_3'] }],
      }),
      rule('infant-supplement', 'infant_supplement', 'level-of-care', {
        all: [
          { fact: 'ageYears', operator: 'lessThan', value: 2 },
          { fact: 'levelOfCare', operator: 'equal', value: 'loc_1' },
        ],
      }),
      rule('second-basic', 'allowance', 'basic-rate', {
        all: [{ fact: 'levelOfCare', operator: 'equal', value: 'loc_4' }],
      }),
    ],
    removableRules: ['level-of-care-supplement', 'basic-rate-every-night'],
  },
  {
    name: 'a synthetic weekly book (own age bands, daily, yearly and once tables)',
    pack: weeklyBook(),
    anchors: ['2025-03-24', '2026-03-28', '2025-08-20', '2025-05-25', '2025-12-20', '2028-02-15', '2027-02-20'],
    regions: englandRegions,
    carerLevels: levels,
    placementTypes: englandTypes,
    levelsOfCare: [null],
    overlayAmounts: [
      {
        table: 'nma-allowance',
        amounts: (delta, partial) => shiftAmounts(NMA_AMOUNTS, delta, partial ? (k) => k !== '0-2' : undefined),
      },
      {
        table: 'age-supplement',
        amounts: (delta, partial) =>
          shiftAmounts({ 'under-11': 1000, '11-plus': 2500 }, delta, partial ? (k) => k === '11-plus' : undefined),
      },
      {
        table: 'annual-fee',
        amounts: (delta) => shiftAmounts({ level_1: 0, level_2: 520000, level_3: 1040000 }, delta * 10),
      },
    ],
    overlayRules: [
      rule('annual-fee', 'fee', 'annual-fee', {
        all: [{ fact: 'carerLevel', operator: 'in', value: ['level_2', 'level_3'] }],
      }),
      rule('second-allowance', 'allowance', 'nma-allowance', {
        all: [{ fact: 'ageYears', operator: 'greaterThanInclusive', value: 16 }],
      }),
      rule('one-off', 'one_off', 'one-off', { all: [{ fact: 'carerLevel', operator: 'equal', value: 'level_9' }] }),
      rule('no-such-table', 'mystery', 'missing-table', {
        all: [
          { fact: 'placementType', operator: 'equal', value: 'temporary_carer_holiday' },
          { fact: 'carerLevel', operator: 'equal', value: 'level_9' },
        ],
      }),
    ],
    removableRules: ['age-supplement', 'daily-supplement'],
    overlayExtras: [
      rule(
        'holiday_extra',
        'holiday_extra',
        'nma-allowance',
        { all: [{ fact: 'occasion', operator: 'equal', value: 'holiday' }] },
        3,
      ),
    ],
    removableExtras: ['festival_extra', 'birthday_extra'],
  },
  {
    name: 'a synthetic monthly book (departure day paid, half-even rounding)',
    pack: monthlyBook(),
    anchors: ['2023-06-15', '2022-06-25', '2024-02-10', '2023-02-18', '2022-12-20', '2023-09-28'],
    regions: [null, 'anywhere'],
    carerLevels: [null],
    placementTypes: [null],
    levelsOfCare: ['loc_1', 'loc_2', 'loc_3', 'loc_4', null],
    overlayAmounts: [
      { table: 'basic-rate', amounts: (delta) => 112900 + delta },
      {
        table: 'level-of-care',
        amounts: (delta, partial) =>
          shiftAmounts(
            { loc_1: 0, loc_2: 22500, loc_3: 45100, loc_4: 67600 },
            delta,
            partial ? (k) => k !== 'loc_4' : undefined,
          ),
      },
    ],
    overlayRules: [
      rule('level-of-care', 'level_of_care', 'level-of-care', {
        all: [{ fact: 'levelOfCare', operator: 'in', value: ['loc_1', 'loc_2', 'loc_3', 'loc_4'] }],
      }),
      rule('second-basic', 'basic_rate', 'basic-rate', { all: [{ fact: 'ageYears', operator: 'lessThan', value: 3 }] }),
    ],
    removableRules: ['level-of-care'],
    overlayExtras: [
      rule(
        'festival_extra',
        'festival_extra',
        'occasion-day',
        { all: [{ fact: 'occasion', operator: 'equal', value: 'festival' }] },
        1,
      ),
    ],
    removableExtras: ['birthday_extra'],
  },
];

/** Ages that move a child across a band (and over 18, out of every band), and 29 February birthdays. */
const EDGE_AGES = [0, 1, 3, 5, 11, 16, 18];

function caseFor(scenario: Scenario) {
  const pick = <T>(values: T[]) => fc.constantFrom(...values);
  const optional = <T>(values: T[]) =>
    fc.oneof({ arbitrary: pick(values), weight: 6 }, { arbitrary: fc.constant(undefined), weight: 1 });
  const period = fc
    .record({
      anchor: pick(scenario.anchors),
      offset: fc.integer({ min: -12, max: 12 }),
      length: fc.oneof(fc.constant(28), fc.constant(7), fc.integer({ min: 1, max: 75 })),
    })
    .map(({ anchor, offset, length }) => {
      const from = shift(anchor, offset);
      return { from, to: shift(from, length - 1) };
    });
  return period.chain((p) => {
    const near = (before: number, after: number) =>
      fc.integer({ min: -before, max: after }).map((d) => shift(p.from, d));
    const dateOfBirth = fc.oneof(
      {
        arbitrary: fc
          .record({ age: pick(EDGE_AGES), offset: fc.integer({ min: -50, max: 80 }) })
          .map(({ age, offset }) => shift(addMonths(p.from, -12 * age), offset)),
        weight: 8,
      },
      {
        arbitrary: pick([
          '2008-02-29',
          '2012-02-29',
          '2016-02-29',
          '2020-02-29',
          '2024-02-29',
          '2011-04-06',
          '2010-12-31',
          '2015-01-01',
        ]),
        weight: 3,
      },
    );
    const change: fc.Arbitrary<PlacementFactChange> = fc.record(
      {
        from: near(40, 80),
        carerLevel: pick(scenario.carerLevels),
        levelOfCare: pick(scenario.levelsOfCare),
        region: pick(scenario.regions),
        placementType: pick(scenario.placementTypes),
      },
      { requiredKeys: ['from'] },
    );
    // Occasions near the period (some outside it, some on its first or last night), of kinds the rules pay and one they do not.
    const occasion: fc.Arbitrary<Occasion> = fc.record(
      {
        kind: pick(['festival', 'holiday', 'festival', 'name_day']),
        date: fc.oneof(near(10, 40), fc.constant(p.from), fc.constant(p.to)),
        name: fc.option(fc.constantFrom('Eid al-Fitr', 'Summer week'), { nil: undefined }),
        id: fc.option(fc.uuid(), { nil: undefined }),
      },
      { requiredKeys: ['kind', 'date'] },
    );
    const placement: fc.Arbitrary<PlacementForRates> = fc
      .record({
        // Mostly placements that overlap the period, some that start or end outside it, a few that never reach it.
        start: fc.oneof({ arbitrary: near(20, 10), weight: 4 }, { arbitrary: near(80, 60), weight: 1 }),
        stay: fc.oneof(
          { arbitrary: fc.constant(null), weight: 3 },
          { arbitrary: fc.integer({ min: 20, max: 100 }), weight: 3 },
          { arbitrary: fc.integer({ min: -2, max: 20 }), weight: 1 },
        ),
        childDateOfBirth: dateOfBirth,
        region: optional(scenario.regions),
        carerLevel: optional(scenario.carerLevels),
        placementType: optional(scenario.placementTypes),
        levelOfCare: optional(scenario.levelsOfCare),
        respite: fc.option(fc.boolean(), { nil: undefined }),
        occasions: fc.option(fc.array(occasion, { maxLength: 4 }), { nil: undefined }),
        changes: fc.option(fc.array(change, { maxLength: 4 }), { nil: undefined }),
      })
      .map(({ start, stay, ...rest }) => ({
        ...rest,
        startDate: start,
        endDate: stay === null ? null : shift(start, stay),
      }));
    const rates: fc.Arbitrary<OverlayRateValue[]> = fc.array(
      fc
        .record({
          which: fc.nat({ max: scenario.overlayAmounts.length - 1 }),
          effectiveFrom: near(400, 60),
          delta: fc.integer({ min: -1500, max: 3000 }),
          partial: fc.boolean(),
          version: fc.integer({ min: 1, max: 9 }),
        })
        .map(({ which, effectiveFrom, delta, partial, version }) => {
          const priced = scenario.overlayAmounts[which]!;
          return {
            table: priced.table,
            effectiveFrom,
            amounts: priced.amounts(delta, partial),
            layer: `overlay:${version}`,
            source: `tenant overlay ${version}`,
          };
        }),
      { maxLength: 3 },
    );
    const rules: fc.Arbitrary<OverlayRuleChange[]> = fc.array(
      fc.record({
        effectiveFrom: near(30, 60),
        add: fc.subarray(scenario.overlayRules, { maxLength: 2 }),
        remove: fc.subarray(scenario.removableRules, { maxLength: 1 }),
      }),
      { maxLength: 2 },
    );
    const extras: fc.Arbitrary<OverlayRuleChange[]> = scenario.overlayExtras
      ? fc.array(
          fc.record({
            effectiveFrom: near(30, 60),
            add: fc.subarray(scenario.overlayExtras, { maxLength: 1 }),
            remove: fc.subarray(scenario.removableExtras ?? [], { maxLength: 1 }),
          }),
          { maxLength: 2 },
        )
      : fc.constant([]);
    return fc.record({ period: fc.constant(p), placement, overlays: fc.record({ rates, rules, extras }) });
  });
}

/** What an engine gives: its segments, or the error it stopped with. */
async function outcome(run: () => Promise<unknown>): Promise<{ segments: unknown } | { error: string }> {
  try {
    return { segments: await run() };
  } catch (error) {
    return { error: `${(error as Error).constructor.name}: ${(error as Error).message}` };
  }
}

describe('the segment engine gives what the night-by-night engine gives', () => {
  it.each(scenarios.map((s) => [s.name, s] as const))('on %s', async (_name, scenario) => {
    const seen = { runs: 0, paid: 0, split: 0, extras: 0 };
    await fc.assert(
      fc.asyncProperty(caseFor(scenario), async ({ period, placement, overlays }) => {
        const book = new RateBook(scenario.pack, overlays);
        const expected = await outcome(() => placementSegmentsNightByNight(book, placement, period));
        // A book of its own, so neither engine can lean on decisions the other cached.
        const actual = await outcome(() => placementSegments(new RateBook(scenario.pack, overlays), placement, period));
        expect(actual).toStrictEqual(expected);
        // Explanations leave the API as JSON, so the order of their keys is part of the result too.
        expect(JSON.stringify(actual)).toBe(JSON.stringify(expected));
        seen.runs++;
        if ('segments' in expected) {
          const segments = expected.segments as Array<{ nights: number }>;
          if (segments.length) seen.paid++;
          if (segments.filter((s) => s.nights > 0).length > 1) seen.split++;
          if (segments.some((s) => s.nights === 0)) seen.extras++;
        }
      }),
      { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }) },
    );
    // The property says little if most cases stop on an error or pay nothing: check the mix it saw.
    expect(seen.paid).toBeGreaterThan(seen.runs / 4);
    expect(seen.split).toBeGreaterThan(seen.runs / 20);
    if (scenario.pack.points.rates.has('extras')) expect(seen.extras).toBeGreaterThan(0);
  });
});

describe('edges the generator reaches rarely, against the oracle and by hand', () => {
  const uk = registry.resolve('uk');
  const both = async (book: () => RateBook, placement: PlacementForRates, period: { from: string; to: string }) => {
    const expected = await outcome(() => placementSegmentsNightByNight(book(), placement, period));
    const actual = await outcome(() => placementSegments(book(), placement, period));
    expect(actual).toStrictEqual(expected);
    expect(JSON.stringify(actual)).toBe(JSON.stringify(expected));
    if ('error' in actual) throw new Error(actual.error);
    return actual.segments as Awaited<ReturnType<typeof placementSegments>>;
  };

  it('ages a child born on 29 February on 1 March in other years, on every span around it', async () => {
    for (const dateOfBirth of ['2012-02-29', '2016-02-29', '2020-02-29']) {
      for (const year of [2025, 2026, 2027, 2028]) {
        for (const from of [`${year}-02-20`, `${year}-02-28`, `${year}-02-29`, `${year}-03-01`]) {
          if (from.endsWith('02-29') && year % 4 !== 0) continue;
          for (const length of [1, 2, 3, 10]) {
            const period = { from, to: shift(from, length - 1) };
            const occasions = [{ kind: 'festival', date: period.to }];
            await both(
              () => new RateBook(uk),
              {
                startDate: '2025-01-01',
                endDate: null,
                childDateOfBirth: dateOfBirth,
                region: 'london',
                carerLevel: 'level_2',
                placementType: 'foster_unrelated',
                occasions,
              },
              period,
            );
          }
        }
      }
    }
    const segments = await both(
      () => new RateBook(uk),
      {
        startDate: '2027-02-01',
        endDate: null,
        childDateOfBirth: '2016-02-29',
        region: 'london',
        placementType: 'foster_unrelated',
      },
      { from: '2027-02-22', to: '2027-03-07' },
    );
    // Turns 11 on 1 March 2027: 5-10 band to 28 February, 11-15 from 1 March (£225 and £257 a week, 2025-26 table),
    // and the birthday week is paid that day, at the new band: a 29 February child has a birthday every year.
    expect(segments.map((s) => [s.component, s.from, s.to, s.nights, s.explanation.facts.ageBand, s.amount])).toEqual([
      ['allowance', '2027-02-22', '2027-02-28', 7, '5-10', 22500],
      ['allowance', '2027-03-01', '2027-03-07', 7, '11-15', 25700],
      ['birthday_extra', '2027-03-01', '2027-03-01', 0, '11-15', 25700],
    ]);
  });

  it('pays a carer level raised mid-period from the day it changes, and keeps the fact until a later entry changes it', async () => {
    const segments = await both(
      () => new RateBook(uk),
      {
        startDate: '2025-06-01',
        endDate: null,
        childDateOfBirth: '2015-01-01',
        region: 'rest_of_england',
        carerLevel: 'level_1',
        placementType: 'foster_unrelated',
        // Out of order on purpose; the region entry leaves the level as the earlier entry set it.
        changes: [
          { from: '2025-06-20', region: 'london' },
          { from: '2025-06-15', carerLevel: 'level_3' },
        ],
      },
      { from: '2025-06-09', to: '2025-06-29' },
    );
    expect(
      segments.map((s) => [
        s.component,
        s.from,
        s.to,
        s.explanation.facts.carerLevel,
        s.explanation.facts.region,
        s.amount,
      ]),
    ).toEqual([
      // The child is 10 (5-10 band); the allowance splits too, because the level is one of the facts a segment keeps.
      ['allowance', '2025-06-09', '2025-06-14', 'level_1', 'rest_of_england', 16629], // 19400 × 6 / 7 = 16628.57
      ['fee', '2025-06-09', '2025-06-14', 'level_1', 'rest_of_england', 0],
      ['allowance', '2025-06-15', '2025-06-19', 'level_3', 'rest_of_england', 13857], // 19400 × 5 / 7 = 13857.14
      ['fee', '2025-06-15', '2025-06-19', 'level_3', 'rest_of_england', 14286], // 20000 × 5 / 7 = 14285.71
      ['allowance', '2025-06-20', '2025-06-29', 'level_3', 'london', 32143], // 22500 × 10 / 7 = 32142.86
      ['fee', '2025-06-20', '2025-06-29', 'level_3', 'london', 28571], // 20000 × 10 / 7 = 28571.43
    ]);
  });

  it('pays a festival and a holiday week once each, on their days, at the facts of those nights, across a move between regions', async () => {
    // A London carer at level 2 moves to the rest of England on Thursday 5 June 2025; the child (born
    // 1 January 2015, 10: band 5-10) observes Eid al-Adha on 6 June and has a holiday week from 9 June.
    const segments = await both(
      () => new RateBook(uk),
      {
        startDate: '2025-05-01',
        endDate: null,
        childDateOfBirth: '2015-01-01',
        region: 'london',
        placementType: 'foster_unrelated',
        changes: [
          { from: '2025-05-01', carerLevel: 'level_2' },
          { from: '2025-06-05', region: 'rest_of_england' },
        ],
        occasions: [
          { kind: 'holiday', date: '2025-06-09', name: 'Half-term week', id: '00000000-0000-4000-8000-000000000002' },
          { kind: 'festival', date: '2025-06-06', name: 'Eid al-Adha', id: '00000000-0000-4000-8000-000000000001' },
          { kind: 'festival', date: '2025-06-20', name: 'After the period' },
        ],
      },
      { from: '2025-06-02', to: '2025-06-15' },
    );
    expect(segments.map((s) => [s.component, s.from, s.to, s.nights, s.explanation.facts.region, s.amount])).toEqual([
      ['allowance', '2025-06-02', '2025-06-04', 3, 'london', 9643], // £225 × 3 / 7 = 96.428…
      ['fee', '2025-06-02', '2025-06-04', 3, 'london', 4286], // £100 × 3 / 7 = 42.857…
      ['allowance', '2025-06-05', '2025-06-15', 11, 'rest_of_england', 30486], // £194 × 11 / 7 = 304.857…
      ['fee', '2025-06-05', '2025-06-15', 11, 'rest_of_england', 15714], // £100 × 11 / 7 = 157.142…
      ['festival_extra', '2025-06-06', '2025-06-06', 0, 'rest_of_england', 19400], // one week at the rest of England's £194
      ['holiday_extra', '2025-06-09', '2025-06-09', 0, 'rest_of_england', 19400],
    ]);
    const festival = segments.find((s) => s.component === 'festival_extra')!;
    expect(festival.explanation).toMatchObject({
      rule: 'festival_extra',
      table: 'nma-allowance',
      effectiveFrom: '2025-04-06',
      facts: { region: 'rest_of_england', carerLevel: 'level_2', ageBand: '5-10', occasion: 'festival' },
      occasion: {
        kind: 'festival',
        date: '2025-06-06',
        name: 'Eid al-Adha',
        recordId: '00000000-0000-4000-8000-000000000001',
      },
    });
  });

  it('pays an occasion to the placement the child spends the night in: not on a day of departure, not to a respite carer', async () => {
    const book = () => new RateBook(uk);
    const base = {
      childDateOfBirth: '2015-06-06',
      region: 'rest_of_england',
      placementType: 'foster_unrelated',
      occasions: [{ kind: 'festival', date: '2025-06-06' }],
    };
    const period = { from: '2025-06-02', to: '2025-06-15' };
    // The 10th birthday (band 5-10, rest of England: £194) and the festival on 6 June, the day the child leaves the first carer for the second.
    const leaving = await both(book, { ...base, startDate: '2025-05-01', endDate: '2025-06-06' }, period);
    expect(leaving.filter((s) => s.nights === 0)).toEqual([]);
    const arriving = await both(book, { ...base, startDate: '2025-06-06', endDate: null }, period);
    expect(arriving.filter((s) => s.nights === 0).map((s) => [s.component, s.from, s.amount])).toEqual([
      ['birthday_extra', '2025-06-06', 19400],
      ['festival_extra', '2025-06-06', 19400],
    ]);
    // A respite stay over the same day: the allowance for its nights (split at the birthday), no extras;
    // the usual carer's placement continues and pays them.
    const respite = await both(
      book,
      { ...base, startDate: '2025-06-05', endDate: '2025-06-08', respite: true },
      period,
    );
    expect(respite.map((s) => [s.component, s.from, s.nights])).toEqual([
      ['allowance', '2025-06-05', 1],
      ['allowance', '2025-06-06', 2],
    ]);
  });

  it("applies a tenant's overlay of the extras from its date", async () => {
    // From 10 June the tenant pays two weeks for a festival and nothing for a holiday week.
    const extras = [
      {
        effectiveFrom: '2025-06-10',
        add: [
          rule(
            'festival_extra',
            'festival_extra',
            'nma-allowance',
            { all: [{ fact: 'occasion', operator: 'equal', value: 'festival' }] },
            2,
          ),
        ],
        remove: ['holiday_extra'],
      },
    ];
    const segments = await both(
      () => new RateBook(uk, { extras }),
      {
        startDate: '2025-05-01',
        endDate: null,
        childDateOfBirth: '2015-01-01',
        region: 'london',
        placementType: 'foster_unrelated',
        occasions: [
          { kind: 'festival', date: '2025-06-06' },
          { kind: 'holiday', date: '2025-06-09' },
          { kind: 'festival', date: '2025-06-12' },
          { kind: 'holiday', date: '2025-06-13' },
        ],
      },
      { from: '2025-06-02', to: '2025-06-15' },
    );
    expect(segments.filter((s) => s.nights === 0).map((s) => [s.component, s.from, s.amount])).toEqual([
      ['festival_extra', '2025-06-06', 22500], // the pack's one week (London, 5-10: £225)
      ['holiday_extra', '2025-06-09', 22500],
      ['festival_extra', '2025-06-12', 45000], // the overlay's two weeks
    ]);
  });

  it('pays a California level of care raised back to the first night of placement', async () => {
    const ca = registry.resolve('usa/ca');
    // loc_2 has no published amount in the pack yet; a tenant overlay prices it (a test input).
    const priced = {
      rates: [
        {
          table: 'level-of-care',
          effectiveFrom: '2022-07-01',
          amounts: { loc_1: 0, loc_2: 30000 },
          layer: 'overlay:1',
          source: 'test input',
        },
      ],
    };
    const segments = await both(
      () => new RateBook(ca, priced),
      {
        startDate: '2022-09-16',
        endDate: null,
        childDateOfBirth: '2012-01-01',
        levelOfCare: 'loc_1',
        changes: [{ from: '2022-09-16', levelOfCare: 'loc_2' }],
      },
      { from: '2022-09-01', to: '2022-10-31' },
    );
    expect(segments.map((s) => [s.component, s.from, s.to, s.nights, s.amount])).toEqual([
      ['allowance', '2022-09-16', '2022-09-30', 15, 56450], // 112900 × 15 / 30
      ['level_of_care', '2022-09-16', '2022-09-30', 15, 15000], // 30000 × 15 / 30
      ['allowance', '2022-10-01', '2022-10-31', 31, 112900],
      ['level_of_care', '2022-10-01', '2022-10-31', 31, 30000],
    ]);
  });

  it('prices from the California pack alone only what it cites: the basic rate for basic and loc_1, no amount for loc_2 to isfc', async () => {
    // The pack cites the FY 2022-23 basic rate ($1,129 a month) and LOC 1's nil supplement, and no LOC 2-4
    // or ISFC amount for any year. A child at one of those levels must stop the run, not be paid the basic
    // rate alone: the supplement rule has to name every level the table leaves unpriced.
    const ca = registry.resolve('usa/ca');
    const september = { from: '2022-09-01', to: '2022-09-30' };
    for (const levelOfCare of ['basic', 'loc_1']) {
      const segments = await both(
        () => new RateBook(ca),
        { startDate: '2022-08-01', endDate: null, childDateOfBirth: '2012-01-01', levelOfCare },
        september,
      );
      // A whole 30-night month: 112900 × 30 / 30 = 112900, the monthly rate.
      expect(segments.map((s) => [s.component, s.from, s.to, s.nights, s.amount])).toEqual([
        ['allowance', '2022-09-01', '2022-09-30', 30, 112900],
      ]);
    }
    for (const levelOfCare of ['loc_2', 'loc_3', 'loc_4', 'isfc']) {
      await expect(
        both(
          () => new RateBook(ca),
          { startDate: '2022-08-01', endDate: null, childDateOfBirth: '2012-01-01', levelOfCare },
          september,
        ),
      ).rejects.toThrow(
        `RateConfigurationError: rate table "level-of-care" has no amount for levelOfCare "${levelOfCare}" on 2022-09-01`,
      );
    }
  });

  it('gives one-night segments where two rules pay the same component on a night, as the night-by-night engine did', async () => {
    const rules = [
      { effectiveFrom: '2025-06-04', add: [rule('second_allowance', 'allowance', 'nma-allowance')], remove: [] },
    ];
    const segments = await both(
      () => new RateBook(uk, { rules }),
      {
        startDate: '2025-06-01',
        endDate: '2025-06-07',
        childDateOfBirth: '2015-01-01',
        region: 'london',
        placementType: 'foster_unrelated',
      },
      { from: '2025-06-01', to: '2025-06-30' },
    );
    expect(segments.filter((s) => s.component === 'allowance').map((s) => [s.from, s.to, s.explanation.rule])).toEqual([
      ['2025-06-01', '2025-06-04', 'allowance_foster_night'],
      ['2025-06-04', '2025-06-04', 'second_allowance'],
      ['2025-06-05', '2025-06-05', 'allowance_foster_night'],
      ['2025-06-05', '2025-06-05', 'second_allowance'],
      ['2025-06-06', '2025-06-06', 'allowance_foster_night'],
      ['2025-06-06', '2025-06-06', 'second_allowance'],
    ]);
  });

  it('refuses a date that names no day rather than pay some other day', async () => {
    await expect(
      placementSegments(
        new RateBook(uk),
        {
          startDate: '2025-02-30',
          endDate: null,
          childDateOfBirth: '2015-01-01',
          region: 'london',
          placementType: 'foster_unrelated',
        },
        { from: '2025-02-01', to: '2025-03-31' },
      ),
    ).rejects.toThrow('placement startDate "2025-02-30" is not a calendar date (YYYY-MM-DD)');
  });
});
