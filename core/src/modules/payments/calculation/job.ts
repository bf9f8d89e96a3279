import type { Knex } from 'knex';
import type { JobContext, JobHandler } from '../../../jobs/worker';
import { appendAuditEvent, type AuditActor } from '../../audit/service';
import { claimPaymentsDue } from '../../claims/service';
import { tenantChart } from '../../ledger/chart';
import type { RunInputs, RunRow } from '../rows';
import { recordStep } from '../steps';
import { correctionsFor } from './corrections';
import { placementCategories, placementsToPrice } from './facts';
import { NO_LINKS, type CalculationIssue, type DraftLine } from './lines';
import { pricePlacements } from './pricing';
import { tenantRates } from './rateBook';
import { storeCalculation } from './store';

export const PAYMENT_RUN_CALCULATION_JOB = 'payment-run-calculation';

export interface CalculationPayload {
  runId: string;
  calculation: number;
}

/** One job per calculation of a run: enqueued twice, it is one job, and it runs once. */
export function calculationJobKey(runId: string, calculation: number): string {
  return `${runId}:${calculation}`;
}

const SYSTEM: AuditActor = { actorType: 'system', actorId: null, ip: null, userAgent: null, requestId: null };

async function currentRun(trx: Knex.Transaction, tenantId: string, payload: CalculationPayload, lock = false): Promise<RunRow | null> {
  const query = trx('payment_runs').where({ tenant_id: tenantId, id: payload.runId }).first();
  if (lock) query.forUpdate();
  const run = (await query) as RunRow | undefined;
  // A newer calculation replaced this one, or this one is already written: nothing to do.
  return run && run.status === 'calculating' && run.calculation_number === payload.calculation ? run : null;
}

/**
 * Calculates a payment run: reads the tenant's configuration and every placement in care in the
 * period, prices them (recording progress), finds corrections to finalised runs, takes approved
 * claims and adjustments, and writes the whole calculation in one transaction under the run's row
 * lock. A failure anywhere before the commit leaves nothing: the queue retries the job from the
 * start. A second worker holding the same job, or a job for a calculation that was replaced, finds
 * the run no longer waiting for it and writes nothing.
 */
