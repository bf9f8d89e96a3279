import type { PartialModelObject } from 'objection';
import { daysBetween } from '../../dates';
import { patchVersioned } from '../../db/versioned';
import { actorId, type OperationResult, type TenantContext, type TenantScope } from '../../http/operation';
import { created, ok } from '../../http/results';
import { Problem, type FieldError } from '../../http/problem';
import { newId } from '../../ids';
import {
  availableTransitions,
  type Transition,
  type TransitionVerdict,
  type WorkflowSubject,
} from '../../packs/workflows';
import type { WorkflowDefinition } from '../../packs/types';
import { iso } from '../../time';
import { lookupCodeErrors } from '../lookups/service';
import { recordCaseEvent } from '../tasks/events';
import { complianceOf, EVIDENCE_SUBJECTS } from './compliance';
import { approvedOn } from './forMatching';
import { insertDecision } from './evidence';
import { CarerApprovalStep, CarerApprovalTerms, CarerCheck, CarerDecision, CarerHousehold } from './models';
import { Document } from '../documents/models';
import { configFor, decisionToApi, findHousehold, hasLookupList } from './shared';
import type { CarerConfig } from './tenantConfig';

/** The decision key a fostering panel's recommendation is recorded under (the core's panel feature writes it). */
export const PANEL_RECOMMENDATION = 'panel_recommendation';

const stepToApi = (r: CarerApprovalStep) => ({
  id: r.id,
  transition: r.transition,
  from: r.fromState,
  to: r.toState,
  occurredOn: r.occurredOn,
  note: r.note,
  decisionId: r.decisionId,
  actorId: r.actorId,
  createdAt: iso(r.createdAt),
});
const termsToApi = (r: CarerApprovalTerms) => ({
  id: r.id,
  effectiveFrom: r.effectiveFrom,
  maxChildren: r.maxChildren,
  ageMin: r.ageMin,
  ageMax: r.ageMax,
  placementKinds: r.placementKinds,
  carerLevel: r.carerLevel,
  notes: r.notes,
  decisionId: r.decisionId,
});

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
export async function subjectOf(
  ctx: TenantScope,
  about: { household: CarerHousehold; config: CarerConfig; asOf: string },
): Promise<WorkflowSubject> {
  const { household, config, asOf } = about;
  const t = ctx.tenantId;
  const workflow = config.workflow;
  const compliance = (
    await complianceOf(ctx, { householdIds: [household.id], requiredCheckTypes: config.requiredCheckTypes, asOf })
  ).get(household.id)!;
  // form_submissions belongs to the configuration module, which has no model for it yet.
  const forms = (await ctx
    .trx('form_submissions')
    .where({ tenant_id: t, subject_type: 'carer_household', subject_id: household.id })
    .orderBy([{ column: 'submitted_at' }, { column: 'id' }])
    .select('form_key', 'data')) as Array<{ form_key: string; data: Record<string, unknown> }>;
  // The household's evidence documents, kept against it, a member or a check: received is received,
  // whoever may see the file, and whether or not retention has since destroyed it.
  const documents = (
    await Document.query(ctx.trx)
      .where({ tenant_id: t, household_id: household.id })
      .whereIn('subject_type', EVIDENCE_SUBJECTS)
      .whereNotNull('evidence_key')
      .where('received_on', '<=', asOf)
      .orderBy([{ column: 'received_on' }, { column: 'id' }])
      .select('evidence_key', 'received_on')
  ).map((d) => ({ key: d.evidenceKey!, receivedOn: d.receivedOn! }));
  const decisions = await CarerDecision.query(ctx.trx)
    .where({ tenant_id: t, household_id: household.id })
    .orderBy([{ column: 'created_at' }, { column: 'id' }])
    .select('key', 'decided_on', 'facts', 'created_at');
  // When the household was first approved: a panel recommendation recorded after it is a review's.
  const approvalStep = household.approvedState
    ? await CarerApprovalStep.query(ctx.trx)
        .where({ tenant_id: t, household_id: household.id, to_state: household.approvedState })
        .orderBy([{ column: 'created_at' }, { column: 'id' }])
        .select('created_at')
        .first()
    : undefined;
  const checks = await CarerCheck.query(ctx.trx)
    .where({ tenant_id: t, household_id: household.id })
    .whereIn('status', ['received', 'satisfactory'])
    .orderBy([{ column: 'updated_at' }, { column: 'id' }])
    .select('facts');

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
  const awaited = new Set(
    (workflow?.transitions ?? [])
      .filter((x) => x.from.includes(household.approvalState))
      .flatMap((x) => (x.evidence ?? []).filter((e) => e.kind === 'document').map((e) => e.key)),
  );
  const lastNotice = documents.filter((d) => awaited.has(d.key)).pop();
  Object.assign(facts, {
    missingChecks: compliance.issues.length,
    checksPending: compliance.checksPending,
    checksDisqualifying: compliance.checksDisqualifying,
    trainingHours: compliance.trainingHours,
    annualTrainingHours: compliance.annualTrainingHours,
    panelRecommendationRecorded: decisions.some(
      (d) =>
        d.key === PANEL_RECOMMENDATION && (!approvalStep || new Date(d.createdAt) > new Date(approvalStep.createdAt)),
    ),
    daysSinceNoticeReceived: lastNotice ? daysBetween(lastNotice.receivedOn, asOf) : null,
  });
  return { state: household.approvalState, evidence, facts };
}

