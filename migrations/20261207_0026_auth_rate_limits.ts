import type { Knex } from 'knex';
import { runStatements } from './support';

/**
 * The counters behind the limits on log-in, token refresh and password reset
 * (core/src/auth/rateLimits.ts), in the columns and order rate-limiter-flexible's PostgreSQL store
 * writes: key, points, expire (epoch milliseconds). Made here rather than by the library at run
 * time, so the application never needs CREATE.
 *
 * Not tenant data: a key is an HMAC of an IP or of a tenant and email, so there is no tenant_id and
 * no row-level security. The limits are counted as the database owner on a pool of their own,
 * outside every request's transaction; hearth_app is granted nothing on the table.
 */
export async function up(knex: Knex): Promise<void> {
  await runStatements(knex, [
    `CREATE TABLE auth_rate_limits (
       key varchar(255) PRIMARY KEY,
       points integer NOT NULL DEFAULT 0,
       expire bigint
     )`,
    // The library's clean-up deletes rows by expiry every few minutes.
    'CREATE INDEX auth_rate_limits_expire ON auth_rate_limits (expire)',
    'REVOKE ALL ON auth_rate_limits FROM PUBLIC',
  ]);
}
