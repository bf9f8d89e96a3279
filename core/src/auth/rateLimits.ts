import crypto from 'node:crypto';
import net from 'node:net';
import pg from 'pg';
import type { Logger } from 'pino';
import {
  RateLimiterMemory,
  RateLimiterPostgres,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import type { HearthConfig, RateLimitSettings } from '../config';
import type { Database } from '../db/database';

/** Created by migration 0026 in the shape rate-limiter-flexible writes (key, points, expire), never by the library. */
export const RATE_LIMIT_TABLE = 'auth_rate_limits';

export type RateLimitName = keyof RateLimitSettings;

/** A request over a limit: how long to wait, in whole seconds (Retry-After). */
export interface Refusal {
  retryAfterSeconds: number;
}

/**
 * Counters for the public auth operations (log-in, refresh, password reset), shared by every process
 * on the database: rows of `auth_rate_limits`, written through a pool of their own as the database
 * owner, outside the request's transaction. Outside, because a refused or failed log-in rolls back
 * (or writes nothing) and its count must stay; a pool of their own, because a request already holds
 * one connection of the server's pool while it counts, and a burst of log-ins waiting for a second
 * connection of the same pool would wait on each other.
 *
 * Every key is an HMAC of what it counts (an IP, a tenant and email), under a key derived from
 * HEARTH_DATA_KEY: the table holds no address, and a stolen copy cannot be matched against a list
 * of emails without that key.
 */
export class RateLimits {
  private constructor(
    private readonly limiters: Record<RateLimitName, RateLimiterAbstract>,
    private readonly keySecret: Buffer,
    private readonly pool: pg.Pool | null,
  ) {}

  /** The counter key for an account: tenant slug and email, normalised as log-in matches them (lower-cased). */
  accountKey(tenant: string, email: string): string {
    return this.digest('account', tenant, email.toLowerCase());
  }

  /** The counter key for a client: its IPv4 address, or the /64 of its IPv6 address (one client holds a whole /64). */
  ipKey(ip: string | null): string {
    return this.digest('ip', clientNetwork(ip));
  }

  /** The counter key for one account from one client. */
  accountAtIpKey(tenant: string, email: string, ip: string | null): string {
    return this.digest('account-at-ip', tenant, email.toLowerCase(), clientNetwork(ip));
  }

  /**
   * Counts one request against each limit in turn and stops at the first that refuses it, so a
   * client refused for its IP does not also use up an account's allowance. A refused request still
   * counts against the limit that refused it.
   */
  async take(charges: Array<[RateLimitName, string]>): Promise<Refusal | null> {
    for (const [name, key] of charges) {
      try {
        await this.limiters[name].consume(key);
      } catch (outcome) {
        if (!(outcome instanceof RateLimiterRes)) throw outcome;
        return { retryAfterSeconds: Math.max(1, Math.ceil(outcome.msBeforeNext / 1000)) };
      }
    }
    return null;
  }

  /** Gives back the point a request took: it turned out not to be what the limit counts (a log-in that succeeded). */
  async giveBack(name: RateLimitName, key: string): Promise<void> {
    await this.limiters[name].reward(key, 1);
  }

  /** Forgets a count (failures in a row end with a success). */
  async forget(name: RateLimitName, key: string): Promise<void> {
    await this.limiters[name].delete(key);
  }

  async close(): Promise<void> {
    await this.pool?.end();
  }

  private digest(...parts: string[]): string {
    return crypto.createHmac('sha256', this.keySecret).update(parts.join('\0')).digest('base64url');
  }

  /**
   * On PostgreSQL, the limits live in `auth_rate_limits`, so every process on the database sees the
   * same counts. On the embedded PGlite they live in this process's memory instead: PGlite is one
   * connection, which the request's transaction holds while the handler counts, so the counters
   * could only be written inside that transaction (as hearth_app, and undone by its rollback). An
   * embedded database belongs to the one process that opened it, so memory is shared as widely as
   * the database is; the counts are lost on restart. Servers started on the same embedded database
   * object (tests) share one set.
   */
  static open(config: HearthConfig, db: Database, logger: Logger): RateLimits {
    if (db.hearthEmbedded) {
      let shared = embeddedLimits.get(db);
      if (!shared) {
        shared = new RateLimits(
          limitersOn(config.rateLimits, () => ({})),
          rateLimitKeySecret(config),
          null,
        );
        embeddedLimits.set(db, shared);
      }
      return shared;
    }
    // The pool must reach the database the server uses; without a URL, pg would quietly take PGHOST and friends.
    if (!config.databaseUrl) throw new Error('Rate limits on PostgreSQL need DATABASE_URL (config.databaseUrl)');
    // Each log-in takes up to three short statements; two connections keep a burst from queueing long.
    const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 2, idleTimeoutMillis: 10_000 });
    // An idle connection dropped by the server must not end the process; the next query reconnects.
    pool.on('error', (error) => logger.warn({ err: error }, 'rate limit pool: idle connection lost'));
    // One limiter per process deletes rows that expired over an hour ago (the library's timer, every 5 minutes).
    // The library names its statements; PgBouncer in transaction mode (before 1.21) cannot carry a
    // named statement from one server connection to the next, so they go unnamed.
    const unnamed: StatementClient = {
      query: (statement) => pool.query({ text: statement.text, values: statement.values }),
    };
    const limiters = limitersOn(config.rateLimits, (first) => ({
      storeClient: unnamed,
      storeType: 'pool',
      tableName: RATE_LIMIT_TABLE,
      tableCreated: true,
      clearExpiredByTimeout: first,
    }));
    return new RateLimits(limiters, rateLimitKeySecret(config), pool);
  }
}

const embeddedLimits = new WeakMap<Database, RateLimits>();

/** What the Postgres limiter calls on its store: query. */
interface StatementClient {
  query(statement: pg.QueryConfig): Promise<pg.QueryResult>;
}

interface StoreOptions {
  storeClient?: StatementClient;
  storeType?: string;
  tableName?: string;
  tableCreated?: boolean;
  clearExpiredByTimeout?: boolean;
}

function limitersOn(
  settings: RateLimitSettings,
  store: (first: boolean) => StoreOptions,
): Record<RateLimitName, RateLimiterAbstract> {
  const limiters = {} as Record<RateLimitName, RateLimiterAbstract>;
  for (const [index, name] of (Object.keys(settings) as RateLimitName[]).entries()) {
    const limit = settings[name];
    // The key prefix keeps each limit's rows apart in the one table.
    const options = {
      keyPrefix: name,
      points: limit.points,
      duration: limit.windowSeconds,
      blockDuration: limit.blockSeconds,
      ...store(index === 0),
    };
    limiters[name] = options.storeClient
      ? new RateLimiterPostgres({ ...options, storeClient: options.storeClient })
      : new RateLimiterMemory(options);
  }
  return limiters;
}

function rateLimitKeySecret(config: HearthConfig): Buffer {
  return crypto.createHmac('sha256', config.dataKey).update('hearth rate limit keys').digest();
}

/**
 * What a per-IP limit counts: an IPv4 address as it is (also when written IPv4-mapped), an IPv6
 * address by its /64, since one subscriber or server commonly holds a whole /64.
 */
export function clientNetwork(ip: string | null): string {
  if (!ip) return 'unknown';
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (!net.isIPv6(ip)) return ip;
  const address = ip.split('%')[0]!;
  const [head, tail] = address.split('::') as [string, string | undefined];
  const groups = (part: string | undefined) =>
    part ? part.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])) : [];
  const left = groups(head);
  const right = groups(tail);
  const full =
    tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${full
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}
