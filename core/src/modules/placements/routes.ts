import type { OperationContext, OperationMap, OperationResult } from '../../http/operation';
import { assertIfMatch, etagOf } from '../../http/etag';
import { decodeCursor, toPage } from '../../http/pagination';
import { Problem, type FieldError } from '../../http/problem';
import { newId } from '../../ids';
import { householdsForMatching } from '../carers/forMatching';
import { judge, stepToApi, takeStep, workflowSteps, type EvidenceInput } from './approval';
import { findChild, visibleChildSql } from './childAccess';
import { rankHouseholds } from './matching';
import { peakOccupancy, placedOn } from './occupancy';
import { actorUserId, matchingRequestToApi, placementToApi, type EndReason, type MatchingRequestRow, type PlacementKind, type PlacementRow } from './rows';
import { assertRoom, checkStay, endRunningPlacement, findPlacement, insertPlacement, placementTypeErrors, recordStarted, requiredPlacementTypeErrors, type NewPlacement } from './service';
import { tenantToday } from '../tenants/today';
import { placementSettings, tenantLookupLists } from './settings';
import { agreementFormKeys, tenantPlacementWorkflow } from './workflow';
import { visitOperations } from './visits';

const created = (body: { id: string; version: number }, location: string): OperationResult => ({ status: 201, body, headers: { ETag: etagOf(body.version), Location: location } });

// ---------------------------------------------------------------- settings

async function getPlacementSettings(ctx: OperationContext): Promise<OperationResult> {
  const settings = await placementSettings(ctx);
  return { status: 200, body: settings, headers: { ETag: etagOf(settings.version) } };
}

async function updatePlacementSettings(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as { approvalRequired?: boolean; endReasonLists?: string[] };
  await ctx.trx.raw('SELECT pg_advisory_xact_lock(?::int, hashtext(?::text))', [140014, `settings:${ctx.tenantId}`]);
  const before = await placementSettings(ctx, { lock: true });
  assertIfMatch(ctx.ifMatch, before.version);
  const errors: FieldError[] = [];
  if (body.endReasonLists) {
    const have = await tenantLookupLists(ctx);
    body.endReasonLists.forEach((list, i) => {
      if (!have.has(list)) errors.push({ pointer: `/body/endReasonLists/${i}`, message: "is not one of the tenant's lookup lists" });
    });
  }
  if (body.approvalRequired && !(await tenantPlacementWorkflow(ctx))) errors.push({ pointer: '/body/approvalRequired', message: "the tenant's pack has no placement workflow" });
  if (errors.length) throw Problem.unprocessable(errors);
  const values = {
    approval_required: body.approvalRequired ?? before.approvalRequired,
    ...(body.endReasonLists ? { end_reason_lists: body.endReasonLists } : {}),
    version: before.version + 1,
    updated_by: actorUserId(ctx.principal),
    updated_at: ctx.trx.fn.now(),
  };
  if (before.version === 0) await ctx.trx('placement_settings').insert({ tenant_id: ctx.tenantId, ...values });
  else await ctx.trx('placement_settings').where({ tenant_id: ctx.tenantId }).update(values);
  const after = await placementSettings(ctx);
  await ctx.audit({ action: 'placement_settings.updated', entityType: 'placement_settings', entityId: ctx.tenantId, before, after });
  return { status: 200, body: after, headers: { ETag: etagOf(after.version) } };
}

// ---------------------------------------------------------------- matching requests

interface MatchingInput {
  placementKind?: PlacementKind;
  wantedFrom?: string;
  plannedEnd?: string | null;
  childCount?: number;
  siblingIds?: string[];
  requiredSkills?: string[];
  language?: string | null;
  location?: { lat: number; lon: number } | null;
  maxDistanceKm?: number | null;
  preferredRegion?: string | null;
  excludeHouseholdIds?: string[];
  notes?: string | null;
  status?: 'open' | 'matched' | 'closed';
}

