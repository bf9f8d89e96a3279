import type { Knex } from 'knex';
import { actorId, type OperationContext, type OperationMap, type OperationResult } from '../../http/operation';
import { etagOf } from '../../http/etag';
import { decodeCursor, toPage } from '../../http/pagination';
import { Problem } from '../../http/problem';
import { newId } from '../../ids';
import { enqueue, getJob, type Job } from '../../jobs/queue';
import { addDays } from '../../dates';
import { iso } from '../../time';
import type { AuditActor } from '../audit/service';
import { childVisible, placementVisible, withholdRestricted } from '../children/visibility';
import { onJournalsExported } from '../ledger/exportHooks';
import { lastJournalNumber, selectedJournalIds, takeLedgerExport, unknownFormat } from '../ledger/exportService';
import { tenantToday } from '../tenants/today';
import { calculationJobKey, PAYMENT_RUN_CALCULATION_JOB } from './calculation/job';
import { postRun } from './finalise';
import { issueSummaries, runIssues } from './issues';
import { isPeriodStart, periodFrom } from './periods';
import { CALCULATED_STATUSES, lineToApi, runSummaryToApi, type LineRow, type PaymentRunStatus, type RunRow } from './rows';
import { tenantCurrency } from './shared';
import { activeSchedule, lastRunPeriod, nextPeriod, shapeOf } from './scheduleRoutes';
import { recordStep, runHistory } from './steps';
import { judgeStep, RUN_STEPS, tenantRunWorkflow, type RunStep, type RunWorkflow, type StepVerdict } from './workflow';

async function findRun(ctx: OperationContext, lock = false): Promise<RunRow> {
  const query = ctx.trx('payment_runs').where({ tenant_id: ctx.tenantId, id: ctx.params.runId }).first();
  if (lock) query.forUpdate();
  const row = (await query) as RunRow | undefined;
  if (!row) throw Problem.notFound('The payment run');
  return row;
}

/** A calculation's job as the API shows it: queued or running with progress, or how it ended. */
function calculationOf(run: RunRow, job: Job | null) {
  const total = job?.progress?.total ?? null;
  const done = job?.progress?.done ?? 0;
  return {
    number: run.calculation_number,
    status: job ? job.status : 'none',
    done,
    total,
    percent: total ? Math.floor((100 * done) / total) : total === 0 ? 100 : null,
    attempts: job?.attempts ?? 0,
    error: run.calculation_error ?? job?.error ?? null,
    requestedBy: run.calculation_requested_by,
    requestedAt: iso(run.calculation_requested_at),
    completedAt: iso(job?.finishedAt ?? null),
  };
}


/** The run as the API shows it; the caller passes the tenant's workflow when it has already read it. */
async function presentRun(ctx: OperationContext, run: RunRow, known?: RunWorkflow) {
  const job = run.calculation_job_id ? await getJob(ctx.trx, ctx.tenantId!, run.calculation_job_id) : null;
  const totals = CALCULATED_STATUSES.includes(run.status)
    ? ((await ctx.trx('payment_lines')
        .where({ tenant_id: ctx.tenantId, run_id: run.id, calculation: run.calculation_number })
        .groupBy('component', 'kind')
        .orderBy([{ column: 'kind' }, { column: 'component' }])
        .select('component', 'kind', ctx.trx.raw('sum(amount)::bigint AS amount'), ctx.trx.raw('count(*)::int AS lines'))) as Array<{ component: string; kind: LineRow['kind']; amount: number; lines: number }>)
    : [];
  const workflow = known ?? (await tenantRunWorkflow(ctx.trx, ctx.tenantId!, ctx.services.packs));
  const nextSteps = [];
  if (ctx.principal) {
    const state = run.status === 'calculating' ? 'draft' : run.status;
    for (const transition of workflow.definition.transitions.filter((t) => t.from.includes(state) && t.key in RUN_STEPS)) {
      const verdict = await judgeStep(workflow, run, transition.key as RunStep, ctx.principal);
      nextSteps.push({ step: verdict.step, to: verdict.to, allowed: verdict.allowed, blockers: verdict.blockers });
    }
  }
  return {
    ...runSummaryToApi(run, await tenantCurrency(ctx)),
    issueSummary: (await issueSummaries(ctx, [run])).get(run.id)!,
    calculation: calculationOf(run, job),
    totalsByComponent: totals.map((t) => ({ component: t.component, kind: t.kind, amount: Number(t.amount), lines: t.lines })),
    nextSteps,
    history: await runHistory(ctx.trx, ctx.tenantId!, run.id),
    notes: run.notes,
  };
}

