import type { Knex } from 'knex';

/** Ends every session of a user: outstanding access tokens stop at the next request, refresh tokens at once. */
export async function revokeSessions(trx: Knex.Transaction, tenantId: string, userId: string): Promise<void> {
  await trx('users').where({ tenant_id: tenantId, id: userId }).increment('session_generation', 1);
  await trx('refresh_tokens').where({ tenant_id: tenantId, user_id: userId }).whereNull('revoked_at').update({ revoked_at: trx.fn.now() });
}
