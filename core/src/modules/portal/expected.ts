import { addDays } from '../../dates';
import type { OperationResult, TenantContext } from '../../http/operation';
import { Problem } from '../../http/problem';
import { ok } from '../../http/results';
import type { RateSegment } from '../../rates/engine';
import { placementCategories, placementsToPrice } from '../payments/calculation/facts';
import { pricePlacements } from '../payments/calculation/pricing';
import { tenantRates } from '../payments/calculation/rateBook';
import { PaySchedule } from '../payments/models';
import { isPeriodStart, periodFrom, type PayPeriod } from '../payments/periods';
import { auditChildAccess } from './access';
import { carerOf, portalSettings, requireFeature } from './settings';

/** The period of the schedule that holds `today`: the latest period start on or before it. */
export function currentPeriod(schedule: PaySchedule, today: string): PayPeriod {
  let day = today;
  // A period is at most a month long, so its start is at most 31 days back.
  for (let i = 0; i < 31 && !isPeriodStart(schedule, day); i++) day = addDays(day, -1);
  return periodFrom(schedule, day);
}

/**
 * What the household can expect for the current pay period: its placements in care in the period,
 * with the facts a run reads (the child's age, the household's region and level, the placement's
 * type and level of care, the child's occasions), priced by the same functions a payment run prices
 * with, as the rates stand today. The explanation of each line is the engine's: the rule, the table
 * and its layer, the amount for the table's period and its source.
 */
async function getPortalExpectedPayment(ctx: TenantContext<'getPortalExpectedPayment'>): Promise<OperationResult> {
  const carer = carerOf(ctx);
  const settings = await portalSettings(ctx);
  requireFeature(settings, 'money');
  const schedule = await PaySchedule.query(ctx.trx).where({ tenant_id: ctx.tenantId, status: 'active' }).first();
  if (!schedule)
    throw new Problem('conflict', 'The service has no pay schedule yet, so there is no pay period to expect');
  const period = currentPeriod(schedule, settings.today);
  const window = { from: period.start, to: period.end };
  const placementIds = (await ctx
    .trx('placements')
    .where({ tenant_id: ctx.tenantId, household_id: carer.householdId })
    .pluck('id')) as string[];
  const { config, rates } = await tenantRates(ctx.trx, ctx.tenantId, ctx.services.packs);
  const placements = placementIds.length
    ? await placementsToPrice(ctx.trx, ctx.tenantId, window, placementCategories(config), { placementIds })
    : [];
  const priced = await pricePlacements(rates, placements, window);
  const names = new Map(
    (
      (await ctx
        .trx('children')
        .where('tenant_id', ctx.tenantId)
        .whereIn(
          'id',
          placements.map((p) => p.childId),
        )
        .select('id', ctx.trx.raw('coalesce(preferred_name, given_name) AS name'))) as Array<{
        id: string;
        name: string;
      }>
    ).map((c) => [c.id, c.name]),
  );
  await auditChildAccess(
    ctx,
    { type: 'carer_household', id: carer.householdId },
    placements.map((p) => ({ childId: p.childId, group: 'name', placementId: p.placementId })),
  );
  const shown = placements.map((p) => {
    const lines = priced.lines
      .filter((l) => l.placementId === p.placementId)
      .map((l) => {
        const e = l.explanation as RateSegment['explanation'];
        return {
          component: l.component,
          description: l.description,
          fromDate: l.periodStart!,
          toDate: l.periodEnd!,
          nights: l.nights,
          amount: l.amount,
          explanation: {
            rule: e.rule,
            table: e.table,
            layer: e.layer,
            effectiveFrom: e.effectiveFrom,
            source: e.source,
            period: e.period,
            periodAmount: e.periodAmount,
          },
        };
      });
    return {
      placementId: p.placementId,
      childName: names.get(p.childId) ?? '',
      total: lines.reduce((s, l) => s + l.amount, 0),
      lines,
    };
  });
  return ok({
    currency: settings.currency,
    period,
    total: shown.reduce((s, p) => s + p.total, 0),
    placements: shown,
    issues: priced.issues
      .filter((i) => i.placementId)
      .map((i) => ({ placementId: i.placementId!, message: i.message })),
  });
}

export const portalExpectedOperations = {
  getPortalExpectedPayment: { access: { carer: true }, handle: getPortalExpectedPayment },
} as const;
