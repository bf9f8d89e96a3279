import type { PartialModelObject } from 'objection';
import { seal } from '../../crypto/secretBox';
import { findOne, type FindOptions } from '../../db/find';
import { keysetPage } from '../../db/keyset';
import { patchVersioned } from '../../db/versioned';
import { assertIfMatch } from '../../http/etag';
import { defineOperations, type OperationResult, type TenantContext, type TenantScope } from '../../http/operation';
import { Problem, type FieldError } from '../../http/problem';
import { accepted, created, noContent, ok } from '../../http/results';
import { newId } from '../../ids';
import { iso } from '../../time';
import { subjectVisible } from '../children/visibility';
import { HIDDEN_FROM_ENDPOINTS } from '../events/publish';
import { EVENT_TYPES } from '../events/vocabulary';
import { AddressRefused, hostOf, resolvePublic } from './addresses';
import { enqueueAttempt } from './delivery';
import { WebhookAttempt, WebhookDelivery, WebhookEndpoint } from './models';
import { urlRefusal } from './send';
import { webhookSettings } from './settings';
import { newWebhookSecret } from './signing';

function endpointToApi(row: WebhookEndpoint) {
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    eventTypes: row.eventTypes,
    enabled: row.enabled,
    disabledReason: row.disabledReason,
    disabledAt: iso(row.disabledAt),
    failingSince: iso(row.failingSince),
    previousSecretExpiresAt: iso(row.previousSecretExpiresAt),
    version: row.version,
    createdAt: iso(row.createdAt)!,
    updatedAt: iso(row.updatedAt)!,
  };
}

type DeliveryRow = WebhookDelivery & { eventType: string };

function deliveryToApi(row: DeliveryRow) {
  return {
    id: row.id,
    endpointId: row.endpointId,
    eventId: row.eventId,
    eventType: row.eventType,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: iso(row.nextAttemptAt),
    lastAttemptAt: iso(row.lastAttemptAt),
    lastResponseCode: row.lastResponseCode,
    lastError: row.lastError,
    createdAt: iso(row.createdAt)!,
  };
}

/** The tenant's endpoint (not removed), or not found. */
export function findWebhookEndpoint(
  scope: TenantScope,
  endpointId: string,
  options: FindOptions = {},
): Promise<WebhookEndpoint> {
  return findOne<WebhookEndpoint>(scope, WebhookEndpoint, endpointId, { ...options, softDeleted: true });
}

/**
 * Deliveries as the caller may see them: one whose event is about a child hidden from the caller is
 * not found, like the event itself in the feed.
 */
function visibleDeliveries(ctx: TenantScope) {
  return WebhookDelivery.query(ctx.trx)
    .alias('d')
    .join('events as e', (j) => j.on('e.tenant_id', 'd.tenant_id').andOn('e.id', 'd.event_id'))
    .where('d.tenant_id', ctx.tenantId)
    .where(subjectVisible(ctx, 'e.fence_type', 'e.fence_id'))
    .select('d.*', 'e.type as event_type');
}

async function findDelivery(ctx: TenantScope, deliveryId: string, lock = false): Promise<DeliveryRow> {
  const row = (await visibleDeliveries(ctx).where('d.id', deliveryId).first()) as DeliveryRow | undefined;
  if (!row) throw Problem.notFound('The webhook delivery');
  if (!lock) return row;
  // The delivery's row alone (the event is append-only, and the application cannot lock it).
  const locked = await WebhookDelivery.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, id: row.id })
    .forUpdate()
    .first();
  return { ...locked!, eventType: row.eventType } as DeliveryRow;
}

/**
 * Whether a URL may receive webhooks: https in production, and (unless the operator allows private
 * addresses) a host that resolves, every address of it public. Checked again at every attempt.
 */
async function urlErrors(url: string, pointer: string): Promise<FieldError[]> {
  const settings = webhookSettings();
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [{ pointer, message: 'is not a URL' }];
  }
  const refusal = urlRefusal(parsed, settings);
  if (refusal) return [{ pointer, message: refusal }];
  if (settings.allowPrivate) return [];
  try {
    await resolvePublic(hostOf(parsed));
  } catch (error) {
    const reason = error instanceof AddressRefused ? error.message : `${hostOf(parsed)} does not resolve`;
    return [{ pointer, message: `refused: ${reason}` }];
  }
  return [];
}

function eventTypeErrors(types: readonly string[] | undefined): FieldError[] {
  return (types ?? []).flatMap((type, i) =>
    type === '*' || EVENT_TYPES.has(type)
      ? []
      : [{ pointer: `/body/eventTypes/${i}`, message: `is not an event type (see the Events tag for the list)` }],
  );
}

async function listWebhookEndpoints(ctx: TenantContext<'listWebhookEndpoints'>): Promise<OperationResult> {
  const query = WebhookEndpoint.query(ctx.trx).where({ tenant_id: ctx.tenantId }).whereNull('deleted_at');
  const page = await keysetPage(query, ctx.query, [{ column: 'id', of: (r) => r.id }], endpointToApi);
  return ok({ data: page.data, nextCursor: page.nextCursor });
}

