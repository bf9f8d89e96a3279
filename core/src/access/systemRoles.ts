import type { Permission } from './permissions';

export interface SystemRoleDefinition {
  key: string;
  name: string;
  description: string;
  permissions: Permission[];
}

const caseRead: Permission[] = ['children:read', 'lookups:read', 'users:read'];

/** Payment runs and invoices: separation of duties is by person (who calculated, who approves), not by role. */
const FINANCE_PERMISSIONS: Permission[] = [
  'payments:read',
  'payments:manage',
  'payments:calculate',
  'payments:approve',
  'payments:finalise',
  'payments:adjust',
  'invoices:read',
  'invoices:manage',
  'invoices:issue',
];

/**
 * The carers, placements, tasks and finance permissions each role holds; migrations 0011, 0017, 0020
 * and 0031 grant the same to the system roles of tenants created before them.
 */
export const DOMAIN_PERMISSIONS: Record<string, Permission[]> = {
  tenant_admin: [
    'carers:read',
    'carers:create',
    'carers:update',
    'carers:assess',
    'carers:approve',
    'carers:review',
    'carers:deregister',
    'panel:manage',
    'panel:recommend',
    'placements:read',
    'placements:match',
    'placements:manage',
    'placements:approve',
    'placements:start',
    'placements:end',
    'tasks:read',
    'tasks:manage',
    'claims:read',
    'claims:submit',
    'claims:approve',
    'ledger:read',
    'ledger:export',
    ...FINANCE_PERMISSIONS,
    'notifications:read',
    'notifications:manage',
  ],
  supervisor: [
    'carers:read',
    'carers:approve',
    'carers:deregister',
    'panel:manage',
    'placements:read',
    'placements:match',
    'placements:approve',
    'tasks:read',
    'tasks:manage',
    'notifications:read',
  ],
  caseworker: [
    'carers:read',
    'carers:create',
    'carers:update',
    'carers:assess',
    'carers:review',
    'placements:read',
    'placements:match',
    'tasks:read',
    'tasks:manage',
    'claims:read',
    'claims:submit',
    'notifications:read',
  ],
  placement_officer: [
    'carers:read',
    'placements:read',
    'placements:match',
    'placements:manage',
    'placements:start',
    'placements:end',
    'tasks:read',
    'tasks:manage',
    'claims:read',
    'claims:submit',
  ],
  finance_officer: [
    'carers:read',
    'placements:read',
    'claims:read',
    'claims:approve',
    'ledger:read',
    'ledger:export',
    ...FINANCE_PERMISSIONS,
    'notifications:read',
  ],
  panel_member: ['carers:read', 'panel:recommend'],
};

/**
 * The roles of a fostering service, copied into every tenant at creation. They grow as the domain
 * modules land (placements, carers, finance); tenants add roles of their own beside them.
 */
export const SERVICE_ROLES: SystemRoleDefinition[] = [
  {
    key: 'tenant_admin',
    name: 'Tenant administrator',
    description: 'Runs the service on Hearth: settings, users, roles, keys, option lists, audit.',
    permissions: [
      'tenant:read',
      'tenant:update',
      'users:read',
      'users:manage',
      'roles:read',
      'roles:manage',
      'api_keys:manage',
      'lookups:read',
      'lookups:manage',
      'audit:read',
      'audit:checkpoint',
      'children:read',
      'children:create',
      'children:update',
      'children:delete',
      'children:restrict',
      'configuration:read',
      'configuration:manage',
      'forms:read',
      'forms:submit',
      'rates:evaluate',
      ...DOMAIN_PERMISSIONS.tenant_admin!,
    ],
  },
  {
    key: 'supervisor',
    name: 'Supervisor / team manager',
    description: "Oversees caseworkers' cases; may restrict records.",
    permissions: [
      ...caseRead,
      'tenant:read',
      'children:create',
      'children:update',
      'children:delete',
      'children:restrict',
      'audit:read',
      'configuration:read',
      'forms:read',
      'forms:submit',
      'rates:evaluate',
      ...DOMAIN_PERMISSIONS.supervisor!,
    ],
  },
  {
    key: 'caseworker',
    name: 'Caseworker / social worker',
    description: "Holds children's cases.",
    permissions: [
      ...caseRead,
      'tenant:read',
      'children:create',
      'children:update',
      'configuration:read',
      'forms:read',
      'forms:submit',
      ...DOMAIN_PERMISSIONS.caseworker!,
    ],
  },
  {
    key: 'placement_officer',
    name: 'Placement officer',
    description: 'Finds and makes placements.',
    permissions: [
      ...caseRead,
      'tenant:read',
      'configuration:read',
      'forms:read',
      'rates:evaluate',
      ...DOMAIN_PERMISSIONS.placement_officer!,
    ],
  },
  {
    key: 'finance_officer',
    name: 'Finance officer',
    description: 'Rates, payment runs and exports.',
    permissions: [
      'tenant:read',
      'lookups:read',
      'users:read',
      'configuration:read',
      'rates:evaluate',
      ...DOMAIN_PERMISSIONS.finance_officer!,
    ],
  },
  {
    key: 'panel_member',
    name: 'Fostering panel member',
    description: 'Reads what comes to panel and records recommendations.',
    permissions: [
      'tenant:read',
      'lookups:read',
      'configuration:read',
      'forms:read',
      ...DOMAIN_PERMISSIONS.panel_member!,
    ],
  },
  {
    key: 'carer',
    name: 'Foster carer / resource parent',
    description: "The carer portal: only their own household's data.",
    permissions: ['lookups:read'],
  },
  {
    key: 'carer_household_member',
    name: 'Carer household member',
    description: 'A member of a carer household with portal access.',
    permissions: [],
  },
];

export const PLATFORM_ROLES: SystemRoleDefinition[] = [
  {
    key: 'platform_admin',
    name: 'Platform administrator',
    description: "Creates and suspends tenants and runs the platform tenant itself; sees no tenant's case data.",
    permissions: [
      'tenants:manage',
      'tenant:read',
      'tenant:update',
      'users:read',
      'users:manage',
      'roles:read',
      'roles:manage',
      'api_keys:manage',
      'lookups:read',
      'audit:read',
      'audit:checkpoint',
    ],
  },
];
