import { findOne, type FindOptions } from '../../db/find';
import { patchVersioned } from '../../db/versioned';
import { actorId, type TenantScope } from '../../http/operation';
import { Problem, type FieldError } from '../../http/problem';
import { newId } from '../../ids';
import { householdsForMatching, type HouseholdForMatching } from '../carers/forMatching';
import type { Child } from '../children/models';
import { childVisible, type Fenced } from '../children/visibility';
import { lookupCodeErrors } from '../lookups/service';
import { correctCaseEvent, recordCaseEvent } from '../tasks/events';
import { ageOn } from '../../dates';
import { lockOccupancy, peakOccupancy } from './occupancy';
import { MatchingRequest, Placement, type EndReason, type PlacementKind, type PlacementStatus } from './models';
import { placementSettings } from './settings';
import { tenantToday } from '../tenants/today';

export const PLACEMENT_SOURCE = 'placement';

/**
 * A placement as the caller may see it (its child visible to them), or not found: the one finder every
 * module uses for a placement by id. `lock` takes its row lock for a write; `pointer` names the body
 * field the id came from.
 */
export async function findPlacement(ctx: Fenced, id: string, options: FindOptions = {}): Promise<Placement> {
  return findOne<Placement>(ctx, Placement, id, {
    ...options,
    narrow: (query) => query.where(childVisible(ctx, 'placements.child_id')),
  });
}

/** A matching request as the caller may see it (its child visible to them), or not found. */
export async function findMatchingRequest(
  ctx: Fenced,
  id: string,
  options: FindOptions = {},
): Promise<MatchingRequest> {
  return findOne<MatchingRequest>(ctx, MatchingRequest, id, {
    ...options,
    narrow: (query) => query.where(childVisible(ctx, 'matching_requests.child_id')),
  });
}

export async function household(
  ctx: TenantScope,
  id: string,
  asOf: string,
  pointer: string,
): Promise<HouseholdForMatching> {
  const [found] = await householdsForMatching(ctx.trx, ctx.tenantId, asOf, [id], ctx.services.packs);
  if (!found) throw Problem.unprocessable([{ pointer, message: 'is not a carer household of this tenant' }]);
  return found;
}

export interface Stay {
  childId: string;
  householdId: string;
  kind: PlacementKind;
  startDate: string;
  /** The day the child leaves (exclusive): null while open-ended. */
  until: string | null;
  /** A main placement (not a respite stay) that is to run: one at a time per child. Proposals may overlap; they are checked when they start. */
  main: boolean;
  /** Placements not to count against this one (itself, when it is being changed). */
  exclude: string[];
  pointers: { household: string; start: string; kind?: string };
}

export interface Fit {
  household: HouseholdForMatching;
  /** Children placed on the busiest night of the stay, this one included. */
  childrenAfter: number;
  vacanciesBefore: number;
  withinTerms: boolean;
}

/**
 * Locks the household's occupancy and the child's placements, then checks the stay against them:
 * the household approved with terms that cover the kind and the child's age, a place free on every
 * night, and (for a main placement) no other main placement of the child on any of those nights.
 */
