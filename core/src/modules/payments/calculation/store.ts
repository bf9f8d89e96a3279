import type { Knex } from 'knex';
import { bulkInsert } from '../../../db/bulkInsert';
import { newId } from '../../../ids';
import type { CalculationIssue, DraftLine } from './lines';

const KIND_ORDER: Record<DraftLine['kind'], number> = { rate: 0, extra: 1, arrears: 2, recovery: 3, claim: 4, adjustment: 5 };

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
 * Writes one calculation's lines, their explanations (each distinct one once) and its issues, in
 * bulk, in the caller's transaction. The database refuses them unless the run is calculating this
 * calculation (`payment_lines_open_run`), so a stale or duplicate worker cannot add to a run.
 */
export async function storeCalculation(trx: Knex.Transaction, tenantId: string, runId: string, calculation: number, lines: DraftLine[], issues: CalculationIssue[]): Promise<StoredCalculation> {
  lines.sort(compareLines);
  const keys = new Map<string, number>();
  const explanationByObject = new WeakMap<object, number>();
  const explanations: Array<{ key: number; body: string }> = [];
  const keyOf = (explanation: object | null): number | null => {
    if (explanation === null) return null;
    const known = explanationByObject.get(explanation);
    if (known !== undefined) return known;
    const text = JSON.stringify(explanation);
    let key = keys.get(text);
    if (key === undefined) {
      key = explanations.length + 1;
      keys.set(text, key);
      explanations.push({ key, body: text });
    }
    explanationByObject.set(explanation, key);
    return key;
  };
  const rows = lines.map((line, i) => ({ ...line, id: newId(), position: i + 1, explanationKey: keyOf(line.explanation) }));

  await bulkInsert(trx, 'payment_explanations', [
    { name: 'tenant_id', type: 'uuid', value: () => tenantId },
    { name: 'run_id', type: 'uuid', value: () => runId },
    { name: 'calculation', type: 'integer', value: () => calculation },
    { name: 'key', type: 'integer', value: (e) => e.key },
    { name: 'body', type: 'jsonb', value: (e) => e.body },
  ], explanations);
  type Row = (typeof rows)[number];
  await bulkInsert<Row>(trx, 'payment_lines', [
    { name: 'tenant_id', type: 'uuid', value: () => tenantId },
    { name: 'id', type: 'uuid', value: (r) => r.id },
    { name: 'run_id', type: 'uuid', value: () => runId },
    { name: 'calculation', type: 'integer', value: () => calculation },
    { name: 'position', type: 'integer', value: (r) => r.position },
    { name: 'household_id', type: 'uuid', value: (r) => r.householdId },
    { name: 'placement_id', type: 'uuid', value: (r) => r.placementId },
    { name: 'child_id', type: 'uuid', value: (r) => r.childId },
    { name: 'kind', type: 'text', value: (r) => r.kind },
    { name: 'component', type: 'text', value: (r) => r.component },
    { name: 'period_start', type: 'date', value: (r) => r.periodStart },
    { name: 'period_end', type: 'date', value: (r) => r.periodEnd },
    { name: 'nights', type: 'integer', value: (r) => r.nights },
    { name: 'amount', type: 'bigint', value: (r) => r.amount },
    { name: 'explanation_key', type: 'integer', value: (r) => r.explanationKey },
    { name: 'corrects_run_id', type: 'uuid', value: (r) => r.correctsRunId },
    { name: 'corrects_line_ids', type: 'uuid[]', value: (r) => r.correctsLineIds },
    { name: 'claim_id', type: 'uuid', value: (r) => r.claimId },
    { name: 'adjustment_id', type: 'uuid', value: (r) => r.adjustmentId },
    { name: 'description', type: 'text', value: (r) => r.description },
  ], rows);
  await bulkInsert<CalculationIssue>(trx, 'payment_run_issues', [
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
  ], issues);

  return {
    total: rows.reduce((sum, r) => sum + r.amount, 0),
    lineCount: rows.length,
    householdCount: new Set(rows.map((r) => r.householdId)).size,
    placementCount: new Set(rows.filter((r) => r.placementId).map((r) => r.placementId)).size,
    issueCount: issues.filter((i) => i.severity === 'error').length,
    noticeCount: issues.filter((i) => i.severity === 'notice').length,
    correctionCount: rows.filter((r) => r.kind === 'arrears' || r.kind === 'recovery').length,
  };
}
