import { ageOn } from '../dates';
import type { Layered, ResolvedPack } from '../packs/registry';
import type { Amounts, PaymentPolicy, RateRules, RateTable, RuleDefinition } from '../packs/types';
import { nightlyDivisor, prorate } from './proration';
import { CompiledRuleSet, type FiredRule } from '../rules/ruleSet';
import { inEffectOn } from '../time';

/** What is true of a placement on a night, as the pack's rules see it. Dates never enter the facts, so decisions repeat across nights. */
export interface RateFacts {
  inCare: boolean;
  ageYears: number;
  ageBand: string | null;
  region: string | null;
  carerLevel: string | null;
  placementType: string | null;
  levelOfCare: string | null;
  respite: boolean;
  /**
   * Only when the extras rules price an occasion: what it is, `birthday` (found from the date of
   * birth) or the kind of an occasion recorded for the child (`festival`, `holiday`).
   */
  occasion?: string;
}

/**
 * A day the child's record names that the pack's extras may pay for (a festival the child observes,
 * the first day of a recognised holiday week): paid once, by the placement the child spends that
 * night in, at the facts of that night.
 */
export interface Occasion {
  kind: string;
  date: string;
  name?: string | null;
  /** The record it comes from, to point back at. */
  id?: string | null;
}

export interface PlacementForRates {
  /** The first night in care (the day of arrival). */
  startDate: string;
  /** The day of departure; null while the placement continues. */
  endDate: string | null;
  childDateOfBirth: string;
  region?: string | null;
  carerLevel?: string | null;
  placementType?: string | null;
  levelOfCare?: string | null;
  respite?: boolean;
  /** Occasions recorded for the child that the pack's extras may pay for; birthdays are found from the date of birth. */
  occasions?: Occasion[];
  /**
   * Facts that change during the placement (new terms of approval, a level of care reassessed),
   * in any order. Nights before the first entry use the fields above.
   */
  changes?: PlacementFactChange[];
}

/**
 * Facts true from a date (inclusive) until a later entry changes them again; a fact the entry does
 * not name keeps its value, and null clears it. Two entries for the same day apply in the order given.
 */
export interface PlacementFactChange {
  from: string;
  carerLevel?: string | null;
  levelOfCare?: string | null;
  region?: string | null;
  placementType?: string | null;
}

export interface RateSegment {
  component: string;
  /** First and last night of the segment, inclusive. */
  from: string;
  to: string;
  nights: number;
  amount: number;
  explanation: {
    rule: string;
    table: string;
    layer: string;
    effectiveFrom: string;
    source: string;
    period: RateTable['period'];
    periodAmount: number;
    conversion: PaymentPolicy['conversion'];
    facts: RateFacts;
    conditions: unknown;
    /** Present when the pack's floor lifted a tenant overlay's lower amount. */
    floor?: { amount: number; layer: string; effectiveFrom: string };
    /** An extra's occasion: what it was, its day, and the record it comes from (none for a birthday). */
    occasion?: { kind: string; date: string; name: string | null; recordId: string | null };
  };
}

/** A tenant overlay's amounts for one table, from a date: more dated entries on top of the pack's. */
export interface OverlayRateValue {
  table: string;
  effectiveFrom: string;
  amounts: Amounts;
  layer: string;
  source: string;
}

/** Rule changes a tenant overlay makes from a date. */
export interface OverlayRuleChange {
  effectiveFrom: string;
  add: RuleDefinition[];
  remove: string[];
}

export interface ResolvedAmount {
  amount: number;
  layer: string;
  effectiveFrom: string;
  source: string;
  floor?: { amount: number; layer: string; effectiveFrom: string };
}

const RULES_KEY = 'placement-rules';
/** Rules for payments made once per occasion (birthday, festival, holiday week), when a pack has them. */
export const EXTRAS_KEY = 'extras';
/** The occasion found from the date of birth rather than recorded. */
export const BIRTHDAY = 'birthday';

/** A rate cannot be worked out as configured or as asked (no amount for these facts, a date that names no day). */
export class RateConfigurationError extends Error {}

export type RuleParams = { component: string; table: string; weeks?: number };

