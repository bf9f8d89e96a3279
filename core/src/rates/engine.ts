import { addDays, yearsBetween } from '../packs/calendar';
import type { Layered, ResolvedPack } from '../packs/registry';
import type { Amounts, PaymentPolicy, RateRules, RateTable, RuleDefinition } from '../packs/types';
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
  birthdayInPeriod?: boolean;
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
  /** Occasions in the period that the pack's extras may pay for; a birthday is found from the date of birth. */
  festivalInPeriod?: boolean;
  holidayWeekInPeriod?: boolean;
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

interface ResolvedAmount {
  amount: number;
  layer: string;
  effectiveFrom: string;
  source: string;
  floor?: { amount: number; layer: string; effectiveFrom: string };
}

const RULES_KEY = 'placement-rules';
/** Rules for payments made once in a period (birthday, festival, holiday weeks), when a pack has them. */
const EXTRAS_KEY = 'extras';

/** The pack's rate configuration, compiled once: its rule set, tables and payment policy. */
export class RateConfigurationError extends Error {}

type RuleParams = { component: string; table: string; weeks?: number };

export class RateBook {
  /** Rule sets by the date they take effect: the pack's from the start, then one per overlay that changes rules. */
  private readonly ruleEpochs: Array<{ from: string; rules: CompiledRuleSet<RateFacts, RuleParams> }> = [];
  private readonly tables = new Map<string, Layered<RateTable>>();
  private readonly overlayValues = new Map<string, OverlayRateValue[]>();
  readonly policy: PaymentPolicy;

  constructor(
    readonly pack: ResolvedPack,
    overlays: { rates?: OverlayRateValue[]; rules?: OverlayRuleChange[] } = {},
  ) {
    const rules = pack.points.rates.get(RULES_KEY)?.value as RateRules | undefined;
    if (!rules || rules.kind !== 'rules') throw new RateConfigurationError(`pack "${pack.manifest.id}" has no "${RULES_KEY}" rules: choose a pack that sets rates (a state pack, for the USA)`);
    let current = rules.rules;
    this.ruleEpochs.push({ from: '0000-01-01', rules: new CompiledRuleSet(`${pack.manifest.id}:${RULES_KEY}`, current) });
    for (const change of [...(overlays.rules ?? [])].sort((a, b) => a.effectiveFrom.localeCompare(b.effectiveFrom))) {
      const replaced = new Set([...change.remove, ...change.add.map((r) => r.name)]);
      current = [...current.filter((r) => !replaced.has(r.name)), ...change.add];
      this.ruleEpochs.push({ from: change.effectiveFrom, rules: new CompiledRuleSet(`${pack.manifest.id}:${RULES_KEY}@${change.effectiveFrom}`, current) });
    }
    for (const [key, item] of pack.points.rates) if ((item.value as RateTable).kind === 'table') this.tables.set(key, item as Layered<RateTable>);
    for (const value of overlays.rates ?? []) this.overlayValues.set(value.table, [...(this.overlayValues.get(value.table) ?? []), value].sort((a, b) => a.effectiveFrom.localeCompare(b.effectiveFrom)));
    const policy = pack.points.rates.get('payment-policy')?.value as PaymentPolicy | undefined;
    if (!policy || policy.kind !== 'policy') throw new RateConfigurationError(`pack "${pack.manifest.id}" has no "payment-policy"`);
    this.policy = policy;
    const extras = pack.points.rates.get(EXTRAS_KEY)?.value as RateRules | undefined;
    this.extras = extras?.kind === 'rules' ? new CompiledRuleSet(`${pack.manifest.id}:${EXTRAS_KEY}`, extras.rules) : null;
  }

