import type { OperationContext, OperationMap, OperationResult } from '../../http/operation';
import { assertIfMatch, etagOf } from '../../http/etag';
import { decodeCursor, toPage } from '../../http/pagination';
import { Problem, type FieldError } from '../../http/problem';
import { newId } from '../../ids';
import { recordCaseEvent } from '../tasks/events';
import { actorUserId, contactSessionToApi, visitToApi, type ContactSessionRow, type VisitRow } from './rows';
import { tenantToday } from '../tenants/today';
import { findPlacement } from './service';

/** Visits to a placement and supervised contact sessions: the records, and the case events visits are. */

async function activeUserErrors(ctx: OperationContext, id: string | null | undefined, pointer: string): Promise<FieldError[]> {
  if (!id) return [];
  const user = await ctx.trx('users').where({ tenant_id: ctx.tenantId, id, status: 'active' }).first('id');
  return user ? [] : [{ pointer, message: 'is not an active user of this tenant' }];
}

async function createPlacementVisit(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as { kind: VisitRow['kind']; visitDate: string; visitedBy?: string | null; childSeen?: boolean | null; childSeenAlone?: boolean | null; notes?: string | null };
  const placement = await findPlacement(ctx, ctx.params.placementId!, { lock: true });
  const visitedBy = body.visitedBy !== undefined ? body.visitedBy : actorUserId(ctx.principal);
  const errors = await activeUserErrors(ctx, visitedBy, '/body/visitedBy');
  if (!['active', 'ended'].includes(placement.status)) throw new Problem('conflict', `The placement is ${placement.status}: visits are to a placement that has started`);
  if (body.visitDate < placement.start_date) errors.push({ pointer: '/body/visitDate', message: `is before the placement started (${placement.start_date})` });
  if (placement.end_date && body.visitDate > placement.end_date) errors.push({ pointer: '/body/visitDate', message: `is after the placement ended (${placement.end_date})` });
  if (body.visitDate > (await tenantToday(ctx))) errors.push({ pointer: '/body/visitDate', message: 'is in the future; record a visit once it is made' });
  if (body.childSeenAlone && body.childSeen === false) errors.push({ pointer: '/body/childSeenAlone', message: 'the child was not seen' });
  if (errors.length) throw Problem.unprocessable(errors);
  const id = newId();
  let eventId: string | null = null;
  if (body.kind === 'child_visit') {
    eventId = await recordCaseEvent(ctx, { name: 'placement.visit_held', subjectId: placement.id, occurredOn: body.visitDate, facts: { childSeen: body.childSeen ?? null, childSeenAlone: body.childSeenAlone ?? null }, source: { type: 'placement_visit', id } });
  } else if (body.kind === 'unannounced_visit') {
    eventId = await recordCaseEvent(ctx, { name: 'carer.unannounced_visit_held', subjectId: placement.household_id, occurredOn: body.visitDate, facts: { placementId: placement.id }, source: { type: 'placement_visit', id } });
  }
  const [row] = (await ctx.trx('placement_visits')
    .insert({ tenant_id: ctx.tenantId, id, placement_id: placement.id, kind: body.kind, visit_date: body.visitDate, visited_by: visitedBy, child_seen: body.childSeen ?? null, child_seen_alone: body.childSeenAlone ?? null, notes: body.notes ?? null, case_event_id: eventId, created_by: actorUserId(ctx.principal) })
    .returning('*')) as VisitRow[];
  const api = visitToApi(row!);
  await ctx.audit({ action: 'placement_visit.recorded', entityType: 'placement', entityId: placement.id, after: api });
  return { status: 201, body: api, headers: { Location: `/v1/placements/${placement.id}/visits/${id}` } };
}

async function listPlacementVisits(ctx: OperationContext): Promise<OperationResult> {
  const q = ctx.query as { limit: number; cursor?: string; kind?: string };
  const placement = await findPlacement(ctx, ctx.params.placementId!);
  const after = decodeCursor(q.cursor, 2);
  const query = ctx.trx('placement_visits').where({ tenant_id: ctx.tenantId, placement_id: placement.id }).orderBy([{ column: 'visit_date' }, { column: 'id' }]).limit(q.limit + 1);
  if (after) query.whereRaw('(visit_date, id) > (?::date, ?::uuid)', [after[0]!, after[1]!]);
  if (q.kind) query.where('kind', q.kind);
  const rows = (await query) as VisitRow[];
  return { status: 200, body: toPage(rows, q.limit, (r) => [r.visit_date, r.id], visitToApi) };
}

interface ContactInput {
  withWhom?: string;
  relationship?: string | null;
  supervisorId?: string | null;
  venue?: string | null;
  scheduledStart?: string;
  scheduledEnd?: string | null;
  status?: ContactSessionRow['status'];
  attendance?: string | null;
  cancellationReason?: string | null;
  notes?: string | null;
}

const CONTACT_COLUMNS: Record<keyof ContactInput, string> = {
  withWhom: 'with_whom',
  relationship: 'relationship',
  supervisorId: 'supervisor_id',
  venue: 'venue',
  scheduledStart: 'scheduled_start',
  scheduledEnd: 'scheduled_end',
  status: 'status',
  attendance: 'attendance',
  cancellationReason: 'cancellation_reason',
  notes: 'notes',
};

function contactColumns(input: ContactInput): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, column] of Object.entries(CONTACT_COLUMNS)) {
    const value = input[field as keyof ContactInput];
    if (value !== undefined) out[column] = value;
  }
  return out;
}

