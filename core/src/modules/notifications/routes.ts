import type { QueryBuilder } from 'objection';
import { findOne } from '../../db/find';
import { keysetPage } from '../../db/keyset';
import { patchVersioned } from '../../db/versioned';
import { defineOperations, type OperationResult, type TenantContext, type TenantScope } from '../../http/operation';
import { assertIfMatch } from '../../http/etag';
import { Problem, type FieldError } from '../../http/problem';
import { ok } from '../../http/results';
import { iso } from '../../time';
import { userPrincipal } from '../auth/credentials';
import { childVisible, placementVisible, type Fenced } from '../children/visibility';
import { tenantPack } from '../configuration/tenantPack';
import { NOTIFICATION_EVENTS, type NotificationEvent, type NotificationMedium } from './catalogue';
import {
  NotificationAttempt,
  NotificationMessage,
  NotificationPreferences,
  NotificationSettingsRow,
  type EventPolicy,
} from './models';
import { recordsOf } from './delivery';
import { templatedMedia } from './render';
import { optOutKey } from './settings';
import { templateOperations } from './templateRoutes';

type Query = QueryBuilder<NotificationMessage, NotificationMessage[]>;

/** Messages about a child (or its placement) hidden from the caller are outside the log, as the child is. */
function fenced<Q extends { where(condition: unknown): Q }>(ctx: Fenced, query: Q): Q {
  return query
    .where(childVisible(ctx, 'outbound_messages.child_id'))
    .where(placementVisible(ctx, 'outbound_messages.placement_id'));
}

function findMessage(ctx: Fenced, id: string, narrow?: (q: Query) => void): Promise<NotificationMessage> {
  return findOne<NotificationMessage>(ctx, NotificationMessage, id, {
    narrow: (q) => {
      fenced(ctx, q as Query);
      narrow?.(q as Query);
    },
  });
}

function messageToApi(row: NotificationMessage) {
  return {
    id: row.id,
    event: row.event,
    channel: row.channel,
    recipient: row.recipient,
    userId: row.userId,
    status: row.status,
    critical: row.critical,
    attempts: row.attempts,
    lastError: row.lastError,
    subject: row.subject,
    templateVersion: row.templateVersion,
    notBefore: iso(row.notBefore),
    sentAt: iso(row.sentAt),
    deliveredAt: iso(row.deliveredAt),
    childId: row.childId,
    householdId: row.householdId,
    placementId: row.placementId,
    claimId: row.claimId,
    paymentRunId: row.paymentRunId,
    destroyedAt: iso(row.destroyedAt),
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
  };
}

function inboxToApi(row: NotificationMessage) {
  return {
    id: row.id,
    event: row.event,
    subject: row.subject,
    body: row.body,
    createdAt: iso(row.createdAt),
    readAt: iso(row.readAt),
  };
}

const newestFirst = [
  { column: 'outbound_messages.created_at', of: (r: NotificationMessage) => iso(r.createdAt) },
  { column: 'outbound_messages.id', of: (r: NotificationMessage) => r.id },
];

async function listInbox(ctx: TenantContext<'listInbox'>): Promise<OperationResult> {
  const me = userPrincipal(ctx);
  const query = fenced(
    ctx,
    NotificationMessage.query(ctx.trx).where({
      'outbound_messages.tenant_id': ctx.tenantId,
      'outbound_messages.user_id': me.id,
      'outbound_messages.channel': 'inapp',
      'outbound_messages.status': 'delivered',
    }),
  );
  if (ctx.query.unread === true) query.whereNull('outbound_messages.read_at');
  if (ctx.query.unread === false) query.whereNotNull('outbound_messages.read_at');
  const page = await keysetPage(query, ctx.query, newestFirst, inboxToApi, 'desc');
  return ok({ data: page.data, nextCursor: page.nextCursor });
}

async function markInboxMessageRead(ctx: TenantContext<'markInboxMessageRead'>): Promise<OperationResult> {
  const me = userPrincipal(ctx);
  const row = await findMessage(ctx, ctx.params.messageId, (q) =>
    q.where({ user_id: me.id, channel: 'inapp', status: 'delivered' }).forUpdate(),
  );
  if (row.readAt) {
    await ctx.audit({
      action: 'notification.read_again',
      entityType: 'notification',
      entityId: row.id,
      after: recordsOf(row),
    });
    return ok(inboxToApi(row));
  }
  const [after] = await NotificationMessage.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, id: row.id })
    .patch({ readAt: ctx.trx.fn.now() as unknown as Date, updatedAt: ctx.trx.fn.now() as unknown as Date })
    .returning('*');
  await ctx.audit({ action: 'notification.read', entityType: 'notification', entityId: row.id, after: recordsOf(row) });
  return ok(inboxToApi(after!));
}