function matchingColumns(input: MatchingInput): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const map: Record<string, string> = { placementKind: 'placement_kind', wantedFrom: 'wanted_from', plannedEnd: 'planned_end', childCount: 'child_count', siblingIds: 'sibling_ids', requiredSkills: 'required_skills', language: 'language', maxDistanceKm: 'max_distance_km', preferredRegion: 'preferred_region', excludeHouseholdIds: 'exclude_household_ids', notes: 'notes', status: 'status' };
  for (const [field, column] of Object.entries(map)) {
    const value = input[field as keyof MatchingInput];
    if (value !== undefined) out[column] = value;
  }
  if (input.location !== undefined) {
    out.location_lat = input.location?.lat ?? null;
    out.location_lon = input.location?.lon ?? null;
  }
  return out;
}

async function checkMatchingInput(ctx: OperationContext, childId: string, merged: { wantedFrom: string; plannedEnd: string | null; siblingIds: string[]; childCount: number | undefined }, input: MatchingInput): Promise<void> {
  const errors: FieldError[] = [];
  if (merged.plannedEnd && merged.plannedEnd <= merged.wantedFrom) errors.push({ pointer: '/body/plannedEnd', message: 'is not after wantedFrom' });
  if (merged.siblingIds.includes(childId)) errors.push({ pointer: '/body/siblingIds', message: 'names the child the request is for' });
  for (const [i, id] of (input.siblingIds ?? []).entries()) {
    const visible = visibleChildSql(ctx);
    const found = await ctx.trx('children as c').where({ 'c.tenant_id': ctx.tenantId, 'c.id': id }).whereNull('c.deleted_at').whereRaw(visible.sql, visible.bindings).first('c.id');
    if (!found) errors.push({ pointer: `/body/siblingIds/${i}`, message: 'is not a child of this tenant' });
  }
  if (merged.childCount !== undefined && merged.childCount < 1 + merged.siblingIds.length) errors.push({ pointer: '/body/childCount', message: `is less than this child and the ${merged.siblingIds.length} sibling(s) named` });
  if (errors.length) throw Problem.unprocessable(errors);
}

async function findMatchingRequest(ctx: OperationContext, options: { lock?: boolean } = {}): Promise<MatchingRequestRow> {
  const visible = visibleChildSql(ctx);
  const query = ctx.trx('matching_requests as m')
    .join('children as c', (j) => j.on('c.tenant_id', 'm.tenant_id').andOn('c.id', 'm.child_id'))
    .where({ 'm.tenant_id': ctx.tenantId, 'm.id': ctx.params.matchingRequestId })
    .whereRaw(visible.sql, visible.bindings)
    .first('m.*');
  if (options.lock) query.forUpdate('m');
  const row = (await query) as MatchingRequestRow | undefined;
  if (!row) throw Problem.notFound('The matching request');
  return row;
}

async function createMatchingRequest(ctx: OperationContext): Promise<OperationResult> {
  const input = ctx.body as MatchingInput & { placementKind: PlacementKind; wantedFrom: string };
  const child = await findChild(ctx, ctx.params.childId!);
  const siblings = input.siblingIds ?? [];
  await checkMatchingInput(ctx, child.id, { wantedFrom: input.wantedFrom, plannedEnd: input.plannedEnd ?? null, siblingIds: siblings, childCount: input.childCount }, input);
  const [row] = (await ctx.trx('matching_requests')
    .insert({ tenant_id: ctx.tenantId, id: newId(), child_id: child.id, ...matchingColumns(input), child_count: input.childCount ?? 1 + siblings.length, status: 'open', created_by: actorUserId(ctx.principal) })
    .returning('*')) as MatchingRequestRow[];
  const body = matchingRequestToApi(row!);
  // A new record is an addition to the child's case (the resource in the path); later events name the record itself.
  await ctx.audit({ action: 'matching_request.created', entityType: 'child', entityId: child.id, after: body });
  return created(body, `/v1/matching-requests/${body.id}`);
}

