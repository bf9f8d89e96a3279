import { defineOperations, type OperationResult, type TenantContext, type TenantScope } from '../../http/operation';
import { Problem } from '../../http/problem';
import { ok } from '../../http/results';
import { addDays } from '../../dates';
import { claimPaymentsDue } from '../claims/service';
import { hiddenRecords, WITHHELD_NAME } from '../children/visibility';
import { householdRanges, HOUSEHOLDS_PER_SLICE, placementCategories, placementsToPrice } from './calculation/facts';
import { pricePlacements } from './calculation/pricing';
import { tenantRates } from './calculation/rateBook';
import { PaymentAdjustment, PaymentRun } from './models';
import { tenantCurrency } from './shared';

type GroupBy = TenantContext<'getPaymentsReport'>['query']['groupBy'];

/** How each grouping keys and labels a line. A child is shown by initials: finance staff need not read children's records. */
const GROUPS: Record<GroupBy, { key: string; label: string; joins: Array<'household' | 'child'> }> = {
  household: { key: 'l.household_id::text', label: 'h.name', joins: ['household'] },
  child: {
    key: "coalesce(l.child_id::text, '')",
    label:
      "coalesce(upper(left(c.given_name, 1)) || '. ' || upper(left(c.family_name, 1)) || '.', 'No child (claims and household adjustments)')",
    joins: ['child'],
  },
  component: { key: 'l.component', label: 'l.component', joins: [] },
  run: {
    key: 'r.reference',
    label: "r.reference || ' (' || r.period_start || ' to ' || r.period_end || ')'",
    joins: [],
  },
  month: { key: "to_char(r.payment_date, 'YYYY-MM')", label: "to_char(r.payment_date, 'YYYY-MM')", joins: [] },
};

interface ReportGroup {
  key: string;
  label: string;
  amount: number;
  lines: number;
  nights: number;
}

/** By child, the children hidden from the caller are one group, so the total still adds up and no one of them is named. */
async function withholdChildGroups(ctx: TenantScope, groupBy: GroupBy, groups: ReportGroup[]): Promise<ReportGroup[]> {
  if (groupBy !== 'child') return groups;
  const hidden = await hiddenRecords(ctx);
  const withheld: ReportGroup = { key: 'restricted', label: WITHHELD_NAME, amount: 0, lines: 0, nights: 0 };
  const shown = groups.filter((g) => {
    if (!hidden.children.has(g.key)) return true;
    withheld.amount += g.amount;
    withheld.lines += g.lines;
    withheld.nights += g.nights;
    return false;
  });
  return withheld.lines ? [...shown, withheld] : shown;
}

async function getPaymentsReport(ctx: TenantContext<'getPaymentsReport'>): Promise<OperationResult> {
  const q = ctx.query;
  if (q.to < q.from) throw Problem.unprocessable([{ pointer: '/query/to', message: 'is before from' }]);
  const group = GROUPS[q.groupBy];
  const joins = [
    group.joins.includes('household')
      ? 'JOIN carer_households h ON h.tenant_id = l.tenant_id AND h.id = l.household_id'
      : '',
    group.joins.includes('child') ? 'LEFT JOIN children c ON c.tenant_id = l.tenant_id AND c.id = l.child_id' : '',
  ].join(' ');
  const rows: { rows: ReportGroup[] } = await ctx.trx.raw(
    `SELECT ${group.key} AS key, ${group.label} AS label, sum(l.amount)::bigint AS amount, count(*)::int AS lines, coalesce(sum(l.nights), 0)::int AS nights
       FROM payment_lines l
       JOIN payment_runs r ON r.tenant_id = l.tenant_id AND r.id = l.run_id AND r.calculation_number = l.calculation
       ${joins}
      WHERE l.tenant_id = :tenant AND r.status IN ('finalised', 'exported') AND r.payment_date BETWEEN :from AND :to
      GROUP BY 1, 2
      ORDER BY 1`,
    { tenant: ctx.tenantId, from: q.from, to: q.to },
  );
  const runs = await PaymentRun.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId })
    .whereIn('status', ['finalised', 'exported'])
    .whereBetween('payment_date', [q.from, q.to])
    .count({ n: '*' })
    .castTo<Array<{ n: string | number }>>();
  const groups = await withholdChildGroups(
    ctx,
    q.groupBy,
    rows.rows.map((r) => ({ key: r.key, label: r.label, amount: Number(r.amount), lines: r.lines, nights: r.nights })),
  );
  const body = {
    currency: await tenantCurrency(ctx),
    from: q.from,
    to: q.to,
    groupBy: q.groupBy,
    groups,
    total: groups.reduce((s, g) => s + g.amount, 0),
    runs: Number(runs[0]!.n),
  };
  return { ...ok(body), noWrite: true };
}

