import type { Knex } from 'knex';
import type { Principal } from '../../http/operation';
import type { PackRegistry } from '../../packs/registry';
import type { WorkflowDefinition } from '../../packs/types';
import { availableTransitions } from '../../packs/workflows';
import type { Overlay } from '../configuration/effective';
import { tenantConfiguration } from '../configuration/tenantConfiguration';
import { PaymentsSetupError } from './errors';
import type { PaymentRun, PaymentRunStatus } from './models';

/** The steps a run takes, each the pack workflow's transition of the same key, leading to the status of the same name. */
export const RUN_STEPS = {
  calculate: 'calculated',
  submit: 'submitted',
  return: 'calculated',
  approve: 'approved',
  finalise: 'finalised',
  export: 'exported',
  cancel: 'cancelled',
} as const satisfies Record<string, PaymentRunStatus>;

export type RunStep = keyof typeof RUN_STEPS;

export interface StepBlocker {
  kind: 'permission' | 'condition' | 'separation_of_duties' | 'state';
  detail: string;
}

export interface StepVerdict {
  step: RunStep;
  to: string;
  allowed: boolean;
  blockers: StepBlocker[];
  conditions: unknown;
}

export interface RunWorkflow {
  definition: WorkflowDefinition;
  overlays: Overlay[];
}

/**
 * The tenant's payment-run workflow (the pack's, with the tenant's overlays): data that decides who
 * may take each step and on what conditions. The steps and statuses themselves are the core's, so
 * a workflow must offer each of them; one that does not is a configuration fault, named
 * (a PaymentsSetupError, which handlers answer as a 422).
 */
export async function tenantRunWorkflow(
  trx: Knex.Transaction,
  tenantId: string,
  packs: PackRegistry,
): Promise<RunWorkflow> {
  const config = await tenantConfiguration(trx, tenantId, packs);
  const item = config.effective?.workflows.find((w) => w.value.subject === 'payment_run');
  if (!item)
    throw new PaymentsSetupError(
      `The tenant's pack "${config.packId}" has no payment-run workflow (a workflow with subject "payment_run")`,
    );
  const definition = item.value;
  const missing = Object.entries(RUN_STEPS)
    .filter(([key, to]) => !definition.transitions.some((t) => t.key === key && t.to === to))
    .map(([key, to]) => `${key} (to ${to})`);
  if (missing.length)
    throw new PaymentsSetupError(
      `The payment-run workflow "${definition.key}" lacks the steps ${missing.join(', ')}; the tenant's configuration needs correcting`,
    );
  return { definition, overlays: config.overlays };
}

/** What a run's conditions may name. */
export function runFacts(run: PaymentRun): Record<string, unknown> {
  return {
    status: run.status,
    total: Number(run.total),
    lineCount: run.lineCount,
    householdCount: run.householdCount,
    placementCount: run.placementCount,
    issueCount: run.issueCount,
    noticeCount: run.noticeCount,
    correctionCount: run.correctionCount,
    calculationNumber: run.calculationNumber,
    timing: run.timing,
  };
}

/**
 * Who may not approve a run: whoever calculated it, and whoever last changed (by tenant overlay) a
 * rate table or rule set its lines were priced by, among the overlays the calculation read.
 */
export function approvalBarred(run: PaymentRun, overlays: Overlay[]): Array<{ userId: string; why: string }> {
  const barred: Array<{ userId: string; why: string }> = [];
  if (run.calculatedBy) barred.push({ userId: run.calculatedBy, why: `calculated the run (${run.reference})` });
  const inputs = run.inputs;
  if (!inputs) return barred;
  const read = overlays.filter((o) => o.version <= inputs.overlayVersion).sort((a, b) => b.version - a.version);
  const touched: Array<{ what: string; changes: (o: Overlay) => boolean }> = [
    ...inputs.tablesUsed.map((table) => ({
      what: `the rate table "${table}"`,
      changes: (o: Overlay) => Boolean(o.changes.rates?.[table]),
    })),
    ...inputs.ruleSetsUsed.map((rules) => ({
      what: `the rules "${rules}"`,
      changes: (o: Overlay) => Boolean(o.changes.rules?.[rules]),
    })),
  ];
  for (const { what, changes } of touched) {
    const last = read.find(changes);
    if (last?.createdBy) barred.push({ userId: last.createdBy, why: `last changed ${what} (overlay ${last.version})` });
  }
  return barred;
}

/** Judges one step for a principal: the workflow's permission and conditions, the run's status, and (to approve) separation of duties. */
export async function judgeStep(
  workflow: RunWorkflow,
  run: PaymentRun,
  step: RunStep,
  principal: Principal,
): Promise<StepVerdict> {
  const transition = workflow.definition.transitions.find((t) => t.key === step)!;
  const state = run.status === 'calculating' ? 'draft' : run.status;
  if (!transition.from.includes(state)) {
    return {
      step,
      to: transition.to,
      allowed: false,
      blockers: [
        {
          kind: 'state',
          detail: `a ${run.status} run cannot be ${step === 'return' ? 'returned' : RUN_STEPS[step]}; that step starts from ${transition.from.join(' or ')}`,
        },
      ],
      conditions: null,
    };
  }
  const [verdict] = await availableTransitions(
    { ...workflow.definition, transitions: [transition] },
    { state, evidence: [], facts: runFacts(run) },
    principal.permissions as ReadonlySet<string>,
  );
  const blockers: StepBlocker[] = verdict!.blockers
    .filter((b) => b.kind !== 'evidence')
    .map((b) => ({ kind: b.kind as 'permission' | 'condition', detail: b.detail }));
  if (step === 'approve') {
    if (principal.kind !== 'user')
      blockers.push({
        kind: 'separation_of_duties',
        detail: 'only a named person can approve a payment run, not an API key',
      });
    else
      for (const bar of approvalBarred(run, workflow.overlays))
        if (bar.userId === principal.id)
          blockers.push({ kind: 'separation_of_duties', detail: `you ${bar.why}, so another person must approve it` });
  }
  return { step, to: transition.to, allowed: blockers.length === 0, blockers, conditions: verdict!.conditions };
}
