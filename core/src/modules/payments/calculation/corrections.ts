import type { Knex } from 'knex';
import { addDays } from '../../../dates';
import { placementSegments, RateConfigurationError, type RateSegment } from '../../../rates/engine';
import type { Overlay } from '../../configuration/effective';
import { placementIdsToPrice, placementsToPrice, type HouseholdRange, type PricedPlacement } from './facts';
import type { CalculationIssue, DraftLine } from './lines';
import type { Rates } from './pricing';
import { PaymentRun, type PaymentLine, type RunInputs } from '../models';

/** A finalised run a later run may correct. */
export interface SettledRun {
  id: string;
  reference: string;
  periodStart: string;
  periodEnd: string;
  calculatedAt: Date;
  packVersions: Record<string, string> | null;
}

/** What an earlier run's calculation saw of the configuration, to know whether it has changed since. */
export type CalculationInputs = Pick<RunInputs, 'packVersions' | 'overlayVersion'>;

/** What finalised runs paid one placement for one settled run's period, in one component (summed over its lines). */
type PaidFor = Pick<PaymentLine, 'placementId' | 'householdId' | 'childId' | 'component' | 'amount'> & {
  placementId: string;
  forRun: string;
  lineIds: string[];
};

/**
 * Changes recorded this long before an earlier calculation still count as after it: a change whose
 * transaction began before that calculation read may have committed after. Looking again at a
 * placement that did not change costs a little time and adds no line.
 */
const CLOCK_MARGIN_MS = 60 * 60 * 1000;

const RATE_KINDS = ['rate', 'extra', 'arrears', 'recovery'];

/**
 * What a run looks back over for corrections: the finalised runs within the look-back, the moment
 * after which a change is new to them, and, when the configuration changed since, the first night
 * the change reaches (every placement in care from then is looked at again). Null when no finalised
 * run is within reach.
 */
export interface CorrectionScope {
  runs: SettledRun[];
  since: Date;
  from: string;
  lastNight: string;
  configFrom: string | null;
}

export interface Corrections {
  lines: DraftLine[];
  issues: CalculationIssue[];
  placementsChecked: number;
}

/**
 * Corrections to finalised runs within the look-back: for each placement whose facts or prices may
 * have changed since the last run was calculated, what each earlier run's period is due now (priced
 * by the tenant's rules as they stand) against what was paid for it (the run's lines and any earlier
 * corrections of it), by component. A difference is an arrears line (paid too little) or a recovery
 * line (paid too much) pointing at the run and the lines it corrects.
 *
 * Which placements: those whose placement, child, household, terms of approval, regions, levels of
 * care or the child's occasions were written after the previous finalised run was calculated; and, when a tenant overlay changing
 * rates or rules was added since (or the pack's version changed), every placement in care on the
 * nights it reaches back to. The previous run's own corrections covered everything older, so each
 * difference is found once.
 *
 * This finds the scope once per calculation; `correctionsIn` then corrects one slice of households
 * at a time.
 */
export async function correctionScope(
  trx: Knex.Transaction,
  tenantId: string,
  run: { periodStart: string; lookbackDays: number },
  current: CalculationInputs,
  overlays: Overlay[],
): Promise<CorrectionScope | null> {
  const lookbackStart = addDays(run.periodStart, -run.lookbackDays);
  const lastNight = addDays(run.periodStart, -1);
  const settled = await PaymentRun.query(trx)
    .where({ tenant_id: tenantId })
    .whereIn('status', ['finalised', 'exported'])
    .where('period_start', '<', run.periodStart)
    .where('period_end', '>=', lookbackStart)
    .orderBy('period_start')
    .select('id', 'reference', 'period_start', 'period_end', 'calculated_at', 'inputs');
  if (!settled.length) return null;
  // A finalised run was calculated, so it has its calculated_at.
  const runs: SettledRun[] = settled.map((r) => ({
    id: r.id,
    reference: r.reference,
    periodStart: r.periodStart,
    periodEnd: r.periodEnd,
    calculatedAt: new Date(r.calculatedAt!),
    packVersions: r.inputs?.packVersions ?? null,
  }));
  const previous = runs[runs.length - 1]!;
  const since = new Date(previous.calculatedAt.getTime() - CLOCK_MARGIN_MS);
  const from = runs[0]!.periodStart > lookbackStart ? runs[0]!.periodStart : lookbackStart;

  // When the configuration changed, every placement in care since the change is looked at again.
  let configFrom: string | null = null;
  if (JSON.stringify(previous.packVersions) !== JSON.stringify(current.packVersions)) configFrom = from;
  for (const overlay of overlays) {
    const touchesRates =
      Object.keys(overlay.changes.rates ?? {}).length > 0 || Object.keys(overlay.changes.rules ?? {}).length > 0;
    if (touchesRates && new Date(overlay.createdAt) > since && overlay.effectiveFrom <= lastNight) {
      const reach = overlay.effectiveFrom < from ? from : overlay.effectiveFrom;
      if (configFrom === null || reach < configFrom) configFrom = reach;
    }
  }
  return { runs, since, from, lastNight, configFrom };
}

