import { isPermission, PLATFORM_PERMISSIONS, type Permission } from '../../access/permissions';
import { findOne, type FindOptions, type FindScope } from '../../db/find';
import type { Principal } from '../../http/operation';
import type { FieldError } from '../../http/problem';
import { Role } from './models';

/** The tenant's role, or not found (404; 422 naming `pointer` for an id from a body). */
export function findRole(scope: FindScope, roleId: string, options: FindOptions = {}): Promise<Role> {
  return findOne<Role>(scope, Role, roleId, options);
}

/**
 * Nobody grants more than they hold: a role, a user's roles or an API key may only carry
 * permissions the acting principal has, and platform permissions never leave the platform tenant.
 */
export function grantErrors(principal: Principal, permissions: readonly string[], pointer: string): FieldError[] {
  const errors: FieldError[] = [];
  permissions.forEach((permission, i) => {
    if (!isPermission(permission))
      errors.push({ pointer: `${pointer}/${i}`, message: 'is not a permission in the catalogue' });
    else if (PLATFORM_PERMISSIONS.has(permission) && !principal.platform)
      errors.push({ pointer: `${pointer}/${i}`, message: 'is a platform permission' });
    else if (!principal.permissions.has(permission as Permission)) {
      errors.push({ pointer: `${pointer}/${i}`, message: 'you cannot grant a permission you do not hold' });
    }
  });
  return errors;
}

export async function rolesByKey(scope: FindScope, keys: readonly string[]): Promise<Map<string, Role>> {
  const rows = await Role.query(scope.trx).where({ tenant_id: scope.tenantId }).whereIn('key', keys);
  return new Map(rows.map((r) => [r.key, r]));
}
