import type { Knex } from 'knex';
import { PLATFORM_ROLES, SERVICE_ROLES } from '../../access/systemRoles';
import { switchTenant } from '../../db/tenantTransaction';
import { newId } from '../../ids';
import type { PackRegistry } from '../../packs/registry';
import { Problem } from '../../http/problem';
import { hashPassword } from '../../auth/passwords';
import { issuePasswordToken } from '../auth/passwordTokens';
import { Role } from '../roles/models';
import { User, UserRole } from '../users/models';
import { Tenant, type SecurityPolicy, type TenantKind } from './models';

export const DEFAULT_SECURITY_POLICY: SecurityPolicy = {
  mfaRequiredForRoles: [],
  maxFailedLogins: 5,
  lockoutMinutes: 15,
};

export interface NewTenant {
  kind: TenantKind;
  name: string;
  slug: string;
  packId: string;
  currency: 'GBP' | 'USD';
  timeZone: string;
  firstAdmin: { email: string; displayName: string; password?: string };
}

export function isValidTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * Creates a tenant with its system roles, its pack's default option lists and its first
 * administrator. The transaction must be in platform scope; it is left scoped to the new tenant.
 * A first admin without a password gets an invitation (a single-use set-password token).
 */
export async function provisionTenant(
  trx: Knex.Transaction,
  packs: PackRegistry,
  input: NewTenant,
): Promise<{ tenant: Tenant; adminUserId: string }> {
  const errors = [];
  if (input.kind === 'service' && !packs.has(input.packId)) {
    errors.push({ pointer: '/body/packId', message: `no pack "${input.packId}"; see the list of packs` });
  }
  if (!isValidTimeZone(input.timeZone)) errors.push({ pointer: '/body/timeZone', message: 'is not an IANA time zone' });
  if (errors.length) throw Problem.unprocessable(errors);

  const taken = (await trx.raw('SELECT id FROM hearth_tenant_by_slug(?)', [input.slug])) as { rows: unknown[] };
  if (taken.rows.length) {
    throw new Problem('conflict', `The slug "${input.slug}" is taken`, {
      errors: [{ pointer: '/body/slug', message: 'is already taken' }],
    });
  }

  const id = newId();
  const tenant = await Tenant.query(trx)
    .insert({
      id,
      kind: input.kind,
      slug: input.slug,
      name: input.name,
      packId: input.packId,
      currency: input.currency,
      timeZone: input.timeZone,
      securityPolicy: DEFAULT_SECURITY_POLICY,
    })
    .returning('*');
  await switchTenant(trx, id);

  const roles = input.kind === 'platform' ? PLATFORM_ROLES : SERVICE_ROLES;
  const roleIds = new Map<string, string>();
  await Role.query(trx).insert(
    roles.map((role) => {
      const roleId = newId();
      roleIds.set(role.key, roleId);
      return {
        tenantId: id,
        id: roleId,
        key: role.key,
        name: role.name,
        description: role.description,
        system: true,
        permissions: role.permissions,
      };
    }),
  );

  const lists = input.kind === 'service' ? packs.lookupDefaults(input.packId) : [];
  if (lists.length) {
    await trx('lookup_lists').insert(lists.map((list) => ({ tenant_id: id, key: list.key, name: list.name })));
    await trx('lookup_values').insert(
      lists.flatMap((list) =>
        list.values.map((value, index) => ({
          tenant_id: id,
          list_key: list.key,
          code: value.code,
          label: value.label,
          sort_order: value.sortOrder ?? (index + 1) * 10,
          source: 'default',
        })),
      ),
    );
  }

  const adminUserId = newId();
  await User.query(trx).insert({
    tenantId: id,
    id: adminUserId,
    email: input.firstAdmin.email,
    displayName: input.firstAdmin.displayName,
    passwordHash: input.firstAdmin.password ? await hashPassword(input.firstAdmin.password) : null,
  });
  const adminRole = input.kind === 'platform' ? 'platform_admin' : 'tenant_admin';
  await UserRole.query(trx).insert({ tenantId: id, userId: adminUserId, roleId: roleIds.get(adminRole)! });
  if (!input.firstAdmin.password) {
    await issuePasswordToken(trx, {
      tenantId: id,
      userId: adminUserId,
      email: input.firstAdmin.email,
      purpose: 'invite',
      tenantSlug: input.slug,
      displayName: input.firstAdmin.displayName,
    });
  }
  return { tenant, adminUserId };
}
