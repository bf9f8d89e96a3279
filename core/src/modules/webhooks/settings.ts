/**
 * The operator's webhook settings (HEARTH_WEBHOOKS_…), read from the environment when used, so a
 * test (or an operator's restart) changes them without a new config type for every module.
 */
export const WEBHOOK_DELIVERY_JOB = 'webhook-delivery';

/** A delivery attempt's job key: one job per delivery and attempt number, however often it is enqueued. */
export function deliveryJobKey(deliveryId: string, attempt: number): string {
  return `${deliveryId}:${attempt}`;
}

export interface WebhookSettings {
  /** Private, loopback and link-local addresses (and plain http) allowed: HEARTH_WEBHOOKS_ALLOW_PRIVATE=1. */
  allowPrivate: boolean;
  /** Plain http refused: always in production, unless private addresses are allowed. */
  requireHttps: boolean;
  /** One attempt's limit, connection to last byte (HEARTH_WEBHOOKS_TIMEOUT_MS, default 15 s). */
  timeoutMs: number;
  /** The delay before the first retry; each next one is four times longer (HEARTH_WEBHOOKS_RETRY_BASE_MS, default 5 s). */
  retryBaseMs: number;
  /** No retry waits longer (HEARTH_WEBHOOKS_RETRY_MAX_MS, default a day). */
  retryMaxMs: number;
  /** Attempts in all before a delivery is dead (HEARTH_WEBHOOKS_MAX_ATTEMPTS, default 13: about five days). */
  maxAttempts: number;
  /** An endpoint failing without a success for this long is disabled (HEARTH_WEBHOOKS_DISABLE_AFTER_MS, default 5 days). */
  disableAfterMs: number;
  /** How often a job whose worker died may be taken up again (the queue's own attempts, not HTTP retries). */
  jobAttempts: number;
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be a whole number of at least ${min}`);
  return value;
}

const DAY = 24 * 60 * 60 * 1000;

export function webhookSettings(env: NodeJS.ProcessEnv = process.env): WebhookSettings {
  const allowPrivate = env.HEARTH_WEBHOOKS_ALLOW_PRIVATE === '1';
  return {
    allowPrivate,
    requireHttps: env.NODE_ENV === 'production' && !allowPrivate,
    timeoutMs: int(env, 'HEARTH_WEBHOOKS_TIMEOUT_MS', 15_000, 1),
    retryBaseMs: int(env, 'HEARTH_WEBHOOKS_RETRY_BASE_MS', 5_000, 0),
    retryMaxMs: int(env, 'HEARTH_WEBHOOKS_RETRY_MAX_MS', DAY, 0),
    maxAttempts: int(env, 'HEARTH_WEBHOOKS_MAX_ATTEMPTS', 13, 1),
    disableAfterMs: int(env, 'HEARTH_WEBHOOKS_DISABLE_AFTER_MS', 5 * DAY, 0),
    jobAttempts: 3,
  };
}

/** The wait after failed attempt n (1-based): base × 4^(n-1), at most retryMaxMs. */
export function retryDelayMs(settings: WebhookSettings, attempt: number): number {
  return Math.min(settings.retryBaseMs * 4 ** Math.max(attempt - 1, 0), settings.retryMaxMs);
}
