import { ageOn, dayBefore } from '../../dates';
import type { FieldError } from '../../http/problem';
import type { ResolvedPack } from '../../packs/registry';
import type { JsonCondition, LookupListDefinition, RateRules, RateTable, RuleDefinition } from '../../packs/types';
import type { OverlayRuleChange, RateBook, RateFacts } from '../../rates/engine';

/**
 * What POST /v1/rates/evaluate needs of its caller, and why an evaluation pays nothing. A fact left
 * out of the request is null to the rules, and a rule that reads it then fires for no night: the
 * answer used to be 200 with no lines and a total of 0, as if the care were unpaid by policy. Now a
 * fact without which no rule can pay is refused by name (422), and a legitimate 0 (a placement type
 * the pack does not pay, a period before the first rate) says so in words.
 */

/** The facts a request gives that may be left out, and the field that gives each. */
export const GIVEN_FACTS = ['placementType', 'region', 'carerLevel', 'levelOfCare'] as const;
export type GivenFact = (typeof GIVEN_FACTS)[number];
export type GivenFacts = Record<GivenFact, string | null>;

const RULES_KEY = 'placement-rules';

/** json-rules-engine's operators that a null (or absent) fact never passes, given a value that is not null. */
const NULL_NEVER_PASSES = new Set([
  'equal',
  'in',
  'contains',
  'lessThan',
  'lessThanInclusive',
  'greaterThan',
  'greaterThanInclusive',
]);

/**
 * The facts a condition cannot pass without: every `all` adds its members' facts, an `any` only the
 * facts all its branches need, and `not`, a named condition or a comparison with a fact or a path
 * need nothing (they may pass on a null). So what this names is needed, never more.
 */
export function factsNeeded(condition: JsonCondition): Set<string> {
  const c = condition as {
    all?: JsonCondition[];
    any?: JsonCondition[];
    fact?: unknown;
    operator?: unknown;
    value?: unknown;
    path?: unknown;
  };
  if (Array.isArray(c.all)) return new Set(c.all.flatMap((member) => [...factsNeeded(member)]));
  if (Array.isArray(c.any)) return intersection(c.any.map(factsNeeded));
  if (typeof c.fact !== 'string' || typeof c.operator !== 'string' || c.path !== undefined) return new Set();
  if (!NULL_NEVER_PASSES.has(c.operator) || c.value === null || c.value === undefined) return new Set();
  if (typeof c.value === 'object' && !Array.isArray(c.value)) return new Set(); // { fact: … }: compared with another fact
  if (Array.isArray(c.value) && c.value.includes(null)) return new Set();
  return new Set([c.fact]);
}

function intersection(sets: Array<Set<string>>): Set<string> {
  if (!sets.length) return new Set();
  return new Set([...sets[0]!].filter((name) => sets.every((set) => set.has(name))));
}

/**
 * The nightly rules that may decide a night of the period: the pack's, as each tenant overlay that
 * changes rules replaces them from its date (as the rate book does), those in effect on the first
 * night and every set that takes effect before the last.
 */
export function rulesInPeriod(
  pack: ResolvedPack,
  changes: OverlayRuleChange[],
  period: { from: string; to: string },
): RuleDefinition[] {
  const rules = pack.points.rates.get(RULES_KEY)?.value as RateRules | undefined;
  if (!rules || rules.kind !== 'rules') return [];
  let current = rules.rules;
  const seen = new Map<string, RuleDefinition>();
  for (const change of [...changes].sort((a, b) => a.effectiveFrom.localeCompare(b.effectiveFrom))) {
    if (change.effectiveFrom > period.to) break;
    if (change.effectiveFrom > period.from)
      for (const rule of current) seen.set(`${rule.name}\u0000${JSON.stringify(rule)}`, rule);
    const replaced = new Set([...change.remove, ...change.add.map((r) => r.name)]);
    current = [...current.filter((r) => !replaced.has(r.name)), ...change.add];
  }
  for (const rule of current) seen.set(`${rule.name}\u0000${JSON.stringify(rule)}`, rule);
  return [...seen.values()].filter((rule) => rule.event.params.weeks === undefined);
}

const pointer = (fact: GivenFact) => `/body/${fact}`;

/** Facts every rule that may pay a night needs, which the request leaves out: with any of them missing, nothing can be paid. */
export function missingForEveryRule(rules: RuleDefinition[], given: GivenFacts): FieldError[] {
  const needed = intersection(rules.map((rule) => factsNeeded(rule.conditions)));
  return GIVEN_FACTS.filter((fact) => needed.has(fact) && given[fact] === null).map((fact) => ({
    pointer: pointer(fact),
    message: `is required: no rule of the tenant's rates (${RULES_KEY}) pays a night without it`,
  }));
}

