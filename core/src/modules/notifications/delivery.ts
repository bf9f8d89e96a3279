import type { Knex } from 'knex';
import type { JobContext } from '../../jobs/worker';
import { newId } from '../../ids';
import { todayIn } from '../../time';
import { overlaysInEffect } from '../configuration/effective';
import { tenantOverlays } from '../configuration/tenantConfiguration';
import type { AppServices } from '../../http/operation';
import { PermanentFailure, type OutgoingMessage, type SendResult } from './channels';
import { NotificationMessage, type MessageStatus } from './models';
import { notificationChannels } from './openChannels';
import { renderMessage, type RenderedMessage } from './render';

const FINISHED: ReadonlySet<MessageStatus> = new Set(['sent', 'delivered', 'bounced', 'failed', 'dead']);

/** The tenant's words: the pack's terminology with the tenant's overlays in effect today. */
async function termsOf(
  trx: Knex.Transaction,
  services: AppServices,
  tenantId: string,
  packId: string,
  timeZone: string,
) {
  const terms: Record<string, string> = {};
  for (const [key, item] of services.packs.resolve(packId).points.terminology) terms[key] = item.value;
  for (const overlay of overlaysInEffect(await tenantOverlays(trx, tenantId), todayIn(timeZone)))
    Object.assign(terms, overlay.changes.terminology ?? {});
  return terms;
}

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
}

type Phase1 = { done: MessageStatus; reason?: string } | Prepared;

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
 */
export async function deliverNotificationJob(ctx: JobContext): Promise<unknown> {
  const messageId = String(ctx.job.payload.messageId ?? '');
  const { services, tenantId } = ctx;
  const settings = services.config.notifications;
  const channels = notificationChannels(services);

  const first: Phase1 = await ctx.inTenant(async (trx) => {
    const message = await NotificationMessage.query(trx)
      .where({ tenant_id: tenantId, id: messageId })
      .forUpdate()
      .first();
    if (!message) return { done: 'failed', reason: 'no such message' };
    if (FINISHED.has(message.status)) return { done: message.status };
    const tenant = (await trx('tenants').where({ id: tenantId }).first('name', 'pack_id', 'time_zone')) as {
      name: string;
      pack_id: string;
      time_zone: string;
    };
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
      const terms = await termsOf(trx, services, tenantId, tenant.pack_id, tenant.time_zone);
      rendered = renderMessage(services.packs.resolve(tenant.pack_id), message.event, message.channel, {
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
    await trx('notification_attempts').insert({
      tenant_id: tenantId,
      id: attemptId,
      message_id: message.id,
      attempt,
      channel_key: channelKey,
    });
    await NotificationMessage.query(trx)
      .where({ tenant_id: tenantId, id: message.id })
      .patch({
        status: 'sending',
        attempts: attempt,
        subject: rendered.subject,
        templateVersion: rendered.templateVersion,
        updatedAt: trx.fn.now() as unknown as Date,
      });
    return { message, rendered, attemptId, attempt, channelKey };
  });
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
  await ctx.inTenant(async (trx) => {
    await trx('notification_attempts')
      .where({ tenant_id: tenantId, id: attemptId })
      .update({
        finished_at: trx.fn.now(),
        outcome: result ? result.outcome : permanent ? 'bounced' : 'failed',
        error: failure?.message.slice(0, 2000) ?? null,
        provider_message_id: result?.providerMessageId ?? null,
      });
    await trx('outbound_messages')
      .where({ tenant_id: tenantId, id: message.id })
      .update({
        status,
        last_error: failure?.message.slice(0, 2000) ?? null,
        provider_message_id: result?.providerMessageId ?? null,
        sent_at: result ? trx.fn.now() : null,
        delivered_at: result?.outcome === 'delivered' ? trx.fn.now() : null,
        updated_at: trx.fn.now(),
      });
    if (status !== 'queued')
      await ctx.audit(trx, {
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
      });
  });
  // A failure that may pass goes back to the queue, which retries it after its backoff.
  if (status === 'queued') throw failure!;
  return { messageId, status };
}
