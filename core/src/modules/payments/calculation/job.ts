import type { Knex } from 'knex';
import type { JobContext, JobHandler } from '../../../jobs/worker';
import { tenantChart } from '../../ledger/chart';
import type { RunInputs, RunRow } from '../rows';
import { recordStep } from '../steps';
import { ClaimsAndAdjustments } from './claimsAndAdjustments';
import { correctionScope, correctionsIn } from './corrections';
import { countPlacementsToPrice, householdRanges, HOUSEHOLDS_PER_SLICE, placementCategories, placementsToPrice } from './facts';
import type { CalculationIssue, DraftLine } from './lines';
import { pricePlacements } from './pricing';
import { tenantRates } from './rateBook';
import { CalculationWriter } from './store';

export const PAYMENT_RUN_CALCULATION_JOB = 'payment-run-calculation';

export interface CalculationPayload {
  runId: string;
  calculation: number;
}

/** One job per calculation of a run: enqueued twice, it is one job, and it runs once. */
export function calculationJobKey(runId: string, calculation: number): string {
  return `${runId}:${calculation}`;
}


async function currentRun(trx: Knex.Transaction, tenantId: string, payload: CalculationPayload, lock = false): Promise<RunRow | null> {
  const query = trx('payment_runs').where({ tenant_id: tenantId, id: payload.runId }).first();
  if (lock) query.forUpdate();
  const run = (await query) as RunRow | undefined;
  // A newer calculation replaced this one, or this one is already written: nothing to do.
  return run && run.status === 'calculating' && run.calculation_number === payload.calculation ? run : null;
}

/** Placements priced between records of progress (each record is a statement, and a slice is a few hundred placements). */
const PROGRESS_EVERY = 2000;

/**
 * Calculates a payment run in one transaction under the run's row lock: reads the tenant's
 * configuration, then works through the carer households a slice at a time (their placements in
 * care in the period with their facts, priced through the rate engine; corrections to finalised runs
 * for their placements; their approved claims and adjustments), writing each slice's lines,
 * explanations and issues before reading the next, so what it holds is one slice, not the run.
 * Progress is recorded as slices pass. A failure anywhere before the commit leaves nothing: the
 * queue retries the job from the start. A second worker holding the same job waits for the lock, and
 * a job for a calculation that was replaced or is already written finds the run no longer waiting
 * for it and writes nothing.
 */
export function calculationJob(options: { householdsPerSlice: number }): JobHandler {
  return (ctx) => calculate(ctx, options.householdsPerSlice);
}

/** The job as the queue runs it (a test slices finer, to see slices meet as one run). */
export const paymentRunCalculationJob: JobHandler = calculationJob({ householdsPerSlice: HOUSEHOLDS_PER_SLICE });

