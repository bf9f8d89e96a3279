import type { Knex } from 'knex';
import { grantToSystemRoles, portalFence, runStatements, tenantIsolation } from './support';

/**
 * The carer portal. A carer is a user of kind `carer` bound to one member of one household
 * (`carer_logins`); daily logs are what carers write about the children in their care. A carer's
 * requests run as the database role `hearth_portal`, which inherits what `hearth_app` may do and is
 * narrowed further by restrictive policies naming it alone: on each table a carer's request can reach
 * it sees only its own household's rows (`app.household_id`, set from the signed token and confirmed
 * against `carer_logins` on every request), and on every table of staff-only data it sees nothing.
 * Staff requests (role `hearth_app`) are untouched: a policy `TO hearth_portal` is not even planned for
 * them. Tables the portal never reads but its writes pass through (the audit chain, events, jobs,
 * the outbox, idempotency keys) keep only the tenant fence; the portal's code never reads them.
 */

/** A household's own rows. */
const household = 'household_id = hearth_portal_household()';
/** Rows hanging off a row the portal may already see (RLS applies inside the subquery too). */
const via = (table: string, column: string, key = 'id') =>
  `EXISTS (SELECT 1 FROM ${table} v WHERE v.tenant_id = hearth_current_tenant() AND v.${key} = ${column})`;

/** What a carer's request sees of each table; a table absent here and from OPEN is invisible to it. */
export const PORTAL_POLICIES: Record<string, string> = {
  // Staff (a worker's name and email are the carer's contacts), the carer, and the carers of the same household.
  users: `kind = 'staff' OR id = hearth_portal_user() OR ${via('carer_logins', 'users.id', 'user_id')}`,
  user_roles: 'user_id = hearth_portal_user()',
  refresh_tokens: 'user_id = hearth_portal_user()',
  password_tokens: 'user_id = hearth_portal_user()',
  carer_logins: household,
  carer_households: 'id = hearth_portal_household()',
  carer_household_members: household,
  carer_household_regions: household,
  carer_checks: household,
  carer_approval_terms: household,
  placements: household,
  placement_visits: via('placements', 'placement_id'),
  placement_contact_sessions: via('placements', 'placement_id'),
  // A child is visible while the household holds (or held) a placement of theirs that was agreed;
  // the portal's code narrows this to the dates it may show (respite carers see only their dates).
  children: `EXISTS (SELECT 1 FROM placements p WHERE p.tenant_id = hearth_current_tenant() AND p.child_id = children.id
               AND p.household_id = hearth_portal_household() AND p.status IN ('approved', 'active', 'ended'))`,
  child_key_contacts: via('children', 'child_id'),
  carer_daily_logs: household,
  claims: household,
  claim_lines: via('claims', 'claim_id'),
  claim_history: via('claims', 'claim_id'),
  payment_lines: household,
  payment_runs: `status IN ('finalised', 'exported') AND ${via('payment_lines', 'payment_runs.id', 'run_id')}`,
  payment_disputes: household,
  documents: `${household} AND sensitivity = 'shared_with_household'`,
  document_versions: via('documents', 'document_id'),
  household_change_requests: household,
  // Only what the pack's cycle shares with the household (never an unannounced visit), about the
  // household itself or a placement or child it may see.
  tasks: `shared_with_household AND (
            (subject_type = 'carer_household' AND subject_id = hearth_portal_household())
            OR (subject_type = 'placement' AND ${via('placements', 'subject_id')})
            OR (subject_type = 'child' AND ${via('children', 'subject_id')}))`,
};

/**
 * Tables a carer's write passes through but that the portal never reads: the tenant fence only.
 * Lookups and configuration are the tenant's, not any person's; the rest are the machinery every
 * write uses (its audit event, domain event, webhook deliveries, jobs, outbox messages).
 */
export const PORTAL_OPEN = [
  'audit_events',
  'audit_chain_heads',
  'idempotency_keys',
  'lookup_lists',
  'lookup_values',
  'tenant_config_overlays',
  'jobs',
  'events',
  'webhook_endpoints',
  'webhook_deliveries',
  'outbound_messages',
  'notification_settings',
  'notification_preferences',
  'notification_template_overrides',
  'auth_rate_limits',
];

