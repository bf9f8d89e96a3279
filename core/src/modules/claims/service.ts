import type { Knex } from 'knex';
import { Problem, type FieldError } from '../../http/problem';
import { newId } from '../../ids';
import type { ResolvedPack } from '../../packs/registry';
import { inEffectOn, iso } from '../../time';
import type { HouseholdRow } from '../carers/shared';
import { approvedOn } from '../carers/forMatching';
import { lookupCodeErrors } from '../lookups/service';
import { mileageTableOf, priceMileage, type PricedMileage } from './pricing';

export type ClaimStatus = 'draft' | 'submitted' | 'approved' | 'rejected' | 'withdrawn' | 'paid';

export interface ClaimRow {
  tenant_id: string; id: string; household_id: string; description: string | null; status: ClaimStatus; currency: 'GBP' | 'USD'; total: number;
  submitted_by: string | null; submitted_at: Date | null; decided_by: string | null; decided_at: Date | null; decided_on: string | null; decision_reasons: string | null;
  withdrawn_at: Date | null; paid_in_run_id: string | null; paid_on: string | null; version: number; created_by: string | null; created_at: Date; updated_at: Date;
}

interface LineRow {
  id: string; position: number; kind: 'mileage' | 'expense'; line_date: string; from_place: string | null; to_place: string | null; purpose: string | null;
  tenths_of_mile: number | null; category: string | null; description: string | null; amount: number; child_id: string | null; placement_id: string | null;
  explanation: PricedMileage['explanation'] | null;
}

export interface LineInput {
  kind: 'mileage' | 'expense'; date: string; from?: string; to?: string; purpose?: string; miles?: number;
  category?: string; description?: string; amount?: number; childId?: string | null; placementId?: string | null;
}

export interface EvidenceInput { key: string; title: string; receivedOn: string }

/** The lookup list expense categories are checked against, when the tenant has it (no pack defines one yet). */
export const EXPENSE_CATEGORY_LIST = 'expense_category';

export function claimSummaryToApi(r: ClaimRow) {
  return {
    id: r.id, householdId: r.household_id, description: r.description, status: r.status, currency: r.currency, total: r.total,
    submittedBy: r.submitted_by, submittedAt: iso(r.submitted_at), decidedBy: r.decided_by, decidedAt: iso(r.decided_at), decisionReasons: r.decision_reasons,
    paidInRunId: r.paid_in_run_id, paidOn: r.paid_on, version: r.version, createdBy: r.created_by, createdAt: iso(r.created_at), updatedAt: iso(r.updated_at),
  };
}

function lineToApi(r: LineRow) {
  return {
    id: r.id, kind: r.kind, date: r.line_date, from: r.from_place, to: r.to_place, purpose: r.purpose,
    miles: r.tenths_of_mile === null ? null : r.tenths_of_mile / 10, category: r.category, description: r.description, amount: r.amount,
    childId: r.child_id, placementId: r.placement_id, explanation: r.explanation ?? null,
  };
}

/** A claim as the API shows it: with its lines, evidence and history. */
export async function presentClaim(trx: Knex.Transaction, tenantId: string, row: ClaimRow) {
  const lines = (await trx('claim_lines').where({ tenant_id: tenantId, claim_id: row.id }).orderBy('position')) as LineRow[];
  const evidence = (await trx('claim_evidence').where({ tenant_id: tenantId, claim_id: row.id }).orderBy(['received_on', 'id'])) as Array<{ id: string; key: string; title: string; received_on: string }>;
  const history = (await trx('claim_history').where({ tenant_id: tenantId, claim_id: row.id }).orderBy(['at', 'id'])) as Array<{ from_status: string | null; to_status: string; actor_id: string | null; at: Date; reasons: string | null }>;
  return {
    ...claimSummaryToApi(row),
    lines: lines.map(lineToApi),
    evidence: evidence.map((e) => ({ id: e.id, key: e.key, title: e.title, receivedOn: e.received_on })),
    history: history.map((h) => ({ fromStatus: h.from_status, toStatus: h.to_status, actorId: h.actor_id, at: iso(h.at), reasons: h.reasons })),
  };
}

