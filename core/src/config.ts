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
  /** A request's statements are cancelled past this many ms, and its transaction past it idle (0: no limit). */
  statementTimeoutMs: number;
  /** Requests that may wait for a database connection, all tenants together; past it, 503 at once. */
  maxQueuedRequests: number;
  /** Connections one tenant's requests may hold at once (default a third of the pool, at least one). */
  tenantMaxConcurrency: number;
  /** How long a SIGTERM may take to drain requests and jobs before the process exits regardless (ms). */
  shutdownTimeoutMs: number;
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
  const tenantMaxConcurrency = intFromEnv(env, 'HEARTH_TENANT_MAX_CONCURRENCY', Math.max(1, Math.floor(dbPoolMax / 3)), 1, 1000);
  if (tenantMaxConcurrency > dbPoolMax) {
    throw new ConfigError(`HEARTH_TENANT_MAX_CONCURRENCY (${tenantMaxConcurrency}) cannot exceed HEARTH_DB_POOL_MAX (${dbPoolMax})`);
  }

  return {
    databaseUrl: env.DATABASE_URL || undefined,
    embeddedDataDir: embeddedDir,
    port: intFromEnv(env, 'PORT', 3000, 0, 65535),
    host: env.HOST ?? '127.0.0.1',
    jwtSecret,
    accessTokenTtlSeconds: intFromEnv(env, 'HEARTH_ACCESS_TOKEN_TTL', 900, 30, 86400),
    refreshTokenTtlSeconds: intFromEnv(env, 'HEARTH_REFRESH_TOKEN_TTL', 14 * 86400, 60, 90 * 86400),
    dataKey,
    bodyLimitBytes: intFromEnv(env, 'HEARTH_BODY_LIMIT', 100 * 1024, 1024, 50 * 1024 * 1024),
    logLevel: env.LOG_LEVEL ?? (env.NODE_ENV === 'test' ? 'silent' : 'info'),
    seedDemoTenants: env.HEARTH_DEMO !== undefined ? env.HEARTH_DEMO === '1' : !env.DATABASE_URL,
    corsOrigins: (env.HEARTH_CORS_ORIGINS ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    extraPackRoots: (env.HEARTH_PACK_PATHS ?? '').split(path.delimiter).map((s) => s.trim()).filter(Boolean).map((p) => path.resolve(p)),
    extraPluginRoots: (env.HEARTH_PLUGIN_PATHS ?? '').split(path.delimiter).map((s) => s.trim()).filter(Boolean).map((p) => path.resolve(p)),
    production,
    dbPoolMax,
    statementTimeoutMs: intFromEnv(env, 'HEARTH_STATEMENT_TIMEOUT', 30_000, 0, 3_600_000),
    maxQueuedRequests: intFromEnv(env, 'HEARTH_MAX_QUEUED_REQUESTS', 1000, 0, 100_000),
    tenantMaxConcurrency,
    shutdownTimeoutMs: intFromEnv(env, 'HEARTH_SHUTDOWN_TIMEOUT', 10_000, 1000, 600_000),
    ...overrides,
  };
}
