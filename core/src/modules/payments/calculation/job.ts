import type { Knex } from 'knex';
import type { JobContext, JobHandler } from '../../../jobs/worker';
import { tenantChart } from '../../ledger/chart';
import { patchVersioned } from '../../../db/versioned';
import { PaymentRun, PaySchedule, type RunInputs } from '../models';
import { recordStep } from '../steps';
import { ClaimsAndAdjustments } from './claimsAndAdjustments';
import { correctionScope, correctionsIn } from './corrections';
import {
  countPlacementsToPrice,
  householdRanges,
  HOUSEHOLDS_PER_SLICE,
  placementCategories,
  placementsToPrice,
} from './facts';
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

/** The run, locked, if it is still waiting for this calculation. */
async function currentRun(
  trx: Knex.Transaction,
  tenantId: string,
  payload: CalculationPayload,
): Promise<PaymentRun | null> {
  const run = await PaymentRun.query(trx).where({ tenant_id: tenantId, id: payload.runId }).forUpdate().first();
  // A newer calculation replaced this one, or this one is already written: nothing to do.
  return run && run.status === 'calculating' && run.calculationNumber === payload.calculation ? run : null;
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
    const run = await currentRun(trx, tenantId, payload);
    if (!run) return null;
    // The moment the facts are read from: whatever changes after it is a correction for the next run.
    const clock: { rows: Array<{ now: Date }> } = await trx.raw('SELECT now() AS now');
    const readAt = clock.rows[0]!.now;
    const { config, rates } = await tenantRates(trx, tenantId, services.packs, run.periodEnd);
    if (!config.pack)
      return {
        failed: await recordFailure(
          trx,
          ctx,
          run,
          payload,
          `The tenant's pack "${config.packId}" is not loaded on this platform`,
        ),
      };
    const period = { from: run.periodStart, to: run.periodEnd };
    const categories = placementCategories(config);
    const chart = await tenantChart(trx, tenantId, services.packs, run.paymentDate);
    const schedule = await PaySchedule.query(trx)
      .where({ tenant_id: tenantId, id: run.scheduleId })
      .select('correction_lookback_days')
      .first()
      .throwIfNotFound();
    const packVersions = Object.fromEntries(
      config.pack.chain.map((id) => [id, services.packs.get(id)?.manifest.version ?? 'unknown']),
    );
    const overlayVersion = config.overlays.reduce((max, o) => Math.max(max, o.version), 0);
    const corrections = await correctionScope(
      trx,
      tenantId,
      { periodStart: run.periodStart, lookbackDays: schedule.correctionLookbackDays },
      { packVersions, overlayVersion },
      config.overlays,
    );
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
      const corrected = corrections
        ? await correctionsIn(trx, tenantId, rates, corrections, categories, households)
        : null;
      const lines = [...priced.lines, ...(corrected?.lines ?? []), ...householdPayments.through(households)];
      for (const line of lines) {
        kinds.add(line.kind);
        for (const table of tablesOf(line.explanation)) tables.add(table);
      }
      await writer.write(lines, [...priced.issues, ...(corrected?.issues ?? [])]);
      const before = done;
      done += placements.length;
      placementsChecked += corrected?.placementsChecked ?? 0;
      if (progressAlongside && Math.floor(done / PROGRESS_EVERY) > Math.floor(before / PROGRESS_EVERY))
        await ctx.progress(done, total);
    }
    // Every component must post somewhere: a line the ledger cannot take is found now, not at finalising.
    const unposted = [...writer.components].filter((component) => !chart.postings.has(component)).sort();
    await writer.write(
      [],
      unposted.map((component): CalculationIssue => ({
        householdId: null,
        placementId: null,
        childId: null,
        severity: 'error',
        code: 'no_posting',
        message: `The component "${component}" has no posting in the tenant's chart of accounts (accounts: postings)`,
      })),
    );
    await writer.close();
    const stored = writer.stored;

    const inputs: RunInputs = {
      packVersions,
      overlayVersion,
      tablesUsed: [...tables].sort(),
      ruleSetsUsed: [
        ...new Set(
          [...kinds]
            .filter((k) => k === 'rate' || k === 'extra' || k === 'arrears' || k === 'recovery')
            .map((k) => (k === 'extra' ? 'extras' : 'placement-rules')),
        ),
      ].sort(),
      readAt: new Date(readAt).toISOString(),
      placementsPriced: done,
      corrections: { settledRuns: corrections?.runs.length ?? 0, placementsChecked },
      claims: householdPayments.claims,
      adjustments: householdPayments.adjustments,
    };
    const after = await patchVersioned(trx, PaymentRun, run, {
      status: 'calculated',
      calculatedBy: run.calculationRequestedBy,
      calculatedAt: readAt,
      calculationError: null,
      inputs,
      total: stored.total,
      lineCount: stored.lineCount,
      householdCount: stored.householdCount,
      placementCount: stored.placementCount,
      issueCount: stored.issueCount,
      noticeCount: stored.noticeCount,
      correctionCount: stored.correctionCount,
    });
    await recordStep(trx, tenantId, {
      runId: run.id,
      action: 'calculated',
      from: 'calculating',
      to: 'calculated',
      actorType: 'system',
      actorId: null,
      notes: null,
      detail: { calculation: payload.calculation, jobId: ctx.job.id, ...stored },
    });
    await ctx.audit(trx, {
      action: 'payment_run.calculated',
      entityType: 'payment_run',
      entityId: run.id,
      before: { status: 'calculating', calculation: payload.calculation },
      after: {
        status: after.status,
        calculation: payload.calculation,
        jobId: ctx.job.id,
        requestedBy: run.calculationRequestedBy,
        ...stored,
        inputs,
      },
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
async function recordFailure(
  trx: Knex.Transaction,
  ctx: JobContext,
  run: PaymentRun,
  payload: CalculationPayload,
  message: string,
): Promise<string> {
  await patchVersioned(trx, PaymentRun, run, { status: 'draft', calculationError: message });
  await recordStep(trx, ctx.tenantId, {
    runId: run.id,
    action: 'calculation_failed',
    from: 'calculating',
    to: 'draft',
    actorType: 'system',
    actorId: null,
    notes: message,
    detail: { calculation: payload.calculation, jobId: ctx.job.id },
  });
  await ctx.audit(trx, {
    action: 'payment_run.calculation_failed',
    entityType: 'payment_run',
    entityId: run.id,
    before: { status: 'calculating' },
    after: { status: 'draft', error: message, calculation: payload.calculation },
  });
  return message;
}

/** The rate tables a line's explanation names (a rate line's own, a correction's due segments'). */
function tablesOf(explanation: object | null): string[] {
  if (!explanation) return [];
  const e = explanation as { table?: string; due?: { segments?: Array<{ explanation?: { table?: string } }> } };
  if (typeof e.table === 'string') return [e.table];
  return (e.due?.segments ?? []).map((s) => s.explanation?.table).filter((t): t is string => typeof t === 'string');
}
