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
  if (credential.kind === 'user') {
    // One round trip for tenant, user, roles and session: this runs before every request a person makes.
    // The session is live while its refresh-token family has a token not revoked: logout and reuse
    // detection revoke the whole family, so its access tokens stop here at once, not at their exp.
    const result = (await trx.raw(
      `SELECT t.slug, t.status AS tenant_status, t.kind AS tenant_kind,
              u.id, u.email, u.display_name, u.status, u.mfa_enabled, u.session_generation,
              coalesce((SELECT json_agg(json_build_object('key', r.key, 'permissions', r.permissions) ORDER BY r.key)
                          FROM user_roles ur JOIN roles r ON r.tenant_id = ur.tenant_id AND r.id = ur.role_id
                         WHERE ur.tenant_id = u.tenant_id AND ur.user_id = u.id), '[]'::json) AS roles,
              EXISTS (SELECT 1 FROM refresh_tokens s
                       WHERE s.tenant_id = u.tenant_id AND s.family_id = ? AND s.user_id = u.id AND s.revoked_at IS NULL) AS session_live
         FROM tenants t JOIN users u ON u.tenant_id = t.id
        WHERE t.id = ? AND u.id = ?`,
      [credential.sessionId, credential.tenantId, credential.userId],
    )) as {
      rows: Array<{
        slug: string;
        tenant_status: string;
        tenant_kind: string;
        id: string;
        email: string;
        display_name: string;
        status: string;
        mfa_enabled: boolean;
        session_generation: number;
        roles: Array<{ key: string; permissions: string[] }>;
        session_live: boolean;
      }>;
    };
    const user = result.rows[0];
    if (!user || user.tenant_status !== 'active' || user.status !== 'active') throw new Problem('invalidToken', 'The credential is not valid');
    // Ending a user's sessions (password or MFA change, disablement) moves the generation on; tokens
    // carry the generation they were issued in, so the old ones stop here, to the request.
    if (credential.generation !== user.session_generation || !user.session_live) throw new Problem('invalidToken', 'The token was revoked');
    const permissions = new Set<Permission>();
    for (const role of user.roles) for (const p of role.permissions) if (isPermission(p)) permissions.add(p);
    return {
      kind: 'user',
      id: user.id,
      tenantId: credential.tenantId,
      tenantSlug: user.slug,
      platform: user.tenant_kind === 'platform',
      email: user.email,
      displayName: user.display_name,
      roles: user.roles.map((r) => r.key),
      permissions,
      scope: credential.scope,
      mfaEnabled: user.mfa_enabled,
    };
  }

  const tenant = (await trx('tenants').where({ id: credential.tenantId }).first('slug', 'status')) as { slug: string; status: string } | undefined;
  if (!tenant || tenant.status !== 'active') throw new Problem('invalidToken', 'The credential is not valid');
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