async function createWebhookEndpoint(ctx: TenantContext<'createWebhookEndpoint'>): Promise<OperationResult> {
  const body = ctx.body;
  const errors = [...(await urlErrors(body.url, '/body/url')), ...eventTypeErrors(body.eventTypes)];
  if (errors.length) throw Problem.unprocessable(errors);
  const secret = newWebhookSecret();
  const row = await WebhookEndpoint.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      id: newId(),
      url: body.url,
      description: body.description ?? null,
      eventTypes: body.eventTypes,
      enabled: body.enabled ?? true,
      secretSealed: seal(ctx.services.config.dataKey, secret),
      createdBy: ctx.principal.id,
    })
    .returning('*');
  const shown = endpointToApi(row);
  await ctx.audit({
    action: 'webhook_endpoint.created',
    entityType: 'webhook_endpoint',
    entityId: row.id,
    after: shown,
  });
  return {
    ...created({ ...shown, secret }, { location: `/v1/webhook-endpoints/${row.id}`, version: row.version }),
    replayBody: { ...shown, secret: 'whsec_…(shown once)' },
  };
}

async function getWebhookEndpoint(ctx: TenantContext<'getWebhookEndpoint'>): Promise<OperationResult> {
  const row = await findWebhookEndpoint(ctx, ctx.params.endpointId);
  return ok(endpointToApi(row), row.version);
}

async function updateWebhookEndpoint(ctx: TenantContext<'updateWebhookEndpoint'>): Promise<OperationResult> {
  const body = ctx.body;
  const before = await findWebhookEndpoint(ctx, ctx.params.endpointId, { lock: true });
  assertIfMatch(ctx.ifMatch, before.version);
  const errors = [
    ...(body.url !== undefined ? await urlErrors(body.url, '/body/url') : []),
    ...eventTypeErrors(body.eventTypes),
  ];
  if (errors.length) throw Problem.unprocessable(errors);
  const changes: PartialModelObject<WebhookEndpoint> = {};
  if (body.url !== undefined) changes.url = body.url;
  if (body.description !== undefined) changes.description = body.description;
  if (body.eventTypes !== undefined) changes.eventTypes = body.eventTypes;
  if (body.enabled !== undefined) {
    changes.enabled = body.enabled;
    // Switched on again: its failing streak starts afresh.
    if (body.enabled && !before.enabled)
      Object.assign(changes, { disabledReason: null, disabledAt: null, failingSince: null });
  }
  const after = await patchVersioned(ctx.trx, WebhookEndpoint, before, changes);
  await ctx.audit({
    action: 'webhook_endpoint.updated',
    entityType: 'webhook_endpoint',
    entityId: before.id,
    before: endpointToApi(before),
    after: endpointToApi(after),
  });
  return ok(endpointToApi(after), after.version);
}

async function deleteWebhookEndpoint(ctx: TenantContext<'deleteWebhookEndpoint'>): Promise<OperationResult> {
  const before = await findWebhookEndpoint(ctx, ctx.params.endpointId, { lock: true });
  assertIfMatch(ctx.ifMatch, before.version);
  // Soft: its deliveries and attempts stay readable; pending ones fail when their job finds it gone.
  await patchVersioned(ctx.trx, WebhookEndpoint, before, {
    deletedAt: ctx.trx.fn.now() as unknown as Date,
    enabled: false,
  });
  await ctx.audit({
    action: 'webhook_endpoint.deleted',
    entityType: 'webhook_endpoint',
    entityId: before.id,
    before: endpointToApi(before),
  });
  return noContent();
}

async function rotateWebhookSecret(ctx: TenantContext<'rotateWebhookSecret'>): Promise<OperationResult> {
  const before = await findWebhookEndpoint(ctx, ctx.params.endpointId, { lock: true });
  const overlapHours = ctx.body?.overlapHours ?? 24;
  const secret = newWebhookSecret();
  const after = await patchVersioned(ctx.trx, WebhookEndpoint, before, {
    secretSealed: seal(ctx.services.config.dataKey, secret),
    previousSecretSealed: overlapHours > 0 ? before.secretSealed : null,
    previousSecretExpiresAt:
      overlapHours > 0 ? (ctx.trx.raw(`now() + (? * interval '1 hour')`, [overlapHours]) as unknown as Date) : null,
  });
  const shown = endpointToApi(after);
  await ctx.audit({
    action: 'webhook_endpoint.secret_rotated',
    entityType: 'webhook_endpoint',
    entityId: before.id,
    after: { previousSecretExpiresAt: shown.previousSecretExpiresAt },
  });
  return { ...ok({ ...shown, secret }, after.version), replayBody: { ...shown, secret: 'whsec_…(shown once)' } };
}

