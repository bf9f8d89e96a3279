import { patchVersioned } from '../../db/versioned';
import type { BodyOf, TenantScope } from '../../http/operation';
import { Problem, type FieldError } from '../../http/problem';
import { findChild } from '../children/visibility';
import { takeStep } from './approval';
import { MatchingRequest, Placement } from './models';
import {
  assertRoom,
  checkStay,
  endRunningPlacement,
  findPlacement,
  insertPlacement,
  placementTypeErrors,
  recordStarted,
  requiredPlacementTypeErrors,
} from './service';
import { placementSettings } from './settings';
import { agreementFormKeys, tenantPlacementWorkflow } from './workflow';

/** A placement's life: placing a child, changing and ending a placement, moving a child to the next, respite stays of it, its agreement. */

/**
 * What placing a child takes: the contract's, except that a move passes the type of the placement it
 * follows, which one made before the type was required may lack.
 */
export type PlacementInput = Omit<BodyOf<'createPlacement'>, 'placementType'> & { placementType: string | null };

export type MoveInput = BodyOf<'movePlacement'>;

function requireStartPermission(ctx: TenantScope, why: string): void {
  if (!ctx.principal.permissions.has('placements:start')) throw new Problem('forbidden', why);
}

/** A new main placement for a child: checked, placed, started at once or proposed into the approval workflow. */
export async function placeChild(
  ctx: TenantScope,
  childId: string,
  input: PlacementInput,
  pointer: (field: string) => string,
): Promise<Placement> {
  const child = await findChild(ctx, childId);
  const settings = await placementSettings(ctx);
  const workflow = settings.approvalRequired ? await tenantPlacementWorkflow(ctx) : null;
  if (!workflow) {
    requireStartPermission(
      ctx,
      'The tenant does not require placement approval, so this starts the placement: it needs the permission placements:start',
    );
  }
  const errors: FieldError[] = await requiredPlacementTypeErrors(
    ctx,
    input.placementType,
    pointer('placementType'),
    'the placement it follows has none',
  );
  if (input.plannedEndDate && input.plannedEndDate <= input.startDate) {
    errors.push({ pointer: pointer('plannedEndDate'), message: 'is not after the start date' });
  }
  if (input.kind === 'respite') {
    errors.push({
      pointer: pointer('kind'),
      message: 'respite stays are made from the main placement (POST /v1/placements/{placementId}/respite)',
    });
  }
  if (input.matchingRequestId) {
    const request = await MatchingRequest.query(ctx.trx)
      .where({ tenant_id: ctx.tenantId, id: input.matchingRequestId })
      .select('child_id', 'sibling_ids')
      .first();
    if (!request || (request.childId !== childId && !(request.siblingIds ?? []).includes(childId))) {
      errors.push({ pointer: pointer('matchingRequestId'), message: 'is not a matching request for this child' });
    }
  }
  if (errors.length) throw Problem.unprocessable(errors);
  const pointers = { household: pointer('householdId'), start: pointer('startDate'), kind: pointer('kind') };
  const stay = {
    childId,
    householdId: input.householdId,
    kind: input.kind,
    startDate: input.startDate,
    until: null,
    main: !workflow,
    exclude: [],
    pointers,
  };
  const fit = await checkStay(ctx, child, stay);
  assertRoom(fit, pointer('householdId'));
  const placement = await insertPlacement(ctx, {
    childId,
    householdId: input.householdId,
    kind: input.kind,
    placementType: input.placementType,
    startDate: input.startDate,
    plannedEndDate: input.plannedEndDate ?? null,
    longTerm: input.longTerm ?? input.kind === 'long_term',
    matchingRequestId: input.matchingRequestId ?? null,
    respiteOf: null,
    status: workflow ? 'proposed' : 'active',
    workflowKey: workflow?.definition.key ?? null,
    workflowState: workflow?.definition.initial ?? null,
  });
  if (placement.status === 'active') await recordStarted(ctx, placement);
  if (input.matchingRequestId) {
    await MatchingRequest.query(ctx.trx)
      .where({ tenant_id: ctx.tenantId, id: input.matchingRequestId, status: 'open' })
      .patch({ status: 'matched', version: ctx.trx.raw('version + 1'), updatedAt: ctx.trx.fn.now() });
  }
  return placement;
}

