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
  'audit:checkpoint': "Take a signed checkpoint of the audit trail's head now",
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
  'carers:read': 'List and read carer households, their members, checks and approval',
  'portal:manage': "Invite a household's members to the carer portal and see their logins",
  'carers:create': 'Record an enquiry from prospective carers (a new household)',
  'carers:update': 'Change carer households, members and checks',
  'carers:assess': 'Take the assessment steps of the approval workflow (visits, stages, referral to panel)',
  'carers:approve': 'Decide on approval and terms (the agency decision maker)',
  'carers:review': 'Hold and record carer reviews',
  'carers:deregister': 'End an approval (resignation or termination)',
  'panel:manage': 'Schedule fostering panels and put cases on their agendas',
  'panel:recommend': "Record a panel's recommendation",
  'placements:read': 'List and read matching requests, placements and their visits',
  'placements:match': 'Make matching requests and read shortlists',
  'placements:manage': 'Create and change placements, agreements, respite and visits',
  'placements:approve': 'Approve a placement where the tenant requires it',
  'placements:start': 'Start a placement (the child moves in)',
  'placements:end': 'End a placement, with its reason and outcome',
  'tasks:read': 'Read tasks and reminders (own, team and service-wide)',
  'tasks:manage': 'Assign, complete and reopen tasks',
  'claims:read': "Read carers' expense and mileage claims",
  'claims:submit': 'Submit and withdraw expense and mileage claims',
  'claims:approve': 'Approve or reject claims',
  'ledger:read': 'Read ledger journals and the chart of accounts mapping',
  'ledger:export': 'Export the ledger to finance systems (CSV)',
  'payments:read': 'Read pay schedules, payment runs and their lines, statements, remittances and finance reports',
  'payments:manage': 'Set up pay schedules and open payment runs',
  'payments:calculate': 'Calculate and recalculate payment runs and submit them for approval',
  'payments:approve': 'Approve or return payment runs, and decide adjustments and disputes (never on work of your own)',
  'payments:finalise': 'Finalise approved payment runs into the ledger',
  'payments:adjust': 'Propose manual adjustments and raise disputes on paid lines',
  'invoices:read': 'Read commissioners, placement fees, invoices and credit notes',
  'invoices:manage': 'Record commissioners and placement fees, and draft invoices',
  'invoices:issue': 'Issue invoices and credit notes (numbered, posted to the ledger)',
  'documents:read': 'List, read and download the documents of records the caller can read',
  'documents:upload': 'Upload documents and new versions of them',
  'documents:manage':
    "Change documents' titles, categories, sensitivity and expiry, and the tenant's document settings",
  'documents:read_confidential': 'Read and download documents marked confidential',
  'events:read':
    "Read the tenant's event feed (thin notices of what changed; a restricted child's stay behind the fence)",
  'webhooks:manage': 'Add, change and remove webhook endpoints, rotate their secrets, read and replay deliveries',
  'documents:retention':
    "See which documents are due for destruction under the pack's retention rules, ask for their destruction, and read the tombstones",
  'documents:destroy': 'Approve or reject a destruction request (never one of your own)',
  'documents:legal_hold': 'Place and release legal holds, which keep documents from destruction',
  'notifications:read': 'Search the communication log: messages sent, by record and recipient',
  'notifications:manage': "Choose which events notify by which channels, and the tenant's SMS quiet hours",
} as const;

export type Permission = keyof typeof PERMISSIONS;

export function isPermission(value: string): value is Permission {
  return Object.prototype.hasOwnProperty.call(PERMISSIONS, value);
}

/** Permissions that only the platform tenant's administrators may hold. */
export const PLATFORM_PERMISSIONS: ReadonlySet<Permission> = new Set<Permission>(['tenants:manage']);
