import path from 'node:path';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';

/** Where the repository's data folders (openapi/, packs/, plugins/) live, whether run from source or dist/. */
export const repoRoot = (() => {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'openapi', 'hearth.yaml'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('Cannot find openapi/hearth.yaml above ' + __dirname);
    dir = parent;
  }
  return dir;
})();

/** A limit on one kind of request: `points` per `windowSeconds`, then refused until the window ends (or for `blockSeconds`, when set). */
export interface RateLimit {
  points: number;
  windowSeconds: number;
  /** 0: refused until the window ends; otherwise refused for this long from the request that went over. */
  blockSeconds: number;
}

/** The limits on the public auth operations (README, "Rate limits"); each has its HEARTH_LIMIT_… variable. */
export interface RateLimitSettings {
  /** Failed log-ins from one IP (an IPv6 client by its /64). A successful log-in gives its point back. */
  loginFailuresPerIp: RateLimit;
  /** Log-in attempts, whatever their outcome, at one account (tenant and email) from anywhere. */
  loginAttemptsPerAccount: RateLimit;
  /** Failed log-ins in a row at one account from one IP, forgotten on success: the library's brute-force form. */
  loginConsecutiveFailures: RateLimit;
  resetRequestsPerIp: RateLimit;
  resetRequestsPerAccount: RateLimit;
  resetConfirmsPerIp: RateLimit;
  refreshesPerIp: RateLimit;
}

export interface HearthConfig {
  /** A PostgreSQL URL, or undefined for the embedded PGlite database. */
  databaseUrl: string | undefined;
  /** Folder for PGlite's data; null keeps it in memory (tests). */
  embeddedDataDir: string | null;
  port: number;
  host: string;
  jwtSecret: string;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  /** How far ahead of this server's clock a token's `iat` may be (another server's clock runs fast). */
  jwtClockSkewSeconds: number;
  rateLimits: RateLimitSettings;
  /**
   * Which proxies' X-Forwarded-For to believe (express's `trust proxy`): the client address the
   * per-IP limits count. Behind a load balancer elsewhere, every client would otherwise be the balancer.
   */
  trustProxy: string[] | number;
  /** 32-byte key that encrypts secrets at rest (TOTP secrets, identifiers). */
  dataKey: Buffer;
  bodyLimitBytes: number;
  logLevel: string;
  seedDemoTenants: boolean;
  corsOrigins: string[];
  /** Folders of packs beyond the repository's packs/ (a tenant's own, or a test's). */
  extraPackRoots: string[];
  /** Folders of plugins beyond the repository's plugins/ (an operator's own, or a test's). */
  extraPluginRoots: string[];
  production: boolean;
  /** Connections in this process's request pool (HEARTH_DB_POOL_MAX); the job worker has its own. */
  dbPoolMax: number;
  /** A request's statements are cancelled past this many ms (0: no limit). */
  statementTimeoutMs: number;
  /** A request's session is ended when its transaction sits idle this many ms (0: no limit). */
  idleInTransactionTimeoutMs: number;
  /** Requests that may wait for a database connection, all tenants together; past it, 503 at once. */
  maxQueuedRequests: number;
  /** Connections one tenant's requests may hold at once (default a third of the pool, at least one). */
  tenantMaxConcurrency: number;
  /** How long a SIGTERM may take to drain requests and jobs before the process exits regardless (ms). */
  shutdownTimeoutMs: number;
  /**
   * A bearer token for GET /metrics; null serves /metrics only where the API listens on loopback
   * alone (a laptop, or a pod whose scraper reaches it from inside), never on a public interface.
   */
  metricsToken: string | null;
  /** The audit trail's keys and checkpoints (HEARTH_AUDIT_*): see auditSettingsFromEnv. */
  audit: AuditSettings;
  /** Where documents' bytes go and how big one may be (HEARTH_DOCUMENT_*): see documentSettingsFromEnv. */
  documents: DocumentSettings;
  /** Where messages go (HEARTH_EMAIL_*, HEARTH_SMS_*, HEARTH_APP_URL): see notificationSettingsFromEnv. */
  notifications: NotificationSettings;
}

