import type { PartialModelObject } from 'objection';
import { findOne, type FindOptions, type FindScope } from '../../db/find';
import { keysetPage } from '../../db/keyset';
import { patchVersioned } from '../../db/versioned';
import {
  actorId,
  defineOperations,
  type OperationResult,
  type TenantContext,
  type TenantScope,
} from '../../http/operation';
import { Problem, type FieldError } from '../../http/problem';
import { created, ok } from '../../http/results';
import { newId } from '../../ids';
import { iso } from '../../time';
import { childVisible, visibleChildren, withholdRestricted, withholdRestrictedOne } from '../children/visibility';
import { tenantChart } from '../ledger/chart';
import { PaymentAdjustment, PaymentDispute, PaymentLine } from './models';
import { findRun } from './runs';

function adjustmentToApi(r: PaymentAdjustment) {
  return {
    id: r.id,
    householdId: r.householdId,
    placementId: r.placementId,
    childId: r.childId,
    component: r.component,
    amount: Number(r.amount),
    reason: r.reason,
    source: r.source,
    disputeId: r.disputeId,
    correctsLineId: r.correctsLineId,
    status: r.status,
    proposedBy: r.proposedBy,
    proposedAt: iso(r.proposedAt),
    decidedBy: r.decidedBy,
    decidedAt: iso(r.decidedAt),
    decisionReasons: r.decisionReasons,
    paidInRunId: r.paidInRunId,
    version: r.version,
  };
}

function disputeToApi(r: PaymentDispute) {
  return {
    id: r.id,
    lineId: r.lineId,
    runId: r.runId,
    householdId: r.householdId,
    reason: r.reason,
    expectedAmount: r.expectedAmount === null ? null : Number(r.expectedAmount),
    status: r.status,
    raisedBy: r.raisedBy,
    raisedAt: iso(r.raisedAt),
    resolution: r.resolution,
    resolvedBy: r.resolvedBy,
    resolvedAt: iso(r.resolvedAt),
    adjustmentId: r.adjustmentId,
    version: r.version,
  };
}

export function findAdjustment(
  scope: FindScope,
  adjustmentId: string,
  options: FindOptions = {},
): Promise<PaymentAdjustment> {
  return findOne<PaymentAdjustment>(scope, PaymentAdjustment, adjustmentId, options);
}

export function findDispute(scope: FindScope, disputeId: string, options: FindOptions = {}): Promise<PaymentDispute> {
  return findOne<PaymentDispute>(scope, PaymentDispute, disputeId, options);
}

/** Separation of duties: whoever proposed (or raised) may not decide. */
function assertOtherPerson(ctx: TenantScope, by: string | null, what: string): void {
  if (ctx.principal.kind !== 'user') throw new Problem('forbidden', `Only a named person can decide ${what}`);
  if (by === ctx.principal.id)
    throw new Problem(
      'forbidden',
      `You proposed ${what}, so another person with payments:approve must decide it (separation of duties)`,
      { code: 'separation_of_duties' },
    );
}

type AdjustmentCreate = TenantContext<'proposePaymentAdjustment'>['body'];

/** Refs an adjustment names must be the tenant's, and the child and placement the household's. */
async function adjustmentErrors(ctx: TenantScope, body: AdjustmentCreate): Promise<FieldError[]> {
  const errors: FieldError[] = [];
  const t = ctx.tenantId;
  if (!(await ctx.trx('carer_households').where({ tenant_id: t, id: body.householdId }).first('id')))
    errors.push({ pointer: '/body/householdId', message: 'is not a carer household of this tenant' });
  if (body.placementId) {
    const placement: { household_id: string; child_id: string } | undefined = await ctx
      .trx('placements')
      .where({ tenant_id: t, id: body.placementId })
      .where(childVisible(ctx, 'child_id'))
      .first('household_id', 'child_id');
    if (!placement) errors.push({ pointer: '/body/placementId', message: 'is not a placement of this tenant' });
    else {
      if (placement.household_id !== body.householdId)
        errors.push({ pointer: '/body/placementId', message: 'is not a placement with this household' });
      if (body.childId && placement.child_id !== body.childId)
        errors.push({ pointer: '/body/childId', message: 'is not the child of this placement' });
    }
  }
  if (body.childId && !(await visibleChildren(ctx).where('c.id', body.childId).select('c.id').first())) {
    errors.push({ pointer: '/body/childId', message: 'is not a child of this tenant' });
  }
  const chart = await tenantChart(ctx.trx, t, ctx.services.packs);
  if (!chart.postings.has(body.component))
    errors.push({
      pointer: '/body/component',
      message: `is not a component the tenant's chart posts (${[...chart.postings.keys()].join(', ')})`,
    });
  return errors;
}

