import crypto from 'node:crypto';

/**
 * Signatures per the Standard Webhooks specification: the secret is `whsec_` and the base64 of its
 * key bytes; a signature is `v1,` and the base64 HMAC-SHA256, under that key, of
 * `<webhook-id>.<webhook-timestamp>.<body>`. Several valid secrets (a rotation's overlap) give
 * several signatures, space separated, and a receiver accepts any one it can verify.
 */
const PREFIX = 'whsec_';

export function newWebhookSecret(): string {
  return PREFIX + crypto.randomBytes(32).toString('base64');
}

function keyOf(secret: string): Buffer {
  if (!secret.startsWith(PREFIX)) throw new Error('a webhook secret starts with whsec_');
  return Buffer.from(secret.slice(PREFIX.length), 'base64');
}

export function sign(secret: string, id: string, timestamp: number, body: string): string {
  const mac = crypto.createHmac('sha256', keyOf(secret)).update(`${id}.${timestamp}.${body}`).digest('base64');
  return `v1,${mac}`;
}

/** The three headers of one delivery attempt, signed under each secret given (current first). */
export function signedHeaders(
  secrets: readonly string[],
  id: string,
  body: string,
  now: Date = new Date(),
): Record<string, string> {
  const timestamp = Math.floor(now.getTime() / 1000);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': secrets.map((s) => sign(s, id, timestamp, body)).join(' '),
  };
}
