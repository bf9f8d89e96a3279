import { ConfigError } from '../../config';
import type { AppServices } from '../../http/operation';
import type { ChannelConnection, ChannelMedium } from './channels';

export interface OpenChannels {
  email: { key: string; connection: ChannelConnection };
  sms: { key: string; connection: ChannelConnection } | null;
  close(): Promise<void>;
}

const opened = new WeakMap<AppServices, OpenChannels>();

function openOne(services: AppServices, medium: ChannelMedium, key: string, target: string, credential: string | null) {
  const variable = medium === 'email' ? 'HEARTH_EMAIL_CHANNEL' : 'HEARTH_SMS_CHANNEL';
  const channel = services.plugins.notificationChannels.get(key);
  if (!channel) {
    const known = services.plugins.notificationChannels.keys();
    throw new ConfigError(
      `${variable} is "${key}", which no plugin registered (registered: ${known.join(', ') || 'none'})`,
    );
  }
  if (channel.medium !== medium)
    throw new ConfigError(`${variable} is "${key}", a channel for ${channel.medium}, not ${medium}`);
  try {
    return { key, connection: channel.open({ target, credential }) };
  } catch (error) {
    throw new ConfigError(`${variable.replace('CHANNEL', 'TARGET')} for "${key}": ${(error as Error).message}`);
  }
}

/** Opens the configured channels once, at start-up: an unknown key or a bad target stops start-up by name. */
export function openNotificationChannels(services: AppServices): OpenChannels {
  const settings = services.config.notifications;
  const email = openOne(services, 'email', settings.emailChannel, settings.emailTarget, null);
  const sms = settings.smsChannel
    ? openOne(services, 'sms', settings.smsChannel, settings.smsTarget!, settings.smsCredential)
    : null;
  const channels: OpenChannels = {
    email,
    sms,
    async close() {
      await Promise.all([email.connection.close?.(), sms?.connection.close?.()]);
    },
  };
  opened.set(services, channels);
  return channels;
}

/** The channels these services opened (startServer opens them; a test's own services open theirs on first use). */
export function notificationChannels(services: AppServices): OpenChannels {
  return opened.get(services) ?? openNotificationChannels(services);
}
