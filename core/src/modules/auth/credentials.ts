import type { Knex } from 'knex';
import type { HearthConfig } from '../../config';
import { CARER_BINDING, carerAccessHolds, type CarerBindingRow } from '../../auth/principal';
import { signAccessToken, newOpaqueToken } from '../../auth/tokens';
import type { PersonPrincipal, TenantScope } from '../../http/operation';
import { Problem } from '../../http/problem';
import { newId } from '../../ids';
import { Tenant, type SecurityPolicy } from '../tenants/models';
import { User, UserRole } from '../users/models';
import { RefreshToken, type TokenScope } from './models';

/** Log-in knows only a slug; the database answers slug -> id (and status) before any tenant is entered. */
export async function tenantBySlug(trx: Knex.Transaction, slug: string): Promise<Pick<Tenant, 'id' | 'status'> | null> {
  const result = (await trx.raw('SELECT id, status FROM hearth_tenant_by_slug(?)', [slug])) as {
    rows: Array<Pick<Tenant, 'id' | 'status'>>;
  };
  return result.rows[0] ?? null;
}

/** Whether the tenant an opaque token names is active, asked before entering it. */
export async function tenantActive(trx: Knex.Transaction, tenantId: string): Promise<boolean> {
  const status = (await trx.raw('SELECT hearth_tenant_status(?) AS status', [tenantId])) as {
    rows: Array<{ status: Tenant['status'] | null }>;
  };
  return status.rows[0]?.status === 'active';
}

export async function securityPolicy(trx: Knex.Transaction, tenantId: string): Promise<SecurityPolicy> {
  const row = await Tenant.query(trx).where({ id: tenantId }).first().select('security_policy');
  return row!.securityPolicy;
}

/** Full access, unless the tenant's policy requires MFA for one of the user's roles and the user has not enrolled. */
export async function scopeFor(
  trx: Knex.Transaction,
  tenantId: string,
  user: Pick<User, 'id' | 'mfaEnabled'>,
): Promise<TokenScope> {
  if (user.mfaEnabled) return 'full';
  const policy = await securityPolicy(trx, tenantId);
  if (!policy.mfaRequiredForRoles.length) return 'full';
  const required = await UserRole.query(trx)
    .alias('ur')
    .join('roles as r', function joinRoles() {
      this.on('r.tenant_id', 'ur.tenant_id').andOn('r.id', 'ur.role_id');
    })
    .where({ 'ur.tenant_id': tenantId, 'ur.user_id': user.id })
    .whereIn('r.key', policy.mfaRequiredForRoles)
    .first()
    .select('r.key');
  return required ? 'mfa_enrolment' : 'full';
}

/** A new refresh token in the session's family (a new family at log-in), and an access token for it. */
export async function issueTokens(
  trx: Knex.Transaction,
  config: HearthConfig,
  session: { tenantId: string; user: Pick<User, 'id' | 'sessionGeneration'>; scope: TokenScope; familyId?: string },
) {
  const { tenantId, user, scope, familyId = newId() } = session;
  const householdId = await carerHouseholdFor(trx, tenantId, user.id);
  const refresh = newOpaqueToken('rt', tenantId);
  await RefreshToken.query(trx).insert({
    tenantId,
    id: newId(),
    userId: user.id,
    familyId,
    tokenHash: refresh.hash,
    scope,
    expiresAt: new Date(Date.now() + config.refreshTokenTtlSeconds * 1000),
  });
  return {
    accessToken: signAccessToken(
      config,
      { userId: user.id, tenantId, sessionId: familyId, generation: user.sessionGeneration, householdId },
      scope,
    ),
    refreshToken: refresh.token,
    tokenType: 'Bearer' as const,
    expiresIn: config.accessTokenTtlSeconds,
    scope,
  };
}

/**
 * A carer's household, which their tokens name (the portal's scope is set from it); null for staff.
 * A carer whose access has ended (they left the household, or its approval ended) gets no tokens.
 */
async function carerHouseholdFor(trx: Knex.Transaction, tenantId: string, userId: string): Promise<string | null> {
  const result = (await trx.raw(
    `SELECT u.kind, ${CARER_BINDING} AS carer FROM users u WHERE u.tenant_id = ? AND u.id = ?`,
    [tenantId, userId],
  )) as { rows: Array<{ kind: string; carer: CarerBindingRow | null }> };
  const row = result.rows[0];
  if (!row || row.kind !== 'carer') return null;
  if (!carerAccessHolds(row.carer))
    throw new Problem('portalAccessEnded', 'This carer no longer has portal access; the agency can tell you why');
  return row.carer.household_id;
}

export function userPrincipal(ctx: Pick<TenantScope, 'principal'>): PersonPrincipal {
  if (ctx.principal.kind === 'api_key') throw new Problem('forbidden', 'Only a person can do this, not an API key');
  return ctx.principal;
}

/** The caller's own user row, credentials and all, locked for the change that follows. */
export async function lockedOwnUser(ctx: Pick<TenantScope, 'trx' | 'tenantId'>, userId: string): Promise<User> {
  const row = await User.query(ctx.trx).where({ tenant_id: ctx.tenantId, id: userId }).forUpdate().first();
  if (!row) throw new Problem('invalidToken', 'The credential is not valid');
  return row;
}
