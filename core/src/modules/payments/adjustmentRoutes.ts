import { actorId, type OperationContext, type OperationMap, type OperationResult } from '../../http/operation';
import { etagOf } from '../../http/etag';
import { decodeCursor, toPage } from '../../http/pagination';
import { Problem, type FieldError } from '../../http/problem';
import { newId } from '../../ids';
import { iso } from '../../time';
import { childVisible, withholdRestricted, withholdRestrictedOne } from '../children/visibility';
import { tenantChart } from '../ledger/chart';
import type { LineRow } from './rows';

interface AdjustmentRow {
  id: string; household_id: string; placement_id: string | null; child_id: string | null; component: string; amount: number; reason: string; source: 'manual' | 'dispute';
  dispute_id: string | null; corrects_line_id: string | null; status: 'proposed' | 'approved' | 'rejected' | 'paid'; proposed_by: string | null; proposed_at: Date;
  decided_by: string | null; decided_at: Date | null; decision_reasons: string | null; paid_in_run_id: string | null; version: number;
}

interface DisputeRow {
  id: string; line_id: string; run_id: string; household_id: string; reason: string; expected_amount: number | null; status: 'open' | 'upheld' | 'rejected' | 'withdrawn';
  raised_by: string | null; raised_at: Date; resolution: string | null; resolved_by: string | null; resolved_at: Date | null; adjustment_id: string | null; version: number;
}

function adjustmentToApi(r: AdjustmentRow) {
  return {
    id: r.id, householdId: r.household_id, placementId: r.placement_id, childId: r.child_id, component: r.component, amount: Number(r.amount), reason: r.reason, source: r.source,
    disputeId: r.dispute_id, correctsLineId: r.corrects_line_id, status: r.status, proposedBy: r.proposed_by, proposedAt: iso(r.proposed_at), decidedBy: r.decided_by,
    decidedAt: iso(r.decided_at), decisionReasons: r.decision_reasons, paidInRunId: r.paid_in_run_id, version: r.version,
  };
}

function disputeToApi(r: DisputeRow) {
  return {
    id: r.id, lineId: r.line_id, runId: r.run_id, householdId: r.household_id, reason: r.reason, expectedAmount: r.expected_amount === null ? null : Number(r.expected_amount), status: r.status,
    raisedBy: r.raised_by, raisedAt: iso(r.raised_at), resolution: r.resolution, resolvedBy: r.resolved_by, resolvedAt: iso(r.resolved_at), adjustmentId: r.adjustment_id, version: r.version,
  };
}

/** Separation of duties: whoever proposed (or raised) may not decide. */
function assertOtherPerson(ctx: OperationContext, by: string | null, what: string): void {
  if (ctx.principal?.kind !== 'user') throw new Problem('forbidden', `Only a named person can decide ${what}`);
  if (by === ctx.principal.id) throw new Problem('forbidden', `You proposed ${what}, so another person with payments:approve must decide it (separation of duties)`, { code: 'separation_of_duties' });
}

/** Refs an adjustment names must be the tenant's, and the child and placement the household's. */
async function adjustmentErrors(ctx: OperationContext, body: { householdId: string; placementId?: string | null; childId?: string | null; component: string }): Promise<FieldError[]> {
  const errors: FieldError[] = [];
  const t = ctx.tenantId!;
  if (!(await ctx.trx('carer_households').where({ tenant_id: t, id: body.householdId }).first('id'))) errors.push({ pointer: '/body/householdId', message: 'is not a carer household of this tenant' });
  if (body.placementId) {
    const placement = (await ctx.trx('placements').where({ tenant_id: t, id: body.placementId }).where(childVisible(ctx, 'child_id')).first('household_id', 'child_id')) as { household_id: string; child_id: string } | undefined;
    if (!placement) errors.push({ pointer: '/body/placementId', message: 'is not a placement of this tenant' });
    else {
      if (placement.household_id !== body.householdId) errors.push({ pointer: '/body/placementId', message: 'is not a placement with this household' });
      if (body.childId && placement.child_id !== body.childId) errors.push({ pointer: '/body/childId', message: 'is not the child of this placement' });
    }
  }
  if (body.childId && !(await ctx.trx('children').where({ tenant_id: t, id: body.childId }).where(childVisible(ctx, 'id')).first('id'))) errors.push({ pointer: '/body/childId', message: 'is not a child of this tenant' });
  const chart = await tenantChart(ctx.trx, t, ctx.services.packs);
  if (!chart.postings.has(body.component)) errors.push({ pointer: '/body/component', message: `is not a component the tenant's chart posts (${[...chart.postings.keys()].join(', ')})` });
  return errors;
}

