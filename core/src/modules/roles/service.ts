import type { Knex } from 'knex';
import { isPermission, PLATFORM_PERMISSIONS, type Permission } from '../../access/permissions';
import type { Principal } from '../../http/operation';
import type { FieldError } from '../../http/problem';

export interface RoleRow {
  tenant_id: string;
  id: string;
  key: string;
  name: string;
  description: string;
  system: boolean;
  permissions: string[];
  version: number;
  created_at: Date;
  updated_at: Date;
}

/**
 * Nobody grants more than they hold: a role, a user's roles or an API key may only carry
 * permissions the acting principal has, and platform permissions never leave the platform tenant.
 */
export function grantErrors(principal: Principal, permissions: readonly string[], pointer: string): FieldError[] {
  const errors: FieldError[] = [];
  permissions.forEach((permission, i) => {
    if (!isPermission(permission)) errors.push({ pointer: `${pointer}/${i}`, message: 'is not a permission in the catalogue' });
    else if (PLATFORM_PERMISSIONS.has(permission) && !principal.platform) errors.push({ pointer: `${pointer}/${i}`, message: 'is a platform permission' });
    else if (!principal.permissions.has(permission as Permission)) errors.push({ pointer: `${pointer}/${i}`, message: 'you cannot grant a permission you do not hold' });
  });
  return errors;
}

export async function rolesByKey(trx: Knex.Transaction, tenantId: string, keys: readonly string[]): Promise<Map<string, RoleRow>> {
  const rows = (await trx('roles').where({ tenant_id: tenantId }).whereIn('key', keys)) as RoleRow[];
  return new Map(rows.map((r) => [r.key, r]));
}