/** Ending judged by the placement's workflow, where it has one: the end step's permission and conditions; the request itself is its end decision. */
export async function endStateFor(ctx: TenantScope, row: Placement): Promise<string | null> {
  if (!row.workflowKey) return null;
  const workflow = await tenantPlacementWorkflow(ctx, row.workflowKey);
  if (!workflow) return null;
  if (!ctx.principal.permissions.has(workflow.endTransition.permission as never)) {
    throw new Problem('forbidden', `Ending needs the permission ${workflow.endTransition.permission}`);
  }
  return workflow.endedState;
}

/** Where a move goes: exactly one next placement, an approved proposal to start or a new one in a household. */
function moveTarget(current: Placement, move: MoveInput): { proposalId: string } | { householdId: string } {
  if (current.respiteOf) throw new Problem('conflict', 'A respite stay is not moved; end it');
  if (move.toPlacementId && move.householdId) {
    throw Problem.unprocessable([
      { pointer: '/body/householdId', message: 'give either toPlacementId or householdId, not both' },
    ]);
  }
  if (move.toPlacementId) return { proposalId: move.toPlacementId };
  if (move.householdId) return { householdId: move.householdId };
  throw Problem.unprocessable([
    { pointer: '/body/householdId', message: 'is required (or toPlacementId, an approved proposal to start)' },
  ]);
}

/** The current placement ends on the move date, for the move's reasons (a planned one unless told otherwise). */
async function endForMove(ctx: TenantScope, current: Placement, move: MoveInput): Promise<Placement> {
  const endedState = await endStateFor(ctx, current);
  const end = {
    endDate: move.moveDate,
    reasons: move.reasons,
    outcome: move.outcome ?? 'planned',
    notes: move.notes ?? null,
  };
  return endRunningPlacement(ctx, current, end, {
    pointers: { date: '/body/moveDate', reasons: '/body/reasons' },
    endedState,
  });
}

/** The next placement is an approved proposal of the same child starting on the move date: its workflow's start step is taken. */
async function startProposal(
  ctx: TenantScope,
  current: Placement,
  proposalId: string,
  moveDate: string,
): Promise<Placement> {
  const pointer = '/body/toPlacementId';
  const proposal = await findPlacement(ctx, proposalId, { lock: true, pointer });
  if (proposal.childId !== current.childId || proposal.respiteOf)
    throw Problem.unprocessable([{ pointer, message: 'is not a placement of the same child' }]);
  if (proposal.startDate !== moveDate)
    throw Problem.unprocessable([{ pointer, message: `starts on ${proposal.startDate}, not on the move date` }]);
  if (proposal.status !== 'approved' || !proposal.workflowKey) {
    throw new Problem(
      'conflict',
      `The placement ${proposal.id} is ${proposal.status}; only an approved proposal can be started by a move`,
    );
  }
  const workflow = await tenantPlacementWorkflow(ctx, proposal.workflowKey);
  const start = workflow!.definition.transitions.find(
    (t) => t.to === workflow!.runningState && t.from.includes(proposal.workflowState!),
  );
  if (!start) throw new Problem('conflict', `No step starts the placement from "${proposal.workflowState}"`);
  return takeStep(ctx, proposal, { transition: start.key, notes: `Move from placement ${current.id}` });
}

/** The next placement is a new one in the household named, started at once: it keeps the current one's kind and type unless told. */
async function placeForMove(
  ctx: TenantScope,
  current: Placement,
  householdId: string,
  move: MoveInput,
): Promise<Placement> {
  const input = {
    householdId,
    kind: move.kind ?? current.kind,
    placementType: move.placementType ?? current.placementType,
    startDate: move.moveDate,
    plannedEndDate: move.plannedEndDate ?? null,
    longTerm: move.longTerm ?? false,
  };
  const next = await placeChild(ctx, current.childId, input, (f) => `/body/${f === 'startDate' ? 'moveDate' : f}`);
  if (next.status !== 'active') {
    throw new Problem(
      'conflict',
      'The tenant requires placement approval: propose the new placement, have it approved, then move with toPlacementId',
    );
  }
  return next;
}