async function listPaymentAdjustments(ctx: OperationContext): Promise<OperationResult> {
  const q = ctx.query as { limit: number; cursor?: string; status?: AdjustmentRow['status']; householdId?: string };
  const after = decodeCursor(q.cursor, 1);
  const query = ctx.trx('payment_adjustments').where({ tenant_id: ctx.tenantId }).orderBy('id').limit(q.limit + 1);
  if (after) query.where('id', '>', after[0] as string);
  if (q.status) query.where('status', q.status);
  if (q.householdId) query.where('household_id', q.householdId);
  const page = toPage((await query) as AdjustmentRow[], q.limit, (r) => [r.id], adjustmentToApi);
  return { status: 200, body: { ...page, data: await withholdRestricted(ctx, page.data) } };
}

async function proposePaymentAdjustment(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as { householdId: string; placementId?: string | null; childId?: string | null; component: string; amount: number; reason: string };
  const errors = await adjustmentErrors(ctx, body);
  if (errors.length) throw Problem.unprocessable(errors);
  const [row] = (await ctx.trx('payment_adjustments')
    .insert({
      tenant_id: ctx.tenantId, id: newId(), household_id: body.householdId, placement_id: body.placementId ?? null, child_id: body.childId ?? null, component: body.component,
      amount: body.amount, reason: body.reason, source: 'manual', status: 'proposed', proposed_by: actorId(ctx),
    })
    .returning('*')) as AdjustmentRow[];
  const after = adjustmentToApi(row!);
  await ctx.audit({ action: 'payment_adjustment.proposed', entityType: 'payment_adjustment', entityId: row!.id, after });
  return { status: 201, body: after, headers: { ETag: etagOf(row!.version), Location: `/v1/payment-adjustments/${row!.id}` } };
}

async function findAdjustment(ctx: OperationContext, lock = false): Promise<AdjustmentRow> {
  const query = ctx.trx('payment_adjustments').where({ tenant_id: ctx.tenantId, id: ctx.params.adjustmentId }).first();
  if (lock) query.forUpdate();
  const row = (await query) as AdjustmentRow | undefined;
  if (!row) throw Problem.notFound('The adjustment');
  return row;
}

async function getPaymentAdjustment(ctx: OperationContext): Promise<OperationResult> {
  const row = await findAdjustment(ctx);
  return { status: 200, body: await withholdRestrictedOne(ctx, adjustmentToApi(row)), headers: { ETag: etagOf(row.version) } };
}

async function decidePaymentAdjustment(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as { decision: 'approve' | 'reject'; reasons: string };
  const before = await findAdjustment(ctx, true);
  if (before.status !== 'proposed') throw new Problem('conflict', `The adjustment is ${before.status}; only a proposed one is decided`);
  assertOtherPerson(ctx, before.proposed_by, 'this adjustment');
  const [row] = (await ctx.trx('payment_adjustments')
    .where({ tenant_id: ctx.tenantId, id: before.id })
    .update({ status: body.decision === 'approve' ? 'approved' : 'rejected', decided_by: actorId(ctx), decided_at: ctx.trx.fn.now(), decision_reasons: body.reasons, version: before.version + 1, updated_at: ctx.trx.fn.now() })
    .returning('*')) as AdjustmentRow[];
  const after = adjustmentToApi(row!);
  await ctx.audit({ action: `payment_adjustment.${body.decision === 'approve' ? 'approved' : 'rejected'}`, entityType: 'payment_adjustment', entityId: before.id, before: adjustmentToApi(before), after });
  return { status: 200, body: await withholdRestrictedOne(ctx, after), headers: { ETag: etagOf(row!.version) } };
}

async function raisePaymentDispute(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as { reason: string; expectedAmount?: number | null };
  const line = (await ctx.trx('payment_lines as l')
    .join('payment_runs as r', function joinRun() { this.on('r.tenant_id', 'l.tenant_id').andOn('r.id', 'l.run_id'); })
    .where({ 'l.tenant_id': ctx.tenantId, 'l.id': ctx.params.lineId })
    .first('l.*', 'r.status as run_status', 'r.calculation_number as run_calculation')) as (LineRow & { run_status: string; run_calculation: number }) | undefined;
  if (!line) throw Problem.notFound('The payment line');
  if (!['finalised', 'exported'].includes(line.run_status) || line.calculation !== line.run_calculation) throw new Problem('conflict', 'Only a line a finalised run paid can be disputed; raise questions about a run in progress with its approver');
  if (await ctx.trx('payment_disputes').where({ tenant_id: ctx.tenantId, line_id: line.id, status: 'open' }).first('id')) throw new Problem('conflict', 'The line already has an open dispute');
  const [row] = (await ctx.trx('payment_disputes')
    .insert({ tenant_id: ctx.tenantId, id: newId(), line_id: line.id, run_id: line.run_id, household_id: line.household_id, reason: body.reason, expected_amount: body.expectedAmount ?? null, status: 'open', raised_by: actorId(ctx) })
    .returning('*')) as DisputeRow[];
  const after = disputeToApi(row!);
  await ctx.audit({ action: 'payment_dispute.raised', entityType: 'payment_line', entityId: line.id, after });
  return { status: 201, body: after, headers: { ETag: etagOf(row!.version), Location: `/v1/payment-disputes/${row!.id}` } };
}

