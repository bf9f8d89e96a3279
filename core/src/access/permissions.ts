/**
 * The permission catalogue: every `resource:action` an operation can require. Roles (system and
 * tenant-defined) and API keys grant subsets of it.
 */
export const PERMISSIONS = {
  'tenants:manage': 'Create, read, suspend and reactivate tenants (platform administration)',
  'tenant:read': "Read the tenant's settings",
  'tenant:update': "Change the tenant's settings and security policy",
  'users:read': 'List and read users',
  'users:manage': 'Add users, change their roles and status, unlock accounts',
  'roles:read': 'List and read roles and the permission catalogue',
  'roles:manage': 'Add and change tenant roles',
  'api_keys:manage': 'Create, list and revoke API keys',
  'lookups:read': 'Read option lists',
  'lookups:manage': 'Extend and change option lists',
  'audit:read': 'Search, export and verify the audit trail',
  'children:read': 'List and read child records',
  'children:create': 'Create child records',
  'children:update': 'Change child records',
  'children:delete': 'Soft-delete and restore child records',
  'children:restrict': 'Restrict child records to named users, or lift a restriction',
  'configuration:read': "Read the packs, the tenant's effective configuration, its forms and cycles",
  'configuration:manage': "Add overlays to the tenant's configuration",
  'forms:read': 'Read form submissions',
  'forms:submit': 'Submit forms (Form F, home study, agreements)',
  'rates:evaluate': 'Work out what a placement would be paid, and why',
} as const;

export type Permission = keyof typeof PERMISSIONS;

export function isPermission(value: string): value is Permission {
  return Object.prototype.hasOwnProperty.call(PERMISSIONS, value);
}

/** Permissions that only the platform tenant's administrators may hold. */
export const PLATFORM_PERMISSIONS: ReadonlySet<Permission> = new Set<Permission>(['tenants:manage']);
