import type { Knex } from 'knex';
import { bulkInserter, type BulkInserter } from '../../../db/bulkInsert';
import { newId } from '../../../ids';
import type { CalculationIssue, DraftLine } from './lines';

const KIND_ORDER: Record<DraftLine['kind'], number> = {
  rate: 0,
  extra: 1,
  arrears: 2,
  recovery: 3,
  claim: 4,
  adjustment: 5,
};

/** Ids and ISO dates order as their characters do: compared as plain strings, not by locale (a run sorts 100,000 lines). */
function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The order a run's lines are read in: by household, then placement (household-level lines last), then date, kind and component. */
export function compareLines(a: DraftLine, b: DraftLine): number {
  return (
    byText(a.householdId, b.householdId) ||
    byText(a.placementId ?? '~', b.placementId ?? '~') ||
    byText(a.periodStart ?? '', b.periodStart ?? '') ||
    KIND_ORDER[a.kind] - KIND_ORDER[b.kind] ||
    byText(a.component, b.component) ||
    byText(a.correctsRunId ?? '', b.correctsRunId ?? '')
  );
}

export interface StoredCalculation {
  total: number;
  lineCount: number;
  householdCount: number;
  placementCount: number;
  /** Errors: what could not be priced. */
  issueCount: number;
  noticeCount: number;
  correctionCount: number;
}

/**
 * How many distinct contents (and strings) the explanation keys remember. A run's rate lines share a
 * few thousand explanations at most; corrections explain each line apart, and past this many a
 * repeat of one forgotten is written again under a key of its own (still its line's explanation,
 * only not shared), so what the keys hold stays bounded however long the run.
 */
const REMEMBERED = 20_000;

/**
 * Numbers a calculation's explanations, each distinct one once. Lines share a few hundred
 * explanations but each holds an object of its own (its facts, a rule's conditions, a table's
 * source), so they are told apart by content. Writing each out as JSON to compare them cost a run of
 * 134,000 lines 2.5 s; here an explanation's content is written short: each string (keys too) by a
 * number it is given the first time it is seen, and each nested object that holds objects (a rule's
 * conditions, shared by every line its decision pays) by a name worked out once per object (an
 * object read is taken not to change after: the rate engine never changes a decision it has made).
 * Two explanations get one key exactly when JSON.stringify would write them the same, and only a new
 * one is written out in full.
 */
export class ExplanationKeys {
  private readonly nameOfObject = new WeakMap<object, string>();
  private readonly nameOfContent = new Map<string, string>();
  private readonly nameOfString = new Map<string, string>();
  private readonly keyOfContent = new Map<string, number>();
  private keys = 0;

  /** The explanation's key, and its body when it is new (to be written). */
  keyOf(explanation: object): { key: number; body: string | null } {
    const content = this.contentOf(explanation);
    const known = this.keyOfContent.get(content);
    if (known !== undefined) return { key: known, body: null };
    const key = ++this.keys;
    if (this.keyOfContent.size < REMEMBERED) this.keyOfContent.set(content, key);
    return { key, body: JSON.stringify(explanation) };
  }

  /** What JSON.stringify writes of the object, short (see the class): each field or item ends with a comma, so where the content ends is never in doubt. */
  private contentOf(value: object): string {
    let out: string;
    if (Array.isArray(value)) {
      out = '[';
      for (const item of value as unknown[]) out += `${this.part(item) ?? 'null'},`;
    } else {
      out = '{';
      for (const key of Object.keys(value)) {
        const part = this.part((value as Record<string, unknown>)[key]);
        if (part !== undefined) out += `${this.text(key)}:${part},`;
      }
    }
    return out;
  }