/** The pack's rate configuration, compiled once: its rule set, tables and payment policy. */
export class RateBook {
  /** Rule sets by the date they take effect: the pack's from the start, then one per overlay that changes rules. */
  private readonly ruleEpochs: RuleEpoch[];
  /** The extras rule sets the same way (none when the pack has no extras). */
  private readonly extraEpochs: RuleEpoch[];
  private readonly tables = new Map<string, Layered<RateTable>>();
  private readonly overlayValues = new Map<string, OverlayRateValue[]>();
  readonly policy: PaymentPolicy;
  /** The table whose age bands the rules see: the first that has bands (each table still applies its own). */
  readonly ruleAgeBands: RateTable | null;
  /** Every date on which a table value, a tenant's overlay value or a rule set takes effect, sorted, once each. */
  readonly effectiveDates: readonly string[];
  /** Whether any table is monthly: its nightly divisor and month change on the first of each month. */
  readonly hasMonthlyTable: boolean;

  constructor(
    readonly pack: ResolvedPack,
    overlays: { rates?: OverlayRateValue[]; rules?: OverlayRuleChange[]; extras?: OverlayRuleChange[] } = {},
  ) {
    const rules = pack.points.rates.get(RULES_KEY)?.value as RateRules | undefined;
    if (!rules || rules.kind !== 'rules')
      throw new RateConfigurationError(
        `pack "${pack.manifest.id}" has no "${RULES_KEY}" rules: choose a pack that sets rates (a state pack, for the USA)`,
      );
    this.ruleEpochs = ruleEpochs(pack, RULES_KEY, rules.rules, overlays.rules);
    for (const [key, item] of pack.points.rates)
      if ((item.value as RateTable).kind === 'table') this.tables.set(key, item as Layered<RateTable>);
    for (const value of overlays.rates ?? [])
      this.overlayValues.set(
        value.table,
        [...(this.overlayValues.get(value.table) ?? []), value].sort((a, b) =>
          a.effectiveFrom.localeCompare(b.effectiveFrom),
        ),
      );
    const policy = pack.points.rates.get('payment-policy')?.value as PaymentPolicy | undefined;
    if (!policy || policy.kind !== 'policy')
      throw new RateConfigurationError(`pack "${pack.manifest.id}" has no "payment-policy"`);
    this.policy = policy;
    const extras = pack.points.rates.get(EXTRAS_KEY)?.value as RateRules | undefined;
    // A tenant's overlay changes the extras as it changes the placement rules: rules added or removed from a date.
    this.extraEpochs = extras?.kind === 'rules' ? ruleEpochs(pack, EXTRAS_KEY, extras.rules, overlays.extras) : [];
    this.ruleAgeBands =
      [...pack.points.rates.values()]
        .map((i) => i.value as RateTable)
        .find((t) => t.kind === 'table' && t.ageBands?.length) ?? null;
    const dates = new Set<string>(this.ruleEpochs.slice(1).map((e) => e.from));
    for (const { value } of this.tables.values()) for (const v of value.values) dates.add(v.effectiveFrom);
    for (const values of this.overlayValues.values()) for (const v of values) dates.add(v.effectiveFrom);
    this.effectiveDates = [...dates].sort();
    this.hasMonthlyTable = [...this.tables.values()].some((t) => t.value.period === 'month');
  }

  /** Whether the pack pays extras at all (birthdays, festivals, holiday weeks). */
  get hasExtras(): boolean {
    return this.extraEpochs.length > 0;
  }

  /**
   * The amount for a table, facts and night: the pack's value in effect that night, unless a tenant
   * overlay in effect gives one for these dimensions; a floor table never pays below the pack.
   */
  resolveAmount(tableKey: string, facts: RateFacts, night: string): ResolvedAmount | null {
    const layered = this.table(tableKey);
    const table = layered.value;
    const packValue = this.valueOn(table, night);
    const packAmount = packValue ? amountFor(table, packValue.amounts, facts) : null;
    let overlay: { value: OverlayRateValue; amount: number } | null = null;
    for (const value of this.overlayValues.get(tableKey) ?? []) {
      if (value.effectiveFrom > night) break;
      const amount = amountFor(table, value.amounts, facts);
      if (amount !== null) overlay = { value, amount };
    }
    if (overlay) {
      if (table.floor && packValue && packAmount !== null && packAmount > overlay.amount) {
        return {
          amount: packAmount,
          layer: `pack:${layered.layer}`,
          effectiveFrom: packValue.effectiveFrom,
          source: packValue.source,
          floor: { amount: packAmount, layer: `pack:${layered.layer}`, effectiveFrom: packValue.effectiveFrom },
        };
      }
      return {
        amount: overlay.amount,
        layer: overlay.value.layer,
        effectiveFrom: overlay.value.effectiveFrom,
        source: overlay.value.source,
      };
    }
    if (!packValue || packAmount === null) return null;
    return {
      amount: packAmount,
      layer: `pack:${layered.layer}`,
      effectiveFrom: packValue.effectiveFrom,
      source: packValue.source,
    };
  }

