/**
 * The events that notify, in the core's words (pack templates are keyed by them). `critical` ones
 * cannot be opted out of and are not held back by quiet hours: a password reset, an invitation, a
 * safeguarding alert to the allocated worker. `channels` is what a tenant gets until it chooses.
 */
export type NotificationMedium = 'email' | 'sms' | 'inapp';

export const NOTIFICATION_MEDIA: readonly NotificationMedium[] = ['email', 'sms', 'inapp'];

export interface NotificationEventDefinition {
  critical: boolean;
  channels: NotificationMedium[];
  /** Who it goes to, for the settings page: the event decides its recipients, the tenant its channels. */
  recipients: string;
}

export const NOTIFICATION_EVENTS = {
  'auth.password_reset': { critical: true, channels: ['email'], recipients: 'the person who asked' },
  'auth.invitation': { critical: true, channels: ['email'], recipients: 'the person invited' },
  'tasks.due_soon': { critical: false, channels: ['email', 'inapp'], recipients: "the task's owner" },
  'tasks.overdue': { critical: false, channels: ['email', 'inapp'], recipients: "the task's owner" },
  'tasks.assigned': { critical: false, channels: ['email', 'inapp'], recipients: 'the new owner' },
  'carers.check_expiring': {
    critical: false,
    channels: ['email', 'inapp'],
    recipients: "the household's supervising worker",
  },
  'claims.decided': {
    critical: false,
    channels: ['email', 'inapp'],
    recipients: "who submitted the claim, and the household's email",
  },
  'payments.run_finalised': {
    critical: false,
    channels: ['inapp'],
    recipients: 'who calculated, approved and finalised the run',
  },
  'payments.remittance_ready': { critical: false, channels: ['email'], recipients: "each paid household's email" },
  'carers.panel_date_set': { critical: false, channels: ['email'], recipients: "the household's email" },
  'children.safeguarding_alert': {
    critical: true,
    channels: ['email', 'sms', 'inapp'],
    recipients: "the child's allocated worker",
  },
  'webhook_endpoint.disabled': {
    critical: false,
    channels: ['email', 'inapp'],
    recipients: "everyone who manages the tenant's webhooks",
  },
} as const satisfies Record<string, NotificationEventDefinition>;

export type NotificationEvent = keyof typeof NOTIFICATION_EVENTS;

export function isNotificationEvent(value: string): value is NotificationEvent {
  return Object.prototype.hasOwnProperty.call(NOTIFICATION_EVENTS, value);
}
