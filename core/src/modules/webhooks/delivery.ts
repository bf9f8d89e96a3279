import { notifyWebhookEndpointDisabled } from '../notifications/domainEvents';
import type { Knex } from 'knex';
import { open } from '../../crypto/secretBox';
import { newId } from '../../ids';
import { enqueue } from '../../jobs/queue';
import type { JobContext } from '../../jobs/worker';
import { HIDDEN_FROM_ENDPOINTS } from '../events/publish';
import { DomainEvent, eventToApi } from '../events/models';
import { WebhookAttempt, WebhookDelivery, WebhookEndpoint } from './models';
import { sendOnce, type SendOutcome } from './send';
import { WEBHOOK_DELIVERY_JOB, deliveryJobKey, retryDelayMs, webhookSettings, type WebhookSettings } from './settings';
import { signedHeaders } from './signing';

export interface DeliveryJobPayload {
  deliveryId: string;
  /** The attempt this job makes (1-based); a job whose attempt is already recorded does nothing. */
  attempt: number;
  trigger?: 'automatic' | 'replay';
}

/** Enqueues attempt `attempt` of a delivery, in the caller's transaction, due at `runAfter`. */
export async function enqueueAttempt(
  trx: Knex.Transaction,
  tenantId: string,
  payload: DeliveryJobPayload,
  runAfter?: Date,
): Promise<void> {
  await enqueue(trx, {
    tenantId,
    kind: WEBHOOK_DELIVERY_JOB,
    uniqueKey: deliveryJobKey(payload.deliveryId, payload.attempt),
    payload: { ...payload },
    runAfter,
    maxAttempts: webhookSettings().jobAttempts,
  });
}

/** The secrets that sign now: the current one, and the one a rotation replaced while its overlap lasts. */
function signingSecrets(endpoint: WebhookEndpoint, dataKey: Buffer, now: Date): string[] {
  const secrets = [open(dataKey, endpoint.secretSealed)];
  if (
    endpoint.previousSecretSealed &&
    endpoint.previousSecretExpiresAt &&
    new Date(endpoint.previousSecretExpiresAt) > now
  )
    secrets.push(open(dataKey, endpoint.previousSecretSealed));
  return secrets;
}

type Prepared =
  { kind: 'skip'; why: string } | { kind: 'send'; url: string; body: string; headers: Record<string, string> };

/** Reads what the attempt needs, or settles the delivery without sending (endpoint gone or off, event now hidden). */
async function prepare(
  trx: Knex.Transaction,
  tenantId: string,
  payload: DeliveryJobPayload,
  dataKey: Buffer,
): Promise<Prepared> {
  const delivery = await WebhookDelivery.query(trx).where({ tenant_id: tenantId, id: payload.deliveryId }).first();
  if (!delivery) return { kind: 'skip', why: 'the delivery is gone' };
  // Recorded already: this job ran before, and its worker died after committing the outcome.
  if (delivery.attempts >= payload.attempt || delivery.status !== 'pending')
    return { kind: 'skip', why: `attempt ${payload.attempt} is already recorded` };
  const endpoint = await WebhookEndpoint.query(trx).where({ tenant_id: tenantId, id: delivery.endpointId }).first();
  if (!endpoint || endpoint.deletedAt || !endpoint.enabled) {
    const why = endpoint?.deletedAt || !endpoint ? 'the endpoint was removed' : 'the endpoint is disabled';
    await settle(trx, delivery, { status: 'failed', lastError: why });
    return { kind: 'skip', why };
  }
  const event = (await DomainEvent.query(trx)
    .alias('e')
    .where({ 'e.tenant_id': tenantId, 'e.id': delivery.eventId })
    .select('e.*', trx.raw(`${HIDDEN_FROM_ENDPOINTS} AS hidden`))
    .first()) as (DomainEvent & { hidden: boolean }) | undefined;
  if (!event || event.hidden) {
    // The child was restricted after the event was published: no endpoint may hear of it now.
    await settle(trx, delivery, { status: 'withheld', lastError: null });
    return { kind: 'skip', why: 'the event is about a restricted child' };
  }
  const body = JSON.stringify(eventToApi(event));
  // The event's id is the webhook-id: the same on every attempt and replay, the receiver's key for duplicates.
  const headers = signedHeaders(signingSecrets(endpoint, dataKey, new Date()), event.id, body);
  return { kind: 'send', url: endpoint.url, body, headers };
}

async function settle(
  trx: Knex.Transaction,
  delivery: WebhookDelivery,
  changes: { status: WebhookDelivery['status']; lastError: string | null },
): Promise<void> {
  await WebhookDelivery.query(trx)
    .where({ tenant_id: delivery.tenantId, id: delivery.id })
    .patch({ ...changes, nextAttemptAt: null, updatedAt: trx.fn.now() as unknown as Date });
}

/**
 * Records the attempt's outcome and what follows it, all in one transaction: the attempt row, the
 * delivery's state, the next attempt's job (or the dead letter), the endpoint's failing streak and,
 * once it has failed for `disableAfterMs`, its disabling with an audit event. A worker that dies
 * before this commits leaves the job to be taken up again (the same webhook-id sent once more); one
 * that dies after leaves nothing to redo: the job finds its attempt recorded.
 */