  table(key: string): Layered<RateTable> {
    const table = this.tables.get(key);
    if (!table) throw new Error(`no rate table "${key}"`);
    return table;
  }

  /** The table's value in effect on a date (the last one whose effectiveFrom is on or before it). */
  valueOn(table: RateTable, date: string): RateTable['values'][number] | null {
    return inEffectOn(table.values, date);
  }

  ageBand(table: RateTable, ageYears: number): string | null {
    return table.ageBands?.find((b) => ageYears >= b.minAge && ageYears <= b.maxAge)?.key ?? null;
  }

  decide(facts: RateFacts, night: string): Promise<{ fired: Array<FiredRule<RuleParams>> }> {
    return epochOn(this.ruleEpochs, night).rules.decide(facts);
  }

  /** The extras rules in effect on the occasion's day, deciding for the facts of that night and the occasion. */
  decideExtras(facts: RateFacts, day: string): Promise<{ fired: Array<FiredRule<RuleParams>> }> {
    return epochOn(this.extraEpochs, day).rules.decide(facts);
  }
}

type RuleEpoch = { from: string; rules: CompiledRuleSet<RateFacts, RuleParams> };

/** A rule set from the start, then as each overlay that changes it leaves it from its date (an added rule replaces one of its name). */
function ruleEpochs(
  pack: ResolvedPack,
  key: string,
  rules: RuleDefinition[],
  changes: OverlayRuleChange[] = [],
): RuleEpoch[] {
  let current = rules;
  const epochs: RuleEpoch[] = [
    { from: '0000-01-01', rules: new CompiledRuleSet(`${pack.manifest.id}:${key}`, current) },
  ];
  for (const change of [...changes].sort((a, b) => a.effectiveFrom.localeCompare(b.effectiveFrom))) {
    const replaced = new Set([...change.remove, ...change.add.map((r) => r.name)]);
    current = [...current.filter((r) => !replaced.has(r.name)), ...change.add];
    epochs.push({
      from: change.effectiveFrom,
      rules: new CompiledRuleSet(`${pack.manifest.id}:${key}@${change.effectiveFrom}`, current),
    });
  }
  return epochs;
}

function epochOn(epochs: RuleEpoch[], day: string): RuleEpoch {
  let epoch = epochs[0]!;
  for (const candidate of epochs) if (candidate.from <= day) epoch = candidate;
  return epoch;
}

export function amountFor(table: RateTable, amounts: Amounts, facts: RateFacts): number | null {
  let node: Amounts | undefined = amounts;
  for (const dimension of table.dimensions) {
    const key = facts[dimension as keyof RateFacts];
    if (typeof node !== 'object' || key === null || key === undefined) return null;
    node = node[String(key)];
  }
  return typeof node === 'number' ? node : null;
}

/** One component's line over a span of nights on which nothing that enters its group key changes. */
interface SpanLine {
  component: string;
  tableKey: string;
  effectiveFrom: string;
  layer: string;
  periodAmount: number;
  divisor: number;
  monthKey: string;
  facts: RateFacts;
  rule: string;
  explanation: RateSegment['explanation'];
}

/** Whether a value is one JSON writes as itself, so that !== between two of them means different JSON. */
function plainJson(value: unknown): boolean {
  return (
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    value === null ||
    (typeof value === 'number' && Number.isFinite(value))
  );
}

/**
 * Whether two lines share a group key: what the night-by-night engine compared as the JSON of
 * [component, table, effectiveFrom, layer, periodAmount, divisor, monthKey, facts, rule]. Compared
 * field by field, falling back to that JSON only for values JSON would rewrite (NaN, undefined).
 */
