import type { Knex } from 'knex';
import { grantToSystemRoles, runStatements, tenantIsolation } from './support';

/**
 * Case events: what happened to a child, a placement or a carer household and on which day (became
 * looked after, placement started, review held, carer approved…), recorded by the module that wrote
 * the record. The pack's cycles turn them into tasks; a corrected record supersedes its event.
 * Also the carers, placements and tasks permissions for the system roles of existing tenants.
 */
const DOMAIN_GRANTS: Record<string, string[]> = {
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
  ],
  finance_officer: ['carers:read', 'placements:read'],
  panel_member: ['carers:read', 'panel:recommend'],
};

export async function up(knex: Knex): Promise<void> {
  await runStatements(knex, [
    `CREATE TABLE case_events (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       name text NOT NULL,
       subject_type text NOT NULL CHECK (subject_type IN ('child', 'placement', 'carer_household')),
       subject_id uuid NOT NULL,
       occurred_on date NOT NULL,
       facts jsonb NOT NULL DEFAULT '{}',
       source_type text NOT NULL,
       source_id uuid NOT NULL,
       status text NOT NULL DEFAULT 'current' CHECK (status IN ('current', 'superseded', 'voided')),
       superseded_by uuid,
       recorded_by uuid,
       recorded_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id),
       FOREIGN KEY (tenant_id, superseded_by) REFERENCES case_events (tenant_id, id)
     )`,
    `CREATE INDEX case_events_subject ON case_events (tenant_id, subject_type, subject_id, name, occurred_on) WHERE status = 'current'`,
    `CREATE INDEX case_events_source ON case_events (tenant_id, source_type, source_id) WHERE status = 'current'`,
    ...tenantIsolation('case_events', ['SELECT', 'INSERT', 'UPDATE']),
  ]);
  // A literal copy, not an import of systemRoles.ts: a migration says what was granted when it ran.
  await grantToSystemRoles(knex, DOMAIN_GRANTS);
}