export async function recordHistory(trx: Knex.Transaction, tenantId: string, claimId: string, from: ClaimStatus | null, to: ClaimStatus, actorId: string | null, reasons: string | null = null): Promise<void> {
  await trx('claim_history').insert({ tenant_id: tenantId, id: newId(), claim_id: claimId, from_status: from, to_status: to, actor_id: actorId, reasons });
}

/** Rules the contract cannot say, each naming its field: miles and amounts above 0, no date in the future, codes and records of this tenant. */
export async function lineErrors(trx: Knex.Transaction, tenantId: string, pack: ResolvedPack, today: string, lines: LineInput[], evidence: EvidenceInput[]): Promise<FieldError[]> {
  const errors: FieldError[] = [];
  const mileage = mileageTableOf(pack);
  const hasCategories = Boolean(await trx('lookup_lists').where({ tenant_id: tenantId, key: EXPENSE_CATEGORY_LIST }).first('key'));
  const categoryChecks: Array<{ list: string; code: string; pointer: string }> = [];
  for (const [i, line] of lines.entries()) {
    const at = (field: string) => `/body/lines/${i}/${field}`;
    if (line.date > today) errors.push({ pointer: at('date'), message: 'is in the future' });
    const forbidden = line.kind === 'mileage' ? (['category', 'description', 'amount'] as const) : (['from', 'to', 'purpose', 'miles'] as const);
    for (const field of forbidden) if (line[field] !== undefined) errors.push({ pointer: at(field), message: `is not part of a ${line.kind} line` });
    if (line.kind === 'mileage') {
      for (const field of ['from', 'to', 'purpose'] as const) if (line[field] === undefined) errors.push({ pointer: at(field), message: 'is required on a mileage line' });
      if (line.miles === undefined) errors.push({ pointer: at('miles'), message: 'is required on a mileage line' });
      else if (!(line.miles > 0)) errors.push({ pointer: at('miles'), message: 'must be more than 0' });
      else if (Math.abs(line.miles * 10 - Math.round(line.miles * 10)) > 1e-6) errors.push({ pointer: at('miles'), message: 'is kept to a tenth of a mile' });
      else if (line.miles > 10000) errors.push({ pointer: at('miles'), message: 'is more than 10,000 miles for one journey' });
      if (!mileage) errors.push({ pointer: at('kind'), message: "the tenant's pack has no mileage table" });
      else if (!inEffectOn(mileage.table.values, line.date)) errors.push({ pointer: at('date'), message: `the mileage table "${mileage.table.key}" has no rate on this date` });
    } else {
      if (line.category === undefined) errors.push({ pointer: at('category'), message: 'is required on an expense line' });
      else if (hasCategories) categoryChecks.push({ list: EXPENSE_CATEGORY_LIST, code: line.category, pointer: at('category') });
      if (line.description === undefined) errors.push({ pointer: at('description'), message: 'is required on an expense line' });
      if (line.amount === undefined) errors.push({ pointer: at('amount'), message: 'is required on an expense line' });
      else if (line.amount <= 0) errors.push({ pointer: at('amount'), message: 'must be more than 0' });
    }
  }
  errors.push(...(await lookupCodeErrors(trx, tenantId, categoryChecks)));
  const childIds = [...new Set(lines.map((l) => l.childId).filter((v): v is string => typeof v === 'string'))];
  const placementIds = [...new Set(lines.map((l) => l.placementId).filter((v): v is string => typeof v === 'string'))];
  const children = new Set(childIds.length ? ((await trx('children').where({ tenant_id: tenantId }).whereNull('deleted_at').whereIn('id', childIds).select('id')) as Array<{ id: string }>).map((r) => r.id) : []);
  const placements = new Set(placementIds.length ? ((await trx('placements').where({ tenant_id: tenantId }).whereIn('id', placementIds).select('id')) as Array<{ id: string }>).map((r) => r.id) : []);
  lines.forEach((line, i) => {
    if (line.childId && !children.has(line.childId)) errors.push({ pointer: `/body/lines/${i}/childId`, message: 'is not a child of this tenant' });
    if (line.placementId && !placements.has(line.placementId)) errors.push({ pointer: `/body/lines/${i}/placementId`, message: 'is not a placement of this tenant' });
  });
  evidence.forEach((e, i) => {
    if (e.receivedOn > today) errors.push({ pointer: `/body/evidence/${i}/receivedOn`, message: 'is in the future' });
  });
  return errors;
}