/**
 * The ended placement names the one the child moved to. Its version moved when it ended, earlier in
 * this request; naming the next placement is part of that one change, so the version stays.
 */
async function linkMove(ctx: TenantScope, ended: Placement, next: Placement): Promise<Placement> {
  const [linked] = await Placement.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, id: ended.id })
    .patch({ movedTo: next.id })
    .returning('*');
  return linked!;
}

/**
 * Moves a child from its running placement to the next, in one step: the move starts the next
 * placement, so it needs placements:start; the current one ends on the move date (so the child is
 * never in two main placements), the next starts that day, and the ended one names it.
 */
export async function moveChild(
  ctx: TenantScope,
  placementId: string,
  move: MoveInput,
): Promise<{ current: Placement; ended: Placement; started: Placement }> {
  requireStartPermission(ctx, 'Moving starts the next placement: it needs the permission placements:start');
  const current = await findPlacement(ctx, placementId, { lock: true });
  const target = moveTarget(current, move);
  const ended = await endForMove(ctx, current, move);
  const started =
    'proposalId' in target
      ? await startProposal(ctx, current, target.proposalId, move.moveDate)
      : await placeForMove(ctx, current, target.householdId, move);
  return { current, ended: await linkMove(ctx, ended, started), started };
}

export type PlacementChange = BodyOf<'updatePlacement'>;

/**
 * Changes a placement's dates, term or type. New dates are checked against the household's
 * occupancy and the child's other placements; a started placement whose start or term changed has
 * its placement.started event corrected.
 */
export async function changePlacement(ctx: TenantScope, before: Placement, input: PlacementChange): Promise<Placement> {
  if (before.status === 'cancelled') throw new Problem('conflict', 'The placement was cancelled');
  const startDate = input.startDate ?? before.startDate;
  const plannedEnd = input.plannedEndDate !== undefined ? input.plannedEndDate : before.plannedEndDate;
  const errors: FieldError[] = await placementTypeErrors(ctx, input.placementType, '/body/placementType');
  if (plannedEnd && plannedEnd <= startDate) {
    errors.push({
      pointer: input.plannedEndDate !== undefined ? '/body/plannedEndDate' : '/body/startDate',
      message: 'the planned end is not after the start date',
    });
  }
  if (before.endDate && startDate > before.endDate)
    errors.push({ pointer: '/body/startDate', message: `is after the end date ${before.endDate}` });
  if (before.respiteOf && input.plannedEndDate === null) {
    errors.push({ pointer: '/body/plannedEndDate', message: 'a respite stay needs the day the child returns' });
  }
  if (errors.length) throw Problem.unprocessable(errors);
  if (startDate !== before.startDate || plannedEnd !== before.plannedEndDate) {
    const until = before.endDate ?? (before.respiteOf ? plannedEnd : null);
    const child = await findChild(ctx, before.childId);
    const main = !before.respiteOf && ['active', 'ended'].includes(before.status);
    const stay = {
      childId: before.childId,
      householdId: before.householdId,
      kind: before.kind,
      startDate,
      until,
      main,
      exclude: [before.id],
      pointers: { household: '/body/startDate', start: '/body/startDate' },
    };
    assertRoom(await checkStay(ctx, child, stay, { requireTerms: false }), '/body/startDate');
  }
  const after = await patchVersioned(ctx.trx, Placement, before, {
    startDate,
    plannedEndDate: plannedEnd,
    ...(input.longTerm !== undefined ? { longTerm: input.longTerm } : {}),
    ...(input.placementType !== undefined ? { placementType: input.placementType } : {}),
  });
  const started = (before.status === 'active' || before.status === 'ended') && !before.respiteOf;
  if (started && (after.startDate !== before.startDate || after.longTerm !== before.longTerm))
    await recordStarted(ctx, after, { correct: true });
  return after;
}

