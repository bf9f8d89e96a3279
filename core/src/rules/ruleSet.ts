import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import { Engine, type RuleProperties } from 'json-rules-engine';
import type { JsonCondition } from '../packs/types';

export interface RuleInput<Params> {
  name: string;
  priority?: number;
  conditions: JsonCondition;
  event: { type: string; params: Params };
}

/** A rule that fired: its name, what it decided, and each condition with the fact value it saw. */
export interface FiredRule<Params> {
  rule: string;
  event: { type: string; params: Params };
  conditions: unknown;
}

export interface Decision<Params> {
  fired: Array<FiredRule<Params>>;
}

export class RuleSetError extends Error {}

/** Tells values apart by type too, so the string "null" and null never share a key. */
function keyPart(value: unknown): string {
  if (typeof value === 'string') return `s${value}`;
  if (value === null || value === undefined) return 'n';
  if (typeof value === 'object') return `o${JSON.stringify(value)}`;
  return `${typeof value}${String(value)}`;
}

/** Primitive values key the tree as themselves; objects by their JSON (identity would never match). */
function treeKey(value: unknown): unknown {
  return value !== null && typeof value === 'object' ? keyPart(value) : (value ?? null);
}

/** A key over the named facts, built without intermediate arrays: it runs once per segment of a run. */
function keyFunction(names: string[]): (facts: Record<string, unknown>) => string {
  if (names.length === 0) return () => '';
  return (facts) => {
    let key = keyPart(facts[names[0]!]);
    for (let i = 1; i < names.length; i++) key += `\u0001${keyPart(facts[names[i]!])}`;
    return key;
  };
}

/** Every fact a condition tree names, including facts used as comparison values ({ value: { fact } }). */
export function referencedFacts(conditions: unknown[]): Set<string> {
  const names = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object') return;
    const record = node as Record<string, unknown>;
    if (typeof record.fact === 'string') names.add(record.fact);
    for (const value of Object.values(record)) walk(value);
  };
  conditions.forEach(walk);
  return names;
}

const DEFAULT_CACHE = 10_000;

/**
 * json-rules-engine, wrapped once. A rule set is compiled when configuration loads (an Engine built
 * once, with its rules, and a validator for the facts it is given); deciding is then a matter of
 * running facts through it, and the same facts always give the same decision, so decisions are kept
 * by their facts: a payment run has many segments but few distinct fact sets, and decides each once.
 * Every decision says which rules fired and what each condition saw, so callers can explain it.
 */
export class CompiledRuleSet<Facts extends object, Params> {
  private readonly engine: Engine;
  private readonly validateFacts: ValidateFunction | null;
  private readonly decisions = new Map<string, Promise<Decision<Params>>>();

  private readonly factsKey: (facts: Facts) => string;
  /** The facts the conditions name: the only ones a decision can depend on. */
  readonly referenced: string[];

  constructor(
    readonly key: string,
    rules: Array<RuleInput<Params>>,
    options: { factsSchema?: object; cacheSize?: number; factsKey?: (facts: Facts) => string } = {},
  ) {
    // A decision can only depend on the facts the conditions name, so decisions are kept by those
    // alone: a payment run's thousands of fact sets (ages, dates, regions) collapse to the handful of
    // combinations the rules can tell apart.
    this.referenced = [...referencedFacts(rules.map((r) => r.conditions))].sort();
    this.factsKey = options.factsKey ?? (keyFunction(this.referenced) as (facts: Facts) => string);
    try {
      this.engine = new Engine(
        rules.map(
          (rule) =>
            ({
              name: rule.name,
              priority: rule.priority,
              conditions: rule.conditions,
              event: rule.event,
            }) as RuleProperties,
        ),
        { allowUndefinedFacts: true },
      );
    } catch (error) {
      throw new RuleSetError(`rule set "${key}" does not compile: ${(error as Error).message}`);
    }
    this.validateFacts = options.factsSchema
      ? new Ajv2020({ allErrors: true, strict: false }).compile(options.factsSchema)
      : null;
    this.cacheSize = options.cacheSize ?? DEFAULT_CACHE;
  }

  private readonly cacheSize: number;

  decide(facts: Facts): Promise<Decision<Params>> {
    return this.decideKeyed(this.factsKey(facts), facts);
  }

  private decideKeyed(key: string, facts: Facts): Promise<Decision<Params>> {
    let decision = this.decisions.get(key);
    if (!decision) {
      if (this.validateFacts && !this.validateFacts(facts)) {
        return Promise.reject(
          new RuleSetError(`facts for "${this.key}" are not valid: ${JSON.stringify(this.validateFacts.errors)}`),
        );
      }
      decision = this.run(facts);
      // Oldest first out: a long run walks through its fact sets roughly in order.
      if (this.decisions.size >= this.cacheSize) this.decisions.delete(this.decisions.keys().next().value as string);
      this.decisions.set(key, decision);
    }
    return decision;
  }

  /**
   * Decides a batch (a payment run's segments): each distinct combination of the facts the rules
   * name goes through the engine once, and the answers come back in the batch's order. Segments are
   * sorted into a tree keyed by those fact values (Map lookups on the values themselves), which costs
   * far less per segment than building a string key for each.
   */
  async decideAll(batch: Facts[]): Promise<Array<Decision<Params>>> {
    const names = this.referenced;
    type Leaf = { facts: Facts; decision: Decision<Params> | null };
    const root = new Map<unknown, unknown>();
    const leaves: Leaf[] = [];
    const slots = new Array<Leaf>(batch.length);
    for (let i = 0; i < batch.length; i++) {
      const facts = batch[i]!;
      let node = root;
      for (let n = 0; n < names.length - 1; n++) {
        const value = treeKey((facts as Record<string, unknown>)[names[n]!]);
        let next = node.get(value) as Map<unknown, unknown> | undefined;
        if (!next) {
          next = new Map();
          node.set(value, next);
        }
        node = next;
      }
      const last = names.length ? treeKey((facts as Record<string, unknown>)[names[names.length - 1]!]) : '';
      let leaf = node.get(last) as Leaf | undefined;
      if (!leaf) {
        leaf = { facts, decision: null };
        node.set(last, leaf);
        leaves.push(leaf);
      }
      slots[i] = leaf;
    }
    await Promise.all(leaves.map(async (leaf) => (leaf.decision = await this.decide(leaf.facts))));
    return slots.map((leaf) => leaf.decision!);
  }

  private async run(facts: Facts): Promise<Decision<Params>> {
    const { results } = await this.engine.run({ ...facts });
    return {
      fired: results.map((result) => ({
        rule: result.name as string,
        event: result.event as { type: string; params: Params },
        conditions: JSON.parse(JSON.stringify(result.conditions)) as unknown,
      })),
    };
  }
}

const conditionSets = new WeakMap<object, CompiledRuleSet<Record<string, unknown>, Record<string, never>>>();

/**
 * Whether one pack condition (a workflow step's, a cycle step's) holds for the facts, compiled once
 * per condition object and kept with it; returns what each part of the condition saw when it held.
 */
export async function conditionHolds(
  name: string,
  conditions: JsonCondition,
  facts: Record<string, unknown>,
): Promise<{ holds: boolean; conditions: unknown }> {
  let ruleSet = conditionSets.get(conditions);
  if (!ruleSet) {
    ruleSet = new CompiledRuleSet(name, [{ name, conditions, event: { type: 'holds', params: {} } }]);
    conditionSets.set(conditions, ruleSet);
  }
  const fired = (await ruleSet.decide(facts)).fired[0];
  return { holds: fired !== undefined, conditions: fired?.conditions ?? conditions };
}