async function listWebhookDeliveries(ctx: TenantContext<'listWebhookDeliveries'>): Promise<OperationResult> {
  const endpoint = await findWebhookEndpoint(ctx, ctx.params.endpointId);
  const query = visibleDeliveries(ctx).where('d.endpoint_id', endpoint.id);
  if (ctx.query.status) query.where('d.status', ctx.query.status);
  const page = await keysetPage(
    query,
    ctx.query,
    [{ column: 'd.id', of: (r) => r.id }],
    (r) => deliveryToApi(r as DeliveryRow),
    'desc',
  );
  return ok({ data: page.data, nextCursor: page.nextCursor });
}

async function getWebhookDelivery(ctx: TenantContext<'getWebhookDelivery'>): Promise<OperationResult> {
  const delivery = await findDelivery(ctx, ctx.params.deliveryId);
  const attempts = await WebhookAttempt.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, delivery_id: delivery.id })
    .orderBy('attempt');
  return ok({
    ...deliveryToApi(delivery),
    attemptLog: attempts.map((a) => ({
      attempt: a.attempt,
      trigger: a.trigger,
      startedAt: iso(a.startedAt)!,
      durationMs: a.durationMs,
      outcome: a.outcome,
      responseCode: a.responseCode,
      error: a.error,
    })),
  });
}

function assertEnabled(endpoint: WebhookEndpoint): void {
  if (!endpoint.enabled)
    throw new Problem('conflict', 'The endpoint is disabled: enable it (PATCH enabled: true) before replaying to it');
}

async function replayWebhookDelivery(ctx: TenantContext<'replayWebhookDelivery'>): Promise<OperationResult> {
  const delivery = await findDelivery(ctx, ctx.params.deliveryId, true);
  assertEnabled(await findWebhookEndpoint(ctx, delivery.endpointId));
  if (delivery.status === 'pending')
    throw new Problem('conflict', 'The delivery is already queued; its next attempt is on its way');
  const [after] = await WebhookDelivery.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, id: delivery.id })
    .patch({
      status: 'pending',
      nextAttemptAt: ctx.trx.fn.now() as unknown as Date,
      updatedAt: ctx.trx.fn.now() as unknown as Date,
    })
    .returning('*');
  await enqueueAttempt(ctx.trx, ctx.tenantId, {
    deliveryId: delivery.id,
    attempt: delivery.attempts + 1,
    trigger: 'replay',
  });
  await ctx.audit({
    action: 'webhook_delivery.replayed',
    entityType: 'webhook_delivery',
    entityId: delivery.id,
    before: { status: delivery.status, attempts: delivery.attempts },
  });
  return accepted(deliveryToApi({ ...after!, eventType: delivery.eventType } as DeliveryRow));
}

async function replayWebhookDeliveries(ctx: TenantContext<'replayWebhookDeliveries'>): Promise<OperationResult> {
  const endpoint = await findWebhookEndpoint(ctx, ctx.params.endpointId, { lock: true });
  assertEnabled(endpoint);
  // Only what failed for good; an event about a child restricted since is not sent again.
  const requeued = (await ctx.trx.raw(
    `UPDATE webhook_deliveries d SET status = 'pending', next_attempt_at = now(), updated_at = now()
       FROM events e
      WHERE d.tenant_id = ? AND d.endpoint_id = ? AND d.status = 'failed'
        AND coalesce(d.last_attempt_at, d.updated_at) >= ?
        AND e.tenant_id = d.tenant_id AND e.id = d.event_id AND NOT ${HIDDEN_FROM_ENDPOINTS}
      RETURNING d.id, d.attempts`,
    [ctx.tenantId, endpoint.id, ctx.body.since],
  )) as { rows: Array<{ id: string; attempts: number }> };
  for (const row of requeued.rows)
    await enqueueAttempt(ctx.trx, ctx.tenantId, { deliveryId: row.id, attempt: row.attempts + 1, trigger: 'replay' });
  await ctx.audit({
    action: 'webhook_endpoint.replayed',
    entityType: 'webhook_endpoint',
    entityId: endpoint.id,
    after: { since: ctx.body.since, queued: requeued.rows.length },
  });
  return accepted({ queued: requeued.rows.length });
}

const manage = { access: { permission: 'webhooks:manage' } } as const;

export const webhookOperations = defineOperations({
  listWebhookEndpoints: { ...manage, handle: listWebhookEndpoints },
  createWebhookEndpoint: { ...manage, handle: createWebhookEndpoint },
  getWebhookEndpoint: { ...manage, handle: getWebhookEndpoint },
  updateWebhookEndpoint: { ...manage, handle: updateWebhookEndpoint },
  deleteWebhookEndpoint: { ...manage, handle: deleteWebhookEndpoint },
  rotateWebhookSecret: { ...manage, handle: rotateWebhookSecret },
  listWebhookDeliveries: { ...manage, handle: listWebhookDeliveries },
  getWebhookDelivery: { ...manage, handle: getWebhookDelivery },
  replayWebhookDelivery: { ...manage, handle: replayWebhookDelivery },
  replayWebhookDeliveries: { ...manage, handle: replayWebhookDeliveries },
});
