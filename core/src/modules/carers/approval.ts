import { daysBetween } from '../../dates';
import type { OperationContext, OperationResult } from '../../http/operation';
import { Problem, type FieldError } from '../../http/problem';
import { newId } from '../../ids';
import { availableTransitions, type Transition, type TransitionVerdict, type WorkflowSubject } from '../../packs/workflows';
import type { WorkflowDefinition } from '../../packs/types';
import { iso } from '../../time';
import { lookupCodeErrors } from '../lookups/service';
import { recordCaseEvent } from '../tasks/events';
import { complianceOf } from './compliance';
import { approvedOn } from './forMatching';
import { insertDecision, type DecisionInput } from './evidence';
import { actorId, configFor, decisionToApi, findHousehold, hasLookupList, type HouseholdRow } from './shared';
import type { CarerConfig } from './tenantConfig';

/** The decision key a fostering panel's recommendation is recorded under (the core's panel feature writes it). */
export const PANEL_RECOMMENDATION = 'panel_recommendation';

interface StepRow { id: string; transition: string; from_state: string; to_state: string; occurred_on: string; note: string | null; decision_id: string | null; actor_id: string | null; created_at: Date }
interface TermsRow { id: string; effective_from: string; max_children: number; age_min: number; age_max: number; placement_kinds: string[]; carer_level: string | null; notes: string | null; decision_id: string | null; created_at: Date }
interface TermsInput { maxChildren: number; ageMin: number; ageMax: number; placementKinds: string[]; notes?: string }

const stepToApi = (r: StepRow) => ({ id: r.id, transition: r.transition, from: r.from_state, to: r.to_state, occurredOn: r.occurred_on, note: r.note, decisionId: r.decision_id, actorId: r.actor_id, createdAt: iso(r.created_at) });
const termsToApi = (r: TermsRow) => ({ id: r.id, effectiveFrom: r.effective_from, maxChildren: r.max_children, ageMin: r.age_min, ageMax: r.age_max, placementKinds: r.placement_kinds, carerLevel: r.carer_level, notes: r.notes, decisionId: r.decision_id });

const isScalar = (v: unknown) => v === null || ['string', 'number', 'boolean'].includes(typeof v);

/**
 * What the household shows the workflow judge, on `asOf`:
 * evidence — `form` a submission of that key for the household; `check` that type satisfactory and
 * unexpired for every adult member; `document` a received document of that key; `decision` a recorded
 * decision of that key. Facts — recorded ones first (top-level scalar fields of the latest submission
 * of each form, the `facts` of checks and of decisions, later records winning), then the computed ones:
 * missingChecks, checksPending, checksDisqualifying, trainingHours, annualTrainingHours,
 * panelRecommendationRecorded, daysSinceNoticeReceived (days since the latest document of a key that
 * a step from the current state names, e.g. a resignation notice).
 */