async function respond(ctx: OperationContext, run: RunRow, status = 200, workflow?: RunWorkflow): Promise<OperationResult> {
  return { status, body: await presentRun(ctx, run, workflow), headers: { ETag: etagOf(run.version) } };
}

/** Refuses a step the verdict does not allow, with the HTTP status its first blocker calls for and every blocker listed. */
function assertAllowed(verdict: StepVerdict): void {
  if (verdict.allowed) return;
  const first = verdict.blockers[0]!;
  const kind = first.kind === 'permission' || first.kind === 'separation_of_duties' ? 'forbidden' : 'conflict';
  throw new Problem(kind, verdict.blockers.map((b) => b.detail).join('; '), {
    blockers: verdict.blockers,
    ...(verdict.blockers.some((b) => b.kind === 'separation_of_duties') ? { code: 'separation_of_duties' } : {}),
  });
}

/** Moves a run one step: judged by the tenant's workflow, recorded in the run's history and the audit trail. */
async function step(ctx: OperationContext, step: RunStep, changes: (run: RunRow) => Promise<Record<string, unknown>> | Record<string, unknown>, notes: string | null, status = 200): Promise<OperationResult> {
  const before = await findRun(ctx, true);
  const workflow = await tenantRunWorkflow(ctx.trx, ctx.tenantId!, ctx.services.packs);
  assertAllowed(await judgeStep(workflow, before, step, ctx.principal!));
  const to = (step === 'calculate' ? 'calculating' : RUN_STEPS[step]) as PaymentRunStatus;
  const extra = await changes(before);
  const [after] = (await ctx.trx('payment_runs')
    .where({ tenant_id: ctx.tenantId, id: before.id })
    .update({ status: to, ...extra, version: before.version + 1, updated_at: ctx.trx.fn.now() })
    .returning('*')) as RunRow[];
  await recordStep(ctx.trx, ctx.tenantId!, { runId: before.id, action: step, from: before.status, to, actorType: ctx.principal!.kind, actorId: ctx.principal!.id, notes, detail: extra.calculation_number ? { calculation: extra.calculation_number } : undefined });
  const currency = await tenantCurrency(ctx);
  await ctx.audit({ action: `payment_run.${step}`, entityType: 'payment_run', entityId: before.id, before: runSummaryToApi(before, currency), after: { ...runSummaryToApi(after!, currency), notes } });
  return respond(ctx, after!, status, workflow);
}

async function listPaymentRuns(ctx: OperationContext): Promise<OperationResult> {
  const q = ctx.query as { limit: number; cursor?: string; status?: PaymentRunStatus };
  const after = decodeCursor(q.cursor, 1);
  const query = ctx.trx('payment_runs').where({ tenant_id: ctx.tenantId }).orderBy('number', 'desc').limit(q.limit + 1);
  if (after) query.where('number', '<', after[0] as number);
  if (q.status) query.where('status', q.status);
  const rows = (await query) as RunRow[];
  const currency = await tenantCurrency(ctx);
  const issues = await issueSummaries(ctx, rows.slice(0, q.limit));
  return { status: 200, body: toPage(rows, q.limit, (r) => [r.number], (r) => ({ ...runSummaryToApi(r, currency), issueSummary: issues.get(r.id)! })) };
}

