import type { PartialModelObject } from 'objection';
import { keysetPage } from '../../db/keyset';
import { patchVersioned } from '../../db/versioned';
import {
  actorId,
  defineOperations,
  type OperationResult,
  type TenantContext,
  type TenantScope,
} from '../../http/operation';
import { assertIfMatch } from '../../http/etag';
import { decodeCursor, toPage } from '../../http/pagination';
import { Problem, type FieldError } from '../../http/problem';
import { created, ok } from '../../http/results';
import { newId } from '../../ids';
import { householdsForMatching } from '../carers/forMatching';
import { childVisible, findChild, visibleChildren } from '../children/visibility';
import { tenantToday } from '../tenants/today';
import { rankHouseholds } from './matching';
import { MatchingRequest } from './models';
import { peakOccupancy, placedOn } from './occupancy';
import { matchingRequestToApi } from './present';
import { findMatchingRequest } from './service';

/** A matching request's fields as a caller sends them (all of them on update; status only there). */
type MatchingInput = TenantContext<'updateMatchingRequest'>['body'];

const MATCHING_FIELDS = [
  'placementKind',
  'wantedFrom',
  'plannedEnd',
  'childCount',
  'siblingIds',
  'requiredSkills',
  'language',
  'maxDistanceKm',
  'preferredRegion',
  'excludeHouseholdIds',
  'notes',
  'status',
] as const;

/** Only the fields given; a location is stored as its two coordinates. */
function matchingFields(input: MatchingInput): PartialModelObject<MatchingRequest> {
  const out: Record<string, unknown> = {};
  for (const field of MATCHING_FIELDS) if (input[field] !== undefined) out[field] = input[field];
  if (input.location !== undefined) {
    out.locationLat = input.location?.lat ?? null;
    out.locationLon = input.location?.lon ?? null;
  }
  return out as PartialModelObject<MatchingRequest>;
}

interface MatchingCheck {
  childId: string;
  wantedFrom: string;
  plannedEnd: string | null;
  siblingIds: string[];
  childCount: number | undefined;
  /** The sibling ids the request names now: each must be a child the caller can see. */
  newSiblingIds: string[];
}

async function checkMatchingInput(ctx: TenantScope, check: MatchingCheck): Promise<void> {
  const errors: FieldError[] = [];
  if (check.plannedEnd && check.plannedEnd <= check.wantedFrom)
    errors.push({ pointer: '/body/plannedEnd', message: 'is not after wantedFrom' });
  if (check.siblingIds.includes(check.childId))
    errors.push({ pointer: '/body/siblingIds', message: 'names the child the request is for' });
  for (const [i, id] of check.newSiblingIds.entries()) {
    const found = await visibleChildren(ctx).where('c.id', id).whereNull('c.deleted_at').select('c.id').first();
    if (!found) errors.push({ pointer: `/body/siblingIds/${i}`, message: 'is not a child of this tenant' });
  }
  if (check.childCount !== undefined && check.childCount < 1 + check.siblingIds.length) {
    errors.push({
      pointer: '/body/childCount',
      message: `is less than this child and the ${check.siblingIds.length} sibling(s) named`,
    });
  }
  if (errors.length) throw Problem.unprocessable(errors);
}

async function createMatchingRequest(ctx: TenantContext<'createMatchingRequest'>): Promise<OperationResult> {
  const input = ctx.body;
  const child = await findChild(ctx, ctx.params.childId);
  const siblingIds = input.siblingIds ?? [];
  await checkMatchingInput(ctx, {
    childId: child.id,
    wantedFrom: input.wantedFrom,
    plannedEnd: input.plannedEnd ?? null,
    siblingIds,
    childCount: input.childCount,
    newSiblingIds: siblingIds,
  });
  const row = await MatchingRequest.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      id: newId(),
      childId: child.id,
      ...matchingFields(input),
      childCount: input.childCount ?? 1 + siblingIds.length,
      status: 'open',
      createdBy: actorId(ctx),
    })
    .returning('*');
  const body = matchingRequestToApi(row);
  // A new record is an addition to the child's case (the resource in the path); later events name the record itself.
  await ctx.audit({ action: 'matching_request.created', entityType: 'child', entityId: child.id, after: body });
  return created(body, { location: `/v1/matching-requests/${body.id}`, version: row.version });
}

async function listMatchingRequests(ctx: TenantContext<'listMatchingRequests'>): Promise<OperationResult> {
  const q = ctx.query;
  const query = MatchingRequest.query(ctx.trx)
    .alias('m')
    .where('m.tenant_id', ctx.tenantId)
    .where(childVisible(ctx, 'm.child_id'));
  if (q.childId) query.where('m.child_id', q.childId);
  if (q.status) query.where('m.status', q.status);
  const page = await keysetPage(query, q, [{ column: 'm.id', of: (r) => r.id }], matchingRequestToApi);
  return ok({ data: page.data, nextCursor: page.nextCursor });
}