function workflowOf(household: CarerHousehold, config: CarerConfig): WorkflowDefinition {
  const workflow = config.workflow;
  if (!workflow || workflow.key !== household.workflowKey) {
    throw new Problem(
      'conflict',
      `The household is on the workflow "${household.workflowKey}", which the tenant's configuration no longer has`,
    );
  }
  if (!workflow.states.some((s) => s.key === household.approvalState)) {
    throw new Problem(
      'conflict',
      `The household's state "${household.approvalState}" is not a state of the workflow "${workflow.key}"`,
    );
  }
  return workflow;
}

/** The household's approval as the API shows it: where it is, how it got there, the terms, and the steps open to the caller. */
async function approvalView(ctx: TenantScope, household: CarerHousehold, config: CarerConfig) {
  const t = ctx.tenantId;
  const workflow = workflowOf(household, config);
  const subject = await subjectOf(ctx, { household, config, asOf: config.today });
  const verdicts = await availableTransitions(workflow, subject, ctx.principal.permissions);
  const steps = await CarerApprovalStep.query(ctx.trx)
    .where({ tenant_id: t, household_id: household.id })
    .orderBy([{ column: 'created_at' }, { column: 'id' }]);
  const terms = await CarerApprovalTerms.query(ctx.trx)
    .where({ tenant_id: t, household_id: household.id })
    .orderBy([{ column: 'effective_from' }, { column: 'created_at' }, { column: 'id' }]);
  const state = workflow.states.find((s) => s.key === household.approvalState)!;
  const current = [...terms].reverse().find((r) => r.effectiveFrom <= config.today) ?? null;
  const approved = !state.terminal && approvedOn(household, config.today);
  return {
    householdId: household.id,
    workflowKey: workflow.key,
    workflowName: workflow.name,
    state: state.key,
    stateName: state.name,
    terminal: Boolean(state.terminal),
    approved,
    approvedOn: household.approvedOn,
    approvalEndedOn: household.approvalEndedOn,
    terms: approved && current ? termsToApi(current) : null,
    termsHistory: terms.map(termsToApi),
    history: steps.map(stepToApi),
    available: verdicts.map((v) => ({
      transition: v.transition,
      name: workflow.transitions.find((x) => x.key === v.transition)?.name ?? null,
      to: v.to,
      allowed: v.allowed,
      blockers: v.blockers,
    })),
    evidence: subject.evidence,
    facts: subject.facts ?? {},
  };
}

export async function getCarerApproval(ctx: TenantContext<'getCarerApproval'>): Promise<OperationResult> {
  const household = await findHousehold(ctx, ctx.params.householdId);
  return ok(await approvalView(ctx, household, await configFor(ctx)));
}

type TransitionInput = TenantContext<'takeCarerApprovalTransition'>['body'];
type Meaning = 'approval' | 'review' | 'ending' | null;

