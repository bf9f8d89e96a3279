import fs from 'node:fs';
import path from 'node:path';
import { loadConfig, type HearthConfig, type RateLimitSettings } from '../../core/src/config';
import type { Database } from '../../core/src/db/database';
import { bootstrapTenant } from '../../core/src/demo/seed';
import { loadPacks } from '../../core/src/packs/registry';
import { startServer, type RunningServer } from '../../core/src/server';
import { call, http, type CallOptions, type HttpResponse, type RequestOptions } from './contractClient';
import { freshDatabase, type TestDatabase } from './databases';

export const TEST_PASSWORD = 'correct horse battery staple';

export interface TenantFixture {
  id: string;
  slug: string;
  adminId: string;
  adminEmail: string;
  /** A full-scope access token of the tenant's first administrator. */
  adminToken: string;
}

export interface World {
  url: string;
  /** The owner's connection: set-up and checks behind the API's back (never used by the server's requests). */
  db: Database;
  config: HearthConfig;
  server: RunningServer;
  platform: TenantFixture;
  /** Two service tenants: A on the UK pack, B on the USA pack. */
  a: TenantFixture;
  b: TenantFixture;
  call(operationId: string, options?: CallOptions): Promise<HttpResponse>;
  http(method: string, path: string, options?: RequestOptions): Promise<HttpResponse>;
  login(tenant: string, email: string, password?: string, totpCode?: string): Promise<HttpResponse>;
  /** Logs in and returns the access token, failing the test if the log-in fails. */
  token(tenant: string, email: string, password?: string): Promise<string>;
  /** Adds a user with the given system roles through the API, and returns its id and token. */
  addUser(
    tenant: TenantFixture,
    roles: string[],
    email?: string,
  ): Promise<{ id: string; email: string; token: string }>;
  close(): Promise<void>;
}

let userCounter = 0;

/** The limits every server has unless its HEARTH_LIMIT_… variables say otherwise: what the rate-limit tests run with. */
export const DEFAULT_RATE_LIMITS: RateLimitSettings = loadConfig({}).rateLimits;

/**
 * The suite logs in, and fails to, from 127.0.0.1 far more often than one client of a real service
 * would, so its worlds allow a hundred times as many in the same windows: a test about something
 * else must not be refused part way. The rate-limit tests pass DEFAULT_RATE_LIMITS instead.
 */
const SUITE_RATE_LIMITS = Object.fromEntries(
  Object.entries(DEFAULT_RATE_LIMITS).map(([name, limit]) => [name, { ...limit, points: limit.points * 100 }]),
) as Record<keyof RateLimitSettings, RateLimitSettings[keyof RateLimitSettings]>;

export async function startWorld(overrides: Partial<HearthConfig> = {}): Promise<World> {
  const database: TestDatabase = await freshDatabase();
  const config = loadConfig(
    { NODE_ENV: 'test' },
    {
      databaseUrl: database.url,
      embeddedDataDir: null,
      port: 0,
      host: '127.0.0.1',
      seedDemoTenants: false,
      logLevel: process.env.HEARTH_TEST_LOG_LEVEL ?? 'silent',
      rateLimits: SUITE_RATE_LIMITS,
      ...overrides,
    },
  );
  const packs = loadPacks();
  const make = async (kind: 'platform' | 'service', slug: string, packId: string, currency: 'GBP' | 'USD') => {
    const email = `admin@${slug}.test`;
    const { tenant, adminUserId } = await bootstrapTenant(database.db, packs, {
      kind,
      name: `Tenant ${slug}`,
      slug,
      packId,
      currency,
      timeZone: currency === 'GBP' ? 'Europe/London' : 'America/Los_Angeles',
      firstAdmin: { email, displayName: `Admin of ${slug}`, password: TEST_PASSWORD },
    });
    return { id: tenant.id, slug, adminId: adminUserId, adminEmail: email, adminToken: '' };
  };
  const platform = await make('platform', 'platform', 'platform', 'GBP');
  const a = await make('service', 'tenant-a', 'uk', 'GBP');
  const b = await make('service', 'tenant-b', 'usa', 'USD');

  // On PGlite the server shares the test's in-memory database; on a server it gets its own pool.
  const server = await startServer(config, database.url ? {} : { db: database.db });
  const url = server.url;

  const world: World = {
    url,
    db: database.db,
    config,
    server,
    platform,
    a,
    b,
    call: (operationId, options) => call(url, operationId, options),
    http: (method, path, options) => http(url, method, path, options),
    login: (tenant, email, password = TEST_PASSWORD, totpCode) =>
      call(url, 'login', { body: { tenant, email, password, ...(totpCode ? { totpCode } : {}) } }),
    token: async (tenant, email, password = TEST_PASSWORD) => {
      const response = await world.login(tenant, email, password);
      if (response.status !== 200)
        throw new Error(`log-in of ${email} at ${tenant} failed: ${response.status} ${response.text}`);
      return response.body.accessToken as string;
    },
    addUser: async (tenant, roles, email = `user${++userCounter}@${tenant.slug}.test`) => {
      const created = await call(url, 'createUser', {
        token: tenant.adminToken,
        body: { email, displayName: email, roles, password: TEST_PASSWORD },
      });
      if (created.status !== 201) throw new Error(`createUser failed: ${created.status} ${created.text}`);
      return { id: created.body.id as string, email, token: await world.token(tenant.slug, email) };
    },
    close: async () => {
      await server.close();
      await database.drop();
      // The audit checkpoints of this world went to a temporary folder of its own (config.ts, under tests).
      if (path.basename(config.audit.checkpointTarget).startsWith('hearth-audit-checkpoints-'))
        fs.rmSync(config.audit.checkpointTarget, { recursive: true, force: true });
      if (path.basename(config.documents.target).startsWith('hearth-documents-'))
        fs.rmSync(config.documents.target, { recursive: true, force: true });
      if (path.basename(config.notifications.emailTarget).startsWith('hearth-mailbox-'))
        fs.rmSync(config.notifications.emailTarget, { recursive: true, force: true });
    },
  };
  for (const t of [platform, a, b]) t.adminToken = await world.token(t.slug, t.adminEmail);
  return world;
}

/** Rows of a table as the owner sees them (RLS forced, so the owner gives itself the tenant explicitly). */
export async function ownerRows<T = Record<string, unknown>>(
  db: Database,
  tenantId: string,
  sql: string,
  bindings: unknown[] = [],
): Promise<T[]> {
  return db.transaction(async (trx) => {
    await trx.raw(`SELECT set_config('app.tenant_id', ?, true)`, [tenantId]);
    const result = (await trx.raw(sql, bindings as never[])) as { rows: T[] };
    return result.rows;
  });
}

/**
 * Holds an ACCESS EXCLUSIVE lock on a table, as the owner, from a transaction of its own: requests
 * that read it block until `release`, which a test uses to hold a statement past its timeout or a
 * request past a shutdown deadline. Resolves once the lock is held; `release` may be called twice.
 */
export async function holdTableLock(db: Database, table: string): Promise<() => Promise<void>> {
  let unlock!: () => void;
  const unlocked = new Promise<void>((resolve) => (unlock = resolve));
  let locked!: () => void;
  const isLocked = new Promise<void>((resolve) => (locked = resolve));
  const lock = db.transaction(async (trx) => {
    await trx.raw(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
    locked();
    await unlocked;
  });
  await Promise.race([isLocked, lock]);
  return async () => {
    unlock();
    await lock;
  };
}