/** Why a household may not be paid for a claim's costs: about the household (`line` null), or about one line (by position). */
export interface ApprovalFault {
  line: number | null;
  message: string;
}

/**
 * Whether a household may be paid a claim for costs on these dates: only while approved as carers,
 * as the carers module counts it (from the approval decision, through reviews, until the approval
 * ends, the day it ends not included). Names each line dated outside the approval, or the household
 * itself when it has never been approved.
 */
export function approvalFaults(household: HouseholdRow, dates: string[]): ApprovalFault[] {
  if (household.approved_on === null) {
    return [{ line: null, message: `has never been approved as carers (its approval is at "${household.approval_state}"): a claim is paid only for costs while a household is approved` }];
  }
  const span = `approved from ${household.approved_on}${household.approval_ended_on ? ` until its approval ended on ${household.approval_ended_on}` : ''}`;
  const faults: ApprovalFault[] = [];
  dates.forEach((date, i) => {
    if (!approvedOn(household, date)) faults.push({ line: i, message: `is dated ${date}, a day the household was not approved as carers (${span})` });
  });
  return faults;
}

/** Prices the claim's mileage lines again (expense lines keep their amounts) and stores amounts, explanations and the total. */
export async function repriceClaim(trx: Knex.Transaction, tenantId: string, pack: ResolvedPack, claim: ClaimRow): Promise<number> {
  const lines = (await trx('claim_lines').where({ tenant_id: tenantId, claim_id: claim.id }).orderBy('position')) as LineRow[];
  const mileageLines = lines.filter((l) => l.kind === 'mileage');
  const mileage = mileageTableOf(pack);
  if (mileageLines.length && !mileage) throw new Problem('unprocessable', "The tenant's pack has no mileage table");
  const priced = mileageLines.length ? await priceMileage(trx, tenantId, claim.household_id, claim.id, mileage!, mileageLines.map((l) => ({ position: l.position, date: String(l.line_date), tenths: l.tenths_of_mile! }))) : [];
  for (const p of priced) {
    await trx('claim_lines').where({ tenant_id: tenantId, claim_id: claim.id, position: p.position }).update({ amount: p.amount, explanation: JSON.stringify(p.explanation) });
  }
  const byPosition = new Map(priced.map((p) => [p.position, p.amount]));
  return lines.reduce((sum, l) => sum + (byPosition.get(l.position) ?? l.amount), 0);
}

/** Replaces a claim's lines and evidence with those given (the caller has checked them). */
export async function storeLines(trx: Knex.Transaction, tenantId: string, claimId: string, lines: LineInput[] | undefined, evidence: EvidenceInput[] | undefined): Promise<void> {
  if (lines) {
    await trx('claim_lines').where({ tenant_id: tenantId, claim_id: claimId }).delete();
    await trx('claim_lines').insert(lines.map((l, position) => ({
      tenant_id: tenantId, id: newId(), claim_id: claimId, position, kind: l.kind, line_date: l.date,
      from_place: l.from ?? null, to_place: l.to ?? null, purpose: l.purpose ?? null,
      tenths_of_mile: l.kind === 'mileage' ? Math.round(l.miles! * 10) : null,
      category: l.category ?? null, description: l.description ?? null, amount: l.kind === 'expense' ? l.amount! : 0,
      child_id: l.childId ?? null, placement_id: l.placementId ?? null, explanation: null,
    })));
  }
  if (evidence) {
    await trx('claim_evidence').where({ tenant_id: tenantId, claim_id: claimId }).delete();
    if (evidence.length) await trx('claim_evidence').insert(evidence.map((e) => ({ tenant_id: tenantId, id: newId(), claim_id: claimId, key: e.key, title: e.title, received_on: e.receivedOn })));
  }
}

