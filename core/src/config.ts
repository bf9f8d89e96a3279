import path from 'node:path';
import crypto from 'node:crypto';
import fs from 'node:fs';

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
  /**
   * A bearer token for GET /metrics; null serves /metrics only where the API listens on loopback
   * alone (a laptop, or a pod whose scraper reaches it from inside), never on a public interface.
   */
  metricsToken: string | null;
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
  const [points, windowSeconds, blockSeconds] = match ? [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)] : [0, 0, 0];
  if (points < 1 || windowSeconds < 1 || windowSeconds > 90 * 86400 || blockSeconds > 90 * 86400) {
    throw new ConfigError(`${name} must be points/seconds or points/seconds/blockSeconds (at least 1 point, at most 90 days), got "${raw}"`);
  }
  return { points, windowSeconds, blockSeconds };
}

function rateLimitsFromEnv(env: NodeJS.ProcessEnv): RateLimitSettings {
  const limits = {} as RateLimitSettings;
  for (const key of Object.keys(RATE_LIMIT_VARIABLES) as Array<keyof RateLimitSettings>) limits[key] = rateLimitFromEnv(env, ...RATE_LIMIT_VARIABLES[key]);
  return limits;
}

/** A number of hops, or a comma-separated list of addresses, subnets and express's names (loopback, linklocal, uniquelocal). */
function trustProxyFromEnv(env: NodeJS.ProcessEnv): string[] | number {
  const raw = (env.HEARTH_TRUST_PROXY ?? 'loopback').trim();
  if (/^\d+$/.test(raw)) return intFromEnv(env, 'HEARTH_TRUST_PROXY', 0, 0, 10);
  const entries = raw.split(',').map((s) => s.trim()).filter(Boolean);
  const named = ['loopback', 'linklocal', 'uniquelocal'];
  const bad = entries.find((e) => !named.includes(e) && !/^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(e));
  if (!entries.length || bad !== undefined) throw new ConfigError(`HEARTH_TRUST_PROXY must be a number of hops or a list of addresses, subnets, loopback, linklocal or uniquelocal, got "${raw}"`);
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

  const metricsToken = env.HEARTH_METRICS_TOKEN || null;
  if (metricsToken !== null && metricsToken.length < 32) throw new ConfigError('HEARTH_METRICS_TOKEN must be at least 32 characters');

  return {
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
    corsOrigins: (env.HEARTH_CORS_ORIGINS ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    extraPackRoots: (env.HEARTH_PACK_PATHS ?? '').split(path.delimiter).map((s) => s.trim()).filter(Boolean).map((p) => path.resolve(p)),
    extraPluginRoots: (env.HEARTH_PLUGIN_PATHS ?? '').split(path.delimiter).map((s) => s.trim()).filter(Boolean).map((p) => path.resolve(p)),
    production,
    metricsToken,
    ...overrides,
  };
}