  readonly extras: CompiledRuleSet<RateFacts, RuleParams> | null;

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
        return { amount: packAmount, layer: `pack:${layered.layer}`, effectiveFrom: packValue.effectiveFrom, source: packValue.source, floor: { amount: packAmount, layer: `pack:${layered.layer}`, effectiveFrom: packValue.effectiveFrom } };
      }
      return { amount: overlay.amount, layer: overlay.value.layer, effectiveFrom: overlay.value.effectiveFrom, source: overlay.value.source };
    }
    if (!packValue || packAmount === null) return null;
    return { amount: packAmount, layer: `pack:${layered.layer}`, effectiveFrom: packValue.effectiveFrom, source: packValue.source };
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
    let epoch = this.ruleEpochs[0]!;
    for (const candidate of this.ruleEpochs) if (candidate.from <= night) epoch = candidate;
    return epoch.rules.decide(facts);
  }
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

function daysInMonth(iso: string): number {
  const [y, m] = iso.split('-').map(Number) as [number, number];
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}

/** amount = periodAmount × nights ÷ divisor, rounded to the minor unit, half up (or half even), in integers. */
function prorate(periodAmount: number, nights: number, divisor: number, rounding: PaymentPolicy['rounding']): number {
  const numerator = periodAmount * nights;
  const whole = Math.floor(numerator / divisor);
  const twiceRemainder = 2 * (numerator - whole * divisor);
  if (twiceRemainder > divisor) return whole + 1;
  if (twiceRemainder < divisor) return whole;
  return rounding === 'half_up_per_line' || whole % 2 === 1 ? whole + 1 : whole;
}

function divisorFor(table: RateTable, policy: PaymentPolicy, night: string): number {
  if (table.period === 'week') return 7;
  if (table.period === 'day') return 1;
  if (table.period === 'month') return daysInMonth(night);
  if (table.period === 'year') return 365;
  throw new Error(`a "${table.period}" table cannot be paid per night`);
}

interface NightLine {
  night: string;
  component: string;
  periodAmount: number;
  divisor: number;
  groupKey: string;
  explanation: RateSegment['explanation'];
}

/**
 * What a placement earns over a period: for each night in care (the day of arrival counts; the day
 * of departure counts only where the pack's policy says so), the facts true that night choose rate
 * components through the pack's rules; consecutive nights with the same facts, components and table
 * values form a segment, rounded once. Every segment carries its explanation.
 */
export async function placementSegments(book: RateBook, placement: PlacementForRates, period: { from: string; to: string }): Promise<RateSegment[]> {
  const policy = book.policy;
  const first = placement.startDate > period.from ? placement.startDate : period.from;
  const lastPaid = placement.endDate === null ? period.to : policy.departureDayPaid ? placement.endDate : addDays(placement.endDate, -1);
  const last = lastPaid < period.to ? lastPaid : period.to;
  // Rules see the age band of the first table that has bands; each table still applies its own.
  const bandTable = [...book.pack.points.rates.values()].map((i) => i.value as RateTable).find((t) => t.kind === 'table' && t.ageBands?.length);
  const lines: NightLine[] = [];
  for (let night = first; night <= last; night = addDays(night, 1)) {
    const ageYears = yearsBetween(placement.childDateOfBirth, night);
    const baseFacts: Omit<RateFacts, 'ageBand'> = {
      inCare: true,
      ageYears,
      region: placement.region ?? null,
      carerLevel: placement.carerLevel ?? null,
      placementType: placement.placementType ?? null,
      levelOfCare: placement.levelOfCare ?? null,
      respite: placement.respite ?? false,
    };
    const facts: RateFacts = { ...baseFacts, ageBand: bandTable ? book.ageBand(bandTable, ageYears) : null };
    const decision = await book.decide(facts, night);
    for (const fired of decision.fired) {
      const { component, table: tableKey } = fired.event.params;
      if (fired.event.params.weeks !== undefined) continue; // extras are paid once, not per night
      const table = book.table(tableKey).value;
      const tableFacts = { ...facts, ageBand: table.ageBands ? book.ageBand(table, ageYears) : facts.ageBand };
      if (!book.valueOn(table, night)) continue; // the table has no value yet on this night
      const resolved = book.resolveAmount(tableKey, tableFacts, night);
      if (resolved === null) {
        throw new RateConfigurationError(`rate table "${tableKey}" has no amount for ${table.dimensions.map((d) => `${d} ${JSON.stringify(tableFacts[d as keyof RateFacts])}`).join(', ')} on ${night}`);
      }
      const periodAmount = resolved.amount;
      const divisor = policy.conversion === 'monthly_div_days_in_month' && table.period === 'month' ? daysInMonth(night) : divisorFor(table, policy, night);
      const monthKey = table.period === 'month' ? night.slice(0, 7) : '';
      lines.push({
        night,
        component,
        periodAmount,
        divisor,
        groupKey: JSON.stringify([component, tableKey, resolved.effectiveFrom, resolved.layer, periodAmount, divisor, monthKey, tableFacts, fired.rule]),
        explanation: explain(fired, table, resolved, policy, tableFacts),
      });
    }
  }

  const segments: RateSegment[] = [];
  const open = new Map<string, { line: NightLine; from: string; to: string; nights: number }>();
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
  for (const line of lines) {
    const run = open.get(line.component);
    if (run && run.line.groupKey === line.groupKey && addDays(run.to, 1) === line.night) {
      run.to = line.night;
      run.nights++;
    } else {
      close(line.component);
      open.set(line.component, { line, from: line.night, to: line.night, nights: 1 });
    }
  }
  for (const component of [...open.keys()]) close(component);
  segments.push(...(await extrasFor(book, placement, lines)));
  return segments.sort((a, b) => a.from.localeCompare(b.from) || a.component.localeCompare(b.component));
}

