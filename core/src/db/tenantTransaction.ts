import type { Knex } from 'knex';

/** The role every request runs as: it owns nothing and bypasses nothing, so RLS always applies. */
export const APP_ROLE = 'hearth_app';

export interface TransactionScope {
  /** The tenant whose rows are visible; null sees no tenant-scoped row at all. */
  tenantId: string | null;
  /** Platform administration: may see and create tenants (never other tenants' data). */
  platform?: boolean;
  /**
   * Cancels any statement of this transaction that runs longer, and ends the session if the
   * transaction sits idle in between for longer (ms; 0 or absent leaves the server's settings).
   */
  statementTimeoutMs?: number;
}

/**
 * Sets the request's database identity for this transaction only (SET LOCAL / set_config(…, true)),
 * so a pooled connection never carries one tenant into the next request.
 */
export async function applyScope(trx: Knex.Transaction, scope: TransactionScope): Promise<void> {
  // set_config('role', …, true) is SET LOCAL ROLE, with the same membership check; one statement
  // instead of two saves a round trip on every request.
  const bindings = [APP_ROLE, scope.tenantId ?? '', scope.platform ? 'on' : 'off'];
  if (!scope.statementTimeoutMs) {
    await trx.raw(`SELECT set_config('role', ?, true), set_config('app.tenant_id', ?, true), set_config('app.platform', ?, true)`, bindings);
    return;
  }
  // The limits ride in the same statement, and are as local as the scope: PgBouncer in transaction
  // mode hands the server connection to someone else at COMMIT, so nothing may be set per session.
  const timeout = String(scope.statementTimeoutMs);
  await trx.raw(
    `SELECT set_config('role', ?, true), set_config('app.tenant_id', ?, true), set_config('app.platform', ?, true),
            set_config('statement_timeout', ?, true), set_config('idle_in_transaction_session_timeout', ?, true)`,
    [...bindings, timeout, timeout],
  );
}

/** Moves an open transaction to another tenant (tenant creation writes the new tenant's first rows). */
export async function switchTenant(trx: Knex.Transaction, tenantId: string): Promise<void> {
  await trx.raw(`SELECT set_config('app.tenant_id', ?, true)`, [tenantId]);
}

export async function inTenantTransaction<T>(
  db: Knex,
  scope: TransactionScope,
  work: (trx: Knex.Transaction) => Promise<T>,
): Promise<T> {
  return db.transaction(async (trx) => {
    await applyScope(trx, scope);
    return work(trx);
  });
}
