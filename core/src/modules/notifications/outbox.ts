import type { Knex } from 'knex';
import { newId } from '../../ids';
import { NOTIFICATION_EVENTS, type NotificationEvent, type NotificationMedium } from './catalogue';
import { quietUntil } from './quietHours';
import { optOutKey, preferencesOf, tenantNotificationSettings } from './settings';
import { OVERRIDE_KEY, overridesInEffect, type EmbeddedOverride } from './templates';

export const NOTIFICATION_DELIVERY_JOB = 'notification-delivery';

/** Who a notification goes to: a user (inbox, their email, their SMS number), or an address alone (a household's email). */
export interface Recipient {
  userId?: string | null;
  email?: string | null;
  phone?: string | null;
  /** How the message greets them. */
  name?: string | null;
  /**
   * What differs for this recipient where one event tells many (each household its own remittance):
   * its own occurrence (two households may share an address), link, reference, data and records.
   */
  occurrence?: string;
  link?: string | null;
  reference?: string | null;
  data?: Record<string, unknown>;
  records?: MessageRecords;
}

/** The records a message is about, for the communication log and its fence. */
export interface MessageRecords {
  childId?: string | null;
  householdId?: string | null;
  placementId?: string | null;
  claimId?: string | null;
  paymentRunId?: string | null;
}

export interface NotificationInput {
  event: NotificationEvent;
  /**
   * What makes this occurrence of the event one: a reminder's id, a token's id, a run's id. With the
   * recipient and channel it is the message's unique key, so writing the same event twice sends once.
   */
  occurrence: string;
  recipients: Recipient[];
  /**
   * What the templates render with beyond the service, recipient and terms. Never a child's name,
   * date of birth or anything else about a child: a message leaves Hearth, so it carries a link and a
   * reference only.
   */
  data?: Record<string, unknown>;
  /** A path in the front end (HEARTH_APP_URL + path), or null. */
  link?: string | null;
  reference?: string | null;
  records?: MessageRecords;
}

export interface OutboxScope {
  trx: Knex.Transaction;
  tenantId: string;
  /** Now, for quiet hours; a test may move it. */
  now?: Date;
}

interface Planned {
  row: Record<string, unknown>;
  runAfter: Date | null;
}

const CHUNK = 1000;
const JOB_ATTEMPTS_BACKSTOP = 60;

/**
 * Writes an event's messages to the outbox, in the caller's transaction (the event's own), and a
 * delivery job for each: the tenant's policy picks the channels, a person's opt-outs take theirs
 * away (never for a critical event), and quiet hours hold a non-critical SMS until they end. A channel
 * the recipient has no address for is not written. Returns the messages written (none for a repeat).
 */
export async function queueNotification(scope: OutboxScope, input: NotificationInput): Promise<string[]> {
  const { trx, tenantId } = scope;
  const definition = NOTIFICATION_EVENTS[input.event];
  const settings = await tenantNotificationSettings(trx, tenantId);
  const policy = settings.policy(input.event);
  if (!policy.enabled && !definition.critical) return [];
  const channels = new Set<NotificationMedium>(
    definition.critical && !policy.enabled ? definition.channels : policy.channels,
  );
  if (!channels.size) return [];
  const userIds = input.recipients.map((r) => r.userId).filter((id): id is string => !!id);
  const preferences = await preferencesOf(trx, tenantId, userIds);
  let quiet: Date | null | undefined;
  const now = scope.now ?? new Date();
  let timeZone: string | undefined;
  const tenantTimeZone = async () => {
    timeZone ??= ((await trx('tenants').where({ id: tenantId }).first('time_zone')) as { time_zone: string }).time_zone;
    return timeZone;
  };
  // The tenant's own wording in effect today (where the tenant is) travels with the message.
  const overrides = input.recipients.length
    ? await overridesInEffect(trx, tenantId, input.event, 'today')
    : new Map<NotificationMedium, never>();
  const planned: Planned[] = [];
  for (const recipient of input.recipients) {
    const prefs = recipient.userId ? preferences.get(recipient.userId) : undefined;
    for (const channel of channels) {
      if (!definition.critical && prefs?.optedOut.includes(optOutKey(input.event, channel))) continue;
      const address =
        channel === 'email'
          ? recipient.email
          : channel === 'sms'
            ? (recipient.phone ?? prefs?.smsNumber)
            : recipient.userId;
      if (!address) continue;
      let runAfter: Date | null = null;
      if (channel === 'sms' && !definition.critical) {
        if (quiet === undefined) quiet = quietUntil(now, await tenantTimeZone(), settings.quietHours);
        runAfter = quiet;
      }
      const who = recipient.userId ?? address.toLowerCase();
      const records = recipient.records ?? input.records ?? {};
      const override = overrides.get(channel);
      const data: Record<string, unknown> = { ...(input.data ?? {}), ...(recipient.data ?? {}) };
      if (override)
        data[OVERRIDE_KEY] = {
          id: override.id,
          version: override.version,
          subject: override.subject,
          text: override.text,
          html: override.html,
        } satisfies EmbeddedOverride;
      planned.push({
        runAfter,
        row: {
          tenant_id: tenantId,
          id: newId(),
          channel,
          recipient: address,
          template: input.event,
          event: input.event,
          user_id: recipient.userId ?? null,
          critical: definition.critical,
          dedupe_key: `${input.event}:${recipient.occurrence ?? input.occurrence}:${channel}:${who}`,
          not_before: runAfter,
          payload: JSON.stringify({
            data,
            link: recipient.link ?? input.link ?? null,
            reference: recipient.reference ?? input.reference ?? null,
            recipientName: recipient.name ?? null,
          }),
          child_id: records.childId ?? null,
          household_id: records.householdId ?? null,
          placement_id: records.placementId ?? null,
          claim_id: records.claimId ?? null,
          payment_run_id: records.paymentRunId ?? null,
        },
      });
    }
  }
  const written: string[] = [];
  for (let i = 0; i < planned.length; i += CHUNK) {
    const chunk = planned.slice(i, i + CHUNK);
    const rows = (await trx('outbound_messages')
      .insert(chunk.map((p) => p.row))
      .onConflict(trx.raw('(tenant_id, dedupe_key) WHERE dedupe_key IS NOT NULL'))
      .ignore()
      .returning(['id', 'not_before'])) as Array<{ id: string; not_before: Date | null }>;
    if (!rows.length) continue;
    await trx('jobs')
      .insert(
        rows.map((r) => ({
          tenant_id: tenantId,
          id: newId(),
          kind: NOTIFICATION_DELIVERY_JOB,
          unique_key: r.id,
          payload: JSON.stringify({ messageId: r.id }),
          run_after: r.not_before ?? trx.fn.now(),
          // The message counts its own attempts against HEARTH_NOTIFICATION_MAX_ATTEMPTS and dead-letters
          // itself; the job's bound is only the backstop for workers that die on every attempt.
          max_attempts: JOB_ATTEMPTS_BACKSTOP,
        })),
      )
      .onConflict(trx.raw('(tenant_id, kind, unique_key) WHERE unique_key IS NOT NULL'))
      .ignore();
    written.push(...rows.map((r) => r.id));
  }
  return written;
}
