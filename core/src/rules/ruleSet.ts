import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import { Engine, type RuleProperties } from 'json-rules-engine';
import { canonicalJson } from '../modules/audit/hashChain';
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

  constructor(
    readonly key: string,
    rules: Array<RuleInput<Params>>,
    options: { factsSchema?: object; cacheSize?: number } = {},
  ) {
    try {
      this.engine = new Engine(
        rules.map((rule) => ({ name: rule.name, priority: rule.priority, conditions: rule.conditions, event: rule.event }) as RuleProperties),
        { allowUndefinedFacts: true },
      );
    } catch (error) {
      throw new RuleSetError(`rule set "${key}" does not compile: ${(error as Error).message}`);
    }
    this.validateFacts = options.factsSchema ? new Ajv2020({ allErrors: true, strict: false }).compile(options.factsSchema) : null;
    this.cacheSize = options.cacheSize ?? DEFAULT_CACHE;
  }

  private readonly cacheSize: number;

  decide(facts: Facts): Promise<Decision<Params>> {
    const key = canonicalJson(facts);
    let decision = this.decisions.get(key);
    if (!decision) {
      if (this.validateFacts && !this.validateFacts(facts)) {
        return Promise.reject(new RuleSetError(`facts for "${this.key}" are not valid: ${JSON.stringify(this.validateFacts.errors)}`));
      }
      decision = this.run(facts);
      // Oldest first out: a long run walks through its fact sets roughly in order.
      if (this.decisions.size >= this.cacheSize) this.decisions.delete(this.decisions.keys().next().value as string);
      this.decisions.set(key, decision);
    }
    return decision;
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
