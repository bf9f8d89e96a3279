import type { Knex } from 'knex';
import { isPermission, type Permission } from '../access/permissions';
import { knexRaw, type Statement } from '../db/pipeline';
import type { Principal } from '../http/operation';
import { Problem } from '../http/problem';
import type { Credential } from './passport';
import { hashToken } from './tokens';

const API_KEY_TOUCH_INTERVAL_MS = 5 * 60 * 1000;

/** A carer's binding (`CarerBindingRow`) as one JSON value, for a query over `users u`; null for staff. */
export const CARER_BINDING = `(SELECT json_build_object('household_id', l.household_id, 'member_id', l.member_id,
                                  'left_on', m.left_on, 'household_status', h.status,
                                  'approval_ended_on', h.approval_ended_on, 'today', current_date)
     FROM carer_logins l
     JOIN carer_household_members m ON m.tenant_id = l.tenant_id AND m.id = l.member_id
     JOIN carer_households h ON h.tenant_id = l.tenant_id AND h.id = l.household_id
    WHERE l.tenant_id = u.tenant_id AND l.user_id = u.id)`;

/**
 * The principal's re-read: one statement, run before every request (the request path sends it in the
 * same round trip as the transaction's opening). For a person: tenant, user, roles and session. The
 * session is live while its refresh-token family has a token not revoked: logout and reuse detection
 * revoke the whole family, so its access tokens stop at once, not at their exp. For an API key: the
 * tenant and the key.
 */
export function principalStatement(credential: Credential): Statement {
  if (credential.kind === 'user') {
    return {
      text: `SELECT t.slug, t.status AS tenant_status, t.kind AS tenant_kind,
                    u.id, u.email, u.display_name, u.status, u.mfa_enabled, u.session_generation, u.kind,
                    ${CARER_BINDING} AS carer,
                    coalesce((SELECT json_agg(json_build_object('key', r.key, 'permissions', r.permissions) ORDER BY r.key)
                                FROM user_roles ur JOIN roles r ON r.tenant_id = ur.tenant_id AND r.id = ur.role_id
                               WHERE ur.tenant_id = u.tenant_id AND ur.user_id = u.id), '[]'::json) AS roles,
                    EXISTS (SELECT 1 FROM refresh_tokens s
                             WHERE s.tenant_id = u.tenant_id AND s.family_id = $1 AND s.user_id = u.id AND s.revoked_at IS NULL) AS session_live
               FROM tenants t JOIN users u ON u.tenant_id = t.id
              WHERE t.id = $2 AND u.id = $3`,
      values: [credential.sessionId, credential.tenantId, credential.userId],
    };
  }
  return {
    text: `SELECT t.slug, t.status AS tenant_status, k.id, k.permissions, k.expires_at, k.revoked_at, k.last_used_at
             FROM tenants t LEFT JOIN api_keys k ON k.tenant_id = t.id AND k.token_hash = $1
            WHERE t.id = $2`,
    values: [hashToken(credential.token), credential.tenantId],
  };
}

interface UserPrincipalRow {
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
  kind: 'staff' | 'carer';
  carer: CarerBindingRow | null;
}

/** A carer's login, the member it belongs to and their household, as the re-read finds them now. */
export interface CarerBindingRow {
  household_id: string;
  member_id: string;
  left_on: string | null;
  household_status: string;
  approval_ended_on: string | null;
  /** The database's date, so the check and the fence agree on what today is. */
  today: string;
}

/**
 * Whether a carer's access holds: it ends at once when the member leaves the household, or the
 * household is closed or its approval ended (deregistration).
 */
export function carerAccessHolds(binding: CarerBindingRow | null): binding is CarerBindingRow {
  if (!binding) return false;
  if (binding.left_on && binding.left_on <= binding.today) return false;
  if (binding.household_status === 'closed') return false;
  if (binding.approval_ended_on && binding.approval_ended_on <= binding.today) return false;
  return true;
}

interface ApiKeyPrincipalRow {
  slug: string;
  tenant_status: string;
  id: string | null;
  permissions: string[] | null;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
}

/**
 * Who is calling with what permissions, from the re-read's rows, so a disabled user, a removed role or
 * an ended session takes effect on the next request, not when a token expires. Refuses (401) anything
 * not valid now. `touch`: records an API key's use, at most every few minutes (a hot key would
 * otherwise contend on its own row).
 */
export async function principalFrom(
  credential: Credential,
  rows: unknown[],
  touch: (keyId: string) => Promise<void>,
): Promise<Principal> {
  if (credential.kind === 'user') {
    const user = rows[0] as UserPrincipalRow | undefined;
    if (!user || user.tenant_status !== 'active' || user.status !== 'active')
      throw new Problem('invalidToken', 'The credential is not valid');
    // Ending a user's sessions (password or MFA change, disablement) moves the generation on; tokens
    // carry the generation they were issued in, so the old ones stop here, to the request.
    if (credential.generation !== user.session_generation || !user.session_live)
      throw new Problem('invalidToken', 'The token was revoked');
    if (user.kind === 'carer' || credential.householdId) {
      // A carer's token names the household its scope was set for; the binding must still say so.
      if (user.kind !== 'carer' || !carerAccessHolds(user.carer) || user.carer.household_id !== credential.householdId)
        throw new Problem('invalidToken', 'This carer no longer has portal access');
      return {
        kind: 'carer',
        id: user.id,
        tenantId: credential.tenantId,
        tenantSlug: user.slug,
        platform: false,
        email: user.email,
        displayName: user.display_name,
        householdId: user.carer.household_id,
        memberId: user.carer.member_id,
        permissions: new Set<Permission>(),
        scope: credential.scope,
        mfaEnabled: user.mfa_enabled,
      };
    }
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

  const key = rows[0] as ApiKeyPrincipalRow | undefined;
  if (!key || key.tenant_status !== 'active') throw new Problem('invalidToken', 'The credential is not valid');
  if (!key.id || key.revoked_at || (key.expires_at && new Date(key.expires_at).getTime() <= Date.now())) {
    throw new Problem('invalidToken', 'The API key is not valid');
  }
  if (!key.last_used_at || Date.now() - new Date(key.last_used_at).getTime() > API_KEY_TOUCH_INTERVAL_MS)
    await touch(key.id);
  return {
    kind: 'api_key',
    id: key.id,
    tenantId: credential.tenantId,
    tenantSlug: key.slug,
    platform: false,
    permissions: new Set((key.permissions ?? []).filter(isPermission)),
  };
}

/** Records that an API key was used, in the request's transaction. */
export function touchApiKey(trx: Knex.Transaction, tenantId: string): (keyId: string) => Promise<void> {
  return async (keyId) => {
    await trx('api_keys').where({ tenant_id: tenantId, id: keyId }).update({ last_used_at: new Date() });
  };
}

/**
 * Confirms a credential inside a transaction already scoped to its tenant, in a round trip of its
 * own: for callers other than the request path (which sends the same statement with its opening).
 */
export async function loadPrincipal(trx: Knex.Transaction, credential: Credential): Promise<Principal> {
  const result = (await knexRaw(trx, principalStatement(credential))) as { rows: unknown[] };
  return principalFrom(credential, result.rows, touchApiKey(trx, credential.tenantId));
}
