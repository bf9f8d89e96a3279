import { notifyPaymentRunFinalised } from '../notifications/domainEvents';
import type { Knex } from 'knex';
import type { PartialModelObject } from 'objection';
import { patchVersioned } from '../../db/versioned';
import { keysetPage } from '../../db/keyset';
import {
  actorKind,
  actorId,
  defineOperations,
  type OperationResult,
  type TenantContext,
  type TenantScope,
} from '../../http/operation';
import { Problem } from '../../http/problem';
import { accepted, created, ok } from '../../http/results';
import { newId } from '../../ids';
import { enqueue, getJob, type Job } from '../../jobs/queue';
import { addDays } from '../../dates';
import { iso } from '../../time';
import type { AuditActor } from '../audit/service';
import { onJournalsExported } from '../ledger/exportHooks';
import { lastJournalNumber, selectedJournalIds, takeLedgerExport, unknownFormat } from '../ledger/exportService';
import { tenantToday } from '../tenants/today';
import { calculationJobKey, PAYMENT_RUN_CALCULATION_JOB } from './calculation/job';
import { answering } from './errors';
import { postRun } from './finalise';
import { issueSummaries } from './issues';
import { PaymentLine, PaymentRun, type PaymentRunStatus } from './models';
import { isPeriodStart, periodFrom } from './periods';
import { CALCULATED_STATUSES, runSummaryToApi } from './rows';
import { findRun, runWorkflow } from './runs';
import { tenantCurrency } from './shared';
import { activeSchedule, lastRunPeriod, nextPeriod, shapeOf } from './scheduleRoutes';
import { recordStep, runHistory } from './steps';
import { judgeStep, RUN_STEPS, type RunStep, type RunWorkflow, type StepVerdict } from './workflow';

/** A calculation's job as the API shows it: queued or running with progress, or how it ended. */
function calculationOf(run: PaymentRun, job: Job | null) {
  const total = job?.progress?.total ?? null;
  const done = job?.progress?.done ?? 0;
  return {
    number: run.calculationNumber,
    status: job ? job.status : 'none',
    done,
    total,
    percent: total ? Math.floor((100 * done) / total) : total === 0 ? 100 : null,
    attempts: job?.attempts ?? 0,
    error: run.calculationError ?? job?.error ?? null,
    requestedBy: run.calculationRequestedBy,
    requestedAt: iso(run.calculationRequestedAt),
    completedAt: iso(job?.finishedAt ?? null),
  };
}

