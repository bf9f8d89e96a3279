import type { Knex } from 'knex';

/** The role every request runs as: it owns nothing and bypasses nothing, so RLS always applies. */
export const APP_ROLE = 'hearth_app';

export interface TransactionScope {
  /** The tenant whose rows are visible; null sees no tenant-scoped row at all. */
  tenantId: string | null;
  /** Platform administration: may see and create tenants (never other tenants' data). */
  platform?: boolean;
  /** Cancels any statement of this transaction that runs longer (ms; absent or 0 leaves the server's setting). */
  statementTimeoutMs?: number;
  /**
   * Ends the session if this transaction sits idle between statements for longer (ms; absent or 0
   * leaves the server's setting): a stalled process then holds no locks past it.
   */
  idleInTransactionTimeoutMs?: number;
}

/**
 * Sets the request's database identity for this transaction only (SET LOCAL / set_config(…, true)),
 * so a pooled connection never carries one tenant into the next request.
 */
export async function applyScope(trx: Knex.Transaction, scope: TransactionScope): Promise<void> {
  // set_config('role', …, true) is SET LOCAL ROLE, with the same membership check. Everything goes in
  // one statement, to save round trips on every request; the limits are as local as the scope, since
  // PgBouncer in transaction mode hands the server connection to someone else at COMMIT.
  const settings: Array<[string, string]> = [
    ['role', APP_ROLE],
    ['app.tenant_id', scope.tenantId ?? ''],
    ['app.platform', scope.platform ? 'on' : 'off'],
  ];
  if (scope.statementTimeoutMs) settings.push(['statement_timeout', String(scope.statementTimeoutMs)]);
  if (scope.idleInTransactionTimeoutMs) settings.push(['idle_in_transaction_session_timeout', String(scope.idleInTransactionTimeoutMs)]);
  await trx.raw(`SELECT ${settings.map(() => 'set_config(?, ?, true)').join(', ')}`, settings.flat());
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