export async function subjectOf(ctx: OperationContext, household: HouseholdRow, config: CarerConfig, asOf: string): Promise<WorkflowSubject> {
  const t = ctx.tenantId!;
  const workflow = config.workflow;
  const compliance = (await complianceOf(ctx.trx, t, [household.id], config.requiredCheckTypes, asOf)).get(household.id)!;
  const forms = (await ctx.trx('form_submissions').where({ tenant_id: t, subject_type: 'carer_household', subject_id: household.id }).orderBy([{ column: 'submitted_at' }, { column: 'id' }]).select('form_key', 'data')) as Array<{ form_key: string; data: Record<string, unknown> }>;
  const documents = (await ctx.trx('carer_evidence_documents').where({ tenant_id: t, household_id: household.id }).where('received_on', '<=', asOf).orderBy([{ column: 'received_on' }, { column: 'id' }]).select('key', 'received_on')) as Array<{ key: string; received_on: string }>;
  const decisions = (await ctx.trx('carer_decisions').where({ tenant_id: t, household_id: household.id }).orderBy([{ column: 'created_at' }, { column: 'id' }]).select('key', 'decided_on', 'facts', 'created_at')) as Array<{ key: string; decided_on: string; facts: Record<string, unknown>; created_at: Date }>;
  // When the household was first approved: a panel recommendation recorded after it is a review's.
  const approvalStep = household.approved_state
    ? ((await ctx.trx('carer_approval_steps').where({ tenant_id: t, household_id: household.id, to_state: household.approved_state }).orderBy([{ column: 'created_at' }, { column: 'id' }]).first('created_at')) as { created_at: Date } | undefined)
    : undefined;
  const checks = (await ctx.trx('carer_checks').where({ tenant_id: t, household_id: household.id }).whereIn('status', ['received', 'satisfactory']).orderBy([{ column: 'updated_at' }, { column: 'id' }]).select('facts')) as Array<{ facts: Record<string, unknown> }>;

  const evidence: WorkflowSubject['evidence'] = [];
  const seen = new Set<string>();
  const add = (kind: WorkflowSubject['evidence'][number]['kind'], key: string) => {
    if (seen.has(`${kind}:${key}`)) return;
    seen.add(`${kind}:${key}`);
    evidence.push({ kind, key });
  };
  for (const f of forms) add('form', f.form_key);
  for (const c of compliance.satisfiedCheckTypes) add('check', c);
  for (const d of documents) add('document', d.key);
  for (const d of decisions) add('decision', d.key);

  const facts: Record<string, unknown> = {};
  for (const f of forms) for (const [k, v] of Object.entries(f.data ?? {})) if (isScalar(v)) facts[k] = v;
  for (const c of checks) Object.assign(facts, c.facts ?? {});
  for (const d of decisions) Object.assign(facts, d.facts ?? {});
  // The notice the steps from here wait on: the latest document of a key those steps name.
  const awaited = new Set((workflow?.transitions ?? []).filter((x) => x.from.includes(household.approval_state)).flatMap((x) => (x.evidence ?? []).filter((e) => e.kind === 'document').map((e) => e.key)));
  const lastNotice = documents.filter((d) => awaited.has(d.key)).pop();
  Object.assign(facts, {
    missingChecks: compliance.issues.length,
    checksPending: compliance.checksPending,
    checksDisqualifying: compliance.checksDisqualifying,
    trainingHours: compliance.trainingHours,
    annualTrainingHours: compliance.annualTrainingHours,
    panelRecommendationRecorded: decisions.some((d) => d.key === PANEL_RECOMMENDATION && (!approvalStep || new Date(d.created_at) > new Date(approvalStep.created_at))),
    daysSinceNoticeReceived: lastNotice ? daysBetween(lastNotice.received_on, asOf) : null,
  });
  return { state: household.approval_state, evidence, facts };
}

function workflowOf(household: HouseholdRow, config: CarerConfig): WorkflowDefinition {
  const workflow = config.workflow;
  if (!workflow || workflow.key !== household.workflow_key) throw new Problem('conflict', `The household is on the workflow "${household.workflow_key}", which the tenant's configuration no longer has`);
  if (!workflow.states.some((s) => s.key === household.approval_state)) throw new Problem('conflict', `The household's state "${household.approval_state}" is not a state of the workflow "${workflow.key}"`);
  return workflow;
}

async function approvalView(ctx: OperationContext, household: HouseholdRow, config: CarerConfig) {
  const t = ctx.tenantId!;
  const workflow = workflowOf(household, config);
  const subject = await subjectOf(ctx, household, config, config.today);
  const verdicts = await availableTransitions(workflow, subject, ctx.principal!.permissions);
  const steps = (await ctx.trx('carer_approval_steps').where({ tenant_id: t, household_id: household.id }).orderBy([{ column: 'created_at' }, { column: 'id' }])) as StepRow[];
  const terms = (await ctx.trx('carer_approval_terms').where({ tenant_id: t, household_id: household.id }).orderBy([{ column: 'effective_from' }, { column: 'created_at' }, { column: 'id' }])) as TermsRow[];
  const state = workflow.states.find((s) => s.key === household.approval_state)!;
  const current = [...terms].reverse().find((r) => r.effective_from <= config.today) ?? null;
  const approved = !state.terminal && approvedOn(household, config.today);
  return {
    householdId: household.id, workflowKey: workflow.key, workflowName: workflow.name, state: state.key, stateName: state.name, terminal: Boolean(state.terminal),
    approved, approvedOn: household.approved_on, approvalEndedOn: household.approval_ended_on,
    terms: approved && current ? termsToApi(current) : null, termsHistory: terms.map(termsToApi), history: steps.map(stepToApi),
    available: verdicts.map((v) => ({ transition: v.transition, name: workflow.transitions.find((x) => x.key === v.transition)?.name ?? null, to: v.to, allowed: v.allowed, blockers: v.blockers })),
    evidence: subject.evidence, facts: subject.facts ?? {},
  };
}

