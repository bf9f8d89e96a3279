import type { Knex } from 'knex';
import { NOTIFICATION_EVENTS, type NotificationEvent, type NotificationMedium } from './catalogue';
import { NotificationPreferences, NotificationSettingsRow, type EventPolicy, type QuietHours } from './models';

export interface EffectiveSettings {
  version: number;
  quietHours: QuietHours | null;
  policy(event: NotificationEvent): EventPolicy;
}

/** The tenant's choices over the catalogue's defaults: an event the tenant never chose keeps its default. */
export async function tenantNotificationSettings(trx: Knex.Transaction, tenantId: string): Promise<EffectiveSettings> {
  const row = await NotificationSettingsRow.query(trx).where({ tenant_id: tenantId }).first();
  return {
    version: row?.version ?? 0,
    quietHours: row?.quietHours ?? null,
    policy: (event) =>
      row?.policies[event] ?? {
        enabled: true,
        channels: [...NOTIFICATION_EVENTS[event].channels] as NotificationMedium[],
      },
  };
}

export function optOutKey(event: string, channel: NotificationMedium): string {
  return `${event}:${channel}`;
}

/** Each user's preferences, for the users named (one query however many). */
export async function preferencesOf(
  trx: Knex.Transaction,
  tenantId: string,
  userIds: string[],
): Promise<Map<string, NotificationPreferences>> {
  if (!userIds.length) return new Map();
  const rows = await NotificationPreferences.query(trx)
    .where({ tenant_id: tenantId })
    .whereIn('user_id', [...new Set(userIds)]);
  return new Map(rows.map((r) => [r.userId, r]));
}