export interface NotificationSettings {
  /** The email channel's key: core's `mailbox` (files) or a plugin's (`smtp`). */
  emailChannel: string;
  /** Where it sends: for `mailbox` a folder, for `smtp` a URL (smtp://user:password@host:587, smtps://…). */
  emailTarget: string;
  /** The From of every email. */
  emailFrom: string;
  /** The SMS channel's key (a plugin's, `sms-http`), or null: no SMS is sent, and a message for SMS fails saying so. */
  smsChannel: string | null;
  /** The SMS provider's endpoint URL. */
  smsTarget: string | null;
  /** The SMS provider's API key, sent as a bearer token. */
  smsCredential: string | null;
  /** The front end's base URL, which links in messages (set a password, open a task) point at. */
  appUrl: string;
  /** Attempts at delivering one message before it is dead-lettered. */
  maxAttempts: number;
  /**
   * Messages one process delivers at once (each holds one of the job worker's connections while it
   * writes, none while it waits on the mail server or SMS provider).
   */
  concurrency: number;
}

export const NOTIFICATION_CONCURRENCY_DEFAULT = 4;

export interface DocumentSettings {
  /** The documentStorage key (core's `filesystem`, or a plugin's such as `s3`). */
  storage: string;
  /** Where that store keeps objects: for `filesystem` a folder, for `s3` a URL naming the bucket. */
  target: string;
  /** The largest upload this process takes; a tenant may set a lower limit, never a higher one. */
  maxUploadBytes: number;
  /** How long a signed download URL lives, where the store can sign. */
  signedUrlSeconds: number;
}

/** An HMAC-SHA256 key of the audit chain. Its id, a digest of the key, is stored on every event it hashed. */
export interface AuditChainKey {
  id: string;
  secret: Buffer;
}

/** The Ed25519 key pair that signs audit checkpoints; its id is a digest of the public key. */
export interface AuditSigningKey {
  id: string;
  privateKey: crypto.KeyObject;
  publicKey: crypto.KeyObject;
}

export interface AuditSettings {
  /** Hashes every new event. */
  chainKey: AuditChainKey;
  /** Every chain key verification accepts, by id: the current one, then those HEARTH_AUDIT_RETIRED_KEYS keeps. */
  chainKeys: ReadonlyMap<string, AuditChainKey>;
  /** Signs checkpoints. */
  signingKey: AuditSigningKey;
  /** The public keys whose checkpoints verification accepts, by id: the signing key's, then HEARTH_AUDIT_RETIRED_PUBLIC_KEYS. */
  publicKeys: ReadonlyMap<string, crypto.KeyObject>;
  /** The auditCheckpointSinks key checkpoints go to (a plugin's), and where that sink keeps them (for `files`, a folder). */
  checkpointSink: string;
  checkpointTarget: string;
  /** How often each tenant's head is checkpointed. */
  checkpointEveryMs: number;
}

export class ConfigError extends Error {}

function intFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

const RATE_LIMIT_VARIABLES: Record<keyof RateLimitSettings, [variable: string, fallback: string]> = {
  loginFailuresPerIp: ['HEARTH_LIMIT_LOGIN_FAILURES_PER_IP', '30/900'],
  loginAttemptsPerAccount: ['HEARTH_LIMIT_LOGIN_ATTEMPTS_PER_ACCOUNT', '20/900'],
  loginConsecutiveFailures: ['HEARTH_LIMIT_LOGIN_CONSECUTIVE_FAILURES', '10/86400/900'],
  resetRequestsPerIp: ['HEARTH_LIMIT_RESET_REQUESTS_PER_IP', '20/3600'],
  resetRequestsPerAccount: ['HEARTH_LIMIT_RESET_REQUESTS_PER_ACCOUNT', '5/3600'],
  resetConfirmsPerIp: ['HEARTH_LIMIT_RESET_CONFIRMS_PER_IP', '20/3600'],
  refreshesPerIp: ['HEARTH_LIMIT_REFRESHES_PER_IP', '300/300'],
};

