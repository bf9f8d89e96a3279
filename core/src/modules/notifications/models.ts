import { TenantModel } from '../../db/baseModel';
import type { NotificationMedium } from './catalogue';

export type MessageStatus = 'queued' | 'sending' | 'sent' | 'delivered' | 'bounced' | 'failed' | 'dead';

/**
 * One message to one recipient on one channel: the outbox row written with its event, then its
 * delivery state, and afterwards its line in the communication log. `payload` holds what the
 * templates render with, a set-password link included, so it never leaves through the API.
 */
export class NotificationMessage extends TenantModel {
  static override tableName = 'outbound_messages';
  static override idColumn = ['tenant_id', 'id'];
  static override jsonAttributes = ['payload'];
  static noun = 'message';

  id!: string;
  channel!: NotificationMedium;
  recipient!: string;
  template!: string;
  event!: string;
  payload!: Record<string, unknown>;
  userId!: string | null;
  status!: MessageStatus;
  critical!: boolean;
  dedupeKey!: string | null;
  attempts!: number;
  lastError!: string | null;
  providerMessageId!: string | null;
  templateVersion!: string | null;
  subject!: string | null;
  body!: string | null;
  notBefore!: Date | null;
  sentAt!: Date | null;
  deliveredAt!: Date | null;
  readAt!: Date | null;
  childId!: string | null;
  householdId!: string | null;
  placementId!: string | null;
  claimId!: string | null;
  paymentRunId!: string | null;
  /** Set when a retention rule's destruction cleared its content (retentionDestruction.ts): the row stays as the log's skeleton. */
  destroyedAt!: Date | null;
  createdAt!: Date;
  updatedAt!: Date;
}

/** One try at delivering a message, with what the channel answered. */
export class NotificationAttempt extends TenantModel {
  static override tableName = 'notification_attempts';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  messageId!: string;
  attempt!: number;
  channelKey!: string;
  startedAt!: Date;
  finishedAt!: Date | null;
  outcome!: 'sent' | 'delivered' | 'bounced' | 'failed' | 'deferred' | null;
  error!: string | null;
  providerMessageId!: string | null;
}

export interface EventPolicy {
  enabled: boolean;
  channels: NotificationMedium[];
}

export interface QuietHours {
  /** `HH:MM` in the tenant's time zone; SMS that is not critical waits from here… */
  start: string;
  /** …until here (the next morning when end is before start). */
  end: string;
}

/** The tenant's choices; absent until first changed, when the catalogue's defaults apply. */
export class NotificationSettingsRow extends TenantModel {
  static override tableName = 'notification_settings';
  static override idColumn = 'tenant_id';
  static override jsonAttributes = ['policies', 'quietHours'];

  policies!: Record<string, EventPolicy>;
  quietHours!: QuietHours | null;
  version!: number;
  createdAt!: Date;
  updatedAt!: Date;
}

/** A person's own choices: `event:channel` pairs opted out of, and where they take SMS. */
export class NotificationPreferences extends TenantModel {
  static override tableName = 'notification_preferences';
  static override idColumn = ['tenant_id', 'user_id'];

  userId!: string;
  optedOut!: string[];
  smsNumber!: string | null;
  version!: number;
  createdAt!: Date;
  updatedAt!: Date;
}
