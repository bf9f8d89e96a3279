import type { Knex } from 'knex';
import { keysetPage } from '../../db/keyset';
import type { OperationResult, TenantContext } from '../../http/operation';
import { ok } from '../../http/results';
import { iso } from '../../time';
import { Claim } from '../claims/models';
import { auditChildAccess } from './access';
import { carerOf, portalSettings, requireFeature } from './settings';

interface PaidRun {
  id: string;
  period_start: string;
  period_end: string;
  payment_date: string;
  calculation_number: number;
}

interface PaidLine {
  id: string;
  run_id: string;
  kind: string;
  description: string;
  child_id: string | null;
  child_name: string | null;
  period_start: string | null;
  period_end: string | null;
  amount: string | number;
}

/**
 * The household's payments, run by run: only finalised runs, and only their final calculation's
 * lines (the portal's database role shows no other household's lines, and no run that did not pay
 * this one). The child is named by first name only.
 */
async function listPortalPayments(ctx: TenantContext<'listPortalPayments'>): Promise<OperationResult> {
  const carer = carerOf(ctx);
  const settings = await portalSettings(ctx);
  requireFeature(settings, 'money');
  const runs = ctx
    .trx('payment_runs as r')
    .where('r.tenant_id', ctx.tenantId)
    .whereIn('r.status', ['finalised', 'exported'])
    .whereExists(function paidHousehold(this: Knex.QueryBuilder) {
      this.select(ctx.trx.raw('1'))
        .from('payment_lines as l')
        .whereRaw('l.tenant_id = r.tenant_id AND l.run_id = r.id AND l.calculation = r.calculation_number')
        .where('l.household_id', carer.householdId);
    })
    .select('r.id', 'r.period_start', 'r.period_end', 'r.payment_date', 'r.calculation_number');
  const page = await keysetPage<PaidRun, PaidRun>(
    runs as unknown as Knex.QueryBuilder & PromiseLike<PaidRun[]>,
    ctx.query,
    [
      { column: 'r.period_start', of: (r) => String(r.period_start) },
      { column: 'r.id', of: (r) => r.id },
    ],
    (r) => r,
    'desc',
  );
  const lines: PaidLine[] = page.rows.length
    ? await ctx
        .trx('payment_lines as l')
        .join('payment_runs as r', function joinRun() {
          this.on('r.tenant_id', 'l.tenant_id')
            .andOn('r.id', 'l.run_id')
            .andOn('r.calculation_number', 'l.calculation');
        })
        .leftJoin('children as c', function joinChild() {
          this.on('c.tenant_id', 'l.tenant_id').andOn('c.id', 'l.child_id');
        })
        .where('l.tenant_id', ctx.tenantId)
        .where('l.household_id', carer.householdId)
        .whereIn(
          'l.run_id',
          page.rows.map((r) => r.id),
        )
        .orderBy(['l.run_id', 'l.position'])
        .select(
          'l.id',
          'l.run_id',
          'l.kind',
          'l.description',
          'l.child_id',
          ctx.trx.raw('coalesce(c.preferred_name, c.given_name) AS child_name'),
          'l.period_start',
          'l.period_end',
          'l.amount',
        )
    : [];
  await auditChildAccess(
    ctx,
    { type: 'carer_household', id: carer.householdId },
    lines.filter((l) => l.child_id).map((l) => ({ childId: l.child_id!, group: 'name' })),
  );
  const byRun = new Map<string, PaidLine[]>();
  for (const line of lines) byRun.set(line.run_id, [...(byRun.get(line.run_id) ?? []), line]);
  return {
    ...ok({
      data: page.rows.map((r) => {
        const own = byRun.get(r.id) ?? [];
        return {
          runId: r.id,
          periodStart: String(r.period_start),
          periodEnd: String(r.period_end),
          paidOn: r.payment_date ? String(r.payment_date) : null,
          currency: settings.currency,
          total: own.reduce((sum, l) => sum + Number(l.amount), 0),
          lines: own.map((l) => ({
            lineId: l.id,
            kind: l.kind,
            description: l.description,
            childName: l.child_name,
            fromDate: l.period_start ? String(l.period_start) : null,
            toDate: l.period_end ? String(l.period_end) : null,
            amount: Number(l.amount),
          })),
        };
      }),
      nextCursor: page.nextCursor,
    }),
  };
}

async function listPortalClaims(ctx: TenantContext<'listPortalClaims'>): Promise<OperationResult> {
  const carer = carerOf(ctx);
  requireFeature(await portalSettings(ctx), 'claims');
  const query = Claim.query(ctx.trx).where({ tenant_id: ctx.tenantId, household_id: carer.householdId });
  const page = await keysetPage(
    query,
    ctx.query,
    [
      { column: 'created_at', of: (r: Claim) => r.createdAt.toISOString() },
      { column: 'id', of: (r: Claim) => r.id },
    ],
    (r) => ({
      id: r.id,
      description: r.description,
      status: r.status,
      currency: r.currency,
      total: r.total,
      submittedAt: r.submittedAt ? iso(r.submittedAt) : null,
      decidedOn: r.decidedOn,
      decisionReasons: r.decisionReasons,
      paidOn: r.paidOn,
      createdAt: iso(r.createdAt),
    }),
    'desc',
  );
  return ok({ data: page.data, nextCursor: page.nextCursor });
}

export const moneyOperations = {
  listPortalPayments: { access: { carer: true }, handle: listPortalPayments },
  listPortalClaims: { access: { carer: true }, handle: listPortalClaims },
} as const;