/** `points/windowSeconds` or `points/windowSeconds/blockSeconds`. There is no "off": a limit has at least one point. */
function rateLimitFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: string): RateLimit {
  const raw = env[name] || fallback;
  const match = /^(\d{1,7})\/(\d{1,8})(?:\/(\d{1,8}))?$/.exec(raw.trim());
  const [points, windowSeconds, blockSeconds] = match
    ? [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)]
    : [0, 0, 0];
  if (points < 1 || windowSeconds < 1 || windowSeconds > 90 * 86400 || blockSeconds > 90 * 86400) {
    throw new ConfigError(
      `${name} must be points/seconds or points/seconds/blockSeconds (at least 1 point, at most 90 days), got "${raw}"`,
    );
  }
  return { points, windowSeconds, blockSeconds };
}

function rateLimitsFromEnv(env: NodeJS.ProcessEnv): RateLimitSettings {
  const limits = {} as RateLimitSettings;
  for (const key of Object.keys(RATE_LIMIT_VARIABLES) as Array<keyof RateLimitSettings>)
    limits[key] = rateLimitFromEnv(env, ...RATE_LIMIT_VARIABLES[key]);
  return limits;
}

/** A number of hops, or a comma-separated list of addresses, subnets and express's names (loopback, linklocal, uniquelocal). */
function trustProxyFromEnv(env: NodeJS.ProcessEnv): string[] | number {
  const raw = (env.HEARTH_TRUST_PROXY ?? 'loopback').trim();
  if (/^\d+$/.test(raw)) return intFromEnv(env, 'HEARTH_TRUST_PROXY', 0, 0, 10);
  const entries = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const named = ['loopback', 'linklocal', 'uniquelocal'];
  const bad = entries.find((e) => !named.includes(e) && !/^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(e));
  if (!entries.length || bad !== undefined)
    throw new ConfigError(
      `HEARTH_TRUST_PROXY must be a number of hops or a list of addresses, subnets, loopback, linklocal or uniquelocal, got "${raw}"`,
    );
  return entries;
}