/**
 * After the engine found no amount for the facts: the facts left out that key the table of a rule
 * that could fire (every fact it needs was given), since the table cannot be read without them.
 * None means the fault is the configuration's or a value's, not a missing field.
 */
export function missingForTables(pack: ResolvedPack, rules: RuleDefinition[], given: GivenFacts): FieldError[] {
  const leftOut = (fact: string): fact is GivenFact =>
    (GIVEN_FACTS as readonly string[]).includes(fact) && given[fact as GivenFact] === null;
  const missing = new Map<GivenFact, string>();
  for (const rule of rules) {
    if ([...factsNeeded(rule.conditions)].some(leftOut)) continue;
    const table = pack.points.rates.get(rule.event.params.table)?.value as RateTable | undefined;
    for (const dimension of table?.dimensions ?? [])
      if (leftOut(dimension) && !missing.has(dimension)) missing.set(dimension, table!.key);
  }
  return [...missing].map(([fact, table]) => ({
    pointer: pointer(fact),
    message: `is required: the rate table "${table}" that pays this placement is by ${fact}`,
  }));
}

/**
 * The request's placement type as the rules read it: a code of the tenant's placement_type list
 * becomes its category (U4 → foster_unrelated), as a payment run maps it; a category passes as
 * itself; anything else is refused, since a misspelt type would otherwise be paid nothing.
 */
export function placementTypeForRules(
  pack: ResolvedPack,
  tenantCodes: string[],
  given: string | null,
): { value: string | null; error?: FieldError } {
  if (given === null) return { value: null };
  const list = pack.points.lookups.get('placement_type')?.value as LookupListDefinition | undefined;
  if (!list) return { value: given };
  const category = list.values.find((v) => v.code === given)?.normalised;
  if (category) return { value: category };
  const categories = new Set(list.values.map((v) => v.normalised).filter((n): n is string => !!n));
  if (categories.has(given) || tenantCodes.includes(given)) return { value: given };
  const example = list.values.find((v) => v.normalised);
  const as = example ? ` (as ${example.code} or ${example.normalised})` : '';
  return {
    value: given,
    error: {
      pointer: '/body/placementType',
      message: `is not a code of the tenant's placement_type list nor one of its categories${as}`,
    },
  };
}

export interface NotPaid {
  code: 'no_night_in_period' | 'not_paid_by_rules' | 'no_rate_in_effect';
  reason: string;
}

const described = (given: GivenFacts, respite: boolean) =>
  [...GIVEN_FACTS.map((fact) => `${fact} ${given[fact] ?? 'not given'}`), ...(respite ? ['respite'] : [])].join(', ');

/**
 * Why an evaluation that paid no line paid nothing: the placement has no paid night in the period;
 * or, on its first paid night, no rule chose a component for these facts (the pack does not pay
 * this care: placed for adoption, a children's home); or rules chose tables with no amount in
 * effect yet (a period before the first rate the pack encodes).
 */
export interface EvaluatedPlacement {
  placementStart: string;
  placementEnd: string | null;
  childDateOfBirth: string;
  respite: boolean;
  given: GivenFacts;
}

export async function notPaidReason(
  book: RateBook,
  input: EvaluatedPlacement,
  period: { from: string; to: string },
): Promise<NotPaid> {
  const first = input.placementStart > period.from ? input.placementStart : period.from;
  const lastPaid =
    input.placementEnd === null
      ? period.to
      : book.policy.departureDayPaid
        ? input.placementEnd
        : dayBefore(input.placementEnd);
  const last = lastPaid < period.to ? lastPaid : period.to;
  if (first > last)
    return {
      code: 'no_night_in_period',
      reason: `The placement has no paid night from ${period.from} to ${period.to}`,
    };
  const ageYears = ageOn(input.childDateOfBirth, first);
  const facts: RateFacts = {
    inCare: true,
    ageYears,
    ageBand: book.ruleAgeBands ? book.ageBand(book.ruleAgeBands, ageYears) : null,
    region: input.given.region,
    carerLevel: input.given.carerLevel,
    placementType: input.given.placementType,
    levelOfCare: input.given.levelOfCare,
    respite: input.respite,
  };
  const chosen = (await book.decide(facts, first)).fired.filter((f) => f.event.params.weeks === undefined);
  if (!chosen.length) {
    const facts = described(input.given, input.respite);
    return {
      code: 'not_paid_by_rules',
      reason: `No rule of the tenant's rates (${RULES_KEY}) pays a night with these facts (${facts}): the tenant's configuration does not pay for this care`,
    };
  }
  const tables = [...new Set(chosen.map((f) => f.event.params.table))];
  const named = `rate table${tables.length > 1 ? 's' : ''} ${tables.map((t) => `"${t}"`).join(', ')}`;
  return {
    code: 'no_rate_in_effect',
    reason: `The rules choose the ${named}, with no amount in effect on the nights from ${first} to ${last}`,
  };
}