/** The run as the API shows it, with the steps the caller may take next by the tenant's workflow. */
async function presentRun(ctx: TenantScope, run: PaymentRun, workflow: RunWorkflow) {
  const job = run.calculationJobId ? await getJob(ctx.trx, ctx.tenantId, run.calculationJobId) : null;
  const totals = CALCULATED_STATUSES.includes(run.status)
    ? await PaymentLine.query(ctx.trx)
        .where({ tenant_id: ctx.tenantId, run_id: run.id, calculation: run.calculationNumber })
        .groupBy('component', 'kind')
        .orderBy([{ column: 'kind' }, { column: 'component' }])
        .select(
          'component',
          'kind',
          ctx.trx.raw('sum(amount)::bigint AS amount'),
          ctx.trx.raw('count(*)::int AS lines'),
        )
        .castTo<Array<Pick<PaymentLine, 'component' | 'kind' | 'amount'> & { lines: number }>>()
    : [];
  const nextSteps = [];
  const state = run.status === 'calculating' ? 'draft' : run.status;
  for (const transition of workflow.definition.transitions.filter(
    (t) => t.from.includes(state) && t.key in RUN_STEPS,
  )) {
    const verdict = await judgeStep(workflow, run, transition.key as RunStep, ctx.principal);
    nextSteps.push({ step: verdict.step, to: verdict.to, allowed: verdict.allowed, blockers: verdict.blockers });
  }
  return {
    ...runSummaryToApi(run, await tenantCurrency(ctx)),
    issueSummary: (await issueSummaries(ctx, [run])).get(run.id)!,
    calculation: calculationOf(run, job),
    totalsByComponent: totals.map((t) => ({
      component: t.component,
      kind: t.kind,
      amount: Number(t.amount),
      lines: t.lines,
    })),
    nextSteps,
    history: await runHistory(ctx.trx, ctx.tenantId, run.id),
    notes: run.notes,
  };
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

interface StepInput {
  runId: string;
  step: RunStep;
  notes: string | null;
  /** What the step writes on the run besides its status, worked out from the run as it stands (locked). */
  changes: (run: PaymentRun) => Promise<PartialModelObject<PaymentRun>> | PartialModelObject<PaymentRun>;
}

/** Moves a run one step: judged by the tenant's workflow, recorded in the run's history and the audit trail. */
async function takeStep(ctx: TenantScope, input: StepInput): Promise<{ run: PaymentRun; workflow: RunWorkflow }> {
  const before = await findRun(ctx, input.runId, { lock: true });
  const workflow = await runWorkflow(ctx);
  assertAllowed(await judgeStep(workflow, before, input.step, ctx.principal));
  const to: PaymentRunStatus = input.step === 'calculate' ? 'calculating' : RUN_STEPS[input.step];
  const extra = await input.changes(before);
  const after = await patchVersioned(ctx.trx, PaymentRun, before, { status: to, ...extra });
  await recordStep(ctx.trx, ctx.tenantId, {
    runId: before.id,
    action: input.step,
    from: before.status,
    to,
    actorType: actorKind(ctx.principal),
    actorId: ctx.principal.id,
    notes: input.notes,
    detail: extra.calculationNumber ? { calculation: extra.calculationNumber } : undefined,
  });
  const currency = await tenantCurrency(ctx);
  await ctx.audit({
    action: `payment_run.${input.step}`,
    entityType: 'payment_run',
    entityId: before.id,
    before: runSummaryToApi(before, currency),
    after: { ...runSummaryToApi(after, currency), notes: input.notes },
  });
  return { run: after, workflow };
}

async function answerStep(ctx: TenantScope, input: StepInput): Promise<OperationResult> {
  const { run, workflow } = await takeStep(ctx, input);
  return ok(await presentRun(ctx, run, workflow), run.version);
}

async function listPaymentRuns(ctx: TenantContext<'listPaymentRuns'>): Promise<OperationResult> {
  const q = ctx.query;
  const query = PaymentRun.query(ctx.trx).where({ tenant_id: ctx.tenantId });
  if (q.status) query.where('status', q.status);
  const page = await keysetPage(query, q, [{ column: 'number', of: (r) => r.number }], (r) => r, 'desc');
  const currency = await tenantCurrency(ctx);
  const issues = await issueSummaries(ctx, page.rows);
  return ok({
    data: page.rows.map((r) => ({ ...runSummaryToApi(r, currency), issueSummary: issues.get(r.id)! })),
    nextCursor: page.nextCursor,
  });
}

async function createPaymentRun(ctx: TenantContext<'createPaymentRun'>): Promise<OperationResult> {
  const body = ctx.body;
  const schedule = await answering(activeSchedule(ctx.trx, ctx.tenantId));
  const shape = shapeOf(schedule);
  const last = await lastRunPeriod(ctx.trx, ctx.tenantId);
  let start: string;
  if (body.periodStart) {
    if (!isPeriodStart(shape, body.periodStart)) {
      throw Problem.unprocessable([
        {
          pointer: '/body/periodStart',
          message: `is not the start of a ${schedule.frequency} period of the schedule "${schedule.key}" (anchored on ${schedule.anchorDate})`,
        },
      ]);
    }
    if (last && body.periodStart !== addDays(last.periodEnd, 1)) {
      throw Problem.unprocessable([
        {
          pointer: '/body/periodStart',
          message: `the tenant's last run ends on ${last.periodEnd}, so the next starts on ${addDays(last.periodEnd, 1)}: runs follow on without a gap or an overlap`,
        },
      ]);
    }
    start = body.periodStart;
  } else {
    start = (await nextPeriod(ctx.trx, ctx.tenantId, schedule, await tenantToday(ctx)))!.start;
  }
  const period = periodFrom(shape, start);
  const workflow = await runWorkflow(ctx);
  const [highest] = await PaymentRun.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId })
    .max('number as n')
    .castTo<Array<{ n: number | null }>>();
  const number = Number(highest?.n ?? 0) + 1;
  const id = newId();
  const row = await PaymentRun.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      id,
      number,
      reference: `PR-${String(number).padStart(6, '0')}`,
      scheduleId: schedule.id,
      timing: schedule.timing,
      periodStart: period.start,
      periodEnd: period.end,
      paymentDate: period.paymentDate,
      status: 'draft',
      workflowKey: workflow.definition.key,
      notes: body.notes ?? null,
      createdBy: actorId(ctx),
    })
    .returning('*');
  await recordStep(ctx.trx, ctx.tenantId, {
    runId: id,
    action: 'open',
    from: null,
    to: 'draft',
    actorType: actorKind(ctx.principal),
    actorId: ctx.principal.id,
    notes: body.notes ?? null,
  });
  await ctx.audit({
    action: 'payment_run.opened',
    entityType: 'payment_run',
    entityId: id,
    after: runSummaryToApi(row, await tenantCurrency(ctx)),
  });
  return created(await presentRun(ctx, row, workflow), { location: `/v1/payment-runs/${id}`, version: row.version });
}