/**
 * Reads and checks configuration before anything starts, so a bad setting stops start-up with its
 * name rather than surfacing as a runtime failure (Fastify's start-up validation, in spirit).
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<HearthConfig> = {}): HearthConfig {
  const production = env.NODE_ENV === 'production';
  const embeddedDir = env.HEARTH_DATA_DIR ?? path.join(repoRoot, '.hearth', 'pgdata');

  let jwtSecret = env.HEARTH_JWT_SECRET;
  if (!jwtSecret) {
    if (production) throw new ConfigError('HEARTH_JWT_SECRET is required in production');
    jwtSecret = crypto.randomBytes(32).toString('base64url');
  } else if (jwtSecret.length < 32) {
    throw new ConfigError('HEARTH_JWT_SECRET must be at least 32 characters');
  }

  let dataKey: Buffer;
  if (env.HEARTH_DATA_KEY) {
    dataKey = Buffer.from(env.HEARTH_DATA_KEY, 'base64');
    if (dataKey.length !== 32) throw new ConfigError('HEARTH_DATA_KEY must be 32 bytes, base64-encoded');
  } else {
    if (production) throw new ConfigError('HEARTH_DATA_KEY is required in production');
    // A fixed development key, so an embedded database survives restarts; never used in production.
    dataKey = crypto.createHash('sha256').update('hearth-development-data-key').digest();
  }

  const dbPoolMax = intFromEnv(env, 'HEARTH_DB_POOL_MAX', 10, 1, 1000);
  // A third of the pool by default: bench/fairness.js measured half letting one flooding tenant's
  // requests take enough of the process to more than double another tenant's p99.
  const tenantMaxConcurrency = intFromEnv(
    env,
    'HEARTH_TENANT_MAX_CONCURRENCY',
    Math.max(1, Math.floor(dbPoolMax / 3)),
    1,
    1000,
  );
  if (tenantMaxConcurrency > dbPoolMax) {
    throw new ConfigError(
      `HEARTH_TENANT_MAX_CONCURRENCY (${tenantMaxConcurrency}) cannot exceed HEARTH_DB_POOL_MAX (${dbPoolMax})`,
    );
  }
  const metricsToken = env.HEARTH_METRICS_TOKEN || null;
  if (metricsToken !== null && metricsToken.length < 32)
    throw new ConfigError('HEARTH_METRICS_TOKEN must be at least 32 characters');

  return {
    audit: auditSettingsFromEnv(env),
    documents: documentSettingsFromEnv(env),
    notifications: notificationSettingsFromEnv(env),
    databaseUrl: env.DATABASE_URL || undefined,
    embeddedDataDir: embeddedDir,
    port: intFromEnv(env, 'PORT', 3000, 0, 65535),
    host: env.HOST ?? '127.0.0.1',
    jwtSecret,
    accessTokenTtlSeconds: intFromEnv(env, 'HEARTH_ACCESS_TOKEN_TTL', 900, 30, 86400),
    refreshTokenTtlSeconds: intFromEnv(env, 'HEARTH_REFRESH_TOKEN_TTL', 14 * 86400, 60, 90 * 86400),
    jwtClockSkewSeconds: intFromEnv(env, 'HEARTH_JWT_CLOCK_SKEW', 30, 0, 300),
    rateLimits: rateLimitsFromEnv(env),
    trustProxy: trustProxyFromEnv(env),
    dataKey,
    bodyLimitBytes: intFromEnv(env, 'HEARTH_BODY_LIMIT', 100 * 1024, 1024, 50 * 1024 * 1024),
    logLevel: env.LOG_LEVEL ?? (env.NODE_ENV === 'test' ? 'silent' : 'info'),
    seedDemoTenants: env.HEARTH_DEMO !== undefined ? env.HEARTH_DEMO === '1' : !env.DATABASE_URL,
    corsOrigins: (env.HEARTH_CORS_ORIGINS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    extraPackRoots: (env.HEARTH_PACK_PATHS ?? '')
      .split(path.delimiter)
      .map((s) => s.trim())
      .filter(Boolean)
      .map((p) => path.resolve(p)),
    extraPluginRoots: (env.HEARTH_PLUGIN_PATHS ?? '')
      .split(path.delimiter)
      .map((s) => s.trim())
      .filter(Boolean)
      .map((p) => path.resolve(p)),
    production,
    dbPoolMax,
    statementTimeoutMs: intFromEnv(env, 'HEARTH_STATEMENT_TIMEOUT', 30_000, 0, 3_600_000),
    idleInTransactionTimeoutMs: intFromEnv(env, 'HEARTH_IDLE_IN_TRANSACTION_TIMEOUT', 60_000, 0, 3_600_000),
    maxQueuedRequests: intFromEnv(env, 'HEARTH_MAX_QUEUED_REQUESTS', 1000, 0, 100_000),
    tenantMaxConcurrency,
    shutdownTimeoutMs: intFromEnv(env, 'HEARTH_SHUTDOWN_TIMEOUT', 10_000, 1000, 600_000),
    metricsToken,
    ...overrides,
  };
}

/** A base64 setting that must decode to exactly 32 bytes (Buffer.from would quietly skip bad characters). */
function key32(name: string, raw: string): Buffer {
  const bytes = Buffer.from(raw.trim(), 'base64');
  if (bytes.length !== 32 || bytes.toString('base64').replace(/=+$/, '') !== raw.trim().replace(/=+$/, ''))
    throw new ConfigError(`${name} must be 32 bytes, base64-encoded`);
  return bytes;
}

