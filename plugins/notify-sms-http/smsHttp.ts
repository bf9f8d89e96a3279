import { PermanentFailure, type NotificationChannel } from '../../core/src/plugins/api';

/**
 * SMS through a provider's HTTP API, in GOV.UK Notify's shape (`POST …/v2/notifications/sms` with
 * `phone_number`, `reference` and the text, answered with the notification's `id`). The idempotency
 * key travels twice: as `reference` and as an `Idempotency-Key` header, which providers that dedupe
 * (Notify by reference, Twilio-style gateways by header) use to answer a retry with the first send.
 * 4xx other than 408 and 429 is the provider refusing this message for good; the rest is retried.
 */
export const smsHttpChannel: NotificationChannel = {
  key: 'sms-http',
  medium: 'sms',
  open({ target, credential }) {
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      throw new Error(`"${target}" is not a URL (the provider's send-SMS endpoint)`);
    }
    if (
      url.protocol !== 'https:' &&
      !(url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname))
    )
      throw new Error('the SMS provider must be reached over https (plain http only on loopback, for tests)');
    return {
      async send(message) {
        const response = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'idempotency-key': message.idempotencyKey,
            ...(credential ? { authorization: `Bearer ${credential}` } : {}),
          },
          body: JSON.stringify({ phone_number: message.to, reference: message.idempotencyKey, body: message.text }),
          signal: AbortSignal.timeout(15_000),
        });
        const text = await response.text();
        if (!response.ok) {
          const detail = `the SMS provider answered ${response.status}: ${text.slice(0, 200)}`;
          if (response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429)
            throw new PermanentFailure(detail);
          throw new Error(detail);
        }
        let id: string | null = null;
        try {
          id = (JSON.parse(text) as { id?: unknown; sid?: unknown }).id?.toString() ?? null;
        } catch {
          // A provider that answers without a JSON body still accepted the message.
        }
        return { providerMessageId: id, outcome: 'sent' };
      },
    };
  },
};
