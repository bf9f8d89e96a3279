import type { OperationContext } from '../../http/operation';
import { Problem, type FieldError } from '../../http/problem';
import { newId } from '../../ids';
import { householdsForMatching, type HouseholdForMatching } from '../carers/forMatching';
import { lookupCodeErrors } from '../lookups/service';
import { correctCaseEvent, recordCaseEvent } from '../tasks/events';
import { ageOn } from '../../dates';
import { findChild, visibleChildSql, type ChildForPlacement } from './childAccess';
import { lockOccupancy, peakOccupancy } from './occupancy';
import { actorUserId, type EndReason, type PlacementKind, type PlacementRow } from './rows';
import { placementSettings } from './settings';
import { tenantToday } from '../tenants/today';

export const PLACEMENT_SOURCE = 'placement';

/** A placement the caller may see (its child visible to them), optionally locked for the request. */
export async function findPlacement(ctx: OperationContext, id: string, options: { lock?: boolean; pointer?: string } = {}): Promise<PlacementRow> {
  const visible = visibleChildSql(ctx);
  const query = ctx.trx('placements as p')
    .join('children as c', (j) => j.on('c.tenant_id', 'p.tenant_id').andOn('c.id', 'p.child_id'))
    .where('p.tenant_id', ctx.tenantId!)
    .where('p.id', id)
    .whereRaw(visible.sql, visible.bindings)
    .first('p.*');
  if (options.lock) query.forUpdate('p');
  const row = (await query) as PlacementRow | undefined;
  if (!row) {
    if (options.pointer) throw Problem.unprocessable([{ pointer: options.pointer, message: 'is not a placement of this tenant' }]);
    throw Problem.notFound('The placement');
  }
  return row;
}

