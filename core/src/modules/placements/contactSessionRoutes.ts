import type { PartialModelObject } from 'objection';
import { findOne, type FindOptions } from '../../db/find';
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
import { Problem, type FieldError } from '../../http/problem';
import { created, ok } from '../../http/results';
import { newId } from '../../ids';
import { ContactSession, type Placement } from './models';
import { contactSessionToApi } from './present';
import { findPlacement } from './service';
import { activeUserErrors } from './visitRoutes';

/** Supervised contact sessions of a placement. */

type ContactInput = TenantContext<'updatePlacementContactSession'>['body'];

const CONTACT_FIELDS = [
  'withWhom',
  'relationship',
  'supervisorId',
  'venue',
  'scheduledStart',
  'scheduledEnd',
  'status',
  'attendance',
  'cancellationReason',
  'notes',
] as const;

/** Only the fields given; the contract has already refused any other. */
function contactFields(input: ContactInput): PartialModelObject<ContactSession> {
  const out: Record<string, unknown> = {};
  for (const field of CONTACT_FIELDS) if (input[field] !== undefined) out[field] = input[field];
  return out as PartialModelObject<ContactSession>;
}

/** A session of the placement (itself found through the fence), or not found. */
async function findContactSession(
  ctx: TenantScope,
  placement: Placement,
  id: string,
  options: FindOptions = {},
): Promise<ContactSession> {
  return findOne<ContactSession>(ctx, ContactSession, id, {
    ...options,
    narrow: (query) => query.where('placement_id', placement.id),
  });
}

interface ContactState {
  scheduledStart: string;
  scheduledEnd: string | null;
  status: string;
  attendance: string | null;
  cancellationReason: string | null;
}

function contactErrors(merged: ContactState): FieldError[] {
  const errors: FieldError[] = [];
  if (merged.scheduledEnd && Date.parse(merged.scheduledEnd) <= Date.parse(merged.scheduledStart)) {
    errors.push({ pointer: '/body/scheduledEnd', message: 'is not after the scheduled start' });
  }
  if (merged.attendance && merged.status !== 'held')
    errors.push({ pointer: '/body/attendance', message: 'is recorded for a session that was held' });
  if (merged.status === 'held' && !merged.attendance)
    errors.push({ pointer: '/body/attendance', message: 'is required when the session was held' });
  if (merged.status === 'cancelled' && !merged.cancellationReason) {
    errors.push({ pointer: '/body/cancellationReason', message: 'is required when the session is cancelled' });
  }
  return errors;
}

async function createPlacementContactSession(
  ctx: TenantContext<'createPlacementContactSession'>,
): Promise<OperationResult> {
  const input = ctx.body;
  const placement = await findPlacement(ctx, ctx.params.placementId);
  if (['ended', 'cancelled'].includes(placement.status))
    throw new Problem('conflict', `The placement is ${placement.status}`);
  const state = {
    scheduledStart: input.scheduledStart,
    scheduledEnd: input.scheduledEnd ?? null,
    status: 'scheduled',
    attendance: null,
    cancellationReason: null,
  };
  const errors = [...(await activeUserErrors(ctx, input.supervisorId, '/body/supervisorId')), ...contactErrors(state)];
  if (errors.length) throw Problem.unprocessable(errors);
  const row = await ContactSession.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      id: newId(),
      placementId: placement.id,
      ...contactFields(input),
      status: 'scheduled',
      createdBy: actorId(ctx),
    })
    .returning('*');
  const body = contactSessionToApi(row);
  await ctx.audit({
    action: 'contact_session.scheduled',
    entityType: 'placement',
    entityId: placement.id,
    after: body,
  });
  return created(body, {
    location: `/v1/placements/${placement.id}/contact-sessions/${body.id}`,
    version: row.version,
  });
}

async function listPlacementContactSessions(
  ctx: TenantContext<'listPlacementContactSessions'>,
): Promise<OperationResult> {
  const q = ctx.query;
  const placement = await findPlacement(ctx, ctx.params.placementId);
  const query = ContactSession.query(ctx.trx).where({ tenant_id: ctx.tenantId, placement_id: placement.id });
  if (q.status) query.where('status', q.status);
  const columns = [
    { column: 'scheduled_start', of: (r: ContactSession) => new Date(r.scheduledStart).toISOString() },
    { column: 'id', of: (r: ContactSession) => r.id },
  ];
  const page = await keysetPage(query, q, columns, contactSessionToApi);
  return ok({ data: page.data, nextCursor: page.nextCursor });
}

async function updatePlacementContactSession(
  ctx: TenantContext<'updatePlacementContactSession'>,
): Promise<OperationResult> {
  const input = ctx.body;
  const placement = await findPlacement(ctx, ctx.params.placementId);
  const before = await findContactSession(ctx, placement, ctx.params.contactSessionId, { lock: true });
  assertIfMatch(ctx.ifMatch, before.version);
  const pick = <K extends keyof ContactInput>(k: K, current: ContactInput[K]) =>
    input[k] !== undefined ? input[k] : current;
  const merged = {
    scheduledStart: pick('scheduledStart', new Date(before.scheduledStart).toISOString())!,
    scheduledEnd:
      pick('scheduledEnd', before.scheduledEnd ? new Date(before.scheduledEnd).toISOString() : null) ?? null,
    status: pick('status', before.status)!,
    attendance: pick('attendance', before.attendance as ContactInput['attendance']) ?? null,
    cancellationReason: pick('cancellationReason', before.cancellationReason) ?? null,
  };
  const errors = [...(await activeUserErrors(ctx, input.supervisorId, '/body/supervisorId')), ...contactErrors(merged)];
  if (errors.length) throw Problem.unprocessable(errors);
  const after = await patchVersioned(ctx.trx, ContactSession, before, contactFields(input));
  const body = contactSessionToApi(after);
  await ctx.audit({
    action: 'contact_session.updated',
    entityType: 'contact_session',
    entityId: body.id,
    before: contactSessionToApi(before),
    after: body,
  });
  return ok(body, after.version);
}

export const contactSessionOperations = defineOperations({
  createPlacementContactSession: { access: { permission: 'placements:manage' }, handle: createPlacementContactSession },
  listPlacementContactSessions: { access: { permission: 'placements:read' }, handle: listPlacementContactSessions },
  updatePlacementContactSession: { access: { permission: 'placements:manage' }, handle: updatePlacementContactSession },
});