async function listMatchingRequests(ctx: OperationContext): Promise<OperationResult> {
  const q = ctx.query as { limit: number; cursor?: string; childId?: string; status?: string };
  const after = decodeCursor(q.cursor, 1);
  const visible = visibleChildSql(ctx);
  const query = ctx.trx('matching_requests as m')
    .join('children as c', (j) => j.on('c.tenant_id', 'm.tenant_id').andOn('c.id', 'm.child_id'))
    .where('m.tenant_id', ctx.tenantId!)
    .whereRaw(visible.sql, visible.bindings)
    .orderBy('m.id')
    .limit(q.limit + 1)
    .select('m.*');
  if (after) query.where('m.id', '>', after[0] as string);
  if (q.childId) query.where('m.child_id', q.childId);
  if (q.status) query.where('m.status', q.status);
  const rows = (await query) as MatchingRequestRow[];
  return { status: 200, body: toPage(rows, q.limit, (r) => [r.id], matchingRequestToApi) };
}

async function getMatchingRequest(ctx: OperationContext): Promise<OperationResult> {
  const row = await findMatchingRequest(ctx);
  return { status: 200, body: matchingRequestToApi(row), headers: { ETag: etagOf(row.version) } };
}

async function updateMatchingRequest(ctx: OperationContext): Promise<OperationResult> {
  const input = ctx.body as MatchingInput;
  const before = await findMatchingRequest(ctx, { lock: true });
  assertIfMatch(ctx.ifMatch, before.version);
  const siblings = input.siblingIds ?? before.sibling_ids;
  await checkMatchingInput(ctx, before.child_id, { wantedFrom: input.wantedFrom ?? before.wanted_from, plannedEnd: input.plannedEnd !== undefined ? input.plannedEnd : before.planned_end, siblingIds: siblings, childCount: input.childCount ?? before.child_count }, input);
  const [row] = (await ctx.trx('matching_requests')
    .where({ tenant_id: ctx.tenantId, id: before.id })
    .update({ ...matchingColumns(input), version: before.version + 1, updated_at: ctx.trx.fn.now() })
    .returning('*')) as MatchingRequestRow[];
  const body = matchingRequestToApi(row!);
  await ctx.audit({ action: 'matching_request.updated', entityType: 'matching_request', entityId: body.id, before: matchingRequestToApi(before), after: body });
  return { status: 200, body, headers: { ETag: etagOf(row!.version) } };
}

async function getMatchingShortlist(ctx: OperationContext): Promise<OperationResult> {
  const q = ctx.query as { limit: number; includeExcluded?: boolean };
  const request = await findMatchingRequest(ctx);
  const child = await findChild(ctx, request.child_id);
  const households = await householdsForMatching(ctx.trx, ctx.tenantId!, request.wanted_from, undefined, ctx.services.packs);
  // One query for the occupancy of every household over the wanted period.
  const peaks = await peakOccupancy(ctx.trx, ctx.tenantId!, null, request.wanted_from, request.planned_end);
  const ranked = rankHouseholds(request, child.dateOfBirth, households, peaks, request.child_count);
  return {
    status: 200,
    body: {
      matchingRequestId: request.id,
      asOf: request.wanted_from,
      childAge: ranked.age,
      childrenToPlace: request.child_count,
      considered: households.length,
      candidates: ranked.candidates.slice(0, q.limit),
      excludedCount: ranked.excluded.length,
      excludedByReason: ranked.excludedByReason,
      excluded: q.includeExcluded ? ranked.excluded : [],
    },
  };
}

async function listVacancies(ctx: OperationContext): Promise<OperationResult> {
  const q = ctx.query as { limit: number; cursor?: string; asOf?: string; region?: string; placementKind?: string };
  const asOf = q.asOf ?? (await tenantToday(ctx));
  const after = decodeCursor(q.cursor, 1);
  const households = (await householdsForMatching(ctx.trx, ctx.tenantId!, asOf, undefined, ctx.services.packs)).filter(
    (h) => h.approved && h.terms && (!q.region || (h.region ?? '').toLowerCase() === q.region.toLowerCase()) && (!q.placementKind || h.terms.placementKinds.includes(q.placementKind)) && (!after || h.id > (after[0] as string)),
  );
  const placed = await placedOn(ctx.trx, ctx.tenantId!, null, asOf);
  const free = households
    .map((h) => ({ householdId: h.id, name: h.name, region: h.region, maxChildren: h.terms!.maxChildren, placed: placed.get(h.id) ?? 0, vacancies: h.terms!.maxChildren - (placed.get(h.id) ?? 0), placementKinds: h.terms!.placementKinds, ageMin: h.terms!.ageMin, ageMax: h.terms!.ageMax }))
    .filter((v) => v.vacancies > 0)
    .sort((a, b) => a.householdId.localeCompare(b.householdId))
    .slice(0, q.limit + 1);
  return { status: 200, body: { asOf, ...toPage(free, q.limit, (v) => [v.householdId], (v) => v) } };
}

