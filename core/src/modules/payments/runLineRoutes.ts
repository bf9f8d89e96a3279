import { keysetPage } from '../../db/keyset';
import { defineOperations, type OperationResult, type TenantContext } from '../../http/operation';
import { ok } from '../../http/results';
import { childVisible, placementVisible, withholdRestricted } from '../children/visibility';
import { runIssues } from './issues';
import { PaymentExplanation, PaymentLine } from './models';
import { CALCULATED_STATUSES, lineToApi } from './rows';
import { findRun } from './runs';

async function listPaymentRunLines(ctx: TenantContext<'listPaymentRunLines'>): Promise<OperationResult> {
  const q = ctx.query;
  const run = await findRun(ctx, ctx.params.runId);
  const query = PaymentLine.query(ctx.trx).where({
    tenant_id: ctx.tenantId,
    run_id: run.id,
    calculation: run.calculationNumber,
  });
  if (q.householdId) query.where('household_id', q.householdId);
  // A filter naming a child or placement hidden from the caller finds nothing, rather than its lines withheld.
  if (q.placementId) query.where('placement_id', q.placementId).where(placementVisible(ctx, 'placement_id'));
  if (q.childId) query.where('child_id', q.childId).where(childVisible(ctx, 'child_id'));
  if (q.kind) query.where('kind', q.kind);
  // Lines of a calculation still running are not shown: only a whole calculation is.
  if (run.status === 'calculating' || run.status === 'draft') query.whereRaw('false');
  const page = await keysetPage(query, q, [{ column: 'position', of: (r) => r.position }], (r) => r);
  const keys = [...new Set(page.rows.map((r) => r.explanationKey).filter((k): k is number => k !== null))];
  const explanations = new Map(
    keys.length
      ? (
          await PaymentExplanation.query(ctx.trx)
            .where({ tenant_id: ctx.tenantId, run_id: run.id, calculation: run.calculationNumber })
            .whereIn('key', keys)
            .select('key', 'body')
        ).map((e) => [e.key, e.body])
      : [],
  );
  const data = page.rows.map((r) =>
    lineToApi(r, r.explanationKey === null ? null : explanations.get(r.explanationKey)),
  );
  // A restricted child's line keeps its amount; the explanation goes with the child, being built from its facts.
  return ok({ data: await withholdRestricted(ctx, data, { explanation: null }), nextCursor: page.nextCursor });
}

async function listPaymentRunIssues(ctx: TenantContext<'listPaymentRunIssues'>): Promise<OperationResult> {
  return ok({ data: await runIssues(ctx, await findRun(ctx, ctx.params.runId)) });
}

async function listPaymentRunHouseholds(ctx: TenantContext<'listPaymentRunHouseholds'>): Promise<OperationResult> {
  const run = await findRun(ctx, ctx.params.runId);
  const query = PaymentLine.query(ctx.trx)
    .alias('l')
    .join('carer_households as h', function joinHousehold() {
      this.on('h.tenant_id', 'l.tenant_id').andOn('h.id', 'l.household_id');
    })
    .where({ 'l.tenant_id': ctx.tenantId, 'l.run_id': run.id, 'l.calculation': run.calculationNumber })
    .groupBy('l.household_id', 'h.name')
    .select(
      'l.household_id',
      'h.name',
      ctx.trx.raw('sum(l.amount)::bigint AS total'),
      ctx.trx.raw('count(*)::int AS lines'),
    )
    .castTo<Array<Pick<PaymentLine, 'householdId'> & { name: string; total: number; lines: number }>>();
  // An uncalculated run has no whole calculation to sum.
  if (!CALCULATED_STATUSES.includes(run.status)) query.whereRaw('false');
  const page = await keysetPage(query, ctx.query, [{ column: 'l.household_id', of: (r) => r.householdId }], (r) => r);
  const ids = page.rows.map((r) => r.householdId);
  const components = ids.length
    ? await PaymentLine.query(ctx.trx)
        .where({ tenant_id: ctx.tenantId, run_id: run.id, calculation: run.calculationNumber })
        .whereIn('household_id', ids)
        .groupBy('household_id', 'component')
        .orderBy([{ column: 'household_id' }, { column: 'component' }])
        .select('household_id', 'component', ctx.trx.raw('sum(amount)::bigint AS amount'))
    : [];
  return ok({
    data: page.rows.map((r) => ({
      householdId: r.householdId,
      householdName: r.name,
      total: Number(r.total),
      lineCount: r.lines,
      components: components
        .filter((c) => c.householdId === r.householdId)
        .map((c) => ({ component: c.component, amount: Number(c.amount) })),
    })),
    nextCursor: page.nextCursor,
  });
}

export const runLineOperations = defineOperations({
  listPaymentRunLines: { access: { permission: 'payments:read' }, handle: listPaymentRunLines },
  listPaymentRunIssues: { access: { permission: 'payments:read' }, handle: listPaymentRunIssues },
  listPaymentRunHouseholds: { access: { permission: 'payments:read' }, handle: listPaymentRunHouseholds },
});