/**
 * Care given and not yet paid, as of a date: the nights after the last night a finalised run paid
 * (or, before any run, from the first period the tenant's runs cover), priced as a run would price
 * them today; plus approved claims and adjustments waiting for a run.
 */
async function getAccrualsReport(ctx: TenantContext<'getAccrualsReport'>): Promise<OperationResult> {
  const asOf = ctx.query.asOf;
  const t = ctx.tenantId;
  const [paid] = await PaymentRun.query(ctx.trx)
    .where({ tenant_id: t })
    .whereIn('status', ['finalised', 'exported'])
    .max('period_end as end')
    .castTo<Array<{ end: string | null }>>();
  const [firstRun] = await PaymentRun.query(ctx.trx)
    .where({ tenant_id: t })
    .whereNot('status', 'cancelled')
    .min('period_start as start')
    .castTo<Array<{ start: string | null }>>();
  const paidThrough = paid?.end ?? null;
  const unpaidFrom = paidThrough ? addDays(paidThrough, 1) : (firstRun?.start ?? null);
  const byComponent = new Map<string, { amount: number; lines: number; nights: number }>();
  const byHousehold = new Map<string, { amount: number; lines: number; nights: number }>();
  const add = (
    map: Map<string, { amount: number; lines: number; nights: number }>,
    key: string,
    amount: number,
    nights: number,
  ) => {
    const entry = map.get(key) ?? map.set(key, { amount: 0, lines: 0, nights: 0 }).get(key)!;
    entry.amount += amount;
    entry.lines += 1;
    entry.nights += nights;
  };
  let careNights = 0;
  let issues = 0;
  if (unpaidFrom && unpaidFrom <= asOf) {
    const { config, rates } = await tenantRates(ctx.trx, t, ctx.services.packs, asOf);
    const categories = placementCategories(config);
    const window = { from: unpaidFrom, to: asOf };
    // A slice of households at a time, as a run is calculated: what the report holds does not grow with the service.
    for await (const households of householdRanges(ctx.trx, t, HOUSEHOLDS_PER_SLICE)) {
      const priced = await pricePlacements(
        rates,
        await placementsToPrice(ctx.trx, t, window, categories, { households }),
        window,
      );
      issues += priced.issues.filter((i) => i.severity === 'error').length;
      // Several components pay the same night: a placement's nights in care are those of its most-paid component.
      const nightsByPlacement = new Map<string, Map<string, number>>();
      for (const line of priced.lines) {
        add(byComponent, line.component, line.amount, line.nights ?? 0);
        add(byHousehold, line.householdId, line.amount, 0);
        const components =
          nightsByPlacement.get(line.placementId!) ??
          nightsByPlacement.set(line.placementId!, new Map()).get(line.placementId!)!;
        components.set(line.component, (components.get(line.component) ?? 0) + (line.nights ?? 0));
      }
      for (const components of nightsByPlacement.values()) careNights += Math.max(...components.values());
    }
  }
  const claims = await claimPaymentsDue(ctx.trx, t);
  for (const c of claims) {
    add(byComponent, c.kind, c.amount, 0);
    add(byHousehold, c.householdId, c.amount, 0);
  }
  const adjustments = await PaymentAdjustment.query(ctx.trx)
    .where({ tenant_id: t, status: 'approved' })
    .select('household_id', 'component', 'amount');
  for (const a of adjustments) {
    add(byComponent, a.component, Number(a.amount), 0);
    add(byHousehold, a.householdId, Number(a.amount), 0);
  }
  const names = new Map(
    byHousehold.size
      ? (
          await ctx
            .trx('carer_households')
            .where({ tenant_id: t })
            .whereIn('id', [...byHousehold.keys()])
            .select<Array<{ id: string; name: string }>>('id', 'name')
        ).map((h) => [h.id, h.name])
      : [],
  );
  const list = (map: Map<string, { amount: number; lines: number; nights: number }>, label: (key: string) => string) =>
    [...map]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, v]) => ({ key, label: label(key), amount: v.amount, lines: v.lines, nights: v.nights }));
  const componentList = list(byComponent, (k) => k);
  return {
    ...ok({
      currency: await tenantCurrency(ctx),
      asOf,
      paidThrough,
      unpaidFrom: unpaidFrom && unpaidFrom <= asOf ? unpaidFrom : null,
      careNights,
      byComponent: componentList,
      byHousehold: list(byHousehold, (k) => names.get(k) ?? k),
      claims: claims.length ? new Set(claims.map((c) => c.claimId)).size : 0,
      adjustments: adjustments.length,
      total: componentList.reduce((s, c) => s + c.amount, 0),
      issues,
    }),
    noWrite: true,
  };
}

export const reportOperations = defineOperations({
  getPaymentsReport: { access: { permission: 'payments:read' }, handle: getPaymentsReport },
  getAccrualsReport: { access: { permission: 'payments:read' }, handle: getAccrualsReport },
});