async function listMessages(ctx: TenantContext<'listMessages'>): Promise<OperationResult> {
  const q = ctx.query;
  const query = fenced(ctx, NotificationMessage.query(ctx.trx).where('outbound_messages.tenant_id', ctx.tenantId));
  const exact: Array<[string, string | undefined]> = [
    ['child_id', q.childId],
    ['household_id', q.householdId],
    ['placement_id', q.placementId],
    ['claim_id', q.claimId],
    ['payment_run_id', q.paymentRunId],
    ['user_id', q.userId],
    ['event', q.event],
    ['status', q.status],
    ['channel', q.channel],
  ];
  for (const [column, value] of exact) if (value !== undefined) query.where(`outbound_messages.${column}`, value);
  if (q.recipient) query.whereRaw('lower(outbound_messages.recipient) = lower(?)', [q.recipient]);
  const page = await keysetPage(query, q, newestFirst, messageToApi, 'desc');
  return ok({ data: page.data, nextCursor: page.nextCursor });
}

async function getMessage(ctx: TenantContext<'getMessage'>): Promise<OperationResult> {
  const row = await findMessage(ctx, ctx.params.messageId);
  const attempts = await NotificationAttempt.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, message_id: row.id })
    .orderBy([{ column: 'attempt' }, { column: 'started_at' }])
    .limit(100);
  return ok({
    message: messageToApi(row),
    deliveryAttempts: attempts.map((a) => ({
      attempt: a.attempt,
      channelKey: a.channelKey,
      startedAt: iso(a.startedAt),
      finishedAt: iso(a.finishedAt),
      outcome: a.outcome,
      error: a.error,
      providerMessageId: a.providerMessageId,
    })),
  });
}

/** The settings row, created with the defaults on first change: absent, the tenant is at version 1. */
async function lockedSettings(ctx: TenantScope): Promise<NotificationSettingsRow> {
  const existing = await NotificationSettingsRow.query(ctx.trx).where({ tenant_id: ctx.tenantId }).forUpdate().first();
  if (existing) return existing;
  await ctx.trx('notification_settings').insert({ tenant_id: ctx.tenantId }).onConflict('tenant_id').ignore();
  return (await NotificationSettingsRow.query(ctx.trx).where({ tenant_id: ctx.tenantId }).forUpdate().first())!;
}

async function settingsToApi(ctx: TenantScope, row: NotificationSettingsRow | undefined) {
  const { pack } = await tenantPack(ctx);
  return {
    events: (Object.keys(NOTIFICATION_EVENTS) as NotificationEvent[]).map((event) => {
      const definition = NOTIFICATION_EVENTS[event];
      const chosen = row?.policies[event];
      return {
        event,
        critical: definition.critical,
        recipients: definition.recipients,
        enabled: chosen?.enabled ?? true,
        channels: chosen?.channels ?? [...definition.channels],
        availableChannels: templatedMedia(pack, event),
        chosen: !!chosen,
      };
    }),
    quietHours: row?.quietHours ?? null,
    version: row?.version ?? 1,
  };
}

async function getNotificationSettings(ctx: TenantContext<'getNotificationSettings'>): Promise<OperationResult> {
  const row = await NotificationSettingsRow.query(ctx.trx).where({ tenant_id: ctx.tenantId }).first();
  const body = await settingsToApi(ctx, row);
  return ok(body, body.version);
}