  /** A value as JSON would write it (undefined where JSON leaves it out), short. */
  private part(value: unknown): string | undefined {
    switch (typeof value) {
      case 'string':
        return this.text(value);
      case 'number':
        return Number.isFinite(value) ? String(value) : 'null';
      case 'boolean':
        return value ? 'true' : 'false';
      case 'object':
        if (value === null) return 'null';
        if (typeof (value as { toJSON?: unknown }).toJSON === 'function') {
          // Whatever its JSON holds, its length says where it ends.
          const json = JSON.stringify(value);
          return `j${json.length}:${json}`;
        }
        return this.nested(value);
      default:
        // undefined, functions and symbols as JSON leaves them out; a bigint throws, as JSON does.
        return JSON.stringify(value);
    }
  }

  /** A string by its number (a string never seen before, once the numbers are all given, as JSON). */
  private text(value: string): string {
    const known = this.nameOfString.get(value);
    if (known !== undefined) return known;
    if (this.nameOfString.size >= REMEMBERED) return JSON.stringify(value);
    const name = `$${this.nameOfString.size}`;
    this.nameOfString.set(value, name);
    return name;
  }

  /** A nested object by a name for its content; remembered for the object itself when it holds objects of its own (worth not reading again). */
  private nested(value: object): string {
    const known = this.nameOfObject.get(value);
    if (known !== undefined) return known;
    const content = this.contentOf(value);
    let name = this.nameOfContent.get(content);
    if (name === undefined) {
      name = `#${this.nameOfContent.size}`;
      if (this.nameOfContent.size < REMEMBERED) this.nameOfContent.set(content, name);
      else name = `(${content})`;
    }
    if (Object.values(value).some((v) => typeof v === 'object' && v !== null)) this.nameOfObject.set(value, name);
    return name;
  }
}

/** A line as the writer stages it for COPY into payment_lines (see PaymentLine for the row it becomes): the draft, its id, position and explanation's key. */
interface StagedLine {
  line: DraftLine;
  id: string;
  position: number;
  explanationKey: number | null;
}

/**
 * Writes one calculation's lines, their explanations (each distinct one once) and its issues, in the
 * caller's transaction, a slice at a time: each slice's lines follow the last slice's in the run's
 * order (compareLines), so positions run on from one slice to the next as if the run were written in
 * one piece, and the run's totals are summed as the slices pass. The database refuses them unless
 * the run is calculating this calculation (`payment_lines_open_run`), so a stale or duplicate worker
 * cannot add to a run.
 */
export class CalculationWriter {
  readonly stored: StoredCalculation = {
    total: 0,
    lineCount: 0,
    householdCount: 0,
    placementCount: 0,
    issueCount: 0,
    noticeCount: 0,
    correctionCount: 0,
  };
  /** Every component a line was written for: each must post somewhere. */
  readonly components = new Set<string>();
  private readonly explanationKeys = new ExplanationKeys();
  private last: DraftLine | null = null;
  private readonly explanations: BulkInserter<{ key: number; body: string }>;
  private readonly lines: BulkInserter<StagedLine>;
  private readonly issues: BulkInserter<CalculationIssue>;