// ---------------------------------------------------------------- placements

interface PlacementInput {
  householdId: string;
  kind: PlacementKind;
  /** Required by the contract on create; a move passes the current placement's, which a placement made before it was required may lack. */
  placementType: string | null;
  startDate: string;
  plannedEndDate?: string | null;
  longTerm?: boolean;
  matchingRequestId?: string | null;
}

/** A new main placement for a child: checked, placed, started at once or proposed into the approval workflow. */
async function placeChild(ctx: OperationContext, childId: string, input: PlacementInput, pointer: (field: string) => string): Promise<PlacementRow> {
  const child = await findChild(ctx, childId);
  const settings = await placementSettings(ctx);
  const workflow = settings.approvalRequired ? await tenantPlacementWorkflow(ctx) : null;
  if (!workflow && !ctx.principal!.permissions.has('placements:start')) throw new Problem('forbidden', 'The tenant does not require placement approval, so this starts the placement: it needs the permission placements:start');
  const errors: FieldError[] = await requiredPlacementTypeErrors(ctx, input.placementType, pointer('placementType'), 'the placement it follows has none');
  if (input.plannedEndDate && input.plannedEndDate <= input.startDate) errors.push({ pointer: pointer('plannedEndDate'), message: 'is not after the start date' });
  if (input.kind === 'respite') errors.push({ pointer: pointer('kind'), message: 'respite stays are made from the main placement (POST /v1/placements/{placementId}/respite)' });
  if (input.matchingRequestId) {
    const request = (await ctx.trx('matching_requests').where({ tenant_id: ctx.tenantId, id: input.matchingRequestId }).first('child_id', 'sibling_ids')) as { child_id: string; sibling_ids: string[] } | undefined;
    if (!request || (request.child_id !== childId && !(request.sibling_ids ?? []).includes(childId))) errors.push({ pointer: pointer('matchingRequestId'), message: 'is not a matching request for this child' });
  }
  if (errors.length) throw Problem.unprocessable(errors);
  const fit = await checkStay(ctx, child, { childId, householdId: input.householdId, kind: input.kind, startDate: input.startDate, until: null, main: !workflow, exclude: [], pointers: { household: pointer('householdId'), start: pointer('startDate'), kind: pointer('kind') } });
  assertRoom(fit, pointer('householdId'));
  const row: NewPlacement = {
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
  };
  const placement = await insertPlacement(ctx, row);
  if (placement.status === 'active') await recordStarted(ctx, placement);
  if (input.matchingRequestId) await ctx.trx('matching_requests').where({ tenant_id: ctx.tenantId, id: input.matchingRequestId, status: 'open' }).update({ status: 'matched', version: ctx.trx.raw('version + 1'), updated_at: ctx.trx.fn.now() });
  return placement;
}

async function createPlacement(ctx: OperationContext): Promise<OperationResult> {
  const row = await placeChild(ctx, ctx.params.childId!, ctx.body as PlacementInput, (f) => `/body/${f}`);
  const body = placementToApi(row);
  await ctx.audit({ action: row.status === 'active' ? 'placement.started' : 'placement.proposed', entityType: 'child', entityId: row.child_id, after: body });
  return created(body, `/v1/placements/${row.id}`);
}