/**
 * What a payment run pays for claims: every approved claim not yet paid, split by kind of line
 * (mileage and expenses post to their own accounts), with the dates its lines cover. A claim is
 * dated by its latest line (it is paid whole, once all its costs are incurred): given `through`, a
 * run's last night, only claims dated on or before it, so a claim is paid by the run whose period
 * holds its date, or, approved after that run was calculated or dated before the first run, by the
 * next run calculated; never by a run whose period ends before it.
 */
export async function claimPaymentsDue(trx: Knex.Transaction, tenantId: string, through?: string): Promise<Array<{ claimId: string; householdId: string; kind: 'mileage' | 'expense'; amount: number; lines: number; firstDate: string; lastDate: string; claimDate: string; description: string | null; decidedBy: string | null; decidedOn: string | null }>> {
  const query = trx('claims as c')
    .join('claim_lines as l', function joinLines() { this.on('l.tenant_id', 'c.tenant_id').andOn('l.claim_id', 'c.id'); })
    .where({ 'c.tenant_id': tenantId, 'c.status': 'approved' })
    .whereNull('c.paid_in_run_id');
  if (through !== undefined) {
    query.whereNotExists(function laterLine() {
      this.from('claim_lines as later').whereRaw('later.tenant_id = c.tenant_id AND later.claim_id = c.id').where('later.line_date', '>', through);
    });
  }
  const rows = (await query
    .groupBy('c.id', 'c.household_id', 'c.description', 'c.decided_by', 'c.decided_on', 'l.kind')
    .orderBy([{ column: 'c.id' }, { column: 'l.kind' }])
    .select('c.id', 'c.household_id', 'c.description', 'c.decided_by', 'c.decided_on', 'l.kind')
    .select(trx.raw('sum(l.amount)::bigint AS amount'), trx.raw('count(*)::int AS lines'), trx.raw('min(l.line_date) AS first_date'), trx.raw('max(l.line_date) AS last_date'))) as Array<{ id: string; household_id: string; description: string | null; decided_by: string | null; decided_on: string | null; kind: 'mileage' | 'expense'; amount: number; lines: number; first_date: string; last_date: string }>;
  // The claim's date across its kinds (rows of one claim are together, in claim order).
  const claimDate = new Map<string, string>();
  for (const r of rows) {
    const seen = claimDate.get(r.id);
    if (seen === undefined || r.last_date > seen) claimDate.set(r.id, r.last_date);
  }
  return rows.filter((r) => Number(r.amount) !== 0).map((r) => ({
    claimId: r.id, householdId: r.household_id, kind: r.kind, amount: Number(r.amount), lines: r.lines, firstDate: r.first_date, lastDate: r.last_date, claimDate: claimDate.get(r.id)!,
    description: r.description, decidedBy: r.decided_by, decidedOn: r.decided_on,
  }));
}

/**
 * For payment runs: marks approved claims paid in a run (they never change again). All or
 * nothing: a claim that is not approved-and-unpaid throws, and the caller's transaction rolls back.
 * The caller audits its own request; each claim's history records the payment.
 */
export async function markClaimsPaid(trx: Knex.Transaction, tenantId: string, claimIds: string[], runId: string, paidOn: string, actorId: string | null = null): Promise<number> {
  if (!claimIds.length) return 0;
  const rows = (await trx('claims').where({ tenant_id: tenantId }).whereIn('id', claimIds).forUpdate().select('id', 'status', 'paid_in_run_id')) as Array<Pick<ClaimRow, 'id' | 'status' | 'paid_in_run_id'>>;
  const ready = new Set(rows.filter((r) => r.status === 'approved' && r.paid_in_run_id === null).map((r) => r.id));
  const notReady = claimIds.filter((id) => !ready.has(id));
  if (notReady.length) throw new Problem('conflict', `Claims not approved-and-unpaid in this tenant: ${notReady.join(', ')}`);
  const updated = await trx('claims').where({ tenant_id: tenantId, status: 'approved' }).whereIn('id', claimIds)
    .update({ status: 'paid', paid_in_run_id: runId, paid_on: paidOn, version: trx.raw('version + 1'), updated_at: trx.fn.now() });
  for (const id of claimIds) await recordHistory(trx, tenantId, id, 'approved', 'paid', actorId, `Paid in run ${runId}`);
  return updated;
}