async function listPaymentAdjustments(ctx: TenantContext<'listPaymentAdjustments'>): Promise<OperationResult> {
  const q = ctx.query;
  const query = PaymentAdjustment.query(ctx.trx).where({ tenant_id: ctx.tenantId });
  if (q.status) query.where('status', q.status);
  if (q.householdId) query.where('household_id', q.householdId);
  const page = await keysetPage(query, q, [{ column: 'id', of: (r) => r.id }], adjustmentToApi);
  return ok({ data: await withholdRestricted(ctx, page.data), nextCursor: page.nextCursor });
}

async function proposePaymentAdjustment(ctx: TenantContext<'proposePaymentAdjustment'>): Promise<OperationResult> {
  const body = ctx.body;
  const errors = await adjustmentErrors(ctx, body);
  if (errors.length) throw Problem.unprocessable(errors);
  const row = await PaymentAdjustment.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      id: newId(),
      householdId: body.householdId,
      placementId: body.placementId ?? null,
      childId: body.childId ?? null,
      component: body.component,
      amount: body.amount,
      reason: body.reason,
      source: 'manual',
      status: 'proposed',
      proposedBy: actorId(ctx),
    })
    .returning('*');
  const after = adjustmentToApi(row);
  await ctx.audit({ action: 'payment_adjustment.proposed', entityType: 'payment_adjustment', entityId: row.id, after });
  return created(after, { location: `/v1/payment-adjustments/${row.id}`, version: row.version });
}

async function getPaymentAdjustment(ctx: TenantContext<'getPaymentAdjustment'>): Promise<OperationResult> {
  const row = await findAdjustment(ctx, ctx.params.adjustmentId);
  return ok(await withholdRestrictedOne(ctx, adjustmentToApi(row)), row.version);
}

async function decidePaymentAdjustment(ctx: TenantContext<'decidePaymentAdjustment'>): Promise<OperationResult> {
  const body = ctx.body;
  const before = await findAdjustment(ctx, ctx.params.adjustmentId, { lock: true });
  if (before.status !== 'proposed')
    throw new Problem('conflict', `The adjustment is ${before.status}; only a proposed one is decided`);
  assertOtherPerson(ctx, before.proposedBy, 'this adjustment');
  const status = body.decision === 'approve' ? 'approved' : 'rejected';
  const changes: PartialModelObject<PaymentAdjustment> = {
    status,
    decidedBy: actorId(ctx),
    decidedAt: ctx.trx.fn.now(),
    decisionReasons: body.reasons,
  };
  const row = await patchVersioned(ctx.trx, PaymentAdjustment, before, changes);
  const after = adjustmentToApi(row);
  await ctx.audit({
    action: `payment_adjustment.${status}`,
    entityType: 'payment_adjustment',
    entityId: before.id,
    before: adjustmentToApi(before),
    after,
  });
  return ok(await withholdRestrictedOne(ctx, after), row.version);
}

/**
 * A dispute on a line a finalised run paid (whoever raises it: staff for the carer, or the carer in the
 * portal), audited on the line. One open dispute per line.
 */
export async function raiseDispute(
  ctx: TenantScope,
  line: PaymentLine,
  body: { reason: string; expectedAmount?: number | null },
): Promise<PaymentDispute> {
  const run = await findRun(ctx, line.runId);
  if (!['finalised', 'exported'].includes(run.status) || line.calculation !== run.calculationNumber) {
    throw new Problem(
      'conflict',
      'Only a line a finalised run paid can be disputed; raise questions about a run in progress with its approver',
    );
  }
  if (
    await PaymentDispute.query(ctx.trx)
      .where({ tenant_id: ctx.tenantId, line_id: line.id, status: 'open' })
      .select('id')
      .first()
  ) {
    throw new Problem('conflict', 'The line already has an open dispute');
  }
  const row = await PaymentDispute.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      id: newId(),
      lineId: line.id,
      runId: line.runId,
      householdId: line.householdId,
      reason: body.reason,
      expectedAmount: body.expectedAmount ?? null,
      status: 'open',
      raisedBy: actorId(ctx),
    })
    .returning('*');
  await ctx.audit({
    action: 'payment_dispute.raised',
    entityType: 'payment_line',
    entityId: line.id,
    after: disputeToApi(row),
  });
  return row;
}