async function listPlacements(ctx: OperationContext): Promise<OperationResult> {
  const q = ctx.query as { limit: number; cursor?: string; childId?: string; householdId?: string; status?: string; workerId?: string; kind?: string; from?: string; to?: string };
  const after = decodeCursor(q.cursor, 1);
  const visible = visibleChildSql(ctx);
  const query = ctx.trx('placements as p')
    .join('children as c', (j) => j.on('c.tenant_id', 'p.tenant_id').andOn('c.id', 'p.child_id'))
    .where('p.tenant_id', ctx.tenantId!)
    .whereRaw(visible.sql, visible.bindings)
    .orderBy('p.id')
    .limit(q.limit + 1)
    .select('p.*');
  if (after) query.where('p.id', '>', after[0] as string);
  if (q.childId) query.where('p.child_id', q.childId);
  if (q.householdId) query.where('p.household_id', q.householdId);
  if (q.status) query.where('p.status', q.status);
  if (q.kind) query.where('p.kind', q.kind);
  if (q.workerId) query.where('c.allocated_worker_id', q.workerId);
  if (q.to) query.where('p.start_date', '<=', q.to);
  if (q.from) query.where((w) => w.whereNull('p.occupied_until').orWhere('p.occupied_until', '>', q.from!));
  const rows = (await query) as PlacementRow[];
  return { status: 200, body: toPage(rows, q.limit, (r) => [r.id], placementToApi) };
}

async function getPlacement(ctx: OperationContext): Promise<OperationResult> {
  const row = await findPlacement(ctx, ctx.params.placementId!);
  return { status: 200, body: placementToApi(row), headers: { ETag: etagOf(row.version) } };
}

async function updatePlacement(ctx: OperationContext): Promise<OperationResult> {
  const input = ctx.body as { startDate?: string; plannedEndDate?: string | null; longTerm?: boolean; placementType?: string };
  const before = await findPlacement(ctx, ctx.params.placementId!, { lock: true });
  assertIfMatch(ctx.ifMatch, before.version);
  if (before.status === 'cancelled') throw new Problem('conflict', 'The placement was cancelled');
  const startDate = input.startDate ?? before.start_date;
  const plannedEnd = input.plannedEndDate !== undefined ? input.plannedEndDate : before.planned_end_date;
  const errors: FieldError[] = await placementTypeErrors(ctx, input.placementType, '/body/placementType');
  if (plannedEnd && plannedEnd <= startDate) errors.push({ pointer: input.plannedEndDate !== undefined ? '/body/plannedEndDate' : '/body/startDate', message: 'the planned end is not after the start date' });
  if (before.end_date && startDate > before.end_date) errors.push({ pointer: '/body/startDate', message: `is after the end date ${before.end_date}` });
  if (before.respite_of && input.plannedEndDate === null) errors.push({ pointer: '/body/plannedEndDate', message: 'a respite stay needs the day the child returns' });
  if (errors.length) throw Problem.unprocessable(errors);
  const datesChange = startDate !== before.start_date || plannedEnd !== before.planned_end_date;
  if (datesChange) {
    const until = before.end_date ?? (before.respite_of ? plannedEnd : null);
    const child = await findChild(ctx, before.child_id);
    const fit = await checkStay(ctx, child, { childId: before.child_id, householdId: before.household_id, kind: before.kind, startDate, until, main: !before.respite_of && ['active', 'ended'].includes(before.status), exclude: [before.id], pointers: { household: '/body/startDate', start: '/body/startDate' } }, { requireTerms: false });
    assertRoom(fit, '/body/startDate');
  }
  const [after] = (await ctx.trx('placements')
    .where({ tenant_id: ctx.tenantId, id: before.id })
    .update({
      start_date: startDate,
      planned_end_date: plannedEnd,
      ...(input.longTerm !== undefined ? { long_term: input.longTerm } : {}),
      ...(input.placementType !== undefined ? { placement_type: input.placementType } : {}),
      version: before.version + 1,
      updated_at: ctx.trx.fn.now(),
    })
    .returning('*')) as PlacementRow[];
  const started = (before.status === 'active' || before.status === 'ended') && !before.respite_of;
  if (started && (after!.start_date !== before.start_date || after!.long_term !== before.long_term)) await recordStarted(ctx, after!, true);
  const body = placementToApi(after!);
  await ctx.audit({ action: 'placement.updated', entityType: 'placement', entityId: before.id, before: placementToApi(before), after: body });
  return { status: 200, body, headers: { ETag: etagOf(after!.version) } };
}