/** What a step means for the approval: the first approval, a review held, or the end of an approval. */
function stepMeaning(
  workflow: WorkflowDefinition,
  transition: Transition,
  household: CarerHousehold,
  visited: Set<string>,
): Meaning {
  const target = workflow.states.find((s) => s.key === transition.to)!;
  const approvedNow = household.approvedOn !== null && household.approvalEndedOn === null;
  if (approvedNow && target.terminal) return 'ending';
  if (approvedNow && transition.to === household.approvedState && household.approvalState !== household.approvedState)
    return 'review';
  // The decision step: under carers:approve, into a state the household has never been in, that is not an end.
  if (!approvedNow && !target.terminal && transition.permission === 'carers:approve' && !visited.has(transition.to))
    return 'approval';
  return null;
}

/** Rules for a step's date and its decision the schema cannot say, each naming its field. */
async function stepErrors(
  ctx: TenantScope,
  step: {
    input: TransitionInput;
    transition: Transition;
    meaning: Meaning;
    occurredOn: string;
    lastOn: string | undefined;
    today: string;
  },
): Promise<FieldError[]> {
  const { input, transition, meaning, occurredOn, lastOn, today } = step;
  const errors: FieldError[] = [];
  if (occurredOn > today) errors.push({ pointer: '/body/occurredOn', message: 'is in the future' });
  if (lastOn && occurredOn < lastOn)
    errors.push({ pointer: '/body/occurredOn', message: `is before the previous step (${lastOn})` });
  const decision = input.decision;
  if (decision) {
    const named = (transition.evidence ?? []).filter((e) => e.kind === 'decision').map((e) => e.key);
    if (!named.includes(decision.key)) {
      const message = named.length
        ? `is not a decision the step "${transition.key}" names (${named.join(', ')})`
        : `the step "${transition.key}" names no decision`;
      errors.push({ pointer: '/body/decision/key', message });
    }
    if (decision.decidedOn && decision.decidedOn > today)
      errors.push({ pointer: '/body/decision/decidedOn', message: 'is in the future' });
    if (decision.terms && meaning !== 'approval' && meaning !== 'review') {
      errors.push({
        pointer: '/body/decision/terms',
        message: 'terms of approval are set by the approval decision or a review',
      });
    }
    if (decision.terms && decision.terms.ageMax < decision.terms.ageMin)
      errors.push({ pointer: '/body/decision/terms/ageMax', message: 'is below ageMin' });
    if (decision.carerLevel && !decision.terms)
      errors.push({ pointer: '/body/decision/carerLevel', message: 'goes with the terms of approval' });
    if (decision.carerLevel && (await hasLookupList(ctx, 'carer_level'))) {
      const check = { list: 'carer_level', code: decision.carerLevel, pointer: '/body/decision/carerLevel' };
      errors.push(...(await lookupCodeErrors(ctx.trx, ctx.tenantId, [check])));
    }
  }
  if (meaning === 'approval' && !decision?.terms) {
    const message = `the step "${transition.key}" approves the household: send the decision with its terms of approval`;
    errors.push({ pointer: '/body/decision/terms', message });
  }
  return errors;
}