function sameGroup(a: SpanLine, b: SpanLine): boolean {
  if (
    a.component !== b.component ||
    a.tableKey !== b.tableKey ||
    a.effectiveFrom !== b.effectiveFrom ||
    a.layer !== b.layer ||
    a.monthKey !== b.monthKey ||
    a.rule !== b.rule
  )
    return false;
  if (
    (a.periodAmount !== b.periodAmount || a.divisor !== b.divisor) &&
    JSON.stringify([a.periodAmount, a.divisor]) !== JSON.stringify([b.periodAmount, b.divisor])
  )
    return false;
  const aFacts = a.facts as unknown as Record<string, unknown>;
  const bFacts = b.facts as unknown as Record<string, unknown>;
  const aNames = Object.keys(aFacts);
  const bNames = Object.keys(bFacts);
  let plain = aNames.length === bNames.length;
  for (let i = 0; plain && i < aNames.length; i++) {
    const name = aNames[i]!;
    if (name !== bNames[i]) plain = false;
    else if (aFacts[name] !== bFacts[name]) {
      if (plainJson(aFacts[name]) && plainJson(bFacts[name])) return false;
      plain = false;
    }
  }
  return plain || JSON.stringify(aFacts) === JSON.stringify(bFacts);
}

/*
 * Calendar arithmetic on day numbers (days since 1970-01-01), without Date objects: it runs a few
 * times per placement of a payment run. Proleptic Gregorian, as Date.UTC counts
 * (H. Hinnant, "chrono-compatible low-level date algorithms": days_from_civil, civil_from_days).
 */
function dayNumberOf(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  return era * 146097 + yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear - 719468;
}

function dayNumber(iso: string): number {
  return dayNumberOf(Number(iso.slice(0, 4)), Number(iso.slice(5, 7)), Number(iso.slice(8, 10)));
}

const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n));