async function getPlacementWorkflow(ctx: OperationContext): Promise<OperationResult> {
  const row = await findPlacement(ctx, ctx.params.placementId!);
  const history = (await workflowSteps(ctx, row.id)).map(stepToApi);
  const open = row.workflow_key && row.workflow_state && !['ended', 'cancelled'].includes(row.status);
  const verdicts = open ? (await judge(ctx, row)).verdicts : [];
  return {
    status: 200,
    body: {
      placementId: row.id,
      workflowKey: row.workflow_key,
      state: row.workflow_state,
      available: verdicts.map((v) => ({ transition: v.transition, to: v.to, allowed: v.allowed, blockers: v.blockers.map((b) => ({ kind: b.kind, detail: b.detail, ...(b.evidence ? { evidence: b.evidence } : {}) })) })),
      history,
    },
  };
}

async function transitionPlacement(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as { transition: string; evidence?: EvidenceInput[]; notes?: string | null };
  const before = await findPlacement(ctx, ctx.params.placementId!, { lock: true });
  const after = await takeStep(ctx, before, body);
  const api = placementToApi(after);
  await ctx.audit({ action: 'placement.transitioned', entityType: 'placement', entityId: before.id, before: placementToApi(before), after: { ...api, transition: body.transition, evidence: body.evidence ?? [] } });
  return { status: 200, body: api, headers: { ETag: etagOf(after.version) } };
}

/** Ending judged by the placement's workflow, where it has one: the end step's permission and conditions; the request itself is its end decision. */
async function endStateFor(ctx: OperationContext, row: PlacementRow): Promise<string | null> {
  if (!row.workflow_key) return null;
  const workflow = await tenantPlacementWorkflow(ctx, row.workflow_key);
  if (!workflow) return null;
  if (!ctx.principal!.permissions.has(workflow.endTransition.permission as never)) throw new Problem('forbidden', `Ending needs the permission ${workflow.endTransition.permission}`);
  return workflow.endedState;
}

async function endPlacement(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as { endDate: string; reasons: EndReason[]; outcome: string; notes?: string | null };
  const before = await findPlacement(ctx, ctx.params.placementId!, { lock: true });
  const endedState = await endStateFor(ctx, before);
  const after = await endRunningPlacement(ctx, before, body, { date: '/body/endDate', reasons: '/body/reasons' }, null, endedState);
  const api = placementToApi(after);
  await ctx.audit({ action: 'placement.ended', entityType: 'placement', entityId: before.id, before: placementToApi(before), after: api });
  return { status: 200, body: api, headers: { ETag: etagOf(after.version) } };
}