export type RespiteInput = BodyOf<'createRespitePlacement'>;

/** A respite stay of a main placement (locked by the caller): in another household, inside the placement, overlapping no other stay of it. */
export async function addRespiteStay(ctx: TenantScope, main: Placement, input: RespiteInput): Promise<Placement> {
  if (main.respiteOf) throw new Problem('conflict', 'A respite stay has no respite of its own');
  if (!['active', 'approved', 'proposed'].includes(main.status))
    throw new Problem('conflict', `The placement is ${main.status}`);
  const placementType = input.placementType ?? main.placementType;
  const errors: FieldError[] = await requiredPlacementTypeErrors(
    ctx,
    placementType,
    '/body/placementType',
    'the main placement has none',
  );
  if (input.endDate <= input.startDate)
    errors.push({ pointer: '/body/endDate', message: 'is not after the start date' });
  if (input.startDate < main.startDate)
    errors.push({ pointer: '/body/startDate', message: `is before the placement starts (${main.startDate})` });
  if (main.endDate && input.endDate > main.endDate)
    errors.push({ pointer: '/body/endDate', message: `is after the placement ended (${main.endDate})` });
  if (input.householdId === main.householdId)
    errors.push({ pointer: '/body/householdId', message: 'is the household of the placement itself' });
  if (errors.length) throw Problem.unprocessable(errors);
  const child = await findChild(ctx, main.childId);
  // Two respite stays of one child do not overlap either.
  const clash = await Placement.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, respite_of: main.id })
    .whereNot('status', 'cancelled')
    .where('start_date', '<', input.endDate)
    .where((w) => w.whereNull('occupied_until').orWhere('occupied_until', '>', input.startDate))
    .select('id')
    .first();
  if (clash) {
    const errors = [{ pointer: '/body/startDate', message: 'overlaps another respite stay' }];
    throw new Problem('conflict', `The child has another respite stay then (${clash.id})`, { errors });
  }
  const stay = {
    childId: main.childId,
    householdId: input.householdId,
    kind: 'respite' as const,
    startDate: input.startDate,
    until: input.endDate,
    main: false,
    exclude: [],
    pointers: { household: '/body/householdId', start: '/body/startDate' },
  };
  assertRoom(await checkStay(ctx, child, stay), '/body/householdId');
  return insertPlacement(ctx, {
    childId: main.childId,
    householdId: input.householdId,
    kind: 'respite',
    placementType,
    startDate: input.startDate,
    plannedEndDate: input.endDate,
    longTerm: false,
    matchingRequestId: null,
    respiteOf: main.id,
    status: 'active',
    workflowKey: null,
    workflowState: null,
  });
}

/**
 * Links the placement agreement: a submission of the pack's agreement form about the placement or
 * its child. Form submissions belong to the configuration module; only their key and subject are read.
 */
export async function linkAgreement(ctx: TenantScope, before: Placement, submissionId: string): Promise<Placement> {
  const keys = agreementFormKeys(await tenantPlacementWorkflow(ctx, before.workflowKey));
  const submission = (await ctx
    .trx('form_submissions')
    .where({ tenant_id: ctx.tenantId, id: submissionId })
    .first('form_key', 'subject_type', 'subject_id')) as
    { form_key: string; subject_type: string; subject_id: string } | undefined;
  const pointer = '/body/submissionId';
  const errors: FieldError[] = [];
  if (!submission) errors.push({ pointer, message: 'is not a form submission of this tenant' });
  else {
    if (!keys.includes(submission.form_key)) {
      errors.push({
        pointer,
        message: `is a "${submission.form_key}" form, not the placement agreement (${keys.join(', ') || "the tenant's pack names none"})`,
      });
    }
    const about =
      (submission.subject_type === 'placement' && submission.subject_id === before.id) ||
      (submission.subject_type === 'child' && submission.subject_id === before.childId);
    if (!about) errors.push({ pointer, message: 'is not about this placement or its child' });
  }
  if (errors.length) throw Problem.unprocessable(errors);
  return patchVersioned(ctx.trx, Placement, before, { agreementSubmissionId: submissionId });
}
