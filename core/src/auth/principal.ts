import type { Knex } from 'knex';
import { isPermission, type Permission } from '../access/permissions';
import type { Principal } from '../http/operation';
import { Problem } from '../http/problem';
import type { Credential } from './passport';
import { hashToken } from './tokens';

const API_KEY_TOUCH_INTERVAL_MS = 5 * 60 * 1000;

/**
 * Confirms a credential inside the request's transaction (already scoped to the credential's
 * tenant) and returns who is calling with what permissions, read fresh so a disabled user or a
 * removed role takes effect on the next request, not when a token expires.
 */
export async function loadPrincipal(trx: Knex.Transaction, credential: Credential): Promise<Principal> {
  const tenant = (await trx('tenants').where({ id: credential.tenantId }).first('slug', 'status', 'kind')) as
    | { slug: string; status: string; kind: string }
    | undefined;
  if (!tenant || tenant.status !== 'active') throw new Problem('invalidToken', 'The credential is not valid');

  if (credential.kind === 'user') {
    const user = (await trx('users')
      .where({ tenant_id: credential.tenantId, id: credential.userId })
      .first('id', 'email', 'display_name', 'status', 'mfa_enabled', 'session_generation')) as
      | { id: string; email: string; display_name: string; status: string; mfa_enabled: boolean; session_generation: number }
      | undefined;
    if (!user || user.status !== 'active') throw new Problem('invalidToken', 'The credential is not valid');
    // Ending a user's sessions (password or MFA change, new roles) moves the generation on; tokens
    // carry the generation they were issued in, so the old ones stop here, to the request.
    if (credential.generation !== user.session_generation) throw new Problem('invalidToken', 'The token was revoked');
    const roles = (await trx('user_roles as ur')
      .join('roles as r', function joinRoles() {
        this.on('r.tenant_id', 'ur.tenant_id').andOn('r.id', 'ur.role_id');
      })
      .where('ur.tenant_id', credential.tenantId)
      .where('ur.user_id', user.id)
      .select('r.key', 'r.permissions')) as Array<{ key: string; permissions: string[] }>;
    const permissions = new Set<Permission>();
    for (const role of roles) for (const p of role.permissions) if (isPermission(p)) permissions.add(p);
    return {
      kind: 'user',
      id: user.id,
      tenantId: credential.tenantId,
      tenantSlug: tenant.slug,
      platform: tenant.kind === 'platform',
      email: user.email,
      displayName: user.display_name,
      roles: roles.map((r) => r.key).sort(),
      permissions,
      scope: credential.scope,
      mfaEnabled: user.mfa_enabled,
    };
  }

  const key = (await trx('api_keys')
    .where({ tenant_id: credential.tenantId, token_hash: hashToken(credential.token) })
    .first('id', 'permissions', 'expires_at', 'revoked_at', 'last_used_at')) as
    | { id: string; permissions: string[]; expires_at: Date | null; revoked_at: Date | null; last_used_at: Date | null }
    | undefined;
  if (!key || key.revoked_at || (key.expires_at && new Date(key.expires_at).getTime() <= Date.now())) {
    throw new Problem('invalidToken', 'The API key is not valid');
  }
  // Touched at most every few minutes: a hot key would otherwise contend on its own row.
  if (!key.last_used_at || Date.now() - new Date(key.last_used_at).getTime() > API_KEY_TOUCH_INTERVAL_MS) {
    await trx('api_keys').where({ tenant_id: credential.tenantId, id: key.id }).update({ last_used_at: new Date() });
  }
  return {
    kind: 'api_key',
    id: key.id,
    tenantId: credential.tenantId,
    tenantSlug: tenant.slug,
    platform: false,
    permissions: new Set(key.permissions.filter(isPermission)),
  };
}