/** The corrections (see correctionScope) for the placements of one slice of households. */
export async function correctionsIn(
  trx: Knex.Transaction,
  tenantId: string,
  rates: Rates,
  scope: CorrectionScope,
  categories: Map<string, string>,
  households: HouseholdRange,
): Promise<Corrections> {
  const { runs, since, from, lastNight, configFrom } = scope;
  const candidates = new Set(await changedPlacements(trx, tenantId, { from, to: lastNight }, since, households));
  if (configFrom !== null) {
    for (const id of await placementIdsToPrice(trx, tenantId, { from: configFrom, to: lastNight }, { households }))
      candidates.add(id);
  }
  if (!candidates.size) return { lines: [], issues: [], placementsChecked: 0 };

  const ids = [...candidates].sort();
  const facts = new Map(
    (await placementsToPrice(trx, tenantId, { from, to: lastNight }, categories, { placementIds: ids })).map((p) => [
      p.placementId,
      p,
    ]),
  );
  const paid = await paidFor(
    trx,
    tenantId,
    ids,
    runs.map((r) => r.id),
  );

  const lines: DraftLine[] = [];
  const issues: CalculationIssue[] = [];
  for (const placementId of ids) {
    const placement = facts.get(placementId);
    const paidHere = paid.get(placementId) ?? [];
    for (const settledRun of runs) {
      const paidForRun = paidHere.filter((p) => p.forRun === settledRun.id);
      let due: RateSegment[] = [];
      if (placement) {
        // A tenant whose configuration sets no rates paid no placement, so there is nothing to correct.
        if (!rates.book) continue;
        try {
          due = await placementSegments(rates.book, placement.rates, {
            from: settledRun.periodStart,
            to: settledRun.periodEnd,
          });
        } catch (error) {
          if (!(error instanceof RateConfigurationError)) throw error;
          issues.push({
            householdId: placement.householdId,
            placementId,
            childId: placement.childId,
            severity: 'error',
            code: 'rate_configuration',
            message: `Correcting ${settledRun.reference}: ${error.message}`,
          });
          continue;
        }
      }
      lines.push(...differences(settledRun, placement ?? null, due, paidForRun));
    }
  }
  return { lines, issues, placementsChecked: ids.length };
}

/** Due against paid for one placement and one settled run, component by component. */
function differences(
  run: SettledRun,
  placement: PricedPlacement | null,
  due: RateSegment[],
  paid: PaidFor[],
): DraftLine[] {
  const components = [...new Set([...due.map((s) => s.component), ...paid.map((p) => p.component)])].sort();
  const out: DraftLine[] = [];
  for (const component of components) {
    const dueSegments = due.filter((s) => s.component === component && s.amount !== 0);
    const dueAmount = dueSegments.reduce((sum, s) => sum + s.amount, 0);
    const paidRows = paid.filter((p) => p.component === component);
    const paidAmount = paidRows.reduce((sum, p) => sum + Number(p.amount), 0);
    const difference = dueAmount - paidAmount;
    if (difference === 0) continue;
    const anyPaid = paidRows[0];
    const householdId = placement?.householdId ?? anyPaid!.householdId;
    const childId = placement?.childId ?? anyPaid?.childId ?? null;
    const placementId = placement?.placementId ?? anyPaid!.placementId;
    const nights = dueSegments.reduce((sum, s) => sum + s.nights, 0);
    const kind = difference > 0 ? 'arrears' : 'recovery';
    out.push({
      householdId,
      placementId,
      childId,
      kind,
      component,
      periodStart: run.periodStart,
      periodEnd: run.periodEnd,
      nights: null,
      amount: difference,
      explanation: {
        kind: 'correction',
        corrects: { runId: run.id, reference: run.reference, periodStart: run.periodStart, periodEnd: run.periodEnd },
        due: {
          amount: dueAmount,
          nights,
          segments: dueSegments.map((s) => ({
            from: s.from,
            to: s.to,
            nights: s.nights,
            amount: s.amount,
            explanation: s.explanation,
          })),
        },
        paid: { amount: paidAmount, lineIds: paidRows.flatMap((p) => p.lineIds).sort() },
        difference,
      },
      correctsRunId: run.id,
      correctsLineIds: paidRows.flatMap((p) => p.lineIds).sort(),
      claimId: null,
      adjustmentId: null,
      description: `${kind === 'arrears' ? 'Arrears' : 'Recovery'} of ${component.replace(/_/g, ' ')} for ${run.reference} (${run.periodStart} to ${run.periodEnd}): due ${dueAmount}, paid ${paidAmount}`,
    });
  }
  return out;
}