/** What a line says of itself: the rule that chose it, the table value and its layer, the facts. */
function explain(fired: FiredRule<RuleParams>, table: RateTable, resolved: ResolvedAmount, policy: PaymentPolicy, facts: RateFacts): RateSegment['explanation'] {
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

/** The child's birthday on a paid night of the period, if there is one. */
function birthdayIn(dateOfBirth: string, nights: string[]): string | null {
  const monthDay = dateOfBirth.slice(5);
  return nights.find((n) => n.slice(5) === monthDay && n > dateOfBirth) ?? null;
}

/**
 * Once-a-period payments: the pack's extras rules see whether a birthday, festival or holiday week
 * falls in the period, and each that fires pays N weeks of its table for the facts of that day.
 */
async function extrasFor(book: RateBook, placement: PlacementForRates, lines: NightLine[]): Promise<RateSegment[]> {
  if (!book.extras || !lines.length) return [];
  const nights = [...new Set(lines.map((l) => l.night))];
  const birthday = birthdayIn(placement.childDateOfBirth, nights);
  const lastNight = nights[nights.length - 1]!;
  const baseLine = lines.find((l) => l.night === (birthday ?? lastNight)) ?? lines[lines.length - 1]!;
  const facts: RateFacts = { ...baseLine.explanation.facts, birthdayInPeriod: birthday !== null, festivalInPeriod: placement.festivalInPeriod ?? false, holidayWeekInPeriod: placement.holidayWeekInPeriod ?? false } as RateFacts;
  const decision = await book.extras.decide(facts);
  const out: RateSegment[] = [];
  for (const fired of decision.fired) {
    const { component, table: tableKey, weeks } = fired.event.params;
    const day = component === 'birthday_extra' && birthday ? birthday : lastNight;
    const table = book.table(tableKey).value;
    const resolved = book.resolveAmount(tableKey, { ...facts, ageBand: table.ageBands ? book.ageBand(table, facts.ageYears) : facts.ageBand }, day);
    if (!resolved) throw new RateConfigurationError(`rate table "${tableKey}" has no amount for the ${component} on ${day}`);
    const perWeek = table.period === 'week' ? resolved.amount : table.period === 'day' ? resolved.amount * 7 : null;
    if (perWeek === null) throw new RateConfigurationError(`the ${component} is paid in weeks of "${tableKey}", which is not a weekly or daily table`);
    out.push({
      component,
      from: day,
      to: day,
      nights: 0,
      amount: perWeek * (weeks ?? 1),
      explanation: explain(fired, table, resolved, book.policy, facts),
    });
  }
  return out;
}