function contactErrors(merged: { scheduledStart: string; scheduledEnd: string | null; status: string; attendance: string | null; cancellationReason: string | null }): FieldError[] {
  const errors: FieldError[] = [];
  if (merged.scheduledEnd && Date.parse(merged.scheduledEnd) <= Date.parse(merged.scheduledStart)) errors.push({ pointer: '/body/scheduledEnd', message: 'is not after the scheduled start' });
  if (merged.attendance && merged.status !== 'held') errors.push({ pointer: '/body/attendance', message: 'is recorded for a session that was held' });
  if (merged.status === 'held' && !merged.attendance) errors.push({ pointer: '/body/attendance', message: 'is required when the session was held' });
  if (merged.status === 'cancelled' && !merged.cancellationReason) errors.push({ pointer: '/body/cancellationReason', message: 'is required when the session is cancelled' });
  return errors;
}

async function createPlacementContactSession(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as ContactInput & { withWhom: string; scheduledStart: string };
  const placement = await findPlacement(ctx, ctx.params.placementId!);
  if (['ended', 'cancelled'].includes(placement.status)) throw new Problem('conflict', `The placement is ${placement.status}`);
  const errors = [...(await activeUserErrors(ctx, body.supervisorId, '/body/supervisorId')), ...contactErrors({ scheduledStart: body.scheduledStart, scheduledEnd: body.scheduledEnd ?? null, status: 'scheduled', attendance: null, cancellationReason: null })];
  if (errors.length) throw Problem.unprocessable(errors);
  const [row] = (await ctx.trx('placement_contact_sessions')
    .insert({ tenant_id: ctx.tenantId, id: newId(), placement_id: placement.id, ...contactColumns(body), status: 'scheduled', created_by: actorUserId(ctx.principal) })
    .returning('*')) as ContactSessionRow[];
  const api = contactSessionToApi(row!);
  await ctx.audit({ action: 'contact_session.scheduled', entityType: 'placement', entityId: placement.id, after: api });
  return { status: 201, body: api, headers: { ETag: etagOf(api.version), Location: `/v1/placements/${placement.id}/contact-sessions/${api.id}` } };
}

async function listPlacementContactSessions(ctx: OperationContext): Promise<OperationResult> {
  const q = ctx.query as { limit: number; cursor?: string; status?: string };
  const placement = await findPlacement(ctx, ctx.params.placementId!);
  const after = decodeCursor(q.cursor, 2);
  const query = ctx.trx('placement_contact_sessions').where({ tenant_id: ctx.tenantId, placement_id: placement.id }).orderBy([{ column: 'scheduled_start' }, { column: 'id' }]).limit(q.limit + 1);
  if (after) query.whereRaw('(scheduled_start, id) > (?::timestamptz, ?::uuid)', [after[0]!, after[1]!]);
  if (q.status) query.where('status', q.status);
  const rows = (await query) as ContactSessionRow[];
  return { status: 200, body: toPage(rows, q.limit, (r) => [new Date(r.scheduled_start).toISOString(), r.id], contactSessionToApi) };
}

async function updatePlacementContactSession(ctx: OperationContext): Promise<OperationResult> {
  const input = ctx.body as ContactInput;
  const placement = await findPlacement(ctx, ctx.params.placementId!);
  const before = (await ctx.trx('placement_contact_sessions').where({ tenant_id: ctx.tenantId, placement_id: placement.id, id: ctx.params.contactSessionId }).first().forUpdate()) as ContactSessionRow | undefined;
  if (!before) throw Problem.notFound('The contact session');
  assertIfMatch(ctx.ifMatch, before.version);
  const pick = <K extends keyof ContactInput>(k: K, current: ContactInput[K]) => (input[k] !== undefined ? input[k] : current);
  const merged = {
    scheduledStart: pick('scheduledStart', new Date(before.scheduled_start).toISOString())!,
    scheduledEnd: pick('scheduledEnd', before.scheduled_end ? new Date(before.scheduled_end).toISOString() : null) ?? null,
    status: pick('status', before.status)!,
    attendance: pick('attendance', before.attendance) ?? null,
    cancellationReason: pick('cancellationReason', before.cancellation_reason) ?? null,
  };
  const errors = [...(await activeUserErrors(ctx, input.supervisorId, '/body/supervisorId')), ...contactErrors(merged)];
  if (errors.length) throw Problem.unprocessable(errors);
  const [row] = (await ctx.trx('placement_contact_sessions')
    .where({ tenant_id: ctx.tenantId, id: before.id })
    .update({ ...contactColumns(input), version: before.version + 1, updated_at: ctx.trx.fn.now() })
    .returning('*')) as ContactSessionRow[];
  const api = contactSessionToApi(row!);
  await ctx.audit({ action: 'contact_session.updated', entityType: 'contact_session', entityId: api.id, before: contactSessionToApi(before), after: api });
  return { status: 200, body: api, headers: { ETag: etagOf(api.version) } };
}

export const visitOperations: OperationMap = {
  createPlacementVisit: { access: { permission: 'placements:manage' }, handle: createPlacementVisit },
  listPlacementVisits: { access: { permission: 'placements:read' }, handle: listPlacementVisits },
  createPlacementContactSession: { access: { permission: 'placements:manage' }, handle: createPlacementContactSession },
  listPlacementContactSessions: { access: { permission: 'placements:read' }, handle: listPlacementContactSessions },
  updatePlacementContactSession: { access: { permission: 'placements:manage' }, handle: updatePlacementContactSession },
};