export async function takeCarerApprovalTransition(
  ctx: TenantContext<'takeCarerApprovalTransition'>,
): Promise<OperationResult> {
  const input = ctx.body;
  const household = await findHousehold(ctx, ctx.params.householdId, { lock: true });
  const config = await configFor(ctx);
  const workflow = workflowOf(household, config);
  const t = ctx.tenantId;
  const transition = workflow.transitions.find(
    (x) => x.key === input.transition && x.from.includes(household.approvalState),
  );
  if (!transition) {
    if (!workflow.transitions.some((x) => x.key === input.transition)) {
      throw Problem.unprocessable([
        { pointer: '/body/transition', message: `is not a step of the workflow "${workflow.key}"` },
      ]);
    }
    throw new Problem(
      'conflict',
      `The step "${input.transition}" is not offered from the state "${household.approvalState}"`,
    );
  }
  if (!ctx.principal.permissions.has(transition.permission as never)) {
    const blockers = [{ kind: 'permission', detail: `needs the permission ${transition.permission}` }];
    throw new Problem('forbidden', `The step "${transition.key}" needs the permission ${transition.permission}`, {
      blockers,
    });
  }
  const steps = await CarerApprovalStep.query(ctx.trx)
    .where({ tenant_id: t, household_id: household.id })
    .select('from_state', 'to_state', 'occurred_on');
  const visited = new Set([workflow.initial, ...steps.flatMap((s) => [s.fromState, s.toState])]);
  const occurredOn = input.occurredOn ?? config.today;
  const lastOn = steps
    .map((s) => s.occurredOn)
    .sort()
    .pop();
  const meaning = stepMeaning(workflow, transition, household, visited);
  const decision = input.decision;
  const errors = await stepErrors(ctx, { input, transition, meaning, occurredOn, lastOn, today: config.today });
  if (errors.length) throw Problem.unprocessable(errors);

  // The step's own decision counts as its evidence; if the step is refused, it is rolled back with it.
  const decisionRow = decision
    ? await insertDecision(ctx, {
        householdId: household.id,
        decision: { ...decision, decidedOn: decision.decidedOn ?? occurredOn },
        details: {
          ...(decision.terms ? { terms: decision.terms } : {}),
          ...(decision.carerLevel ? { carerLevel: decision.carerLevel } : {}),
          transition: transition.key,
        },
      })
    : null;
  const subject = await subjectOf(ctx, { household, config, asOf: occurredOn });
  const verdict: TransitionVerdict = (await availableTransitions(workflow, subject, ctx.principal.permissions)).find(
    (v) => v.transition === transition.key,
  )!;
  if (!verdict.allowed) {
    const why = verdict.blockers.map((b) => b.detail).join('; ');
    throw new Problem('conflict', `The step "${transition.key}" is blocked: ${why}`, { blockers: verdict.blockers });
  }

  const stepId = newId();
  await CarerApprovalStep.query(ctx.trx).insert({
    tenantId: t,
    id: stepId,
    householdId: household.id,
    workflowKey: workflow.key,
    transition: transition.key,
    fromState: household.approvalState,
    toState: transition.to,
    occurredOn,
    note: input.note ?? null,
    decisionId: decisionRow?.id ?? null,
    evidence: subject.evidence,
    facts: subject.facts ?? {},
    conditions: verdict.conditions,
    actorId: actorId(ctx),
  });
  const decidedOn = decisionRow?.decidedOn ?? occurredOn;
  const changes: PartialModelObject<CarerHousehold> = { approvalState: transition.to };
  if (meaning === 'approval')
    Object.assign(changes, { approvedOn: decidedOn, approvedState: transition.to, approvalEndedOn: null });
  if (meaning === 'ending') changes.approvalEndedOn = occurredOn;
  if (decision?.carerLevel) changes.carerLevel = decision.carerLevel;
  const after = await patchVersioned(ctx.trx, CarerHousehold, household, changes);
  if (decision?.terms) {
    await CarerApprovalTerms.query(ctx.trx).insert({
      tenantId: t,
      id: newId(),
      householdId: household.id,
      effectiveFrom: decidedOn,
      maxChildren: decision.terms.maxChildren,
      ageMin: decision.terms.ageMin,
      ageMax: decision.terms.ageMax,
      placementKinds: decision.terms.placementKinds,
      carerLevel: decision.carerLevel ?? household.carerLevel,
      notes: decision.terms.notes ?? null,
      decisionId: decisionRow!.id,
      stepId,
    });
  }
  const source = { type: 'carer_approval_step', id: stepId };
  const facts = { transition: transition.key };
  if (meaning === 'approval')
    await recordCaseEvent(ctx, {
      name: 'carer.approved',
      subjectId: household.id,
      occurredOn: decidedOn,
      source,
      facts,
    });
  if (meaning === 'review')
    await recordCaseEvent(ctx, { name: 'carer.review_held', subjectId: household.id, occurredOn, source, facts });
  if (meaning === 'ending') {
    await recordCaseEvent(ctx, {
      name: 'carer.approval_ended',
      subjectId: household.id,
      occurredOn,
      source,
      facts: { ...facts, state: transition.to },
    });
  }

  const body = await approvalView(ctx, after, config);
  await ctx.audit({
    action: 'carer_household.approval_step',
    entityType: 'carer_household',
    entityId: household.id,
    before: {
      approvalState: household.approvalState,
      approvedOn: household.approvedOn,
      approvalEndedOn: household.approvalEndedOn,
    },
    after: {
      approvalState: after.approvalState,
      approvedOn: after.approvedOn,
      approvalEndedOn: after.approvalEndedOn,
      step: { id: stepId, transition: transition.key, occurredOn, note: input.note ?? null, meaning },
      decision: decisionRow ? decisionToApi(decisionRow) : null,
    },
  });
  // The contract declares no headers for this answer: it is the approval as it now stands, not the step.
  return created(body);
}
