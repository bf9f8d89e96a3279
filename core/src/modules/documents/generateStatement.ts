import type { TenantScope } from '../../http/operation';
import { Problem } from '../../http/problem';
import { findHousehold } from '../carers/shared';
import type { TenantConfiguration } from '../configuration/tenantConfiguration';
import { householdLines, statementView } from '../payments/documentRoutes';
import { CALCULATED_STATUSES } from '../payments/rows';
import { findRun } from '../payments/runs';
import type { BuiltView, Tenant } from './generateViews';

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
  const lines = await householdLines(ctx, run, household.id);
  const view = statementView(run, household, lines, tenant, config);
  // Dated by the calculation it shows, as the payments module dates the same statement.
  return {
    view,
    madeAt: (run.calculatedAt ?? run.createdAt).toISOString(),
    reference: view.statement.reference,
  };
}