/**
 * Placements with a night in the window whose facts may have changed since `since`: the placement,
 * its child or its household was written, the household's terms or regions or the placement's
 * levels of care gained a row, or an occasion of the child was recorded, changed, deleted or
 * restored. (The modules' tables, read in one statement; filtered by tenant.)
 */
async function changedPlacements(
  trx: Knex.Transaction,
  tenantId: string,
  window: { from: string; to: string },
  since: Date,
  households: HouseholdRange,
): Promise<string[]> {
  const rows: { rows: Array<{ id: string }> } = await trx.raw(
    `SELECT p.id FROM placements p
       JOIN children c ON c.tenant_id = p.tenant_id AND c.id = p.child_id
       JOIN carer_households h ON h.tenant_id = p.tenant_id AND h.id = p.household_id
      WHERE p.tenant_id = :tenant AND p.start_date <= :to AND (p.end_date IS NULL OR p.end_date >= :from)
        ${households.after === null ? '' : 'AND p.household_id > :after'} ${households.through === null ? '' : 'AND p.household_id <= :through'}
        AND (p.updated_at > :since OR p.created_at > :since OR c.updated_at > :since OR h.updated_at > :since
          OR EXISTS (SELECT 1 FROM carer_approval_terms t WHERE t.tenant_id = p.tenant_id AND t.household_id = p.household_id AND t.created_at > :since)
          OR EXISTS (SELECT 1 FROM carer_household_regions g WHERE g.tenant_id = p.tenant_id AND g.household_id = p.household_id AND g.created_at > :since)
          OR EXISTS (SELECT 1 FROM child_occasions o WHERE o.tenant_id = p.tenant_id AND o.child_id = p.child_id AND (o.created_at > :since OR o.updated_at > :since))
          OR EXISTS (SELECT 1 FROM placement_levels_of_care l WHERE l.tenant_id = p.tenant_id AND l.placement_id = p.id AND l.created_at > :since))`,
    {
      tenant: tenantId,
      from: window.from,
      to: window.to,
      since: since.toISOString(),
      after: households.after,
      through: households.through,
    },
  );
  return rows.rows.map((r) => r.id);
}

/** What finalised runs paid each placement for each settled run's period, by component: the run's own lines and corrections of it. */
async function paidFor(
  trx: Knex.Transaction,
  tenantId: string,
  placementIds: string[],
  runIds: string[],
): Promise<Map<string, PaidFor[]>> {
  const rows: { rows: PaidFor[] } = await trx.raw(
    `SELECT l.placement_id AS "placementId", l.household_id AS "householdId", l.child_id AS "childId", coalesce(l.corrects_run_id, l.run_id) AS "forRun", l.component,
            sum(l.amount)::bigint AS amount, array_agg(l.id ORDER BY l.id) AS "lineIds"
       FROM payment_lines l
       JOIN payment_runs r ON r.tenant_id = l.tenant_id AND r.id = l.run_id AND r.calculation_number = l.calculation
      WHERE l.tenant_id = :tenant AND r.status IN ('finalised', 'exported')
        AND l.placement_id = ANY(:placements::uuid[]) AND l.kind = ANY(:kinds::text[])
        AND coalesce(l.corrects_run_id, l.run_id) = ANY(:runs::uuid[])
      GROUP BY 1, 2, 3, 4, 5`,
    { tenant: tenantId, placements: placementIds, kinds: RATE_KINDS, runs: runIds },
  );
  const out = new Map<string, PaidFor[]>();
  for (const r of rows.rows) (out.get(r.placementId) ?? out.set(r.placementId, []).get(r.placementId)!).push(r);
  return out;
}