async function getPaymentRun(ctx: TenantContext<'getPaymentRun'>): Promise<OperationResult> {
  const run = await findRun(ctx, ctx.params.runId);
  return ok(await presentRun(ctx, run, await runWorkflow(ctx)), run.version);
}

/** Whether a run still calculating has lost its job for good (failed, or its attempts used up), so it may be calculated again. */
async function calculationStuck(ctx: TenantScope, run: PaymentRun): Promise<boolean> {
  if (run.status !== 'calculating' || !run.calculationJobId) return false;
  const job = await getJob(ctx.trx, ctx.tenantId, run.calculationJobId);
  return !job || job.status === 'failed' || job.status === 'succeeded';
}

async function calculatePaymentRun(ctx: TenantContext<'calculatePaymentRun'>): Promise<OperationResult> {
  const notes = ctx.body?.notes ?? null;
  const run = await findRun(ctx, ctx.params.runId, { lock: true });
  if (run.status === 'calculating' && !(await calculationStuck(ctx, run))) {
    throw new Problem(
      'conflict',
      `The run ${run.reference} is being calculated (calculation ${run.calculationNumber}); GET it for progress`,
    );
  }
  const open = await PaymentRun.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId })
    .where('period_start', '<', run.periodStart)
    .whereNotIn('status', ['finalised', 'exported', 'cancelled'])
    .orderBy('period_start')
    .select('reference', 'status')
    .first();
  // Corrections are found against finalised runs: an earlier run still open would be missed, or paid twice.
  if (open)
    throw new Problem(
      'conflict',
      `The earlier run ${open.reference} is ${open.status}: finalise or cancel it before calculating ${run.reference}`,
    );
  const { run: after, workflow } = await takeStep(ctx, {
    runId: run.id,
    step: 'calculate',
    notes,
    changes: async (before) => {
      const calculation = before.calculationNumber + 1;
      const job = await enqueue(ctx.trx, {
        tenantId: ctx.tenantId,
        kind: PAYMENT_RUN_CALCULATION_JOB,
        uniqueKey: calculationJobKey(before.id, calculation),
        payload: { runId: before.id, calculation },
        maxAttempts: 5,
      });
      return {
        calculationNumber: calculation,
        calculationJobId: job.id,
        calculationRequestedBy: actorId(ctx),
        calculationRequestedAt: ctx.trx.fn.now(),
        calculationError: null,
      };
    },
  });
  // Accepted: the calculation goes on in its job; the answer carries the run's ETag all the same.
  return accepted(await presentRun(ctx, after, workflow), { version: after.version });
}

async function submitPaymentRun(ctx: TenantContext<'submitPaymentRun'>): Promise<OperationResult> {
  const changes = () => ({ submittedBy: actorId(ctx), submittedAt: ctx.trx.fn.now() });
  return answerStep(ctx, { runId: ctx.params.runId, step: 'submit', notes: ctx.body?.notes ?? null, changes });
}