export async function getCarerApproval(ctx: OperationContext): Promise<OperationResult> {
  const household = await findHousehold(ctx);
  return { status: 200, body: await approvalView(ctx, household, await configFor(ctx)) };
}

interface TransitionInput {
  transition: string; note?: string; occurredOn?: string;
  decision?: DecisionInput & { terms?: TermsInput; carerLevel?: string };
}

/** What a step means for the approval: the first approval, a review held, or the end of an approval. */
function stepMeaning(workflow: WorkflowDefinition, transition: Transition, household: HouseholdRow, visited: Set<string>): 'approval' | 'review' | 'ending' | null {
  const target = workflow.states.find((s) => s.key === transition.to)!;
  const approvedNow = household.approved_on !== null && household.approval_ended_on === null;
  if (approvedNow && target.terminal) return 'ending';
  if (approvedNow && transition.to === household.approved_state && household.approval_state !== household.approved_state) return 'review';
  // The decision step: under carers:approve, into a state the household has never been in, that is not an end.
  if (!approvedNow && !target.terminal && transition.permission === 'carers:approve' && !visited.has(transition.to)) return 'approval';
  return null;
}

export async function takeCarerApprovalTransition(ctx: OperationContext): Promise<OperationResult> {
  const input = ctx.body as TransitionInput;
  const household = await findHousehold(ctx, { lock: true });
  const config = await configFor(ctx);
  const workflow = workflowOf(household, config);
  const t = ctx.tenantId!;
  const transition = workflow.transitions.find((x) => x.key === input.transition && x.from.includes(household.approval_state));
  if (!transition) {
    if (!workflow.transitions.some((x) => x.key === input.transition)) throw Problem.unprocessable([{ pointer: '/body/transition', message: `is not a step of the workflow "${workflow.key}"` }]);
    throw new Problem('conflict', `The step "${input.transition}" is not offered from the state "${household.approval_state}"`);
  }
  if (!ctx.principal!.permissions.has(transition.permission as never)) {
    throw new Problem('forbidden', `The step "${transition.key}" needs the permission ${transition.permission}`, { blockers: [{ kind: 'permission', detail: `needs the permission ${transition.permission}` }] });
  }
  const steps = (await ctx.trx('carer_approval_steps').where({ tenant_id: t, household_id: household.id }).select('from_state', 'to_state', 'occurred_on')) as Array<{ from_state: string; to_state: string; occurred_on: string }>;
  const visited = new Set([workflow.initial, ...steps.flatMap((s) => [s.from_state, s.to_state])]);
  const occurredOn = input.occurredOn ?? config.today;
  const errors: FieldError[] = [];
  if (occurredOn > config.today) errors.push({ pointer: '/body/occurredOn', message: 'is in the future' });
  const lastOn = steps.map((s) => s.occurred_on).sort().pop();
  if (lastOn && occurredOn < lastOn) errors.push({ pointer: '/body/occurredOn', message: `is before the previous step (${lastOn})` });
  const meaning = stepMeaning(workflow, transition, household, visited);
  const decision = input.decision;
  if (decision) {
    const named = (transition.evidence ?? []).filter((e) => e.kind === 'decision').map((e) => e.key);
    if (!named.includes(decision.key)) errors.push({ pointer: '/body/decision/key', message: named.length ? `is not a decision the step "${transition.key}" names (${named.join(', ')})` : `the step "${transition.key}" names no decision` });
    if (decision.decidedOn && decision.decidedOn > config.today) errors.push({ pointer: '/body/decision/decidedOn', message: 'is in the future' });
    if (decision.terms && meaning !== 'approval' && meaning !== 'review') errors.push({ pointer: '/body/decision/terms', message: 'terms of approval are set by the approval decision or a review' });
    if (decision.terms && decision.terms.ageMax < decision.terms.ageMin) errors.push({ pointer: '/body/decision/terms/ageMax', message: 'is below ageMin' });
    if (decision.carerLevel && !decision.terms) errors.push({ pointer: '/body/decision/carerLevel', message: 'goes with the terms of approval' });
    if (decision.carerLevel && (await hasLookupList(ctx, 'carer_level'))) errors.push(...(await lookupCodeErrors(ctx.trx, t, [{ list: 'carer_level', code: decision.carerLevel, pointer: '/body/decision/carerLevel' }])));
  }
  if (meaning === 'approval' && !decision?.terms) errors.push({ pointer: '/body/decision/terms', message: `the step "${transition.key}" approves the household: send the decision with its terms of approval` });
  if (errors.length) throw Problem.unprocessable(errors);

  // The step's own decision counts as its evidence; if the step is refused, it is rolled back with it.
  const decisionRow = decision ? await insertDecision(ctx, household.id, { ...decision, decidedOn: decision.decidedOn ?? occurredOn }, { details: { ...(decision.terms ? { terms: decision.terms } : {}), ...(decision.carerLevel ? { carerLevel: decision.carerLevel } : {}), transition: transition.key } }) : null;
  const subject = await subjectOf(ctx, household, config, occurredOn);
  const verdict: TransitionVerdict = (await availableTransitions(workflow, subject, ctx.principal!.permissions)).find((v) => v.transition === transition.key)!;
  if (!verdict.allowed) {
    throw new Problem('conflict', `The step "${transition.key}" is blocked: ${verdict.blockers.map((b) => b.detail).join('; ')}`, { blockers: verdict.blockers });
  }

  const stepId = newId();
  await ctx.trx('carer_approval_steps').insert({
    tenant_id: t, id: stepId, household_id: household.id, workflow_key: workflow.key, transition: transition.key, from_state: household.approval_state, to_state: transition.to,
    occurred_on: occurredOn, note: input.note ?? null, decision_id: decisionRow?.id ?? null, evidence: JSON.stringify(subject.evidence), facts: JSON.stringify(subject.facts ?? {}),
    conditions: verdict.conditions === null ? null : JSON.stringify(verdict.conditions), actor_id: actorId(ctx),
  });
  const decidedOn = decisionRow?.decided_on ?? occurredOn;
  const changes: Record<string, unknown> = { approval_state: transition.to, version: household.version + 1, updated_at: ctx.trx.fn.now() };
  if (meaning === 'approval') Object.assign(changes, { approved_on: decidedOn, approved_state: transition.to, approval_ended_on: null });
  if (meaning === 'ending') changes.approval_ended_on = occurredOn;
  if (decision?.carerLevel) changes.carer_level = decision.carerLevel;
  await ctx.trx('carer_households').where({ tenant_id: t, id: household.id }).update(changes);
  if (decision?.terms) {
    await ctx.trx('carer_approval_terms').insert({
      tenant_id: t, id: newId(), household_id: household.id, effective_from: decidedOn, max_children: decision.terms.maxChildren, age_min: decision.terms.ageMin, age_max: decision.terms.ageMax,
      placement_kinds: decision.terms.placementKinds, carer_level: decision.carerLevel ?? household.carer_level, notes: decision.terms.notes ?? null, decision_id: decisionRow!.id, step_id: stepId,
    });
  }
  const source = { type: 'carer_approval_step', id: stepId };
  if (meaning === 'approval') await recordCaseEvent(ctx, { name: 'carer.approved', subjectId: household.id, occurredOn: decidedOn, source, facts: { transition: transition.key } });
  if (meaning === 'review') await recordCaseEvent(ctx, { name: 'carer.review_held', subjectId: household.id, occurredOn, source, facts: { transition: transition.key } });
  if (meaning === 'ending') await recordCaseEvent(ctx, { name: 'carer.approval_ended', subjectId: household.id, occurredOn, source, facts: { transition: transition.key, state: transition.to } });

  const after = await findHousehold(ctx);
  const body = await approvalView(ctx, after, config);
  await ctx.audit({
    action: 'carer_household.approval_step', entityType: 'carer_household', entityId: household.id,
    before: { approvalState: household.approval_state, approvedOn: household.approved_on, approvalEndedOn: household.approval_ended_on },
    after: { approvalState: after.approval_state, approvedOn: after.approved_on, approvalEndedOn: after.approval_ended_on, step: { id: stepId, transition: transition.key, occurredOn, note: input.note ?? null, meaning }, decision: decisionRow ? decisionToApi(decisionRow) : null },
  });
  return { status: 201, body };
}