export async function checkStay(
  ctx: TenantScope,
  child: Pick<Child, 'dateOfBirth'>,
  stay: Stay,
  options: { requireTerms?: boolean } = {},
): Promise<Fit> {
  await lockOccupancy(ctx, [stay.householdId, stay.childId]);
  const carer = await household(ctx, stay.householdId, stay.startDate, stay.pointers.household);
  const errors: FieldError[] = [];
  const strict = options.requireTerms !== false;
  if (strict && !carer.approved)
    errors.push({ pointer: stay.pointers.household, message: `is not an approved household on ${stay.startDate}` });
  if (strict && !carer.terms) errors.push({ pointer: stay.pointers.household, message: 'has no terms of approval' });
  const age = ageOn(child.dateOfBirth, stay.startDate);
  const withinTerms =
    !!carer.terms &&
    carer.terms.placementKinds.includes(stay.kind) &&
    age >= carer.terms.ageMin &&
    age <= carer.terms.ageMax;
  if (carer.terms && strict) {
    if (!carer.terms.placementKinds.includes(stay.kind)) {
      errors.push({
        pointer: stay.pointers.kind ?? stay.pointers.household,
        message: `"${stay.kind}" is not in the household's terms of approval (${carer.terms.placementKinds.join(', ')})`,
      });
    }
    if (age < carer.terms.ageMin || age > carer.terms.ageMax) {
      errors.push({
        pointer: stay.pointers.household,
        message: `is approved for ages ${carer.terms.ageMin}-${carer.terms.ageMax}; the child is ${age} on ${stay.startDate}`,
      });
    }
  }
  if (child.dateOfBirth > stay.startDate)
    errors.push({ pointer: stay.pointers.start, message: 'is before the child was born' });
  if (errors.length) throw Problem.unprocessable(errors);

  if (stay.main) {
    const clash = await Placement.query(ctx.trx)
      .where({ tenant_id: ctx.tenantId, child_id: stay.childId })
      .whereNull('respite_of')
      .whereIn('status', ['active', 'ended'])
      .whereNotIn('id', stay.exclude)
      .where((w) => w.whereNull('occupied_until').orWhere('occupied_until', '>', stay.startDate))
      .modify((q) => {
        if (stay.until) q.where('start_date', '<', stay.until);
      })
      .select('id', 'start_date', 'end_date')
      .first();
    if (clash) {
      const until = clash.endDate ? ` to ${clash.endDate}` : ', still open';
      throw new Problem('conflict', `The child has another placement (${clash.id}) from ${clash.startDate}${until}`, {
        errors: [{ pointer: stay.pointers.start, message: 'overlaps another placement of the child' }],
        placementId: clash.id,
      });
    }
  }
  const peak =
    (await peakOccupancy(ctx.trx, ctx.tenantId, [stay.householdId], stay.startDate, stay.until, stay.exclude)).get(
      stay.householdId,
    ) ?? 0;
  const max = carer.terms?.maxChildren ?? 0;
  return { household: carer, childrenAfter: peak + 1, vacanciesBefore: max - peak, withinTerms };
}

export function assertRoom(fit: Fit, pointer: string): void {
  const max = fit.household.terms?.maxChildren ?? 0;
  if (fit.childrenAfter > max) {
    throw new Problem(
      'conflict',
      `The household is approved for ${max} child(ren) and has no place free on every night of the placement`,
      {
        errors: [{ pointer, message: `has no vacancy (${max} place(s), ${fit.childrenAfter - 1} taken)` }],
      },
    );
  }
}

export async function placementTypeErrors(
  ctx: Pick<TenantScope, 'trx' | 'tenantId'>,
  code: string | null | undefined,
  pointer: string,
): Promise<FieldError[]> {
  return lookupCodeErrors(ctx.trx, ctx.tenantId, [{ list: 'placement_type', code, pointer }]);
}

/**
 * A placement that starts needs its type, an emergency one too. The packs' rate rules pay by the
 * type's category (foster_unrelated, foster_family_friends…), so a placement without one was paid
 * nothing, with a notice finance could not act on weeks later; SSDA903 and AFCARS report it for
 * every placement. It is known when the child is placed: the household is named, so whether the
 * carer is family or friend or another foster carer is too, and the lists have codes for a
 * placement whose plan is not yet settled (U3, U6). So the one who places the child gives it, then.
 * `inherited` says why a move or a respite stay, which take the type of the placement they follow,
 * found none to take (one made before the type was required).
 */
export async function requiredPlacementTypeErrors(
  ctx: Pick<TenantScope, 'trx' | 'tenantId'>,
  code: string | null,
  pointer: string,
  inherited: string,
): Promise<FieldError[]> {
  if (code === null)
    return [{ pointer, message: `is required: a placement is paid by its type, and ${inherited} to take` }];
  return placementTypeErrors(ctx, code, pointer);
}

/** Records placement.started, or (`correct`) supersedes the one recorded when its start date or term changed. */
export async function recordStarted(
  ctx: TenantScope,
  row: Placement,
  options: { correct?: boolean } = {},
): Promise<void> {
  const input = {
    name: 'placement.started' as const,
    subjectId: row.id,
    occurredOn: row.startDate,
    facts: { longTerm: row.longTerm },
    source: { type: PLACEMENT_SOURCE, id: row.id },
  };
  if (options.correct) await correctCaseEvent(ctx, input);
  else await recordCaseEvent(ctx, input);
}

