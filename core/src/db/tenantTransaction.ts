import type { Knex } from 'knex';
import { knexRaw, rescope, type Statement } from './pipeline';

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
  /**
   * A carer's request: it runs as `hearth_portal`, whose restrictive policies show only this
   * household's rows and this user's own (migration 0038).
   */
  portal?: { householdId: string; userId: string };
}

/** The database role a carer's requests run as. */
export const PORTAL_ROLE = 'hearth_portal';

/**
 * The statement that sets a request's database identity for its transaction only (set_config(…, true),
 * which is SET LOCAL; 'role' is SET LOCAL ROLE, with the same membership check), so a pooled
 * connection never carries one tenant into the next request. Everything goes in one statement; the
 * limits are as local as the scope, since PgBouncer in transaction mode hands the server connection
 * to someone else at COMMIT.
 */
export function scopeStatement(scope: TransactionScope): Statement {
  const settings: Array<[string, string]> = [
    ['role', scope.portal ? PORTAL_ROLE : APP_ROLE],
    ['app.tenant_id', scope.tenantId ?? ''],
    ['app.platform', scope.platform ? 'on' : 'off'],
  ];
  if (scope.portal) settings.push(['app.household_id', scope.portal.householdId], ['app.user_id', scope.portal.userId]);
  if (scope.statementTimeoutMs) settings.push(['statement_timeout', String(scope.statementTimeoutMs)]);
  if (scope.idleInTransactionTimeoutMs)
    settings.push(['idle_in_transaction_session_timeout', String(scope.idleInTransactionTimeoutMs)]);
  return {
    text: `SELECT ${settings.map((_, i) => `set_config($${2 * i + 1}, $${2 * i + 2}, true)`).join(', ')}`,
    values: settings.flat(),
  };
}

/** Scopes the transaction (or, in a read-only request, every query after this) to `scope`. */
export async function applyScope(trx: Knex.Transaction, scope: TransactionScope): Promise<void> {
  const statement = scopeStatement(scope);
  if (await rescope(trx, statement)) return;
  await knexRaw(trx, statement);
}

/** Moves an open transaction to another tenant (tenant creation writes the new tenant's first rows). */
/** The scope a credential's requests run in: a carer's is narrowed to their household. */
export function credentialPortal(credential: {
  kind: string;
  householdId?: string;
  userId?: string;
}): TransactionScope['portal'] {
  return credential.kind === 'user' && credential.householdId && credential.userId
    ? { householdId: credential.householdId, userId: credential.userId }
    : undefined;
}

export async function switchTenant(trx: Knex.Transaction, tenantId: string): Promise<void> {
  if (await rescope(trx, scopeStatement({ tenantId }))) return;
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