export async function household(ctx: OperationContext, id: string, asOf: string, pointer: string): Promise<HouseholdForMatching> {
  const [found] = await householdsForMatching(ctx.trx, ctx.tenantId!, asOf, [id], ctx.services.packs);
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
export async function checkStay(ctx: OperationContext, child: ChildForPlacement, stay: Stay, options: { requireTerms?: boolean } = {}): Promise<Fit> {
  await lockOccupancy(ctx, [stay.householdId, stay.childId]);
  const carer = await household(ctx, stay.householdId, stay.startDate, stay.pointers.household);
  const errors: FieldError[] = [];
  const strict = options.requireTerms !== false;
  if (strict && !carer.approved) errors.push({ pointer: stay.pointers.household, message: `is not an approved household on ${stay.startDate}` });
  if (strict && !carer.terms) errors.push({ pointer: stay.pointers.household, message: 'has no terms of approval' });
  const age = ageOn(child.dateOfBirth, stay.startDate);
  const withinTerms = !!carer.terms && carer.terms.placementKinds.includes(stay.kind) && age >= carer.terms.ageMin && age <= carer.terms.ageMax;
  if (carer.terms && strict) {
    if (!carer.terms.placementKinds.includes(stay.kind)) errors.push({ pointer: stay.pointers.kind ?? stay.pointers.household, message: `"${stay.kind}" is not in the household's terms of approval (${carer.terms.placementKinds.join(', ')})` });
    if (age < carer.terms.ageMin || age > carer.terms.ageMax) errors.push({ pointer: stay.pointers.household, message: `is approved for ages ${carer.terms.ageMin}-${carer.terms.ageMax}; the child is ${age} on ${stay.startDate}` });
  }
  if (child.dateOfBirth > stay.startDate) errors.push({ pointer: stay.pointers.start, message: 'is before the child was born' });
  if (errors.length) throw Problem.unprocessable(errors);

  if (stay.main) {
    const clash = (await ctx.trx('placements')
      .where({ tenant_id: ctx.tenantId, child_id: stay.childId })
      .whereNull('respite_of')
      .whereIn('status', ['active', 'ended'])
      .whereNotIn('id', stay.exclude)
      .where((w) => w.whereNull('occupied_until').orWhere('occupied_until', '>', stay.startDate))
      .modify((q) => {
        if (stay.until) q.where('start_date', '<', stay.until);
      })
      .first('id', 'start_date', 'end_date')) as { id: string; start_date: string; end_date: string | null } | undefined;
    if (clash) {
      throw new Problem('conflict', `The child has another placement (${clash.id}) from ${clash.start_date}${clash.end_date ? ` to ${clash.end_date}` : ', still open'}`, {
        errors: [{ pointer: stay.pointers.start, message: 'overlaps another placement of the child' }],
        placementId: clash.id,
      });
    }
  }
  const peak = (await peakOccupancy(ctx.trx, ctx.tenantId!, [stay.householdId], stay.startDate, stay.until, stay.exclude)).get(stay.householdId) ?? 0;
  const max = carer.terms?.maxChildren ?? 0;
  return { household: carer, childrenAfter: peak + 1, vacanciesBefore: max - peak, withinTerms };
}

export function assertRoom(fit: Fit, pointer: string): void {
  const max = fit.household.terms?.maxChildren ?? 0;
  if (fit.childrenAfter > max) {
    throw new Problem('conflict', `The household is approved for ${max} child(ren) and has no place free on every night of the placement`, {
      errors: [{ pointer, message: `has no vacancy (${max} place(s), ${fit.childrenAfter - 1} taken)` }],
    });
  }
}

export async function placementTypeErrors(ctx: OperationContext, code: string | null | undefined, pointer: string): Promise<FieldError[]> {
  return lookupCodeErrors(ctx.trx, ctx.tenantId!, [{ list: 'placement_type', code, pointer }]);
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
export async function requiredPlacementTypeErrors(ctx: OperationContext, code: string | null, pointer: string, inherited: string): Promise<FieldError[]> {
  if (code === null) return [{ pointer, message: `is required: a placement is paid by its type, and ${inherited} to take` }];
  return placementTypeErrors(ctx, code, pointer);
}

export async function recordStarted(ctx: OperationContext, row: PlacementRow, correct = false): Promise<void> {
  const input = { name: 'placement.started' as const, subjectId: row.id, occurredOn: row.start_date, facts: { longTerm: row.long_term }, source: { type: PLACEMENT_SOURCE, id: row.id } };
  if (correct) await correctCaseEvent(ctx, input);
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
  status: PlacementRow['status'];
  workflowKey: string | null;
  workflowState: string | null;
}

export async function insertPlacement(ctx: OperationContext, input: NewPlacement): Promise<PlacementRow> {
  const active = input.status === 'active';
  const [row] = (await ctx.trx('placements')
    .insert({
      tenant_id: ctx.tenantId,
      id: newId(),
      child_id: input.childId,
      household_id: input.householdId,
      kind: input.kind,
      placement_type: input.placementType,
      status: input.status,
      workflow_key: input.workflowKey,
      workflow_state: input.workflowState,
      start_date: input.startDate,
      planned_end_date: input.plannedEndDate,
      long_term: input.longTerm,
      respite_of: input.respiteOf,
      matching_request_id: input.matchingRequestId,
      created_by: actorUserId(ctx.principal),
      started_at: active ? ctx.trx.fn.now() : null,
    })
    .returning('*')) as PlacementRow[];
  return row!;
}

/** End reasons: one code per list, each list one of the tenant's end-reason lists. */
export async function endReasonErrors(ctx: OperationContext, reasons: EndReason[], pointer: string): Promise<FieldError[]> {
  const settings = await placementSettings(ctx);
  const errors: FieldError[] = [];
  const seen = new Set<string>();
  reasons.forEach((reason, i) => {
    if (!settings.endReasonLists.includes(reason.list)) errors.push({ pointer: `${pointer}/${i}/list`, message: `is not one of the tenant's end-reason lists (${settings.endReasonLists.join(', ') || 'none'})` });
    if (seen.has(reason.list)) errors.push({ pointer: `${pointer}/${i}/list`, message: 'is given twice' });
    seen.add(reason.list);
  });
  const known = reasons.map((reason, i) => ({ reason, i })).filter(({ reason }) => settings.endReasonLists.includes(reason.list));
  errors.push(...(await lookupCodeErrors(ctx.trx, ctx.tenantId!, known.map(({ reason, i }) => ({ list: reason.list, code: reason.code, pointer: `${pointer}/${i}/code` })))));
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
 */
export async function endRunningPlacement(ctx: OperationContext, row: PlacementRow, input: EndInput, pointers: { date: string; reasons: string }, movedTo: string | null = null, endedState: string | null = null): Promise<PlacementRow> {
  if (row.status !== 'active') throw new Problem('conflict', `The placement is ${row.status}; only an active placement can end`);
  const errors: FieldError[] = [];
  if (input.endDate < row.start_date) errors.push({ pointer: pointers.date, message: `is before the start date ${row.start_date}` });
  if (input.endDate > (await tenantToday(ctx))) errors.push({ pointer: pointers.date, message: 'is in the future; end the placement when the child has left' });
  errors.push(...(await endReasonErrors(ctx, input.reasons, pointers.reasons)));
  if (errors.length) throw Problem.unprocessable(errors);
  // Respite stays of this placement: cut at the end date, or cancelled when they had not begun.
  await ctx.trx('placements')
    .where({ tenant_id: ctx.tenantId, respite_of: row.id, status: 'active' })
    .where('start_date', '<', input.endDate)
    .where('planned_end_date', '>', input.endDate)
    .update({ planned_end_date: input.endDate, version: ctx.trx.raw('version + 1'), updated_at: ctx.trx.fn.now() });
  await ctx.trx('placements')
    .where({ tenant_id: ctx.tenantId, respite_of: row.id })
    .whereIn('status', ['proposed', 'approved', 'active'])
    .where('start_date', '>=', input.endDate)
    .update({ status: 'cancelled', version: ctx.trx.raw('version + 1'), updated_at: ctx.trx.fn.now() });
  const [ended] = (await ctx.trx('placements')
    .where({ tenant_id: ctx.tenantId, id: row.id })
    .update({
      status: 'ended',
      workflow_state: row.workflow_key ? endedState : null,
      end_date: input.endDate,
      end_reasons: JSON.stringify(input.reasons),
      end_outcome: input.outcome,
      end_notes: input.notes ?? null,
      moved_to: movedTo,
      ended_at: ctx.trx.fn.now(),
      version: row.version + 1,
      updated_at: ctx.trx.fn.now(),
    })
    .returning('*')) as PlacementRow[];
  if (!ended!.respite_of) {
    await recordCaseEvent(ctx, { name: 'placement.ended', subjectId: row.id, occurredOn: input.endDate, facts: { longTerm: row.long_term, outcome: input.outcome, reasons: input.reasons }, source: { type: PLACEMENT_SOURCE, id: row.id } });
  }
  return ended!;
}

export { findChild };
