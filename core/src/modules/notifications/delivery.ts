import { knexRaw, type Statement } from '../../db/pipeline';
import { RetryNotBefore, RunLater, type JobContext } from '../../jobs/worker';
import { newId } from '../../ids';
import { todayIn } from '../../time';
import { overlaysInEffect } from '../configuration/effective';
import { ConfigOverlay } from '../configuration/models';
import { overlayToApi } from '../configuration/tenantConfiguration';
import type { ResolvedPack } from '../../packs/registry';
import { PermanentFailure, type OutgoingMessage, type SendResult } from './channels';
import { NotificationMessage, type MessageStatus, type QuietHours } from './models';
import { notificationChannels } from './openChannels';
import { quietUntil } from './quietHours';
import { renderMessage, type RenderedMessage } from './render';

const FINISHED: ReadonlySet<MessageStatus> = new Set(['sent', 'delivered', 'bounced', 'failed', 'dead']);

/** The tenant's words: the pack's terminology with the tenant's overlays (their rows) in effect today. */
function termsOf(pack: ResolvedPack, overlayRows: Array<Record<string, unknown>>, timeZone: string) {
  const terms: Record<string, string> = {};
  for (const [key, item] of pack.points.terminology) terms[key] = item.value;
  const overlays = overlayRows.map((row) => overlayToApi(ConfigOverlay.fromDatabaseJson(row)));
  for (const overlay of overlaysInEffect(overlays, todayIn(timeZone)))
    Object.assign(terms, overlay.changes.terminology ?? {});
  return terms;
}

/**
 * What delivering a message reads, sent with its transaction's BEGIN in one round trip: the message
 * (locked) with its tenant, the tenant's configuration overlays, and its quiet hours.
 */
function deliveryReads(tenantId: string, messageId: string): Statement[] {
  return [
    {
      text: `SELECT m.*, t.name AS hearth_tenant_name, t.pack_id AS hearth_pack_id, t.time_zone AS hearth_time_zone
               FROM outbound_messages m JOIN tenants t ON t.id = m.tenant_id
              WHERE m.tenant_id = $1 AND m.id = $2
                FOR UPDATE OF m`,
      values: [tenantId, messageId],
    },
    { text: `SELECT * FROM tenant_config_overlays WHERE tenant_id = $1 ORDER BY version`, values: [tenantId] },
    { text: `SELECT quiet_hours FROM notification_settings WHERE tenant_id = $1`, values: [tenantId] },
  ];
}

/** Quiet hours hold an SMS that is not critical; nothing else. */
const heldByQuietHours = (message: NotificationMessage) => message.channel === 'sms' && !message.critical;

export function recordsOf(message: NotificationMessage) {
  return {
    childId: message.childId,
    placementId: message.placementId,
    householdId: message.householdId,
    claimId: message.claimId,
    paymentRunId: message.paymentRunId,
  };
}

interface Prepared {
  message: NotificationMessage;
  rendered: RenderedMessage;
  attemptId: string;
  attempt: number;
  channelKey: string;
  timeZone: string;
  quietHours: QuietHours | null;
}

type Phase1 = { done: MessageStatus; reason?: string } | { later: Date } | Prepared;

function outgoing(message: NotificationMessage, rendered: RenderedMessage, from: string): OutgoingMessage {
  return {
    id: message.id,
    idempotencyKey: message.id,
    medium: message.channel === 'sms' ? 'sms' : 'email',
    to: message.recipient,
    from: message.channel === 'email' ? from : null,
    subject: message.channel === 'email' ? rendered.subject : null,
    text: rendered.text,
    html: rendered.html,
    messageId: `<${message.id}@hearth>`,
  };
}

/**
 * Delivers one outbox message (the `notification-delivery` job, payload { messageId }), in three steps:
 * 1. under the message's row lock, render it and record the attempt (status `sending`), and commit;
 * 2. hand it to the channel, outside any transaction;
 * 3. record the outcome: `sent` or `delivered`, `bounced` (refused for good, not retried), or a
 *    failure, retried by the queue with backoff until the last attempt leaves it `dead`.
 * A worker that dies between 2 and 3 leaves the message `sending`; the job's lock runs out and the
 * next attempt sends again with the same Message-ID and idempotency key. Delivery is therefore
 * at-least-once, with every attempt's copy carrying one identity a receiver deduplicates by (the
 * mailbox keeps one file per message, an SMS provider answers a repeated key with its first send).
 * The in-app inbox needs no channel: it is delivered in step 1's transaction, exactly once.
 * An SMS that is not critical is never sent in the tenant's quiet hours: a retry that would fall in
 * them waits for their end, and one claimed in them (hours set since, a queue running late) is put off
 * to their end unsent, the attempt not counted. Each step's reads or writes ride with its
 * transaction's BEGIN, so a message costs a handful of round trips, and the worker runs several at once.
 */
