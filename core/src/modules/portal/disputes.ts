import type { OperationResult, TenantContext } from '../../http/operation';
import { findOne } from '../../db/find';
import { keysetPage } from '../../db/keyset';
import { Problem } from '../../http/problem';
import { created, ok } from '../../http/results';
import { iso } from '../../time';
import { raiseDispute } from '../payments/adjustmentRoutes';
import { PaymentDispute, PaymentLine } from '../payments/models';
import { carerOf, portalSettings, requireFeature } from './settings';

/** A dispute as the household sees it: what it said, where it stands, and the answer given. */
function disputeForCarer(r: PaymentDispute) {
  return {
    id: r.id,
    lineId: r.lineId,
    runId: r.runId,
    reason: r.reason,
    expectedAmount: r.expectedAmount === null ? null : Number(r.expectedAmount),
    status: r.status,
    raisedAt: iso(r.raisedAt)!,
    resolution: r.resolution,
    resolvedAt: iso(r.resolvedAt),
  };
}

/** The payments domain's own dispute, on a line of the household's (any other is not found). */
async function raisePortalPaymentDispute(ctx: TenantContext<'raisePortalPaymentDispute'>): Promise<OperationResult> {
  const carer = carerOf(ctx);
  requireFeature(await portalSettings(ctx), 'money');
  const line = await findOne<PaymentLine>(ctx, PaymentLine, ctx.params.lineId);
  if (line.householdId !== carer.householdId) throw Problem.notFound('The payment line');
  const row = await raiseDispute(ctx, line, ctx.body);
  return created(disputeForCarer(row), { version: row.version });
}

async function listPortalPaymentDisputes(ctx: TenantContext<'listPortalPaymentDisputes'>): Promise<OperationResult> {
  const carer = carerOf(ctx);
  requireFeature(await portalSettings(ctx), 'money');
  const query = PaymentDispute.query(ctx.trx).where({ tenant_id: ctx.tenantId, household_id: carer.householdId });
  const page = await keysetPage(
    query,
    ctx.query,
    [
      { column: 'raised_at', of: (r: PaymentDispute) => r.raisedAt.toISOString() },
      { column: 'id', of: (r: PaymentDispute) => r.id },
    ],
    disputeForCarer,
    'desc',
  );
  return ok({ data: page.data, nextCursor: page.nextCursor });
}

export const portalDisputeOperations = {
  raisePortalPaymentDispute: { access: { carer: true }, handle: raisePortalPaymentDispute },
  listPortalPaymentDisputes: { access: { carer: true }, handle: listPortalPaymentDisputes },
} as const;