  constructor(trx: Knex.Transaction, tenantId: string, runId: string, calculation: number) {
    this.explanations = bulkInserter(trx, 'payment_explanations', [
      { name: 'tenant_id', type: 'uuid', value: () => tenantId },
      { name: 'run_id', type: 'uuid', value: () => runId },
      { name: 'calculation', type: 'integer', value: () => calculation },
      { name: 'key', type: 'integer', value: (e) => e.key },
      { name: 'body', type: 'jsonb', value: (e) => e.body },
    ]);
    this.lines = bulkInserter<StagedLine>(trx, 'payment_lines', [
      { name: 'tenant_id', type: 'uuid', value: () => tenantId },
      { name: 'id', type: 'uuid', value: (r) => r.id },
      { name: 'run_id', type: 'uuid', value: () => runId },
      { name: 'calculation', type: 'integer', value: () => calculation },
      { name: 'position', type: 'integer', value: (r) => r.position },
      { name: 'household_id', type: 'uuid', value: (r) => r.line.householdId },
      { name: 'placement_id', type: 'uuid', value: (r) => r.line.placementId },
      { name: 'child_id', type: 'uuid', value: (r) => r.line.childId },
      { name: 'kind', type: 'text', value: (r) => r.line.kind },
      { name: 'component', type: 'text', value: (r) => r.line.component },
      { name: 'period_start', type: 'date', value: (r) => r.line.periodStart },
      { name: 'period_end', type: 'date', value: (r) => r.line.periodEnd },
      { name: 'nights', type: 'integer', value: (r) => r.line.nights },
      { name: 'amount', type: 'bigint', value: (r) => r.line.amount },
      { name: 'explanation_key', type: 'integer', value: (r) => r.explanationKey },
      { name: 'corrects_run_id', type: 'uuid', value: (r) => r.line.correctsRunId },
      { name: 'corrects_line_ids', type: 'uuid[]', value: (r) => r.line.correctsLineIds },
      { name: 'claim_id', type: 'uuid', value: (r) => r.line.claimId },
      { name: 'adjustment_id', type: 'uuid', value: (r) => r.line.adjustmentId },
      { name: 'description', type: 'text', value: (r) => r.line.description },
    ]);
    this.issues = bulkInserter<CalculationIssue>(trx, 'payment_run_issues', [
      { name: 'tenant_id', type: 'uuid', value: () => tenantId },
      { name: 'id', type: 'uuid', value: () => newId() },
      { name: 'run_id', type: 'uuid', value: () => runId },
      { name: 'calculation', type: 'integer', value: () => calculation },
      { name: 'household_id', type: 'uuid', value: (i) => i.householdId },
      { name: 'placement_id', type: 'uuid', value: (i) => i.placementId },
      { name: 'child_id', type: 'uuid', value: (i) => i.childId },
      { name: 'severity', type: 'text', value: (i) => i.severity },
      { name: 'code', type: 'text', value: (i) => i.code },
      { name: 'message', type: 'text', value: (i) => i.message },
    ]);
  }

  /**
   * Writes a slice: its lines (sorted here) must all come after every line written before, which a
   * slice holding whole households, taken in household order, gives. Its households and placements
   * are none of an earlier slice's, so their counts add up.
   */
  async write(lines: DraftLine[], issues: CalculationIssue[]): Promise<void> {
    lines.sort(compareLines);
    if (lines.length && this.last && compareLines(this.last, lines[0]!) > 0)
      throw new Error("payment lines written out of order: a slice must hold whole households, after the last slice's");
    const explanations: Array<{ key: number; body: string }> = [];
    const rows: StagedLine[] = new Array(lines.length);
    const households = new Set<string>();
    const placements = new Set<string>();
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      let explanationKey: number | null = null;
      if (line.explanation !== null) {
        const { key, body } = this.explanationKeys.keyOf(line.explanation);
        if (body !== null) explanations.push({ key, body });
        explanationKey = key;
      }
      rows[i] = { line, id: newId(), position: this.stored.lineCount + i + 1, explanationKey };
      households.add(line.householdId);
      if (line.placementId) placements.add(line.placementId);
      this.components.add(line.component);
      this.stored.total += line.amount;
      if (line.kind === 'arrears' || line.kind === 'recovery') this.stored.correctionCount++;
    }
    await this.explanations.insert(explanations);
    await this.lines.insert(rows);
    await this.issues.insert(issues);
    this.stored.lineCount += lines.length;
    this.stored.householdCount += households.size;
    this.stored.placementCount += placements.size;
    for (const issue of issues) {
      if (issue.severity === 'error') this.stored.issueCount++;
      else this.stored.noticeCount++;
    }
    if (lines.length) this.last = lines[lines.length - 1]!;
  }

  /** Drops the staging tables the slices shared (the commit would). */
  async close(): Promise<void> {
    await this.explanations.close();
    await this.lines.close();
    await this.issues.close();
  }
}