async function movePlacement(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as { moveDate: string; reasons: EndReason[]; outcome?: string; notes?: string | null; toPlacementId?: string; householdId?: string; kind?: PlacementKind; placementType?: string; plannedEndDate?: string | null; longTerm?: boolean };
  if (!ctx.principal!.permissions.has('placements:start')) throw new Problem('forbidden', 'Moving starts the next placement: it needs the permission placements:start');
  const current = await findPlacement(ctx, ctx.params.placementId!, { lock: true });
  if (current.respite_of) throw new Problem('conflict', 'A respite stay is not moved; end it');
  if (body.toPlacementId && body.householdId) throw Problem.unprocessable([{ pointer: '/body/householdId', message: 'give either toPlacementId or householdId, not both' }]);
  if (!body.toPlacementId && !body.householdId) throw Problem.unprocessable([{ pointer: '/body/householdId', message: 'is required (or toPlacementId, an approved proposal to start)' }]);
  const endedState = await endStateFor(ctx, current);
  const ended = await endRunningPlacement(ctx, current, { endDate: body.moveDate, reasons: body.reasons, outcome: body.outcome ?? 'planned', notes: body.notes ?? null }, { date: '/body/moveDate', reasons: '/body/reasons' }, null, endedState);
  let next: PlacementRow;
  if (body.toPlacementId) {
    const proposal = await findPlacement(ctx, body.toPlacementId, { lock: true, pointer: '/body/toPlacementId' });
    if (proposal.child_id !== current.child_id || proposal.respite_of) throw Problem.unprocessable([{ pointer: '/body/toPlacementId', message: 'is not a placement of the same child' }]);
    if (proposal.start_date !== body.moveDate) throw Problem.unprocessable([{ pointer: '/body/toPlacementId', message: `starts on ${proposal.start_date}, not on the move date` }]);
    if (proposal.status !== 'approved' || !proposal.workflow_key) throw new Problem('conflict', `The placement ${proposal.id} is ${proposal.status}; only an approved proposal can be started by a move`);
    const workflow = await tenantPlacementWorkflow(ctx, proposal.workflow_key);
    const start = workflow!.definition.transitions.find((t) => t.to === workflow!.runningState && t.from.includes(proposal.workflow_state!));
    if (!start) throw new Problem('conflict', `No step starts the placement from "${proposal.workflow_state}"`);
    next = await takeStep(ctx, proposal, { transition: start.key, notes: `Move from placement ${current.id}` });
  } else {
    next = await placeChild(ctx, current.child_id, { householdId: body.householdId!, kind: body.kind ?? current.kind, placementType: body.placementType ?? current.placement_type, startDate: body.moveDate, plannedEndDate: body.plannedEndDate ?? null, longTerm: body.longTerm ?? false }, (f) => `/body/${f === 'startDate' ? 'moveDate' : f}`);
    if (next.status !== 'active') throw new Problem('conflict', 'The tenant requires placement approval: propose the new placement, have it approved, then move with toPlacementId');
  }
  const [endedRow] = (await ctx.trx('placements').where({ tenant_id: ctx.tenantId, id: ended.id }).update({ moved_to: next.id }).returning('*')) as PlacementRow[];
  const result = { ended: placementToApi(endedRow!), started: placementToApi(next) };
  await ctx.audit({ action: 'placement.moved', entityType: 'placement', entityId: current.id, before: placementToApi(current), after: result });
  return { status: 200, body: result };
}

async function createRespitePlacement(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as { householdId: string; startDate: string; endDate: string; placementType?: string };
  const main = await findPlacement(ctx, ctx.params.placementId!, { lock: true });
  if (main.respite_of) throw new Problem('conflict', 'A respite stay has no respite of its own');
  if (!['active', 'approved', 'proposed'].includes(main.status)) throw new Problem('conflict', `The placement is ${main.status}`);
  const placementType = body.placementType ?? main.placement_type;
  const errors: FieldError[] = await requiredPlacementTypeErrors(ctx, placementType, '/body/placementType', 'the main placement has none');
  if (body.endDate <= body.startDate) errors.push({ pointer: '/body/endDate', message: 'is not after the start date' });
  if (body.startDate < main.start_date) errors.push({ pointer: '/body/startDate', message: `is before the placement starts (${main.start_date})` });
  if (main.end_date && body.endDate > main.end_date) errors.push({ pointer: '/body/endDate', message: `is after the placement ended (${main.end_date})` });
  if (body.householdId === main.household_id) errors.push({ pointer: '/body/householdId', message: 'is the household of the placement itself' });
  if (errors.length) throw Problem.unprocessable(errors);
  const child = await findChild(ctx, main.child_id);
  // Two respite stays of one child do not overlap either.
  const clash = await ctx.trx('placements').where({ tenant_id: ctx.tenantId, respite_of: main.id }).whereNot('status', 'cancelled').where('start_date', '<', body.endDate).where((w) => w.whereNull('occupied_until').orWhere('occupied_until', '>', body.startDate)).first('id');
  if (clash) throw new Problem('conflict', `The child has another respite stay then (${(clash as { id: string }).id})`, { errors: [{ pointer: '/body/startDate', message: 'overlaps another respite stay' }] });
  const fit = await checkStay(ctx, child, { childId: main.child_id, householdId: body.householdId, kind: 'respite', startDate: body.startDate, until: body.endDate, main: false, exclude: [], pointers: { household: '/body/householdId', start: '/body/startDate' } });
  assertRoom(fit, '/body/householdId');
  const row = await insertPlacement(ctx, { childId: main.child_id, householdId: body.householdId, kind: 'respite', placementType, startDate: body.startDate, plannedEndDate: body.endDate, longTerm: false, matchingRequestId: null, respiteOf: main.id, status: 'active', workflowKey: null, workflowState: null });
  const api = placementToApi(row);
  await ctx.audit({ action: 'placement.respite_created', entityType: 'placement', entityId: main.id, after: api });
  return created(api, `/v1/placements/${row.id}`);
}