async function raisePaymentDispute(ctx: TenantContext<'raisePaymentDispute'>): Promise<OperationResult> {
  const line = await findOne<PaymentLine>(ctx, PaymentLine, ctx.params.lineId);
  const row = await raiseDispute(ctx, line, ctx.body);
  return created(disputeToApi(row), { location: `/v1/payment-disputes/${row.id}`, version: row.version });
}

async function listPaymentDisputes(ctx: TenantContext<'listPaymentDisputes'>): Promise<OperationResult> {
  const q = ctx.query;
  const query = PaymentDispute.query(ctx.trx).where({ tenant_id: ctx.tenantId });
  if (q.status) query.where('status', q.status);
  const page = await keysetPage(query, q, [{ column: 'id', of: (r) => r.id }], disputeToApi);
  return ok({ data: page.data, nextCursor: page.nextCursor });
}

async function getPaymentDispute(ctx: TenantContext<'getPaymentDispute'>): Promise<OperationResult> {
  const row = await findDispute(ctx, ctx.params.disputeId);
  return ok(disputeToApi(row), row.version);
}

async function resolvePaymentDispute(ctx: TenantContext<'resolvePaymentDispute'>): Promise<OperationResult> {
  const body = ctx.body;
  const before = await findDispute(ctx, ctx.params.disputeId, { lock: true });
  if (before.status !== 'open') throw new Problem('conflict', `The dispute is ${before.status}`);
  if (body.outcome === 'upheld' && body.adjustmentAmount === undefined) {
    throw Problem.unprocessable([
      {
        pointer: '/body/adjustmentAmount',
        message: 'is needed to uphold a dispute: the difference to pay (or, negative, to recover)',
      },
    ]);
  }
  if (body.outcome !== 'upheld' && body.adjustmentAmount !== undefined)
    throw Problem.unprocessable([
      { pointer: '/body/adjustmentAmount', message: `is only for an upheld dispute, not one ${body.outcome}` },
    ]);
  if (body.outcome !== 'withdrawn') {
    if (!ctx.principal.permissions.has('payments:approve')) {
      throw new Problem('forbidden', 'Upholding or rejecting a dispute needs the permission payments:approve');
    }
    assertOtherPerson(ctx, before.raisedBy, 'this dispute');
  }
  let adjustmentId: string | null = null;
  if (body.outcome === 'upheld' && body.adjustmentAmount !== undefined) {
    const line = await findOne<PaymentLine>(ctx, PaymentLine, before.lineId);
    adjustmentId = newId();
    // Decided by the resolver, so it is paid in the next run without a second approval.
    await PaymentAdjustment.query(ctx.trx).insert({
      tenantId: ctx.tenantId,
      id: adjustmentId,
      householdId: line.householdId,
      placementId: line.placementId,
      childId: line.childId,
      component: line.component,
      amount: body.adjustmentAmount,
      reason: `Dispute upheld: ${body.resolution}`,
      source: 'dispute',
      disputeId: before.id,
      correctsLineId: line.id,
      status: 'approved',
      proposedBy: before.raisedBy,
      decidedBy: actorId(ctx),
      decidedAt: ctx.trx.fn.now(),
      decisionReasons: body.resolution,
    });
  }
  const changes: PartialModelObject<PaymentDispute> = {
    status: body.outcome,
    resolution: body.resolution,
    resolvedBy: actorId(ctx),
    resolvedAt: ctx.trx.fn.now(),
    adjustmentId,
  };
  const row = await patchVersioned(ctx.trx, PaymentDispute, before, changes);
  const after = disputeToApi(row);
  await ctx.audit({
    action: `payment_dispute.${body.outcome}`,
    entityType: 'payment_dispute',
    entityId: before.id,
    before: disputeToApi(before),
    after: { ...after, adjustmentAmount: body.adjustmentAmount ?? null },
  });
  return ok(after, row.version);
}

export const adjustmentOperations = defineOperations({
  listPaymentAdjustments: { access: { permission: 'payments:read' }, handle: listPaymentAdjustments },
  proposePaymentAdjustment: { access: { permission: 'payments:adjust' }, handle: proposePaymentAdjustment },
  getPaymentAdjustment: { access: { permission: 'payments:read' }, handle: getPaymentAdjustment },
  decidePaymentAdjustment: { access: { permission: 'payments:approve' }, handle: decidePaymentAdjustment },
  raisePaymentDispute: { access: { permission: 'payments:adjust' }, handle: raisePaymentDispute },
  listPaymentDisputes: { access: { permission: 'payments:read' }, handle: listPaymentDisputes },
  getPaymentDispute: { access: { permission: 'payments:read' }, handle: getPaymentDispute },
  resolvePaymentDispute: { access: { permission: 'payments:adjust' }, handle: resolvePaymentDispute },
});
