import type { OperationContext } from '../../http/operation';
import { Problem } from '../../http/problem';
import { newId } from '../../ids';
import { availableTransitions, type TransitionVerdict, type WorkflowSubject } from '../../packs/workflows';
import { iso } from '../../time';
import { findChild } from './childAccess';
import { actorUserId, type PlacementRow } from './rows';
import { assertRoom, checkStay, recordStarted } from './service';
import { agreementFormKeys, statusOfState, tenantPlacementWorkflow, type PlacementWorkflow } from './workflow';

export interface EvidenceInput {
  kind: 'decision' | 'document' | 'check';
  key: string;
  note?: string | null;
  reference?: string | null;
}

interface StepRow {
  id: string;
  transition: string;
  from_state: string;
  to_state: string;
  evidence: EvidenceInput[];
  notes: string | null;
  taken_by: string | null;
  taken_at: Date;
}

export function stepToApi(row: StepRow) {
  return { id: row.id, transition: row.transition, fromState: row.from_state, toState: row.to_state, evidence: row.evidence, notes: row.notes, takenBy: row.taken_by, takenAt: iso(row.taken_at) };
}

export async function workflowSteps(ctx: OperationContext, placementId: string): Promise<StepRow[]> {
  return (await ctx.trx('placement_workflow_steps').where({ tenant_id: ctx.tenantId, placement_id: placementId }).orderBy('id')) as StepRow[];
}

/**
 * The placement agreement a placement has: the submission linked to it, or any submission of the
 * pack's agreement form about the placement. Form submissions belong to the configuration module,
 * which has no reading service yet; only their key, subject and id are read here.
 */
export async function agreementSubmissions(ctx: OperationContext, row: PlacementRow, formKeys: string[]): Promise<string[]> {
  if (!formKeys.length) return [];
  const found = (await ctx.trx('form_submissions')
    .where({ tenant_id: ctx.tenantId })
    .whereIn('form_key', formKeys)
    .where((w) => {
      w.where({ subject_type: 'placement', subject_id: row.id });
      if (row.agreement_submission_id) w.orWhere({ id: row.agreement_submission_id });
    })
    .select('form_key')) as Array<{ form_key: string }>;
  return [...new Set(found.map((f) => f.form_key))];
}

/** The facts a placement workflow's conditions may read, worked out from the placement and the household. */
async function placementFacts(ctx: OperationContext, row: PlacementRow): Promise<Record<string, unknown>> {
  const child = await findChild(ctx, row.child_id);
  const fit = await checkStay(ctx, child, { childId: row.child_id, householdId: row.household_id, kind: row.kind, startDate: row.start_date, until: row.occupied_until, main: false, exclude: [row.id], pointers: { household: '/body/transition', start: '/body/transition' } }, { requireTerms: false });
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
    longTerm: row.long_term,
  };
}

export interface Judged {
  workflow: PlacementWorkflow;
  verdicts: TransitionVerdict[];
  facts: Record<string, unknown>;
}

export async function judge(ctx: OperationContext, row: PlacementRow, supplied: EvidenceInput[] = []): Promise<Judged> {
  const workflow = await tenantPlacementWorkflow(ctx, row.workflow_key);
  if (!workflow || !row.workflow_state) throw new Problem('conflict', 'The placement does not go through an approval workflow');
  const earlier = (await workflowSteps(ctx, row.id)).flatMap((s) => s.evidence);
  const forms = await agreementSubmissions(ctx, row, agreementFormKeys(workflow));
  const evidence: WorkflowSubject['evidence'] = [...[...earlier, ...supplied].map((e) => ({ kind: e.kind, key: e.key })), ...forms.map((key) => ({ kind: 'form' as const, key }))];
  const facts = await placementFacts(ctx, row);
  const verdicts = await availableTransitions(workflow.definition, { state: row.workflow_state, evidence, facts }, ctx.principal!.permissions);
  return { workflow, verdicts, facts };
}

/** Takes one step of the placement's workflow; the step into the running state starts it. */
export async function takeStep(ctx: OperationContext, row: PlacementRow, body: { transition: string; evidence?: EvidenceInput[]; notes?: string | null }): Promise<PlacementRow> {
  const { workflow, verdicts } = await judge(ctx, row, body.evidence ?? []);
  const verdict = verdicts.find((v) => v.transition === body.transition);
  if (!verdict) {
    throw Problem.unprocessable([{ pointer: '/body/transition', message: `is not a step from "${row.workflow_state}" (open steps: ${verdicts.map((v) => v.transition).join(', ') || 'none'})` }]);
  }
  if (verdict.to === workflow.endedState) throw new Problem('conflict', 'Ending a placement needs its date, reasons and outcome: use POST /v1/placements/{placementId}/end');
  const starting = verdict.to === workflow.runningState;
  const extra = starting && !ctx.principal!.permissions.has('placements:start') ? [{ kind: 'permission' as const, detail: 'needs the permission placements:start' }] : [];
  const blockers = [...verdict.blockers, ...extra];
  if (blockers.length) {
    if (blockers.every((b) => b.kind === 'permission')) throw new Problem('forbidden', blockers.map((b) => b.detail).join('; '), { blockers });
    throw new Problem('conflict', `The step "${verdict.transition}" is not open: ${blockers.map((b) => b.detail).join('; ')}`, { blockers });
  }
  if (starting) {
    const child = await findChild(ctx, row.child_id);
    const fit = await checkStay(ctx, child, { childId: row.child_id, householdId: row.household_id, kind: row.kind, startDate: row.start_date, until: row.occupied_until, main: !row.respite_of, exclude: [row.id], pointers: { household: '/body/transition', start: '/body/transition' } });
    assertRoom(fit, '/body/transition');
  }
  const status = statusOfState(workflow, verdict.to);
  await ctx.trx('placement_workflow_steps').insert({
    tenant_id: ctx.tenantId,
    id: newId(),
    placement_id: row.id,
    transition: verdict.transition,
    from_state: row.workflow_state,
    to_state: verdict.to,
    evidence: JSON.stringify(body.evidence ?? []),
    conditions: verdict.conditions === null ? null : JSON.stringify(verdict.conditions),
    notes: body.notes ?? null,
    taken_by: actorUserId(ctx.principal),
  });
  const [after] = (await ctx.trx('placements')
    .where({ tenant_id: ctx.tenantId, id: row.id })
    .update({ status, workflow_state: verdict.to, version: row.version + 1, updated_at: ctx.trx.fn.now(), ...(starting ? { started_at: ctx.trx.fn.now() } : {}) })
    .returning('*')) as PlacementRow[];
  if (starting) await recordStarted(ctx, after!);
  return after!;
}