export async function deliverNotificationJob(ctx: JobContext): Promise<unknown> {
  const messageId = String(ctx.job.payload.messageId ?? '');
  const { services, tenantId } = ctx;
  const settings = services.config.notifications;
  const channels = notificationChannels(services);

  const first: Phase1 = await ctx.inTenant(
    async (trx, [found, overlayRows, settingsRows]) => {
      const row = found![0];
      if (!row) return { done: 'failed', reason: 'no such message' };
      const { hearth_tenant_name, hearth_pack_id, hearth_time_zone, ...columns } = row;
      const tenant = {
        name: hearth_tenant_name as string,
        pack_id: hearth_pack_id as string,
        time_zone: hearth_time_zone as string,
      };
      const message = NotificationMessage.fromDatabaseJson(columns);
      if (FINISHED.has(message.status)) return { done: message.status };
      const quietHours = (settingsRows![0]?.quiet_hours as QuietHours | null | undefined) ?? null;
      // Quiet hours hold a retry as they held the first try (the tenant may have set them since): not
      // sent, nor counted as an attempt, but put off to their end.
      const quietEnd = heldByQuietHours(message) ? quietUntil(new Date(), tenant.time_zone, quietHours) : null;
      if (quietEnd) {
        await trx('outbound_messages')
          .where({ tenant_id: tenantId, id: message.id })
          .update({ not_before: quietEnd.toISOString(), updated_at: trx.fn.now() });
        return { later: quietEnd };
      }
      const payload = message.payload as {
        data?: Record<string, unknown>;
        link?: string | null;
        reference?: string | null;
        recipientName?: string | null;
      };
      const attempt = message.attempts + 1;
      const channelKey =
        message.channel === 'inapp'
          ? 'inapp'
          : message.channel === 'sms'
            ? (channels.sms?.key ?? 'none')
            : channels.email.key;
      const finish = async (status: MessageStatus, error: string | null, rendered: RenderedMessage | null) => {
        await trx('notification_attempts').insert({
          tenant_id: tenantId,
          id: newId(),
          message_id: message.id,
          attempt,
          channel_key: channelKey,
          finished_at: trx.fn.now(),
          outcome: status === 'dead' ? 'failed' : status,
          error,
        });
        await NotificationMessage.query(trx)
          .where({ tenant_id: tenantId, id: message.id })
          .patch({
            status,
            attempts: attempt,
            lastError: error,
            subject: rendered?.subject ?? null,
            body: message.channel === 'inapp' ? (rendered?.text ?? null) : null,
            templateVersion: rendered?.templateVersion ?? null,
            deliveredAt: status === 'delivered' ? (trx.fn.now() as unknown as Date) : null,
            sentAt: status === 'delivered' ? (trx.fn.now() as unknown as Date) : null,
            updatedAt: trx.fn.now() as unknown as Date,
          });
        await ctx.audit(trx, {
          action: `notification.${status}`,
          entityType: 'notification',
          entityId: message.id,
          // The records it is about, so the audit trail's fence hides the event wherever it hides them.
          after: { event: message.event, channel: message.channel, attempt, error, ...recordsOf(message) },
        });
      };
      let rendered: RenderedMessage;
      try {
        const pack = services.packs.resolve(tenant.pack_id);
        const terms = termsOf(pack, overlayRows!, tenant.time_zone);
        rendered = renderMessage(pack, message.event, message.channel, {
          ...(payload.data ?? {}),
          link: payload.link ? `${settings.appUrl}${payload.link}` : null,
          reference: payload.reference ?? null,
          service: { name: tenant.name },
          recipient: { name: payload.recipientName ?? message.recipient },
          terms,
        });
      } catch (error) {
        // Wording that cannot be found or rendered will not appear on a retry: the message fails, said why.
        await finish('failed', (error as Error).message, null);
        return { done: 'failed' };
      }
      if (message.channel === 'inapp') {
        await finish('delivered', null, rendered);
        return { done: 'delivered' };
      }
      if (message.channel === 'sms' && !channels.sms) {
        await finish('failed', 'no SMS channel is configured (HEARTH_SMS_CHANNEL)', rendered);
        return { done: 'failed' };
      }
      const attemptId = newId();
      // The attempt and the message's state in one statement: one round trip before the COMMIT.
      await knexRaw(trx, {
        text: `WITH attempt AS (
               INSERT INTO notification_attempts (tenant_id, id, message_id, attempt, channel_key)
               VALUES ($1, $2, $3, $4, $5)
             )
             UPDATE outbound_messages
                SET status = 'sending', attempts = $4, subject = $6, template_version = $7, updated_at = now()
              WHERE tenant_id = $1 AND id = $3`,
        values: [tenantId, attemptId, message.id, attempt, channelKey, rendered.subject, rendered.templateVersion],
      });
      return {
        message,
        rendered,
        attemptId,
        attempt,
        channelKey,
        timeZone: tenant.time_zone,
        quietHours,
      };
    },
    deliveryReads(tenantId, messageId),
  );
  if ('later' in first) throw new RunLater(first.later);
  if ('done' in first) return { messageId, status: first.done };

  const { message, rendered, attemptId, attempt } = first;
  const connection = message.channel === 'sms' ? channels.sms!.connection : channels.email.connection;
  let result: SendResult | null = null;
  let failure: Error | null = null;
  try {
    result = await connection.send(outgoing(message, rendered, settings.emailFrom));
  } catch (error) {
    failure = error instanceof Error ? error : new Error(String(error));
  }

  const permanent =
    failure instanceof PermanentFailure || (failure as { permanent?: boolean } | null)?.permanent === true;
  const last = attempt >= settings.maxAttempts;
  const status: MessageStatus = result ? result.outcome : permanent ? 'bounced' : last ? 'dead' : 'queued';
  // A retry that would fall in the tenant's quiet hours waits for their end instead.
  const retryAt = new Date(Date.now() + ctx.retryInMs);
  const quietEnd =
    status === 'queued' && heldByQuietHours(message) ? quietUntil(retryAt, first.timeZone, first.quietHours) : null;
  const error = failure?.message.slice(0, 2000) ?? null;
  const providerMessageId = result?.providerMessageId ?? null;
  // The outcome rides with the transaction's BEGIN, as do its audit event and the job's end: one round trip and the COMMIT.
  const outcome: Statement = {
    text: `WITH attempt AS (
             UPDATE notification_attempts
                SET finished_at = now(), outcome = $3, error = $4, provider_message_id = $5
              WHERE tenant_id = $1 AND id = $2
           )
           UPDATE outbound_messages
              SET status = $6, last_error = $4, provider_message_id = $5,
                  sent_at = CASE WHEN $7::boolean THEN now() END,
                  delivered_at = CASE WHEN $8::boolean THEN now() END,
                  not_before = coalesce($10::timestamptz, not_before),
                  updated_at = now()
            WHERE tenant_id = $1 AND id = $9`,
    values: [
      tenantId,
      attemptId,
      result ? result.outcome : permanent ? 'bounced' : 'failed',
      error,
      providerMessageId,
      status,
      result !== null,
      result?.outcome === 'delivered',
      message.id,
      quietEnd ? quietEnd.toISOString() : null,
    ],
  };
  const done = { messageId, status };
  const event = {
    action: `notification.${status}`,
    entityType: 'notification',
    entityId: message.id,
    after: {
      event: message.event,
      channel: message.channel,
      attempt,
      error: failure?.message ?? null,
      ...recordsOf(message),
    },
  };
  // A message done with is audited, and ends its job, in the commit that records its outcome, all
  // sent with the BEGIN; a retry is the queue's to schedule, and audited when it ends.
  const audit = status !== 'queued' && ctx.auditAhead ? ctx.auditAhead(event) : null;
  const statements = [outcome];
  if (audit) statements.push(audit.statement);
  if (status !== 'queued' && ctx.succeeded) statements.push(ctx.succeeded(done));
  await ctx.inTenant(async (trx, opened) => {
    if (audit) await audit.settle(trx, opened[1]!);
    else if (status !== 'queued') await ctx.audit(trx, event);
  }, statements);
  if (quietEnd) throw new RetryNotBefore(quietEnd, failure!);
  // A failure that may pass goes back to the queue, which retries it after its backoff.
  if (status === 'queued') throw failure!;
  return done;
}