async function setPlacementAgreement(ctx: OperationContext): Promise<OperationResult> {
  const { submissionId } = ctx.body as { submissionId: string };
  const before = await findPlacement(ctx, ctx.params.placementId!, { lock: true });
  assertIfMatch(ctx.ifMatch, before.version);
  const keys = agreementFormKeys(await tenantPlacementWorkflow(ctx, before.workflow_key));
  const submission = (await ctx.trx('form_submissions').where({ tenant_id: ctx.tenantId, id: submissionId }).first('form_key', 'subject_type', 'subject_id')) as { form_key: string; subject_type: string; subject_id: string } | undefined;
  const errors: FieldError[] = [];
  if (!submission) errors.push({ pointer: '/body/submissionId', message: 'is not a form submission of this tenant' });
  else {
    if (!keys.includes(submission.form_key)) errors.push({ pointer: '/body/submissionId', message: `is a "${submission.form_key}" form, not the placement agreement (${keys.join(', ') || "the tenant's pack names none"})` });
    const about = (submission.subject_type === 'placement' && submission.subject_id === before.id) || (submission.subject_type === 'child' && submission.subject_id === before.child_id);
    if (!about) errors.push({ pointer: '/body/submissionId', message: 'is not about this placement or its child' });
  }
  if (errors.length) throw Problem.unprocessable(errors);
  const [after] = (await ctx.trx('placements').where({ tenant_id: ctx.tenantId, id: before.id }).update({ agreement_submission_id: submissionId, version: before.version + 1, updated_at: ctx.trx.fn.now() }).returning('*')) as PlacementRow[];
  const api = placementToApi(after!);
  await ctx.audit({ action: 'placement.agreement_linked', entityType: 'placement', entityId: before.id, before: placementToApi(before), after: api });
  return { status: 200, body: api, headers: { ETag: etagOf(after!.version) } };
}

export const placementOperations: OperationMap = {
  getPlacementSettings: { access: { permission: 'placements:read' }, handle: getPlacementSettings },
  updatePlacementSettings: { access: { permission: 'placements:approve' }, handle: updatePlacementSettings },
  createMatchingRequest: { access: { permission: 'placements:match' }, handle: createMatchingRequest },
  listMatchingRequests: { access: { permission: 'placements:read' }, handle: listMatchingRequests },
  getMatchingRequest: { access: { permission: 'placements:read' }, handle: getMatchingRequest },
  updateMatchingRequest: { access: { permission: 'placements:match' }, handle: updateMatchingRequest },
  getMatchingShortlist: { access: { permission: 'placements:match' }, handle: getMatchingShortlist },
  listVacancies: { access: { permission: 'placements:read' }, handle: listVacancies },
  createPlacement: { access: { permission: 'placements:manage' }, handle: createPlacement },
  listPlacements: { access: { permission: 'placements:read' }, handle: listPlacements },
  getPlacement: { access: { permission: 'placements:read' }, handle: getPlacement },
  updatePlacement: { access: { permission: 'placements:manage' }, handle: updatePlacement },
  getPlacementWorkflow: { access: { permission: 'placements:read' }, handle: getPlacementWorkflow },
  // Each step names its own permission in the pack's workflow; reading placements is the floor.
  transitionPlacement: { access: { permission: 'placements:read' }, handle: transitionPlacement },
  endPlacement: { access: { permission: 'placements:end' }, handle: endPlacement },
  movePlacement: { access: { permission: 'placements:end' }, handle: movePlacement },
  createRespitePlacement: { access: { permission: 'placements:manage' }, handle: createRespitePlacement },
  setPlacementAgreement: { access: { permission: 'placements:manage' }, handle: setPlacementAgreement },
  ...visitOperations,
};