export async function up(knex: Knex): Promise<void> {
  await grantToSystemRoles(knex, {
    tenant_admin: ['portal:manage'],
    supervisor: ['portal:manage'],
    caseworker: ['portal:manage'],
  });
  await runStatements(knex, [
    `DO $$ BEGIN
       CREATE ROLE hearth_portal NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE INHERIT;
     EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
     END $$`,
    `GRANT hearth_app TO hearth_portal`,
    `DO $$ BEGIN
       IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
         EXECUTE format('GRANT hearth_portal TO %I', current_user);
       END IF;
     END $$`,
    `CREATE OR REPLACE FUNCTION hearth_portal_household() RETURNS uuid
       LANGUAGE sql STABLE AS $$ SELECT NULLIF(current_setting('app.household_id', true), '')::uuid $$`,
    `CREATE OR REPLACE FUNCTION hearth_portal_user() RETURNS uuid
       LANGUAGE sql STABLE AS $$ SELECT NULLIF(current_setting('app.user_id', true), '')::uuid $$`,

    `ALTER TABLE users ADD COLUMN kind text NOT NULL DEFAULT 'staff' CHECK (kind IN ('staff', 'carer'))`,

    // Each adult has their own login (a member holds at most one), and a login is one member's.
    `CREATE TABLE carer_logins (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       user_id uuid NOT NULL,
       household_id uuid NOT NULL,
       member_id uuid NOT NULL,
       created_by uuid,
       created_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, user_id),
       UNIQUE (tenant_id, member_id),
       FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id),
       FOREIGN KEY (tenant_id, household_id) REFERENCES carer_households (tenant_id, id),
       FOREIGN KEY (tenant_id, member_id) REFERENCES carer_household_members (tenant_id, id)
     )`,
    `CREATE INDEX carer_logins_household ON carer_logins (tenant_id, household_id)`,
    ...tenantIsolation('carer_logins', ['SELECT', 'INSERT']),

    // A submitted log is never edited: a correction is a new log pointing at the first. Staff may
    // only mark a log seen (the one column grant below).
    `CREATE TABLE carer_daily_logs (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       household_id uuid NOT NULL,
       child_id uuid NOT NULL,
       placement_id uuid NOT NULL,
       author_id uuid NOT NULL,
       occurred_on date NOT NULL,
       title text NOT NULL,
       body text NOT NULL,
       corrects_log_id uuid,
       seen_by uuid,
       seen_at timestamptz,
       created_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id),
       FOREIGN KEY (tenant_id, household_id) REFERENCES carer_households (tenant_id, id),
       FOREIGN KEY (tenant_id, child_id) REFERENCES children (tenant_id, id),
       FOREIGN KEY (tenant_id, placement_id) REFERENCES placements (tenant_id, id),
       FOREIGN KEY (tenant_id, author_id) REFERENCES users (tenant_id, id),
       FOREIGN KEY (tenant_id, corrects_log_id) REFERENCES carer_daily_logs (tenant_id, id),
       FOREIGN KEY (tenant_id, seen_by) REFERENCES users (tenant_id, id),
       CHECK ((seen_by IS NULL) = (seen_at IS NULL))
     )`,
    `CREATE INDEX carer_daily_logs_child ON carer_daily_logs (tenant_id, child_id, occurred_on DESC, id)`,
    `CREATE INDEX carer_daily_logs_household ON carer_daily_logs (tenant_id, household_id, occurred_on DESC, id)`,
    ...tenantIsolation('carer_daily_logs', ['SELECT', 'INSERT']),
    `GRANT UPDATE (seen_by, seen_at) ON carer_daily_logs TO hearth_app`,

    // A carer's request to change the household's record: it becomes a task for staff, never a change.
    `CREATE TABLE household_change_requests (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       household_id uuid NOT NULL,
       requested_by uuid NOT NULL,
       field text NOT NULL,
       proposed_value text NOT NULL,
       note text,
       task_id uuid NOT NULL,
       created_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id),
       FOREIGN KEY (tenant_id, household_id) REFERENCES carer_households (tenant_id, id),
       FOREIGN KEY (tenant_id, requested_by) REFERENCES users (tenant_id, id),
       FOREIGN KEY (tenant_id, task_id) REFERENCES tasks (tenant_id, id)
     )`,
    `CREATE INDEX household_change_requests_household ON household_change_requests (tenant_id, household_id, created_at DESC, id)`,
    ...tenantIsolation('household_change_requests', ['SELECT', 'INSERT']),

    // Whether the household may see a task: set from its pack cycle (a review, yes; an unannounced visit, never).
    `ALTER TABLE tasks ADD COLUMN shared_with_household boolean NOT NULL DEFAULT false`,
  ]);

  // Every other tenant table: nothing for a carer's request.
  const tables = (await knex.raw(
    `SELECT c.table_name FROM information_schema.columns c
       JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
      WHERE c.table_schema = current_schema() AND c.column_name = 'tenant_id' AND t.table_type = 'BASE TABLE'
      ORDER BY 1`,
  )) as { rows: Array<{ table_name: string }> };
  const statements: string[] = [];
  for (const { table_name: table } of tables.rows) {
    // An earlier migration on this database may have fenced the table already (see portalFence).
    statements.push(`DROP POLICY IF EXISTS ${table}_portal ON ${table}`);
    if (!PORTAL_OPEN.includes(table)) statements.push(...portalFence(table, PORTAL_POLICIES[table] ?? 'false'));
  }
  await runStatements(knex, statements);
}