export const paymentRunCalculationJob: JobHandler = async (ctx: JobContext) => {
  const payload = ctx.job.payload as unknown as CalculationPayload;
  const { tenantId, services } = ctx;

  const prepared = await ctx.inTenant(async (trx) => {
    const run = await currentRun(trx, tenantId, payload);
    if (!run) return null;
    const readAt = ((await trx.raw('SELECT now() AS now')) as { rows: Array<{ now: Date }> }).rows[0]!.now;
    const { config, rates } = await tenantRates(trx, tenantId, services.packs, run.period_end);
    if (!config.pack) return { failure: `The tenant's pack "${config.packId}" is not loaded on this platform` };
    const categories = placementCategories(config);
    const placements = await placementsToPrice(trx, tenantId, { from: run.period_start, to: run.period_end }, categories);
    const chart = await tenantChart(trx, tenantId, services.packs, run.payment_date);
    const schedule = (await trx('pay_schedules').where({ tenant_id: tenantId, id: run.schedule_id }).first('correction_lookback_days')) as { correction_lookback_days: number };
    return { failure: null, run, readAt, config, rates, categories, placements, chart, lookbackDays: schedule.correction_lookback_days };
  });
  if (!prepared) return { skipped: 'the run is not waiting for this calculation' };
  if (prepared.failure !== null) {
    await recordFailure(ctx, payload, prepared.failure);
    return { failed: prepared.failure };
  }
  const { run, readAt, config, rates, categories, placements, chart, lookbackDays } = prepared;

  const total = placements.length;
  await ctx.progress(0, total);
  const priced = await pricePlacements(rates, placements, { from: run.period_start, to: run.period_end }, (done) => ctx.progress(done, total));
  await ctx.progress(total, total);

  const packVersions = Object.fromEntries(config.pack!.chain.map((id) => [id, services.packs.get(id)?.manifest.version ?? 'unknown']));
  const overlayVersion = config.overlays.reduce((max, o) => Math.max(max, o.version), 0);
  const extra = await ctx.inTenant(async (trx) => {
    const corrections = await correctionsFor(trx, tenantId, rates, { periodStart: run.period_start, lookbackDays }, { packVersions, overlayVersion }, config.overlays, categories);
    const claims = await claimPaymentsDue(trx, tenantId);
    const adjustments = (await trx('payment_adjustments').where({ tenant_id: tenantId, status: 'approved' }).orderBy('id')) as Array<{ id: string; household_id: string; placement_id: string | null; child_id: string | null; component: string; amount: number; reason: string; source: string; dispute_id: string | null; corrects_line_id: string | null; proposed_by: string | null; decided_by: string | null; decision_reasons: string | null }>;
    return { corrections, claims, adjustments };
  });

  const lines: DraftLine[] = [...priced.lines, ...extra.corrections.lines];
  for (const c of extra.claims) {
    lines.push({
      householdId: c.householdId, placementId: null, childId: null, kind: 'claim', component: c.kind, periodStart: c.firstDate, periodEnd: c.lastDate, nights: null, amount: c.amount,
      explanation: { kind: 'claim', claimId: c.claimId, lines: c.lines, approvedBy: c.decidedBy, approvedOn: c.decidedOn, from: c.firstDate, to: c.lastDate }, ...NO_LINKS, claimId: c.claimId,
      description: `${c.kind === 'mileage' ? 'Mileage' : 'Expenses'} claim${c.description ? ` "${c.description}"` : ''}: ${c.lines} line${c.lines === 1 ? '' : 's'}, ${c.firstDate} to ${c.lastDate}`,
    });
  }
  for (const a of extra.adjustments) {
    lines.push({
      householdId: a.household_id, placementId: a.placement_id, childId: a.child_id, kind: 'adjustment', component: a.component, periodStart: null, periodEnd: null, nights: null,
      amount: Number(a.amount),
      explanation: { kind: 'adjustment', adjustmentId: a.id, source: a.source, reason: a.reason, proposedBy: a.proposed_by, approvedBy: a.decided_by, decisionReasons: a.decision_reasons, disputeId: a.dispute_id, correctsLineId: a.corrects_line_id },
      ...NO_LINKS, correctsLineIds: a.corrects_line_id ? [a.corrects_line_id] : null, adjustmentId: a.id, description: `Adjustment: ${a.reason}`,
    });
  }
  const issues: CalculationIssue[] = [...priced.issues, ...extra.corrections.issues];
  // Every component must post somewhere: a line the ledger cannot take is found now, not at finalising.
  for (const component of [...new Set(lines.map((l) => l.component))].sort()) {
    if (!chart.postings.has(component)) issues.push({ householdId: null, placementId: null, childId: null, severity: 'error', code: 'no_posting', message: `The component "${component}" has no posting in the tenant's chart of accounts (accounts: postings)` });
  }

  const inputs: RunInputs = {
    packVersions,
    overlayVersion,
    tablesUsed: [...new Set(lines.flatMap((l) => tablesOf(l.explanation)))].sort(),
    ruleSetsUsed: [...new Set(lines.filter((l) => l.kind === 'rate' || l.kind === 'extra' || l.kind === 'arrears' || l.kind === 'recovery').map((l) => (l.kind === 'extra' ? 'extras' : 'placement-rules')))].sort(),
    readAt: new Date(readAt).toISOString(),
    placementsPriced: total,
    corrections: { settledRuns: extra.corrections.settledRuns, placementsChecked: extra.corrections.placementsChecked },
    claims: extra.claims.length,
    adjustments: extra.adjustments.length,
  };

  const written = await ctx.inTenant(async (trx) => {
    const locked = await currentRun(trx, tenantId, payload, true);
    if (!locked) return null;
    const stored = await storeCalculation(trx, tenantId, run.id, payload.calculation, lines, issues);
    const [after] = (await trx('payment_runs')
      .where({ tenant_id: tenantId, id: run.id })
      .update({
        status: 'calculated',
        calculated_by: locked.calculation_requested_by,
        // The moment the facts were read: whatever changed after it is a correction for the next run.
        calculated_at: readAt,
        calculation_error: null,
        inputs: JSON.stringify(inputs),
        total: stored.total,
        line_count: stored.lineCount,
        household_count: stored.householdCount,
        placement_count: stored.placementCount,
        issue_count: stored.issueCount,
        notice_count: stored.noticeCount,
        correction_count: stored.correctionCount,
        version: locked.version + 1,
        updated_at: trx.fn.now(),
      })
      .returning('*')) as RunRow[];
    await recordStep(trx, tenantId, { runId: run.id, action: 'calculated', from: 'calculating', to: 'calculated', actorType: 'system', actorId: null, notes: null, detail: { calculation: payload.calculation, jobId: ctx.job.id, ...stored } });
    await appendAuditEvent(trx, tenantId, SYSTEM, {
      action: 'payment_run.calculated',
      entityType: 'payment_run',
      entityId: run.id,
      before: { status: 'calculating', calculation: payload.calculation },
      after: { status: after!.status, calculation: payload.calculation, jobId: ctx.job.id, requestedBy: locked.calculation_requested_by, ...stored, inputs },
    });
    return stored;
  });
  return written ? { calculation: payload.calculation, ...written } : { skipped: 'the run is not waiting for this calculation' };
};

/** A calculation that cannot succeed however often it is tried (the tenant's pack is not loaded here): the run goes back to draft, saying why. */
async function recordFailure(ctx: JobContext, payload: CalculationPayload, message: string): Promise<void> {
  await ctx.inTenant(async (trx) => {
    const run = await currentRun(trx, ctx.tenantId, payload, true);
    if (!run) return;
    await trx('payment_runs').where({ tenant_id: ctx.tenantId, id: run.id }).update({ status: 'draft', calculation_error: message, version: run.version + 1, updated_at: trx.fn.now() });
    await recordStep(trx, ctx.tenantId, { runId: run.id, action: 'calculation_failed', from: 'calculating', to: 'draft', actorType: 'system', actorId: null, notes: message, detail: { calculation: payload.calculation, jobId: ctx.job.id } });
    await appendAuditEvent(trx, ctx.tenantId, SYSTEM, { action: 'payment_run.calculation_failed', entityType: 'payment_run', entityId: run.id, before: { status: 'calculating' }, after: { status: 'draft', error: message, calculation: payload.calculation } });
  });
}

/** The rate tables a line's explanation names (a rate line's own, a correction's due segments'). */
function tablesOf(explanation: object | null): string[] {
  if (!explanation) return [];
  const e = explanation as { table?: string; due?: { segments?: Array<{ explanation?: { table?: string } }> } };
  if (typeof e.table === 'string') return [e.table];
  return (e.due?.segments ?? []).map((s) => s.explanation?.table).filter((t): t is string => typeof t === 'string');
}
