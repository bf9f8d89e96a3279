import type { TenantScope } from '../../http/operation';
import { Problem } from '../../http/problem';
import { findHousehold } from '../carers/shared';
import { hiddenRecords, namesHidden, WITHHELD_NAME } from '../children/visibility';
import type { TenantConfiguration } from '../configuration/tenantConfiguration';
import { statementView } from '../payments/documentRoutes';
import { PaymentLine } from '../payments/models';
import { CALCULATED_STATUSES } from '../payments/rows';
import { findRun } from '../payments/runs';
import type { BuiltView, Tenant } from './generateViews';

type StatementLines = Parameters<typeof statementView>[2];

/**
 * A household's statement for a run, the view the payments module renders on request, read the same
 * way: the run's current calculation, children by initials, a restricted child withheld by name.
 */
export async function statementFor(
  ctx: TenantScope,
  tenant: Tenant,
  config: TenantConfiguration,
  runId: string,
  householdId: string,
  pointers: { run: string; household: string },
): Promise<BuiltView> {
  if (!ctx.principal.permissions.has('payments:read'))
    throw new Problem('forbidden', 'A statement needs the permission payments:read as well');
  const run = await findRun(ctx, runId, { pointer: pointers.run });
  if (!CALCULATED_STATUSES.includes(run.status))
    throw new Problem('conflict', `The run ${run.reference} is ${run.status}: calculate it first`);
  const household = await findHousehold(ctx, householdId, { pointer: pointers.household });
  const lines = (await PaymentLine.query(ctx.trx)
    .alias('l')
    .leftJoin('children as c', function joinChild() {
      this.on('c.tenant_id', 'l.tenant_id').andOn('c.id', 'l.child_id');
    })
    .where({
      'l.tenant_id': ctx.tenantId,
      'l.run_id': run.id,
      'l.calculation': run.calculationNumber,
      'l.household_id': household.id,
    })
    .orderBy('l.position')
    .select(
      'l.*',
      ctx.trx.raw("upper(left(c.given_name, 1)) || '. ' || upper(left(c.family_name, 1)) || '.' AS initials"),
    )) as unknown as StatementLines;
  if (!lines.length) throw Problem.notFound(`A payment to this household in ${run.reference}`);
  const hidden = await hiddenRecords(ctx);
  for (const line of lines) if (namesHidden(hidden, line)) line.initials = WITHHELD_NAME;
  const view = statementView(run, household, lines, tenant, config);
  // Dated by the calculation it shows, as the payments module dates the same statement.
  return {
    view,
    madeAt: (run.calculatedAt ?? run.createdAt).toISOString(),
    reference: view.statement.reference,
  };
}