async function updateNotificationSettings(ctx: TenantContext<'updateNotificationSettings'>): Promise<OperationResult> {
  const before = await lockedSettings(ctx);
  assertIfMatch(ctx.ifMatch, before.version);
  const { pack } = await tenantPack(ctx);
  const errors: FieldError[] = [];
  const policies: Record<string, EventPolicy> = { ...before.policies };
  for (const [event, policy] of Object.entries(ctx.body.events ?? {}) as Array<[NotificationEvent, EventPolicy]>) {
    const pointer = `/body/events/${event.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    if (NOTIFICATION_EVENTS[event].critical && (!policy.enabled || !policy.channels.length))
      errors.push({ pointer: `${pointer}/enabled`, message: 'is a critical event, which cannot be turned off' });
    const available = templatedMedia(pack, event);
    policy.channels.forEach((channel: NotificationMedium, i: number) => {
      if (!available.includes(channel))
        errors.push({
          pointer: `${pointer}/channels/${i}`,
          message: `has no wording in the tenant's pack for ${event} (it has: ${available.join(', ') || 'none'})`,
        });
    });
    policies[event] = { enabled: policy.enabled, channels: policy.channels };
  }
  if (errors.length) throw Problem.unprocessable(errors);
  const quietHours = ctx.body.quietHours === undefined ? before.quietHours : ctx.body.quietHours;
  const after = await patchVersioned<NotificationSettingsRow>(
    ctx.trx,
    NotificationSettingsRow,
    before,
    { policies, quietHours } as never,
    { tenant_id: ctx.tenantId },
  );
  await ctx.audit({
    action: 'notification_settings.updated',
    entityType: 'notification_settings',
    entityId: ctx.tenantId,
    before: { policies: before.policies, quietHours: before.quietHours },
    after: { policies: after.policies, quietHours: after.quietHours },
  });
  const body = await settingsToApi(ctx, after);
  return ok(body, body.version);
}

function preferencesToApi(row: Pick<NotificationPreferences, 'optedOut' | 'smsNumber' | 'version'> | undefined) {
  return {
    optedOut: (row?.optedOut ?? []).map((pair) => {
      const at = pair.lastIndexOf(':');
      return { event: pair.slice(0, at) as NotificationEvent, channel: pair.slice(at + 1) as NotificationMedium };
    }),
    smsNumber: row?.smsNumber ?? null,
    version: row?.version ?? 1,
  };
}

async function getMyNotificationPreferences(
  ctx: TenantContext<'getMyNotificationPreferences'>,
): Promise<OperationResult> {
  const me = userPrincipal(ctx);
  const row = await NotificationPreferences.query(ctx.trx).where({ tenant_id: ctx.tenantId, user_id: me.id }).first();
  const body = preferencesToApi(row);
  return ok(body, body.version);
}

async function updateMyNotificationPreferences(
  ctx: TenantContext<'updateMyNotificationPreferences'>,
): Promise<OperationResult> {
  const me = userPrincipal(ctx);
  const key = { tenant_id: ctx.tenantId, user_id: me.id };
  await ctx.trx('notification_preferences').insert(key).onConflict(['tenant_id', 'user_id']).ignore();
  const before = (await NotificationPreferences.query(ctx.trx).where(key).forUpdate().first())!;
  assertIfMatch(ctx.ifMatch, before.version);
  const errors: FieldError[] = [];
  (ctx.body.optedOut ?? []).forEach((o, i) => {
    if (NOTIFICATION_EVENTS[o.event].critical)
      errors.push({
        pointer: `/body/optedOut/${i}/event`,
        message: 'is a critical event, which cannot be opted out of',
      });
  });
  if (errors.length) throw Problem.unprocessable(errors);
  const changes: Partial<NotificationPreferences> = {};
  if (ctx.body.optedOut) changes.optedOut = ctx.body.optedOut.map((o) => optOutKey(o.event, o.channel)).sort();
  if (ctx.body.smsNumber !== undefined) changes.smsNumber = ctx.body.smsNumber;
  const after = await patchVersioned<NotificationPreferences>(
    ctx.trx,
    NotificationPreferences,
    before,
    changes as never,
    key,
  );
  await ctx.audit({
    action: 'notification_preferences.updated',
    entityType: 'user',
    entityId: me.id,
    before: preferencesToApi(before),
    after: preferencesToApi(after),
  });
  const body = preferencesToApi(after);
  return ok(body, body.version);
}

const inPerson = { authenticated: true, usersOnly: true } as const;

export const notificationOperations = defineOperations({
  listInbox: { access: inPerson, handle: listInbox },
  markInboxMessageRead: { access: inPerson, handle: markInboxMessageRead },
  listMessages: { access: { permission: 'notifications:read' }, handle: listMessages },
  getMessage: { access: { permission: 'notifications:read' }, handle: getMessage },
  getNotificationSettings: { access: { permission: 'notifications:read' }, handle: getNotificationSettings },
  updateNotificationSettings: { access: { permission: 'notifications:manage' }, handle: updateNotificationSettings },
  getMyNotificationPreferences: { access: inPerson, handle: getMyNotificationPreferences },
  updateMyNotificationPreferences: { access: inPerson, handle: updateMyNotificationPreferences },
  ...templateOperations,
});
