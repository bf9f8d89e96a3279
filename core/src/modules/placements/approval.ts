import { patchVersioned } from '../../db/versioned';
import { actorId, type TenantScope } from '../../http/operation';
import { Problem } from '../../http/problem';
import { newId } from '../../ids';
import { availableTransitions, type TransitionVerdict, type WorkflowSubject } from '../../packs/workflows';
import { iso } from '../../time';
import { findChild } from '../children/visibility';
import { Placement, PlacementWorkflowStep, type EvidenceInput } from './models';
import { assertRoom, checkStay, recordStarted } from './service';
import { agreementFormKeys, statusOfState, tenantPlacementWorkflow, type PlacementWorkflow } from './workflow';

export function stepToApi(row: PlacementWorkflowStep) {
  return {
    id: row.id,
    transition: row.transition,
    fromState: row.fromState,
    toState: row.toState,
    evidence: row.evidence,
    notes: row.notes,
    takenBy: row.takenBy,
    takenAt: iso(row.takenAt),
  };
}

export async function workflowSteps(
  ctx: Pick<TenantScope, 'trx' | 'tenantId'>,
  placementId: string,
): Promise<PlacementWorkflowStep[]> {
  return PlacementWorkflowStep.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, placement_id: placementId })
    .orderBy('id');
}

/**
 * The placement agreement a placement has: the submission linked to it, or any submission of the
 * pack's agreement form about the placement. Form submissions belong to the configuration module,
 * which has no reading service yet; only their key, subject and id are read here.
 */
export async function agreementSubmissions(
  ctx: Pick<TenantScope, 'trx' | 'tenantId'>,
  row: Placement,
  formKeys: string[],
): Promise<string[]> {
  if (!formKeys.length) return [];
  const found = (await ctx
    .trx('form_submissions')
    .where({ tenant_id: ctx.tenantId })
    .whereIn('form_key', formKeys)
    .where((w) => {
      w.where({ subject_type: 'placement', subject_id: row.id });
      if (row.agreementSubmissionId) w.orWhere({ id: row.agreementSubmissionId });
    })
    .select('form_key')) as Array<{ form_key: string }>;
  return [...new Set(found.map((f) => f.form_key))];
}

/** The facts a placement workflow's conditions may read, worked out from the placement and the household. */
async function placementFacts(ctx: TenantScope, row: Placement): Promise<Record<string, unknown>> {
  const child = await findChild(ctx, row.childId);
  const stay = {
    childId: row.childId,
    householdId: row.householdId,
    kind: row.kind,
    startDate: row.startDate,
    until: row.occupiedUntil,
    main: false,
    exclude: [row.id],
    pointers: { household: '/body/transition', start: '/body/transition' },
  };
  const fit = await checkStay(ctx, child, stay, { requireTerms: false });
  return {
    carerApproved: fit.household.approved,
    carerApprovalStatus: fit.household.approved ? 'approved' : fit.household.approvalState,
    carerCompliant: fit.household.compliance.compliant,
    withinApprovalTerms: fit.withinTerms,
    vacancies: fit.vacanciesBefore,
    fosterChildrenAfterPlacement: fit.childrenAfter,
    allFosterChildrenSiblings: false,
    fosteringLimitExemption: false,
    placementKind: row.kind,
    longTerm: row.longTerm,
  };
}

export interface Judged {
  workflow: PlacementWorkflow;
  verdicts: TransitionVerdict[];
  facts: Record<string, unknown>;
}

export async function judge(ctx: TenantScope, row: Placement, supplied: EvidenceInput[] = []): Promise<Judged> {
  const workflow = await tenantPlacementWorkflow(ctx, row.workflowKey);
  if (!workflow || !row.workflowState)
    throw new Problem('conflict', 'The placement does not go through an approval workflow');
  const earlier = (await workflowSteps(ctx, row.id)).flatMap((s) => s.evidence);
  const forms = await agreementSubmissions(ctx, row, agreementFormKeys(workflow));
  const evidence: WorkflowSubject['evidence'] = [
    ...[...earlier, ...supplied].map((e) => ({ kind: e.kind, key: e.key })),
    ...forms.map((key) => ({ kind: 'form' as const, key })),
  ];
  const facts = await placementFacts(ctx, row);
  const verdicts = await availableTransitions(
    workflow.definition,
    { state: row.workflowState, evidence, facts },
    ctx.principal.permissions,
  );
  return { workflow, verdicts, facts };
}

export interface Step {
  transition: string;
  evidence?: EvidenceInput[];
  notes?: string | null;
}

/** Takes one step of the placement's workflow; the step into the running state starts it. */
export async function takeStep(ctx: TenantScope, row: Placement, step: Step): Promise<Placement> {
  const { workflow, verdicts } = await judge(ctx, row, step.evidence ?? []);
  const verdict = verdicts.find((v) => v.transition === step.transition);
  if (!verdict) {
    throw Problem.unprocessable([
      {
        pointer: '/body/transition',
        message: `is not a step from "${row.workflowState}" (open steps: ${verdicts.map((v) => v.transition).join(', ') || 'none'})`,
      },
    ]);
  }
  if (verdict.to === workflow.endedState) {
    throw new Problem(
      'conflict',
      'Ending a placement needs its date, reasons and outcome: use POST /v1/placements/{placementId}/end',
    );
  }
  const starting = verdict.to === workflow.runningState;
  const mayStart = !starting || ctx.principal.permissions.has('placements:start');
  const extra = mayStart ? [] : [{ kind: 'permission' as const, detail: 'needs the permission placements:start' }];
  const blockers = [...verdict.blockers, ...extra];
  if (blockers.length) {
    if (blockers.every((b) => b.kind === 'permission'))
      throw new Problem('forbidden', blockers.map((b) => b.detail).join('; '), { blockers });
    throw new Problem(
      'conflict',
      `The step "${verdict.transition}" is not open: ${blockers.map((b) => b.detail).join('; ')}`,
      { blockers },
    );
  }
  if (starting) {
    const child = await findChild(ctx, row.childId);
    const stay = {
      childId: row.childId,
      householdId: row.householdId,
      kind: row.kind,
      startDate: row.startDate,
      until: row.occupiedUntil,
      main: !row.respiteOf,
      exclude: [row.id],
      pointers: { household: '/body/transition', start: '/body/transition' },
    };
    assertRoom(await checkStay(ctx, child, stay), '/body/transition');
  }
  await PlacementWorkflowStep.query(ctx.trx).insert({
    tenantId: ctx.tenantId,
    id: newId(),
    placementId: row.id,
    transition: verdict.transition,
    fromState: row.workflowState!,
    toState: verdict.to,
    evidence: step.evidence ?? [],
    conditions: verdict.conditions,
    notes: step.notes ?? null,
    takenBy: actorId(ctx),
  });
  const changes = {
    status: statusOfState(workflow, verdict.to),
    workflowState: verdict.to,
    ...(starting ? { startedAt: ctx.trx.fn.now() } : {}),
  };
  const after = await patchVersioned(ctx.trx, Placement, row, changes);
  if (starting) await recordStarted(ctx, after);
  return after;
}