async function createPaymentRun(ctx: OperationContext): Promise<OperationResult> {
  const body = (ctx.body ?? {}) as { periodStart?: string; notes?: string | null };
  const schedule = await activeSchedule(ctx.trx, ctx.tenantId!);
  const shape = shapeOf(schedule);
  const last = await lastRunPeriod(ctx.trx, ctx.tenantId!);
  let start: string;
  if (body.periodStart) {
    if (!isPeriodStart(shape, body.periodStart)) throw Problem.unprocessable([{ pointer: '/body/periodStart', message: `is not the start of a ${schedule.frequency} period of the schedule "${schedule.key}" (anchored on ${schedule.anchor_date})` }]);
    if (last && body.periodStart !== addDays(last.periodEnd, 1)) {
      throw Problem.unprocessable([{ pointer: '/body/periodStart', message: `the tenant's last run ends on ${last.periodEnd}, so the next starts on ${addDays(last.periodEnd, 1)}: runs follow on without a gap or an overlap` }]);
    }
    start = body.periodStart;
  } else {
    start = (await nextPeriod(ctx.trx, ctx.tenantId!, schedule, await tenantToday(ctx)))!.start;
  }
  const period = periodFrom(shape, start);
  const workflow = await tenantRunWorkflow(ctx.trx, ctx.tenantId!, ctx.services.packs);
  const number = Number(((await ctx.trx('payment_runs').where({ tenant_id: ctx.tenantId }).max('number as n').first()) as { n: number | null }).n ?? 0) + 1;
  const id = newId();
  const [row] = (await ctx.trx('payment_runs')
    .insert({
      tenant_id: ctx.tenantId, id, number, reference: `PR-${String(number).padStart(6, '0')}`, schedule_id: schedule.id, timing: schedule.timing,
      period_start: period.start, period_end: period.end, payment_date: period.paymentDate, status: 'draft', workflow_key: workflow.definition.key,
      notes: body.notes ?? null, created_by: actorId(ctx),
    })
    .returning('*')) as RunRow[];
  await recordStep(ctx.trx, ctx.tenantId!, { runId: id, action: 'open', from: null, to: 'draft', actorType: ctx.principal!.kind, actorId: ctx.principal!.id, notes: body.notes ?? null });
  await ctx.audit({ action: 'payment_run.opened', entityType: 'payment_run', entityId: id, after: runSummaryToApi(row!, await tenantCurrency(ctx)) });
  const result = await respond(ctx, row!, 201, workflow);
  return { ...result, headers: { ...result.headers, Location: `/v1/payment-runs/${id}` } };
}

async function getPaymentRun(ctx: OperationContext): Promise<OperationResult> {
  return respond(ctx, await findRun(ctx));
}

/** Whether a run still calculating has lost its job for good (failed, or its attempts used up), so it may be calculated again. */
async function calculationStuck(ctx: OperationContext, run: RunRow): Promise<boolean> {
  if (run.status !== 'calculating' || !run.calculation_job_id) return false;
  const job = await getJob(ctx.trx, ctx.tenantId!, run.calculation_job_id);
  return !job || job.status === 'failed' || job.status === 'succeeded';
}

async function calculatePaymentRun(ctx: OperationContext): Promise<OperationResult> {
  const notes = ((ctx.body ?? {}) as { notes?: string }).notes ?? null;
  const run = await findRun(ctx, true);
  if (run.status === 'calculating' && !(await calculationStuck(ctx, run))) throw new Problem('conflict', `The run ${run.reference} is being calculated (calculation ${run.calculation_number}); GET it for progress`);
  const open = (await ctx.trx('payment_runs')
    .where({ tenant_id: ctx.tenantId })
    .where('period_start', '<', run.period_start)
    .whereNotIn('status', ['finalised', 'exported', 'cancelled'])
    .orderBy('period_start')
    .first('reference', 'status')) as { reference: string; status: string } | undefined;
  // Corrections are found against finalised runs: an earlier run still open would be missed, or paid twice.
  if (open) throw new Problem('conflict', `The earlier run ${open.reference} is ${open.status}: finalise or cancel it before calculating ${run.reference}`);
  return step(ctx, 'calculate', async (before) => {
    const calculation = before.calculation_number + 1;
    const job = await enqueue(ctx.trx, { tenantId: ctx.tenantId!, kind: PAYMENT_RUN_CALCULATION_JOB, uniqueKey: calculationJobKey(before.id, calculation), payload: { runId: before.id, calculation }, maxAttempts: 5 });
    return { calculation_number: calculation, calculation_job_id: job.id, calculation_requested_by: actorId(ctx), calculation_requested_at: ctx.trx.fn.now(), calculation_error: null };
  }, notes, 202);
}

async function submitPaymentRun(ctx: OperationContext): Promise<OperationResult> {
  const notes = ((ctx.body ?? {}) as { notes?: string }).notes ?? null;
  return step(ctx, 'submit', () => ({ submitted_by: actorId(ctx), submitted_at: ctx.trx.fn.now() }), notes);
}

async function returnPaymentRun(ctx: OperationContext): Promise<OperationResult> {
  return step(ctx, 'return', () => ({ submitted_by: null, submitted_at: null }), (ctx.body as { reasons: string }).reasons);
}

async function approvePaymentRun(ctx: OperationContext): Promise<OperationResult> {
  const notes = ((ctx.body ?? {}) as { notes?: string }).notes ?? null;
  return step(ctx, 'approve', () => ({ approved_by: actorId(ctx), approved_at: ctx.trx.fn.now() }), notes);
}