async function record(
  ctx: JobContext,
  trx: Knex.Transaction,
  payload: DeliveryJobPayload,
  outcome: SendOutcome,
  settings: WebhookSettings,
): Promise<string> {
  const delivery = await WebhookDelivery.query(trx)
    .where({ tenant_id: ctx.tenantId, id: payload.deliveryId })
    .forUpdate()
    .first();
  if (!delivery || delivery.attempts >= payload.attempt || delivery.status !== 'pending')
    return 'recorded by another run';
  await WebhookAttempt.query(trx).insert({
    tenantId: ctx.tenantId,
    id: newId(),
    deliveryId: delivery.id,
    attempt: payload.attempt,
    trigger: payload.trigger ?? 'automatic',
    startedAt: outcome.startedAt,
    durationMs: outcome.durationMs,
    outcome: outcome.ok ? 'succeeded' : 'failed',
    responseCode: outcome.responseCode,
    error: outcome.error,
  });
  const endpoint = (await WebhookEndpoint.query(trx)
    .where({ tenant_id: ctx.tenantId, id: delivery.endpointId })
    .forUpdate()
    .first())!;
  const attemptFields = {
    attempts: payload.attempt,
    lastAttemptAt: outcome.startedAt,
    lastResponseCode: outcome.responseCode,
    lastError: outcome.error,
    updatedAt: trx.fn.now() as unknown as Date,
  };
  const deliveries = WebhookDelivery.query(trx).where({ tenant_id: ctx.tenantId, id: delivery.id });

  if (outcome.ok) {
    await deliveries.patch({ ...attemptFields, status: 'succeeded', nextAttemptAt: null });
    if (endpoint.failingSince)
      await WebhookEndpoint.query(trx)
        .where({ tenant_id: ctx.tenantId, id: endpoint.id })
        .patch({ failingSince: null });
    return 'succeeded';
  }

  const failingSince = endpoint.failingSince ? new Date(endpoint.failingSince) : outcome.startedAt;
  if (!endpoint.failingSince)
    await WebhookEndpoint.query(trx).where({ tenant_id: ctx.tenantId, id: endpoint.id }).patch({ failingSince });
  const failingFor = Date.now() - failingSince.getTime();
  if (endpoint.enabled && failingFor >= settings.disableAfterMs) {
    await disableEndpoint(ctx, trx, endpoint, failingSince);
    await deliveries.patch({ ...attemptFields, status: 'failed', nextAttemptAt: null });
    return 'failed; endpoint disabled';
  }
  if (payload.attempt >= settings.maxAttempts) {
    await deliveries.patch({ ...attemptFields, status: 'failed', nextAttemptAt: null });
    return 'failed for good';
  }
  const nextAt = new Date(Date.now() + retryDelayMs(settings, payload.attempt));
  await deliveries.patch({ ...attemptFields, nextAttemptAt: nextAt });
  await enqueueAttempt(trx, ctx.tenantId, { deliveryId: delivery.id, attempt: payload.attempt + 1 }, nextAt);
  return 'failed; retry queued';
}

/**
 * Turns off an endpoint that has failed for days. The tenant's administrators are told through the
 * notifications outbox in the same transaction; the audit event is published as the
 * `webhook_endpoint.disabled` event to the tenant's other endpoints and the feed.
 */
async function disableEndpoint(
  ctx: JobContext,
  trx: Knex.Transaction,
  endpoint: WebhookEndpoint,
  failingSince: Date,
): Promise<void> {
  const reason = `every delivery failed since ${failingSince.toISOString()}`;
  const [after] = await WebhookEndpoint.query(trx)
    .where({ tenant_id: ctx.tenantId, id: endpoint.id })
    .patch({
      enabled: false,
      disabledReason: reason,
      disabledAt: trx.fn.now() as unknown as Date,
      version: endpoint.version + 1,
      updatedAt: trx.fn.now() as unknown as Date,
    })
    .returning('*');
  await ctx.audit(trx, {
    action: 'webhook_endpoint.disabled',
    entityType: 'webhook_endpoint',
    entityId: endpoint.id,
    before: { enabled: true, url: endpoint.url },
    after: { enabled: false, url: after!.url, disabledReason: reason, failingSince: failingSince.toISOString() },
  });
  await notifyWebhookEndpointDisabled(
    { trx, tenantId: ctx.tenantId },
    { id: endpoint.id, url: after!.url, failingSince: failingSince.toISOString() },
  );
}

/**
 * The `webhook-delivery` job: one attempt of one delivery. The HTTP request is made outside any
 * transaction (a slow receiver holds no connection or lock); what it answered is recorded after.
 */
export async function webhookDeliveryJob(ctx: JobContext): Promise<unknown> {
  const payload = ctx.job.payload as unknown as DeliveryJobPayload;
  const settings = webhookSettings();
  const prepared = await ctx.inTenant((trx) => prepare(trx, ctx.tenantId, payload, ctx.services.config.dataKey));
  if (prepared.kind === 'skip') return { skipped: prepared.why };
  const outcome = await sendOnce(prepared.url, prepared.body, prepared.headers, settings);
  const result = await ctx.inTenant((trx) => record(ctx, trx, payload, outcome, settings));
  return { outcome: result, responseCode: outcome.responseCode, durationMs: outcome.durationMs };
}