function dateOfDay(dayNumber: number): string {
  const z = dayNumber + 719468;
  const era = Math.floor(z / 146097);
  const dayOfEra = z - era * 146097;
  const yearOfEra = Math.floor(
    (dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36524) - Math.floor(dayOfEra / 146096)) / 365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const mp = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  return `${String(year).padStart(4, '0')}-${pad2(month)}-${pad2(day)}`;
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

const CALENDAR_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Dates enter as YYYY-MM-DD; one that names no real day (30 February) would be paid as some other day, so it is refused. */
function checkDate(what: string, value: string): void {
  if (CALENDAR_DATE.test(value)) {
    const year = Number(value.slice(0, 4));
    const month = Number(value.slice(5, 7));
    const day = Number(value.slice(8, 10));
    const days =
      month === 2 ? (isLeapYear(year) ? 29 : 28) : month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
    if (month >= 1 && month <= 12 && day >= 1 && day <= days) return;
  }
  throw new RateConfigurationError(`${what} "${value}" is not a calendar date (YYYY-MM-DD)`);
}

/** The day in a year on which the child's age in whole years goes up: a 29 February birthday counts from 1 March in other years. */
function ageChangesOn(dateOfBirth: string, year: number): string {
  const monthDay = dateOfBirth.slice(5);
  const yyyy = String(year).padStart(4, '0');
  return monthDay === '02-29' && !isLeapYear(year) ? `${yyyy}-03-01` : `${yyyy}-${monthDay}`;
}

/**
 * The child's birthdays between two nights inclusive: the day the age goes up (a 29 February
 * birthday is kept on 1 March in other years, as the age counts it), never the day of birth itself.
 */
function birthdaysBetween(dateOfBirth: string, from: string, to: string): string[] {
  const days: string[] = [];
  for (let year = Number(from.slice(0, 4)); year <= Number(to.slice(0, 4)); year++) {
    const day = ageChangesOn(dateOfBirth, year);
    if (day >= from && day <= to && day > dateOfBirth) days.push(day);
  }
  return days;
}

/** The facts as one table sees them (its own age band), field by field in the rules' order: cheaper than a spread on this path. */
function factsWithBand(facts: RateFacts, ageBand: string | null): RateFacts {
  return {
    inCare: facts.inCare,
    ageYears: facts.ageYears,
    region: facts.region,
    carerLevel: facts.carerLevel,
    placementType: facts.placementType,
    levelOfCare: facts.levelOfCare,
    respite: facts.respite,
    ageBand,
  };
}

type DatedFacts = Pick<RateFacts, 'region' | 'carerLevel' | 'placementType' | 'levelOfCare'>;
const DATED_FACTS = ['region', 'carerLevel', 'placementType', 'levelOfCare'] as const;

/**
 * The dates after the first night, up to the last, on which anything that enters a line's group key
 * can change: a birthday (the age is a fact), a table value, overlay value or rule set taking
 * effect, the first of a month when a monthly table pays (its divisor and month key), a dated fact.
 */
function boundaries(
  book: RateBook,
  placement: PlacementForRates,
  changes: PlacementFactChange[],
  first: string,
  last: string,
): string[] {
  const dates: string[] = [];
  for (const date of book.effectiveDates) if (date > first && date <= last) dates.push(date);
  for (let year = Number(first.slice(0, 4)); year <= Number(last.slice(0, 4)); year++) {
    const date = ageChangesOn(placement.childDateOfBirth, year);
    if (date > first && date <= last) dates.push(date);
  }
  if (book.hasMonthlyTable) {
    let year = Number(first.slice(0, 4));
    let month = Number(first.slice(5, 7));
    for (;;) {
      if (++month > 12) {
        month = 1;
        year++;
      }
      const date = `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-01`;
      if (date > last) break;
      dates.push(date);
    }
  }
  for (const change of changes) if (change.from > first && change.from <= last) dates.push(change.from);
  if (dates.length < 2) return dates;
  dates.sort();
  return dates.filter((date, i) => i === 0 || date !== dates[i - 1]);
}

/**
 * What a placement earns over a period: for each night in care (the day of arrival counts; the day
 * of departure counts only where the pack's policy says so), the facts true that night choose rate
 * components through the pack's rules; consecutive nights with the same facts, components and table
 * values form a segment, rounded once. Every segment carries its explanation.
 *
 * Nights are not walked one by one: the period is cut only where something a line depends on can
 * change (see `boundaries`), each piece is decided once, and pieces whose lines agree are joined,
 * which gives exactly the segments a night-by-night walk gives (core/src/rates/nightByNight.ts, the
 * tests' oracle), at a cost per placement that does not grow with the nights in the period.
 */
export async function placementSegments(
  book: RateBook,
  placement: PlacementForRates,
  period: { from: string; to: string },
): Promise<RateSegment[]> {
  checkDate('period from', period.from);
  checkDate('period to', period.to);
  checkDate('placement startDate', placement.startDate);
  if (placement.endDate !== null) checkDate('placement endDate', placement.endDate);
  checkDate('childDateOfBirth', placement.childDateOfBirth);
  for (const change of placement.changes ?? []) checkDate('changes from', change.from);
  for (const occasion of placement.occasions ?? []) checkDate(`${occasion.kind} date`, occasion.date);
  const policy = book.policy;
  const first = placement.startDate > period.from ? placement.startDate : period.from;
  const lastPaid =
    placement.endDate === null
      ? period.to
      : policy.departureDayPaid
        ? placement.endDate
        : dateOfDay(dayNumber(placement.endDate) - 1);
  const last = lastPaid < period.to ? lastPaid : period.to;
  if (first > last) return [];

  // Sorted by date, ties kept in the order given: the later entry for a day wins.
  const changes = placement.changes?.length
    ? [...placement.changes].sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0))
    : [];
  const dated: DatedFacts = {
    region: placement.region ?? null,
    carerLevel: placement.carerLevel ?? null,
    placementType: placement.placementType ?? null,
    levelOfCare: placement.levelOfCare ?? null,
  };
  let nextChange = 0;
  const respite = placement.respite ?? false;
  const bandTable = book.ruleAgeBands;

  const segments: RateSegment[] = [];
  const open = new Map<string, { line: SpanLine; from: string; to: string; toDay: number; nights: number }>();
  const close = (component: string) => {
    const run = open.get(component);
    if (!run) return;
    open.delete(component);
    segments.push({
      component,
      from: run.from,
      to: run.to,
      nights: run.nights,
      amount: prorate(run.line.periodAmount, run.nights, run.line.divisor, policy.rounding),
      explanation: run.line.explanation,
    });
  };
  /** Joins a line over nights `from`..`to` to its component's open run when the keys agree and no night lies between. */
  const extend = (line: SpanLine, from: string, fromDay: number, to: string, toDay: number) => {
    const run = open.get(line.component);
    if (run && run.toDay + 1 === fromDay && sameGroup(run.line, line)) {
      run.to = to;
      run.toDay = toDay;
      run.nights += toDay - fromDay + 1;
    } else {
      close(line.component);
      open.set(line.component, { line, from, to, toDay, nights: toDay - fromDay + 1 });
    }
  };
  /** Spans that paid at least one line, with the facts of their first line: what the extras read. */
  const paid: PaidSpan[] = [];

  const cuts = boundaries(book, placement, changes, first, last);
  for (let piece = 0; piece <= cuts.length; piece++) {
    const night = piece === 0 ? first : cuts[piece - 1]!;
    const to = piece < cuts.length ? dateOfDay(dayNumber(cuts[piece]!) - 1) : last;
    while (nextChange < changes.length && changes[nextChange]!.from <= night) {
      const change = changes[nextChange++]!;
      for (const name of DATED_FACTS) if (change[name] !== undefined) dated[name] = change[name];
    }
    const ageYears = ageOn(placement.childDateOfBirth, night);
    const facts: RateFacts = {
      inCare: true,
      ageYears,
      region: dated.region,
      carerLevel: dated.carerLevel,
      placementType: dated.placementType,
      levelOfCare: dated.levelOfCare,
      respite,
      ageBand: bandTable ? book.ageBand(bandTable, ageYears) : null,
    };
    const decision = await book.decide(facts, night);
    const lines: SpanLine[] = [];
    for (const fired of decision.fired) {
      const { component, table: tableKey } = fired.event.params;
      if (fired.event.params.weeks !== undefined) continue; // extras are paid once, not per night
      const table = book.table(tableKey).value;
      const tableFacts = factsWithBand(facts, table.ageBands ? book.ageBand(table, ageYears) : facts.ageBand);
      if (!book.valueOn(table, night)) continue; // the table has no value yet on this night
      const resolved = book.resolveAmount(tableKey, tableFacts, night);
      if (resolved === null) {
        throw new RateConfigurationError(
          `rate table "${tableKey}" has no amount for ${table.dimensions.map((d) => `${d} ${JSON.stringify(tableFacts[d as keyof RateFacts])}`).join(', ')} on ${night}`,
        );
      }
      const divisor = nightlyDivisor(table, night);
      lines.push({
        component,
        tableKey,
        effectiveFrom: resolved.effectiveFrom,
        layer: resolved.layer,
        periodAmount: resolved.amount,
        divisor,
        monthKey: table.period === 'month' ? night.slice(0, 7) : '',
        facts: tableFacts,
        rule: fired.rule,
        explanation: explain(fired, table, resolved, policy, tableFacts),
      });
    }
    if (!lines.length) continue;
    paid.push({ from: night, to, facts: lines[0]!.facts });
    const fromDay = dayNumber(night);
    const toDay = dayNumber(to);
    if (!lines.some((line, i) => lines.findIndex((other) => other.component === line.component) !== i)) {
      for (const line of lines) extend(line, night, fromDay, to, toDay);
    } else {
      // Two rules paying the same component on one night: each night closes the other's run, so
      // they are fed night by night, as the night-by-night engine did, each with its own explanation.
      for (let day = fromDay, date = night; day <= toDay; day++, date = dateOfDay(day)) {
        for (const line of lines)
          extend({ ...line, explanation: { ...line.explanation, facts: { ...line.facts } } }, date, day, date, day);
      }
    }
  }
  for (const component of [...open.keys()]) close(component);
  segments.push(...(await extrasFor(book, placement, paid)));
  return segments.sort((a, b) => a.from.localeCompare(b.from) || a.component.localeCompare(b.component));
}