async function finalisePaymentRun(ctx: OperationContext): Promise<OperationResult> {
  const notes = ((ctx.body ?? {}) as { notes?: string }).notes ?? null;
  const actor: AuditActor = { actorType: ctx.principal!.kind, actorId: ctx.principal!.id, ip: ctx.meta.ip, userAgent: ctx.meta.userAgent, requestId: ctx.meta.requestId };
  return step(ctx, 'finalise', async (run) => ({ journal_id: await postRun(ctx.trx, ctx.tenantId!, ctx.services.packs, actor, run), finalised_by: actorId(ctx), finalised_at: ctx.trx.fn.now() }), notes);
}

async function cancelPaymentRun(ctx: OperationContext): Promise<OperationResult> {
  return step(ctx, 'cancel', () => ({ cancelled_by: actorId(ctx), cancelled_at: ctx.trx.fn.now() }), (ctx.body as { reasons: string }).reasons);
}

async function exportPaymentRun(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as { format: string };
  const formats = ctx.services.plugins.ledgerExports;
  const format = formats.get(body.format);
  if (!format) throw unknownFormat(formats.keys());
  const run = await findRun(ctx);
  const workflow = await tenantRunWorkflow(ctx.trx, ctx.tenantId!, ctx.services.packs);
  assertAllowed(await judgeStep(workflow, run, 'export', ctx.principal!));
  if (!run.journal_id) throw new Problem('conflict', `The run ${run.reference} paid nothing, so it has no journal to export`);
  // The run's journal, bounded by the journals committed now: the same export replays byte for byte.
  const selection = { sourceType: 'payment_run', sourceId: run.id, throughJournalNumber: await lastJournalNumber(ctx.trx, ctx.tenantId!) };
  const auditAs = { entityType: 'payment_run', entityId: run.id };
  return takeLedgerExport({ ...ctx, tenantId: ctx.tenantId!, principal: ctx.principal! }, { format, selection, auditAs });
}

/**
 * A finalised run becomes exported the first time an export takes its journal, whether the export
 * named the run or a date range that held it.
 */
async function markRunsExported(trx: Knex.Transaction, tenantId: string, exported: { exportId: string; selection: Parameters<typeof selectedJournalIds>[2] }): Promise<Record<string, unknown>> {
  const journalIds = await selectedJournalIds(trx, tenantId, exported.selection);
  if (!journalIds.length) return {};
  const runs = (await trx('payment_runs').where({ tenant_id: tenantId, status: 'finalised' }).whereIn('journal_id', journalIds).forUpdate().select('id', 'version')) as Array<{ id: string; version: number }>;
  for (const run of runs) {
    await trx('payment_runs').where({ tenant_id: tenantId, id: run.id }).update({ status: 'exported', exported_at: trx.fn.now(), version: run.version + 1, updated_at: trx.fn.now() });
    await recordStep(trx, tenantId, { runId: run.id, action: 'export', from: 'finalised', to: 'exported', actorType: 'system', actorId: null, notes: null, detail: { exportId: exported.exportId } });
  }
  return runs.length ? { paymentRunsMarkedExported: runs.map((r) => r.id) } : {};
}
onJournalsExported(markRunsExported);

async function listPaymentRunLines(ctx: OperationContext): Promise<OperationResult> {
  const q = ctx.query as { limit: number; cursor?: string; householdId?: string; placementId?: string; childId?: string; kind?: LineRow['kind'] };
  const run = await findRun(ctx);
  const after = decodeCursor(q.cursor, 1);
  const query = ctx.trx('payment_lines').where({ tenant_id: ctx.tenantId, run_id: run.id, calculation: run.calculation_number }).orderBy('position').limit(q.limit + 1);
  if (after) query.where('position', '>', after[0] as number);
  if (q.householdId) query.where('household_id', q.householdId);
  // A filter naming a child or placement hidden from the caller finds nothing, rather than its lines withheld.
  if (q.placementId) query.where('placement_id', q.placementId).where(placementVisible(ctx, 'placement_id'));
  if (q.childId) query.where('child_id', q.childId).where(childVisible(ctx, 'child_id'));
  if (q.kind) query.where('kind', q.kind);
  // Lines of a calculation still running are not shown: only a whole calculation is.
  const rows = run.status === 'calculating' || run.status === 'draft' ? [] : ((await query) as LineRow[]);
  const keys = [...new Set(rows.map((r) => r.explanation_key).filter((k): k is number => k !== null))];
  const explanations = new Map(
    keys.length
      ? ((await ctx.trx('payment_explanations').where({ tenant_id: ctx.tenantId, run_id: run.id, calculation: run.calculation_number }).whereIn('key', keys).select('key', 'body')) as Array<{ key: number; body: unknown }>).map((e) => [e.key, e.body])
      : [],
  );
  const page = toPage(rows, q.limit, (r) => [r.position], (r) => lineToApi(r, r.explanation_key === null ? null : explanations.get(r.explanation_key)));
  // A restricted child's line keeps its amount; the explanation goes with the child, being built from its facts.
  return { status: 200, body: { ...page, data: await withholdRestricted(ctx, page.data, { explanation: null }) } };
}