async function listPaymentDisputes(ctx: OperationContext): Promise<OperationResult> {
  const q = ctx.query as { limit: number; cursor?: string; status?: DisputeRow['status'] };
  const after = decodeCursor(q.cursor, 1);
  const query = ctx.trx('payment_disputes').where({ tenant_id: ctx.tenantId }).orderBy('id').limit(q.limit + 1);
  if (after) query.where('id', '>', after[0] as string);
  if (q.status) query.where('status', q.status);
  return { status: 200, body: toPage((await query) as DisputeRow[], q.limit, (r) => [r.id], disputeToApi) };
}

async function findDispute(ctx: OperationContext, lock = false): Promise<DisputeRow> {
  const query = ctx.trx('payment_disputes').where({ tenant_id: ctx.tenantId, id: ctx.params.disputeId }).first();
  if (lock) query.forUpdate();
  const row = (await query) as DisputeRow | undefined;
  if (!row) throw Problem.notFound('The dispute');
  return row;
}

async function getPaymentDispute(ctx: OperationContext): Promise<OperationResult> {
  const row = await findDispute(ctx);
  return { status: 200, body: disputeToApi(row), headers: { ETag: etagOf(row.version) } };
}

async function resolvePaymentDispute(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as { outcome: 'upheld' | 'rejected' | 'withdrawn'; resolution: string; adjustmentAmount?: number };
  const before = await findDispute(ctx, true);
  if (before.status !== 'open') throw new Problem('conflict', `The dispute is ${before.status}`);
  if (body.outcome === 'upheld' && body.adjustmentAmount === undefined) throw Problem.unprocessable([{ pointer: '/body/adjustmentAmount', message: 'is needed to uphold a dispute: the difference to pay (or, negative, to recover)' }]);
  if (body.outcome !== 'upheld' && body.adjustmentAmount !== undefined) throw Problem.unprocessable([{ pointer: '/body/adjustmentAmount', message: `is only for an upheld dispute, not one ${body.outcome}` }]);
  if (body.outcome !== 'withdrawn') {
    if (!ctx.principal!.permissions.has('payments:approve')) throw new Problem('forbidden', 'Upholding or rejecting a dispute needs the permission payments:approve');
    assertOtherPerson(ctx, before.raised_by, 'this dispute');
  }
  let adjustmentId: string | null = null;
  if (body.outcome === 'upheld') {
    const line = (await ctx.trx('payment_lines').where({ tenant_id: ctx.tenantId, id: before.line_id }).first()) as LineRow;
    adjustmentId = newId();
    // Decided by the resolver, so it is paid in the next run without a second approval.
    await ctx.trx('payment_adjustments').insert({
      tenant_id: ctx.tenantId, id: adjustmentId, household_id: line.household_id, placement_id: line.placement_id, child_id: line.child_id, component: line.component,
      amount: body.adjustmentAmount, reason: `Dispute upheld: ${body.resolution}`, source: 'dispute', dispute_id: before.id, corrects_line_id: line.id, status: 'approved',
      proposed_by: before.raised_by, decided_by: actorId(ctx), decided_at: ctx.trx.fn.now(), decision_reasons: body.resolution,
    });
  }
  const [row] = (await ctx.trx('payment_disputes')
    .where({ tenant_id: ctx.tenantId, id: before.id })
    .update({ status: body.outcome, resolution: body.resolution, resolved_by: actorId(ctx), resolved_at: ctx.trx.fn.now(), adjustment_id: adjustmentId, version: before.version + 1, updated_at: ctx.trx.fn.now() })
    .returning('*')) as DisputeRow[];
  const after = disputeToApi(row!);
  await ctx.audit({ action: `payment_dispute.${body.outcome}`, entityType: 'payment_dispute', entityId: before.id, before: disputeToApi(before), after: { ...after, adjustmentAmount: body.adjustmentAmount ?? null } });
  return { status: 200, body: after, headers: { ETag: etagOf(row!.version) } };
}

export const adjustmentOperations: OperationMap = {
  listPaymentAdjustments: { access: { permission: 'payments:read' }, handle: listPaymentAdjustments },
  proposePaymentAdjustment: { access: { permission: 'payments:adjust' }, handle: proposePaymentAdjustment },
  getPaymentAdjustment: { access: { permission: 'payments:read' }, handle: getPaymentAdjustment },
  decidePaymentAdjustment: { access: { permission: 'payments:approve' }, handle: decidePaymentAdjustment },
  raisePaymentDispute: { access: { permission: 'payments:adjust' }, handle: raisePaymentDispute },
  listPaymentDisputes: { access: { permission: 'payments:read' }, handle: listPaymentDisputes },
  getPaymentDispute: { access: { permission: 'payments:read' }, handle: getPaymentDispute },
  resolvePaymentDispute: { access: { permission: 'payments:adjust' }, handle: resolvePaymentDispute },
};