async function returnPaymentRun(ctx: TenantContext<'returnPaymentRun'>): Promise<OperationResult> {
  return answerStep(ctx, {
    runId: ctx.params.runId,
    step: 'return',
    notes: ctx.body.reasons,
    changes: () => ({ submittedBy: null, submittedAt: null }),
  });
}

async function approvePaymentRun(ctx: TenantContext<'approvePaymentRun'>): Promise<OperationResult> {
  const changes = () => ({ approvedBy: actorId(ctx), approvedAt: ctx.trx.fn.now() });
  return answerStep(ctx, { runId: ctx.params.runId, step: 'approve', notes: ctx.body?.notes ?? null, changes });
}

async function finalisePaymentRun(ctx: TenantContext<'finalisePaymentRun'>): Promise<OperationResult> {
  const { ip, userAgent, requestId } = ctx.meta;
  const actor: AuditActor = {
    actorType: actorKind(ctx.principal),
    actorId: ctx.principal.id,
    ip,
    userAgent,
    requestId,
  };
  const poster = { trx: ctx.trx, tenantId: ctx.tenantId, packs: ctx.services.packs, actor };
  const { run, workflow } = await takeStep(ctx, {
    runId: ctx.params.runId,
    step: 'finalise',
    notes: ctx.body?.notes ?? null,
    changes: async (before) => ({
      journalId: await postRun(poster, before),
      finalisedBy: actorId(ctx),
      finalisedAt: ctx.trx.fn.now(),
    }),
  });
  // Finance hears the run is final, and each paid household that its remittance is ready, in this transaction.
  await notifyPaymentRunFinalised(ctx, run);
  return ok(await presentRun(ctx, run, workflow), run.version);
}

async function cancelPaymentRun(ctx: TenantContext<'cancelPaymentRun'>): Promise<OperationResult> {
  const changes = () => ({ cancelledBy: actorId(ctx), cancelledAt: ctx.trx.fn.now() });
  return answerStep(ctx, { runId: ctx.params.runId, step: 'cancel', notes: ctx.body.reasons, changes });
}

async function exportPaymentRun(ctx: TenantContext<'exportPaymentRun'>): Promise<OperationResult> {
  const formats = ctx.services.plugins.ledgerExports;
  const format = formats.get(ctx.body.format);
  if (!format) throw unknownFormat(formats.keys());
  const run = await findRun(ctx, ctx.params.runId);
  const workflow = await runWorkflow(ctx);
  assertAllowed(await judgeStep(workflow, run, 'export', ctx.principal));
  if (!run.journalId)
    throw new Problem('conflict', `The run ${run.reference} paid nothing, so it has no journal to export`);
  // The run's journal, bounded by the journals committed now: the same export replays byte for byte.
  const throughJournalNumber = await lastJournalNumber(ctx.trx, ctx.tenantId);
  const selection = { sourceType: 'payment_run', sourceId: run.id, throughJournalNumber };
  return takeLedgerExport(ctx, { format, selection, auditAs: { entityType: 'payment_run', entityId: run.id } });
}

/**
 * A finalised run becomes exported the first time an export takes its journal, whether the export
 * named the run or a date range that held it.
 */
async function markRunsExported(
  trx: Knex.Transaction,
  tenantId: string,
  exported: { exportId: string; selection: Parameters<typeof selectedJournalIds>[2] },
): Promise<Record<string, unknown>> {
  const journalIds = await selectedJournalIds(trx, tenantId, exported.selection);
  if (!journalIds.length) return {};
  const runs = await PaymentRun.query(trx)
    .where({ tenant_id: tenantId, status: 'finalised' })
    .whereIn('journal_id', journalIds)
    .forUpdate();
  for (const run of runs) {
    await patchVersioned(trx, PaymentRun, run, { status: 'exported', exportedAt: trx.fn.now() });
    await recordStep(trx, tenantId, {
      runId: run.id,
      action: 'export',
      from: 'finalised',
      to: 'exported',
      actorType: 'system',
      actorId: null,
      notes: null,
      detail: { exportId: exported.exportId },
    });
  }
  return runs.length ? { paymentRunsMarkedExported: runs.map((r) => r.id) } : {};
}
onJournalsExported(markRunsExported);

export const runOperations = defineOperations({
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
});