async function listPaymentRunIssues(ctx: OperationContext): Promise<OperationResult> {
  return { status: 200, body: { data: await runIssues(ctx, await findRun(ctx)) } };
}

async function listPaymentRunHouseholds(ctx: OperationContext): Promise<OperationResult> {
  const q = ctx.query as { limit: number; cursor?: string };
  const run = await findRun(ctx);
  const after = decodeCursor(q.cursor, 1);
  if (!CALCULATED_STATUSES.includes(run.status)) return { status: 200, body: { data: [], nextCursor: null } };
  const query = ctx.trx('payment_lines as l')
    .join('carer_households as h', function joinHousehold() { this.on('h.tenant_id', 'l.tenant_id').andOn('h.id', 'l.household_id'); })
    .where({ 'l.tenant_id': ctx.tenantId, 'l.run_id': run.id, 'l.calculation': run.calculation_number })
    .groupBy('l.household_id', 'h.name')
    .orderBy('l.household_id')
    .limit(q.limit + 1)
    .select('l.household_id', 'h.name', ctx.trx.raw('sum(l.amount)::bigint AS total'), ctx.trx.raw('count(*)::int AS lines'));
  if (after) query.where('l.household_id', '>', after[0] as string);
  const rows = (await query) as Array<{ household_id: string; name: string; total: number; lines: number }>;
  const ids = rows.map((r) => r.household_id);
  const components = ids.length
    ? ((await ctx.trx('payment_lines').where({ tenant_id: ctx.tenantId, run_id: run.id, calculation: run.calculation_number }).whereIn('household_id', ids)
        .groupBy('household_id', 'component').orderBy([{ column: 'household_id' }, { column: 'component' }])
        .select('household_id', 'component', ctx.trx.raw('sum(amount)::bigint AS amount'))) as Array<{ household_id: string; component: string; amount: number }>)
    : [];
  return {
    status: 200,
    body: toPage(rows, q.limit, (r) => [r.household_id], (r) => ({
      householdId: r.household_id,
      householdName: r.name,
      total: Number(r.total),
      lineCount: r.lines,
      components: components.filter((c) => c.household_id === r.household_id).map((c) => ({ component: c.component, amount: Number(c.amount) })),
    })),
  };
}

export const runOperations: OperationMap = {
  listPaymentRuns: { access: { permission: 'payments:read' }, handle: listPaymentRuns },
  createPaymentRun: { access: { permission: 'payments:manage' }, handle: createPaymentRun },
  getPaymentRun: { access: { permission: 'payments:read' }, handle: getPaymentRun },
  calculatePaymentRun: { access: { permission: 'payments:calculate' }, handle: calculatePaymentRun },
  submitPaymentRun: { access: { permission: 'payments:calculate' }, handle: submitPaymentRun },
  returnPaymentRun: { access: { permission: 'payments:approve' }, handle: returnPaymentRun },
  approvePaymentRun: { access: { permission: 'payments:approve' }, handle: approvePaymentRun },
  finalisePaymentRun: { access: { permission: 'payments:finalise' }, handle: finalisePaymentRun },
  cancelPaymentRun: { access: { permission: 'payments:manage' }, handle: cancelPaymentRun },
  exportPaymentRun: { access: { permission: 'ledger:export' }, handle: exportPaymentRun },
  listPaymentRunLines: { access: { permission: 'payments:read' }, handle: listPaymentRunLines },
  listPaymentRunIssues: { access: { permission: 'payments:read' }, handle: listPaymentRunIssues },
  listPaymentRunHouseholds: { access: { permission: 'payments:read' }, handle: listPaymentRunHouseholds },
};
