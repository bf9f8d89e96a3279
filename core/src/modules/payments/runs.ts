import { findOne, type FindOptions, type FindScope } from '../../db/find';
import type { TenantScope } from '../../http/operation';
import { answering } from './errors';
import { PaymentRun } from './models';
import { tenantRunWorkflow, type RunWorkflow } from './workflow';

/** The one finder for a payment run: 404 for the run in the path. */
export function findRun(scope: FindScope, runId: string, options: FindOptions = {}): Promise<PaymentRun> {
  return findOne<PaymentRun>(scope, PaymentRun, runId, options);
}

/** The tenant's payment-run workflow, as a handler reads it: a workflow lacking a step is answered 422. */
export function runWorkflow(ctx: TenantScope): Promise<RunWorkflow> {
  return answering(tenantRunWorkflow(ctx.trx, ctx.tenantId, ctx.services.packs));
}
