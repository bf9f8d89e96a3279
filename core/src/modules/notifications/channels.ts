/**
 * Where messages leave Hearth: the extension point "notificationChannels". A channel is a kind of
 * delivery (core's `mailbox`, a plugin's `smtp` or `sms-http`) for one medium; the configuration names
 * one for email (HEARTH_EMAIL_CHANNEL) and at most one for SMS (HEARTH_SMS_CHANNEL), opened once at
 * start-up. The in-app inbox is core's own and needs no channel: a message is in it once committed.
 */
export type ChannelMedium = 'email' | 'sms';

/** One message as a channel sees it: rendered, addressed, never a database row. */
export interface OutgoingMessage {
  /** Hearth's id of the message; the same on every attempt. */
  readonly id: string;
  /**
   * The same on every attempt at this message: a provider that takes an idempotency key (GOV.UK
   * Notify's `reference`, an `Idempotency-Key` header) is given it, so a retry after a send whose
   * answer was lost is not a second message.
   */
  readonly idempotencyKey: string;
  readonly medium: ChannelMedium;
  /** An email address, or a phone number in E.164 (`+447700900123`). */
  readonly to: string;
  /** The email's From (HEARTH_EMAIL_FROM); null for SMS. */
  readonly from: string | null;
  /** The email's subject; null for SMS. */
  readonly subject: string | null;
  readonly text: string;
  readonly html: string | null;
  /** For email, the RFC 5322 Message-ID (`<id@hearth>`): the same on a retry, so mail clients show one message. */
  readonly messageId: string;
}

export interface SendResult {
  /** What the provider calls the message (its id, or the SMTP answer's queue id); kept on the message. */
  providerMessageId: string | null;
  /** `delivered` where the channel knows the message reached its recipient (a mailbox file, an in-app row). */
  outcome: 'sent' | 'delivered';
}

/** Thrown by a channel when the recipient is refused for good (an unknown mailbox, an invalid number): never retried. */
export class PermanentFailure extends Error {
  readonly permanent = true;
}

export interface ChannelConnection {
  send(message: OutgoingMessage): Promise<SendResult>;
  close?(): Promise<void>;
}

export interface NotificationChannel {
  /** Lower-case letters, digits, `_` or `-`, at most 50: what HEARTH_EMAIL_CHANNEL or HEARTH_SMS_CHANNEL names. */
  key: string;
  medium: ChannelMedium;
  /** Opens the channel at its target (a folder, an SMTP URL, a provider's endpoint); throwing stops start-up. */
  open(options: { target: string; credential: string | null }): ChannelConnection;
}

/** Channels by key; a key registered twice is a start-up error naming both registrations. */
export class NotificationChannelRegistry {
  private readonly channels = new Map<string, { channel: NotificationChannel; by: string }>();

  register(channel: NotificationChannel, by: string): void {
    if (!channel || typeof channel !== 'object')
      throw new Error(`Notification channel (by ${by}) must be an object with key, medium and open`);
    if (typeof channel.key !== 'string' || !/^[a-z][a-z0-9_-]{0,49}$/.test(channel.key))
      throw new Error(
        `Notification channel key "${String(channel.key)}" (by ${by}) must be lower-case letters, digits, _ or -, at most 50`,
      );
    const existing = this.channels.get(channel.key);
    if (existing)
      throw new Error(`Notification channel "${channel.key}" is registered twice: by ${existing.by} and by ${by}`);
    if (channel.medium !== 'email' && channel.medium !== 'sms')
      throw new Error(`Notification channel "${channel.key}" (by ${by}) must have medium "email" or "sms"`);
    if (typeof channel.open !== 'function')
      throw new Error(`Notification channel "${channel.key}" (by ${by}) must have an open function`);
    this.channels.set(channel.key, { channel, by });
  }

  get(key: string): NotificationChannel | undefined {
    return this.channels.get(key)?.channel;
  }

  keys(): string[] {
    return [...this.channels.keys()].sort();
  }
}