function listOf(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function chainKey(secret: Buffer): AuditChainKey {
  // A digest of the key, not the key: the id sits in the database beside the events it names.
  return {
    id: crypto.createHash('sha256').update('hearth audit chain key id\n').update(secret).digest('hex').slice(0, 16),
    secret,
  };
}

// The fixed DER prefixes of an Ed25519 private key (PKCS #8) and public key (SPKI): the 32 raw bytes follow them.
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

function publicKeyId(publicKey: crypto.KeyObject): string {
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(ED25519_SPKI_PREFIX.length);
  return crypto.createHash('sha256').update(raw).digest('hex').slice(0, 16);
}

function signingKey(seed: Buffer): AuditSigningKey {
  const privateKey = crypto.createPrivateKey({
    key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const publicKey = crypto.createPublicKey(privateKey);
  return { id: publicKeyId(publicKey), privateKey, publicKey };
}

/**
 * The audit trail's settings. The chain key (HMAC) and the signing key (Ed25519) come from here and
 * never from the database, so the database's owner can neither recompute an event's hash nor sign a
 * checkpoint. Both are required in production; elsewhere each has a fixed development value, so an
 * embedded database's chain still verifies after a restart (and a test's before and after its server
 * starts). Checkpoints go to a place outside the database: required in production too.
 */
export function auditSettingsFromEnv(env: NodeJS.ProcessEnv): AuditSettings {
  const production = env.NODE_ENV === 'production';
  const required = (name: string, development: () => string): string => {
    const value = env[name];
    if (value) return value;
    if (production) throw new ConfigError(`${name} is required in production`);
    return development();
  };
  const developmentKey = (label: string) => crypto.createHash('sha256').update(label).digest().toString('base64');

  const current = chainKey(
    key32(
      'HEARTH_AUDIT_KEY',
      required('HEARTH_AUDIT_KEY', () => developmentKey('hearth-development-audit-key')),
    ),
  );
  const chainKeys = new Map<string, AuditChainKey>([[current.id, current]]);
  for (const raw of listOf(env.HEARTH_AUDIT_RETIRED_KEYS)) {
    const retired = chainKey(key32('HEARTH_AUDIT_RETIRED_KEYS (each)', raw));
    if (!chainKeys.has(retired.id)) chainKeys.set(retired.id, retired);
  }

  const signing = signingKey(
    key32(
      'HEARTH_AUDIT_SIGNING_KEY',
      required('HEARTH_AUDIT_SIGNING_KEY', () => developmentKey('hearth-development-audit-signing-key')),
    ),
  );
  const publicKeys = new Map<string, crypto.KeyObject>([[signing.id, signing.publicKey]]);
  for (const raw of listOf(env.HEARTH_AUDIT_RETIRED_PUBLIC_KEYS)) {
    const publicKey = crypto.createPublicKey({
      key: Buffer.concat([ED25519_SPKI_PREFIX, key32('HEARTH_AUDIT_RETIRED_PUBLIC_KEYS (each)', raw)]),
      format: 'der',
      type: 'spki',
    });
    publicKeys.set(publicKeyId(publicKey), publicKey);
  }

  // Tests get a folder of their own under the system's temporary folder, so no run sees another's checkpoints.
  const target = required('HEARTH_AUDIT_CHECKPOINT_TARGET', () =>
    env.NODE_ENV === 'test'
      ? path.join(os.tmpdir(), `hearth-audit-checkpoints-${crypto.randomBytes(6).toString('hex')}`)
      : path.join(repoRoot, '.hearth', 'audit-checkpoints'),
  );
  const sink = env.HEARTH_AUDIT_CHECKPOINT_SINK || 'files';
  if (!/^[a-z][a-z0-9_-]{0,49}$/.test(sink))
    throw new ConfigError(
      `HEARTH_AUDIT_CHECKPOINT_SINK must be the key of a checkpoint sink (lower-case letters, digits, _ or -), got "${sink}"`,
    );
  return {
    chainKey: current,
    chainKeys,
    signingKey: signing,
    publicKeys,
    checkpointSink: sink,
    checkpointTarget: path.isAbsolute(target) ? target : path.resolve(target),
    checkpointEveryMs: intFromEnv(env, 'HEARTH_AUDIT_CHECKPOINT_EVERY', 60, 1, 24 * 60) * 60 * 1000,
  };
}

/**
 * The document store: `filesystem` under `.hearth/documents` by default (a folder of its own per
 * test process), or any key a plugin registered, at HEARTH_DOCUMENT_STORAGE_TARGET. Production names
 * its target, so documents never land in a checkout by accident.
 */
export function documentSettingsFromEnv(env: NodeJS.ProcessEnv): DocumentSettings {
  const storage = env.HEARTH_DOCUMENT_STORAGE || 'filesystem';
  if (!/^[a-z][a-z0-9_-]{0,49}$/.test(storage))
    throw new ConfigError(
      `HEARTH_DOCUMENT_STORAGE must be the key of a document store (lower-case letters, digits, _ or -), got "${storage}"`,
    );
  let target = env.HEARTH_DOCUMENT_STORAGE_TARGET;
  if (!target) {
    if (env.NODE_ENV === 'production')
      throw new ConfigError('HEARTH_DOCUMENT_STORAGE_TARGET is required in production');
    if (storage !== 'filesystem')
      throw new ConfigError(`HEARTH_DOCUMENT_STORAGE_TARGET is required for the "${storage}" document store`);
    target =
      env.NODE_ENV === 'test'
        ? path.join(os.tmpdir(), `hearth-documents-${crypto.randomBytes(6).toString('hex')}`)
        : path.join(repoRoot, '.hearth', 'documents');
  }
  return {
    storage,
    target: storage === 'filesystem' && !path.isAbsolute(target) ? path.resolve(target) : target,
    maxUploadBytes: intFromEnv(env, 'HEARTH_DOCUMENT_MAX_BYTES', 25 * 1024 * 1024, 1024, 2 * 1024 * 1024 * 1024),
    signedUrlSeconds: intFromEnv(env, 'HEARTH_DOCUMENT_SIGNED_URL_SECONDS', 60, 5, 3600),
  };
}

/**
 * Messages: email goes to core's `mailbox` (one .eml file per message under `.hearth/mailbox`) unless
 * a channel is named, so `npm start` never drops a password reset and never needs an SMTP server.
 * Production names its email channel and target: a mailbox on a server's disk reaches nobody.
 */
export function notificationSettingsFromEnv(env: NodeJS.ProcessEnv): NotificationSettings {
  const keyOf = (name: string, value: string) => {
    if (!/^[a-z][a-z0-9_-]{0,49}$/.test(value))
      throw new ConfigError(
        `${name} must be the key of a notification channel (lower-case letters, digits, _ or -), got "${value}"`,
      );
    return value;
  };
  const emailChannel = keyOf('HEARTH_EMAIL_CHANNEL', env.HEARTH_EMAIL_CHANNEL || 'mailbox');
  let emailTarget = env.HEARTH_EMAIL_TARGET;
  if (!emailTarget) {
    if (env.NODE_ENV === 'production')
      throw new ConfigError(
        'HEARTH_EMAIL_CHANNEL and HEARTH_EMAIL_TARGET are required in production (smtp and its URL)',
      );
    if (emailChannel !== 'mailbox')
      throw new ConfigError(`HEARTH_EMAIL_TARGET is required for the "${emailChannel}" email channel`);
    emailTarget =
      env.NODE_ENV === 'test'
        ? path.join(os.tmpdir(), `hearth-mailbox-${crypto.randomBytes(6).toString('hex')}`)
        : path.join(repoRoot, '.hearth', 'mailbox');
  }
  const smsChannel = env.HEARTH_SMS_CHANNEL ? keyOf('HEARTH_SMS_CHANNEL', env.HEARTH_SMS_CHANNEL) : null;
  const smsTarget = env.HEARTH_SMS_TARGET || null;
  if (smsChannel && !smsTarget)
    throw new ConfigError(`HEARTH_SMS_TARGET is required for the "${smsChannel}" SMS channel`);
  const appUrl = (env.HEARTH_APP_URL || 'http://127.0.0.1:3000').replace(/\/+$/, '');
  try {
    new URL(appUrl);
  } catch {
    throw new ConfigError(`HEARTH_APP_URL must be a URL, got "${appUrl}"`);
  }
  return {
    emailChannel,
    emailTarget: emailChannel === 'mailbox' && !path.isAbsolute(emailTarget) ? path.resolve(emailTarget) : emailTarget,
    emailFrom: env.HEARTH_EMAIL_FROM || 'Hearth <no-reply@hearth.invalid>',
    smsChannel,
    smsTarget,
    smsCredential: env.HEARTH_SMS_CREDENTIAL || null,
    appUrl,
    maxAttempts: intFromEnv(env, 'HEARTH_NOTIFICATION_MAX_ATTEMPTS', 5, 1, 50),
    concurrency: intFromEnv(env, 'HEARTH_NOTIFICATION_CONCURRENCY', NOTIFICATION_CONCURRENCY_DEFAULT, 1, 32),
  };
}