async function getMatchingRequest(ctx: TenantContext<'getMatchingRequest'>): Promise<OperationResult> {
  const row = await findMatchingRequest(ctx, ctx.params.matchingRequestId);
  return ok(matchingRequestToApi(row), row.version);
}

async function updateMatchingRequest(ctx: TenantContext<'updateMatchingRequest'>): Promise<OperationResult> {
  const input = ctx.body;
  const before = await findMatchingRequest(ctx, ctx.params.matchingRequestId, { lock: true });
  assertIfMatch(ctx.ifMatch, before.version);
  await checkMatchingInput(ctx, {
    childId: before.childId,
    wantedFrom: input.wantedFrom ?? before.wantedFrom,
    plannedEnd: input.plannedEnd !== undefined ? input.plannedEnd : before.plannedEnd,
    siblingIds: input.siblingIds ?? before.siblingIds,
    childCount: input.childCount ?? before.childCount,
    newSiblingIds: input.siblingIds ?? [],
  });
  const after = await patchVersioned(ctx.trx, MatchingRequest, before, matchingFields(input));
  const body = matchingRequestToApi(after);
  await ctx.audit({
    action: 'matching_request.updated',
    entityType: 'matching_request',
    entityId: body.id,
    before: matchingRequestToApi(before),
    after: body,
  });
  return ok(body, after.version);
}

async function getMatchingShortlist(ctx: TenantContext<'getMatchingShortlist'>): Promise<OperationResult> {
  const q = ctx.query;
  const request = await findMatchingRequest(ctx, ctx.params.matchingRequestId);
  const child = await findChild(ctx, request.childId);
  const households = await householdsForMatching(
    ctx.trx,
    ctx.tenantId,
    request.wantedFrom,
    undefined,
    ctx.services.packs,
  );
  // One query for the occupancy of every household over the wanted period.
  const peaks = await peakOccupancy(ctx.trx, ctx.tenantId, null, request.wantedFrom, request.plannedEnd);
  const ranked = rankHouseholds(request, child.dateOfBirth, households, peaks, request.childCount);
  return ok({
    matchingRequestId: request.id,
    asOf: request.wantedFrom,
    childAge: ranked.age,
    childrenToPlace: request.childCount,
    considered: households.length,
    candidates: ranked.candidates.slice(0, q.limit),
    excludedCount: ranked.excluded.length,
    excludedByReason: ranked.excludedByReason,
    excluded: q.includeExcluded ? ranked.excluded : [],
  });
}

/** Households with a place free on a night: read from the carers module and counted here, so paged in memory. */
async function listVacancies(ctx: TenantContext<'listVacancies'>): Promise<OperationResult> {
  const q = ctx.query;
  const asOf = q.asOf ?? (await tenantToday(ctx));
  const after = decodeCursor(q.cursor, 1);
  const inRegion = (region: string | null) => !q.region || (region ?? '').toLowerCase() === q.region.toLowerCase();
  const offers = (kinds: string[]) => !q.placementKind || kinds.includes(q.placementKind);
  const households = (await householdsForMatching(ctx.trx, ctx.tenantId, asOf, undefined, ctx.services.packs)).flatMap(
    (h) =>
      h.approved &&
      h.terms &&
      inRegion(h.region) &&
      offers(h.terms.placementKinds) &&
      (!after || h.id > (after[0] as string))
        ? [{ ...h, terms: h.terms }]
        : [],
  );
  const placed = await placedOn(ctx.trx, ctx.tenantId, null, asOf);
  const free = households
    .map((h) => {
      const { maxChildren, placementKinds, ageMin, ageMax } = h.terms;
      const taken = placed.get(h.id) ?? 0;
      return {
        householdId: h.id,
        name: h.name,
        region: h.region,
        maxChildren,
        placed: taken,
        vacancies: maxChildren - taken,
        placementKinds,
        ageMin,
        ageMax,
      };
    })
    .filter((v) => v.vacancies > 0)
    .sort((a, b) => a.householdId.localeCompare(b.householdId))
    .slice(0, q.limit + 1);
  return ok({
    asOf,
    ...toPage(
      free,
      q.limit,
      (v) => [v.householdId],
      (v) => v,
    ),
  });
}

export const matchingOperations = defineOperations({
  createMatchingRequest: { access: { permission: 'placements:match' }, handle: createMatchingRequest },
  listMatchingRequests: { access: { permission: 'placements:read' }, handle: listMatchingRequests },
  getMatchingRequest: { access: { permission: 'placements:read' }, handle: getMatchingRequest },
  updateMatchingRequest: { access: { permission: 'placements:match' }, handle: updateMatchingRequest },
  getMatchingShortlist: { access: { permission: 'placements:match' }, handle: getMatchingShortlist },
  listVacancies: { access: { permission: 'placements:read' }, handle: listVacancies },
});
