import type { FindScope } from '../../db/find';
import { User } from '../users/models';
import { RefreshToken } from './models';

/** Ends every session of a user: outstanding access tokens stop at the next request, refresh tokens at once. */
export async function revokeSessions(scope: FindScope, userId: string): Promise<void> {
  await User.query(scope.trx).where({ tenant_id: scope.tenantId, id: userId }).increment('session_generation', 1);
  await RefreshToken.query(scope.trx)
    .where({ tenant_id: scope.tenantId, user_id: userId })
    .whereNull('revoked_at')
    .patch({ revokedAt: scope.trx.fn.now() });
}
