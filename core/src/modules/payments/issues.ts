import type { TenantScope } from '../../http/operation';
import { withholdRestricted } from '../children/visibility';
import { PaymentRunIssue, type IssueSeverity, type PaymentRun } from './models';

/**
 * A run's issues as the API shows them: errors (a placement the calculation could not price, which
 * block approval) and notices (a placement in care paid nothing). The run carries a summary of its
 * own, so "paid nothing" is seen where the run is read, not only by those who open its issues.
 */

/** The columns of an issue the API shows. */
type IssueFields = Pick<
  PaymentRunIssue,
  'id' | 'householdId' | 'placementId' | 'childId' | 'severity' | 'code' | 'message'
>;

export function issueToApi(r: IssueFields) {
  return {
    id: r.id,
    householdId: r.householdId,
    placementId: r.placementId,
    childId: r.childId,
    severity: r.severity,
    code: r.code,
    message: r.message,
  };
}

export type IssueApi = ReturnType<typeof issueToApi>;

export interface IssueSummary {
  byCode: Array<{ severity: IssueSeverity; code: string; count: number }>;
  first: IssueApi[];
}

/** Issues shown in full on the run; the rest are counted, and listed by GET …/issues. */
export const FIRST_ISSUES = 5;

/** All the issues of a run's current calculation, errors first (then as written), restricted children withheld. */
export async function runIssues(ctx: TenantScope, run: PaymentRun): Promise<IssueApi[]> {
  const rows = await PaymentRunIssue.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, run_id: run.id, calculation: run.calculationNumber })
    .orderBy([{ column: 'severity' }, { column: 'id' }])
    .select('run_id', 'id', 'household_id', 'placement_id', 'child_id', 'severity', 'code', 'message');
  return withholdRestricted(ctx, rows.map(issueToApi));
}

/**
 * Each run's summary, by run id: the counts by code, and the first few of each run's current
 * calculation in full (withheld for a restricted child as on the issues list). Two statements
 * whatever the number of runs, so a page of runs costs what one run does.
 */
export async function issueSummaries(ctx: TenantScope, runs: PaymentRun[]): Promise<Map<string, IssueSummary>> {
  const out = new Map<string, IssueSummary>(runs.map((r) => [r.id, { byCode: [], first: [] }]));
  if (!runs.length) return out;
  const ids = runs.map((r) => r.id);
  const counts = await PaymentRunIssue.query(ctx.trx)
    .alias('i')
    .join('payment_runs as r', function currentCalculation() {
      this.on('r.tenant_id', 'i.tenant_id').andOn('r.id', 'i.run_id').andOn('r.calculation_number', 'i.calculation');
    })
    .where('i.tenant_id', ctx.tenantId)
    .whereRaw('i.run_id = ANY(?::uuid[])', [ids])
    .groupBy('i.run_id', 'i.severity', 'i.code')
    .orderBy([{ column: 'i.run_id' }, { column: 'i.severity' }, { column: 'i.code' }])
    .select('i.run_id', 'i.severity', 'i.code', ctx.trx.raw('count(*)::int AS count'))
    .castTo<Array<Pick<PaymentRunIssue, 'runId' | 'severity' | 'code'> & { count: number }>>();
  for (const c of counts) out.get(c.runId)!.byCode.push({ severity: c.severity, code: c.code, count: c.count });
  // Errors first, then as written (as GET …/issues lists them); each run's few read through its index, not every issue of every run sorted.
  const first: { rows: Array<IssueFields & Pick<PaymentRunIssue, 'runId'>> } = await ctx.trx.raw(
    `SELECT i.run_id AS "runId", i.id, i.household_id AS "householdId", i.placement_id AS "placementId", i.child_id AS "childId", i.severity, i.code, i.message
       FROM payment_runs r
      CROSS JOIN LATERAL (
            SELECT * FROM payment_run_issues x
             WHERE x.tenant_id = r.tenant_id AND x.run_id = r.id AND x.calculation = r.calculation_number
             ORDER BY x.severity, x.id LIMIT ?) i
      WHERE r.tenant_id = ? AND r.id = ANY(?::uuid[])
      ORDER BY i.run_id, i.severity, i.id`,
    [FIRST_ISSUES, ctx.tenantId, ids],
  );
  const shown = await withholdRestricted(
    ctx,
    first.rows.map((row) => ({ runId: row.runId, ...issueToApi(row) })),
  );
  for (const { runId, ...issue } of shown) out.get(runId)!.first.push(issue);
  return out;
}