/** What a line says of itself: the rule that chose it, the table value and its layer, the facts. */
export function explain(
  fired: FiredRule<RuleParams>,
  table: RateTable,
  resolved: ResolvedAmount,
  policy: PaymentPolicy,
  facts: RateFacts,
): RateSegment['explanation'] {
  return {
    rule: fired.rule,
    table: table.key,
    layer: resolved.layer,
    effectiveFrom: resolved.effectiveFrom,
    source: resolved.source,
    period: table.period,
    periodAmount: resolved.amount,
    conversion: policy.conversion,
    facts,
    conditions: fired.conditions,
    ...(resolved.floor ? { floor: resolved.floor } : {}),
  };
}

/** Nights that paid at least one line, with the facts the first of those lines saw. */
interface PaidSpan {
  from: string;
  to: string;
  facts: RateFacts;
}

/**
 * The occasions a placement's paid nights in a period hold, in the order they are paid: by day, a
 * birthday before what is recorded for that day, then as recorded. An occasion counts on a night the
 * child spends in the placement (never its day of departure, even where the policy pays that day:
 * the next placement, or no one, has the child that night), so each is paid once, by one placement.
 */
function occasionsIn(placement: PlacementForRates, from: string, to: string): Occasion[] {
  const lastNight =
    placement.endDate !== null && placement.endDate <= to ? dateOfDay(dayNumber(placement.endDate) - 1) : to;
  if (from > lastNight) return [];
  const found: Occasion[] = birthdaysBetween(placement.childDateOfBirth, from, lastNight).map((date) => ({
    kind: BIRTHDAY,
    date,
  }));
  for (const occasion of placement.occasions ?? [])
    if (occasion.date >= from && occasion.date <= lastNight) found.push(occasion);
  // Stable: a birthday (listed first) stays ahead of what is recorded for its day.
  return found.sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
}