export interface NewPlacement {
  childId: string;
  householdId: string;
  kind: PlacementKind;
  placementType: string | null;
  startDate: string;
  plannedEndDate: string | null;
  longTerm: boolean;
  matchingRequestId: string | null;
  respiteOf: string | null;
  status: PlacementStatus;
  workflowKey: string | null;
  workflowState: string | null;
}

export async function insertPlacement(ctx: TenantScope, input: NewPlacement): Promise<Placement> {
  return Placement.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      id: newId(),
      ...input,
      createdBy: actorId(ctx),
      startedAt: input.status === 'active' ? ctx.trx.fn.now() : null,
    })
    .returning('*');
}

/** End reasons: one code per list, each list one of the tenant's end-reason lists. */
export async function endReasonErrors(ctx: TenantScope, reasons: EndReason[], pointer: string): Promise<FieldError[]> {
  const settings = await placementSettings(ctx);
  const errors: FieldError[] = [];
  const seen = new Set<string>();
  reasons.forEach((reason, i) => {
    if (!settings.endReasonLists.includes(reason.list)) {
      errors.push({
        pointer: `${pointer}/${i}/list`,
        message: `is not one of the tenant's end-reason lists (${settings.endReasonLists.join(', ') || 'none'})`,
      });
    }
    if (seen.has(reason.list)) errors.push({ pointer: `${pointer}/${i}/list`, message: 'is given twice' });
    seen.add(reason.list);
  });
  const known = reasons
    .map((reason, i) => ({ reason, i }))
    .filter(({ reason }) => settings.endReasonLists.includes(reason.list));
  errors.push(
    ...(await lookupCodeErrors(
      ctx.trx,
      ctx.tenantId,
      known.map(({ reason, i }) => ({ list: reason.list, code: reason.code, pointer: `${pointer}/${i}/code` })),
    )),
  );
  return errors;
}

export interface EndInput {
  endDate: string;
  reasons: EndReason[];
  outcome: string;
  notes?: string | null;
}

/**
 * Ends a running placement (locked by the caller): its end date, reasons and outcome, respite stays
 * of it that run past the end cut short (or cancelled if not begun), and placement.ended recorded.
 * `endedState` is the workflow state it ends in, for a placement that has a workflow.
 */
export async function endRunningPlacement(
  ctx: TenantScope,
  row: Placement,
  input: EndInput,
  options: { pointers: { date: string; reasons: string }; endedState: string | null },
): Promise<Placement> {
  const { pointers } = options;
  if (row.status !== 'active')
    throw new Problem('conflict', `The placement is ${row.status}; only an active placement can end`);
  const errors: FieldError[] = [];
  if (input.endDate < row.startDate)
    errors.push({ pointer: pointers.date, message: `is before the start date ${row.startDate}` });
  if (input.endDate > (await tenantToday(ctx)))
    errors.push({ pointer: pointers.date, message: 'is in the future; end the placement when the child has left' });
  errors.push(...(await endReasonErrors(ctx, input.reasons, pointers.reasons)));
  if (errors.length) throw Problem.unprocessable(errors);
  // Respite stays of this placement: cut at the end date, or cancelled when they had not begun.
  await Placement.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, respite_of: row.id, status: 'active' })
    .where('start_date', '<', input.endDate)
    .where('planned_end_date', '>', input.endDate)
    .patch({ plannedEndDate: input.endDate, version: ctx.trx.raw('version + 1'), updatedAt: ctx.trx.fn.now() });
  await Placement.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, respite_of: row.id })
    .whereIn('status', ['proposed', 'approved', 'active'])
    .where('start_date', '>=', input.endDate)
    .patch({ status: 'cancelled', version: ctx.trx.raw('version + 1'), updatedAt: ctx.trx.fn.now() });
  const ended = await patchVersioned(ctx.trx, Placement, row, {
    status: 'ended',
    workflowState: row.workflowKey ? options.endedState : null,
    endDate: input.endDate,
    endReasons: input.reasons,
    endOutcome: input.outcome,
    endNotes: input.notes ?? null,
    movedTo: null,
    endedAt: ctx.trx.fn.now(),
  });
  if (!ended.respiteOf) {
    const facts = { longTerm: row.longTerm, outcome: input.outcome, reasons: input.reasons };
    await recordCaseEvent(ctx, {
      name: 'placement.ended',
      subjectId: row.id,
      occurredOn: input.endDate,
      facts,
      source: { type: PLACEMENT_SOURCE, id: row.id },
    });
  }
  return ended;
}