async function calculate(ctx: JobContext, householdsPerSlice: number): Promise<unknown> {
  const payload = ctx.job.payload as unknown as CalculationPayload;
  const { tenantId, services } = ctx;
  // Progress goes through a connection of its own, which PGlite (one connection) has only once this transaction ends.
  const progressAlongside = services.config.databaseUrl !== undefined;

  const outcome = await ctx.inTenant(async (trx) => {
    const run = await currentRun(trx, tenantId, payload, true);
    if (!run) return null;
    // The moment the facts are read from: whatever changes after it is a correction for the next run.
    const readAt = ((await trx.raw('SELECT now() AS now')) as { rows: Array<{ now: Date }> }).rows[0]!.now;
    const { config, rates } = await tenantRates(trx, tenantId, services.packs, run.period_end);
    if (!config.pack) return { failed: await recordFailure(trx, ctx, run, payload, `The tenant's pack "${config.packId}" is not loaded on this platform`) };
    const period = { from: run.period_start, to: run.period_end };
    const categories = placementCategories(config);
    const chart = await tenantChart(trx, tenantId, services.packs, run.payment_date);
    const schedule = (await trx('pay_schedules').where({ tenant_id: tenantId, id: run.schedule_id }).first('correction_lookback_days')) as { correction_lookback_days: number };
    const packVersions = Object.fromEntries(config.pack.chain.map((id) => [id, services.packs.get(id)?.manifest.version ?? 'unknown']));
    const overlayVersion = config.overlays.reduce((max, o) => Math.max(max, o.version), 0);
    const corrections = await correctionScope(trx, tenantId, { periodStart: run.period_start, lookbackDays: schedule.correction_lookback_days }, { packVersions, overlayVersion }, config.overlays);
    const householdPayments = await ClaimsAndAdjustments.read(trx, tenantId, period);

    const total = await countPlacementsToPrice(trx, tenantId, period);
    if (progressAlongside) await ctx.progress(0, total);
    const writer = new CalculationWriter(trx, tenantId, run.id, payload.calculation);
    const tables = new Set<string>();
    const kinds = new Set<DraftLine['kind']>();
    let done = 0;
    let placementsChecked = 0;
    for await (const households of householdRanges(trx, tenantId, householdsPerSlice)) {
      const placements = await placementsToPrice(trx, tenantId, period, categories, { households });
      const priced = await pricePlacements(rates, placements, period);
      const corrected = corrections ? await correctionsIn(trx, tenantId, rates, corrections, categories, households) : null;
      const lines = [...priced.lines, ...(corrected?.lines ?? []), ...householdPayments.through(households)];
      for (const line of lines) {
        kinds.add(line.kind);
        for (const table of tablesOf(line.explanation)) tables.add(table);
      }
      await writer.write(lines, [...priced.issues, ...(corrected?.issues ?? [])]);
      const before = done;
      done += placements.length;
      placementsChecked += corrected?.placementsChecked ?? 0;
      if (progressAlongside && Math.floor(done / PROGRESS_EVERY) > Math.floor(before / PROGRESS_EVERY)) await ctx.progress(done, total);
    }
    // Every component must post somewhere: a line the ledger cannot take is found now, not at finalising.
    const unposted = [...writer.components].filter((component) => !chart.postings.has(component)).sort();
    await writer.write([], unposted.map((component): CalculationIssue => ({ householdId: null, placementId: null, childId: null, severity: 'error', code: 'no_posting', message: `The component "${component}" has no posting in the tenant's chart of accounts (accounts: postings)` })));
    await writer.close();
    const stored = writer.stored;

    const inputs: RunInputs = {
      packVersions,
      overlayVersion,
      tablesUsed: [...tables].sort(),
      ruleSetsUsed: [...new Set([...kinds].filter((k) => k === 'rate' || k === 'extra' || k === 'arrears' || k === 'recovery').map((k) => (k === 'extra' ? 'extras' : 'placement-rules')))].sort(),
      readAt: new Date(readAt).toISOString(),
      placementsPriced: done,
      corrections: { settledRuns: corrections?.runs.length ?? 0, placementsChecked },
      claims: householdPayments.claims,
      adjustments: householdPayments.adjustments,
    };
    const [after] = (await trx('payment_runs')
      .where({ tenant_id: tenantId, id: run.id })
      .update({
        status: 'calculated',
        calculated_by: run.calculation_requested_by,
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
        version: run.version + 1,
        updated_at: trx.fn.now(),
      })
      .returning('*')) as RunRow[];
    await recordStep(trx, tenantId, { runId: run.id, action: 'calculated', from: 'calculating', to: 'calculated', actorType: 'system', actorId: null, notes: null, detail: { calculation: payload.calculation, jobId: ctx.job.id, ...stored } });
    await ctx.audit(trx, {
      action: 'payment_run.calculated',
      entityType: 'payment_run',
      entityId: run.id,
      before: { status: 'calculating', calculation: payload.calculation },
      after: { status: after!.status, calculation: payload.calculation, jobId: ctx.job.id, requestedBy: run.calculation_requested_by, ...stored, inputs },
    });
    if (progressAlongside) await ctx.progress(done, total);
    return { stored, done, total };
  });
  if (!outcome) return { skipped: 'the run is not waiting for this calculation' };
  if ('failed' in outcome) return { failed: outcome.failed };
  if (!progressAlongside) await ctx.progress(outcome.done, outcome.total);
  return { calculation: payload.calculation, ...outcome.stored };
}

/** A calculation that cannot succeed however often it is tried (the tenant's pack is not loaded here): the run goes back to draft, saying why. */
async function recordFailure(trx: Knex.Transaction, ctx: JobContext, run: RunRow, payload: CalculationPayload, message: string): Promise<string> {
  await trx('payment_runs').where({ tenant_id: ctx.tenantId, id: run.id }).update({ status: 'draft', calculation_error: message, version: run.version + 1, updated_at: trx.fn.now() });
  await recordStep(trx, ctx.tenantId, { runId: run.id, action: 'calculation_failed', from: 'calculating', to: 'draft', actorType: 'system', actorId: null, notes: message, detail: { calculation: payload.calculation, jobId: ctx.job.id } });
  await ctx.audit(trx, { action: 'payment_run.calculation_failed', entityType: 'payment_run', entityId: run.id, before: { status: 'calculating' }, after: { status: 'draft', error: message, calculation: payload.calculation } });
  return message;
}

/** The rate tables a line's explanation names (a rate line's own, a correction's due segments'). */
function tablesOf(explanation: object | null): string[] {
  if (!explanation) return [];
  const e = explanation as { table?: string; due?: { segments?: Array<{ explanation?: { table?: string } }> } };
  if (typeof e.table === 'string') return [e.table];
  return (e.due?.segments ?? []).map((s) => s.explanation?.table).filter((t): t is string => typeof t === 'string');
}