/**
 * Once-per-occasion payments: for each birthday and recorded occasion on a night the placement
 * paid, the pack's extras rules decide with the facts of that night and the occasion, and each rule
 * that fires pays N weeks of its table at those facts, dated on the occasion's day.
 */
async function extrasFor(book: RateBook, placement: PlacementForRates, paid: PaidSpan[]): Promise<RateSegment[]> {
  if (!book.hasExtras || !paid.length) return [];
  const out: RateSegment[] = [];
  for (const occasion of occasionsIn(placement, paid[0]!.from, paid[paid.length - 1]!.to)) {
    const span = paid.find((p) => p.from <= occasion.date && occasion.date <= p.to);
    if (!span) continue; // a night in care that no rule paid: nothing to add to
    out.push(...(await occasionPayments(book, span.facts, occasion)));
  }
  return out;
}

/**
 * What the pack's extras rules pay for one occasion, given the facts of its night (as the first line
 * paid that night saw them): each rule that fires pays N weeks of its table at those facts.
 */
export async function occasionPayments(book: RateBook, night: RateFacts, occasion: Occasion): Promise<RateSegment[]> {
  // Field by field, in the order a spread of the line's facts gives (explanations are JSON): a spread that adds keys is far slower here.
  const facts: RateFacts = {
    inCare: night.inCare,
    ageYears: night.ageYears,
    region: night.region,
    carerLevel: night.carerLevel,
    placementType: night.placementType,
    levelOfCare: night.levelOfCare,
    respite: night.respite,
    ageBand: night.ageBand,
    occasion: occasion.kind,
  };
  const decision = await book.decideExtras(facts, occasion.date);
  const out: RateSegment[] = [];
  for (const fired of decision.fired) {
    const { component, table: tableKey, weeks } = fired.event.params;
    const table = book.table(tableKey).value;
    const tableFacts = { ...facts, ageBand: table.ageBands ? book.ageBand(table, facts.ageYears) : facts.ageBand };
    const resolved = book.resolveAmount(tableKey, tableFacts, occasion.date);
    if (!resolved)
      throw new RateConfigurationError(
        `rate table "${tableKey}" has no amount for the ${component} on ${occasion.date}`,
      );
    const perWeek = table.period === 'week' ? resolved.amount : table.period === 'day' ? resolved.amount * 7 : null;
    if (perWeek === null)
      throw new RateConfigurationError(
        `the ${component} is paid in weeks of "${tableKey}", which is not a weekly or daily table`,
      );
    out.push({
      component,
      from: occasion.date,
      to: occasion.date,
      nights: 0,
      amount: perWeek * (weeks ?? 1),
      explanation: {
        ...explain(fired, table, resolved, book.policy, facts),
        occasion: {
          kind: occasion.kind,
          date: occasion.date,
          name: occasion.name ?? null,
          recordId: occasion.id ?? null,
        },
      },
    });
  }
  return out;
}
