import type { Knex } from 'knex';
import { runStatements, tenantIsolation } from './support';

/** Columns every sub-record of a child shares: who wrote it, its version, and soft delete. */
const COMMON = `version integer NOT NULL DEFAULT 1,
       created_by uuid,
       created_at timestamptz NOT NULL DEFAULT now(),
       updated_at timestamptz NOT NULL DEFAULT now(),
       deleted_at timestamptz,
       deleted_by uuid,
       PRIMARY KEY (tenant_id, id),
       FOREIGN KEY (tenant_id, child_id) REFERENCES children (tenant_id, id)`;

/**
 * The child's case record beside the child itself: legal statuses and care episodes (dated, never
 * overlapping for one child: the service checks under the child's row lock), alerts, family members,
 * key contacts, and the dated case records (notes, reviews, incidents…) in one table keyed by `kind`.
 * Soft delete only: the application role may not DELETE.
 */
export async function up(knex: Knex): Promise<void> {
  await runStatements(knex, [
    `CREATE TABLE child_legal_statuses (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       child_id uuid NOT NULL,
       code text NOT NULL,
       start_date date NOT NULL,
       end_date date,
       notes text,
       ${COMMON},
       CHECK (end_date IS NULL OR end_date >= start_date)
     )`,
    `CREATE INDEX child_legal_statuses_child ON child_legal_statuses (tenant_id, child_id, start_date, id)`,
    ...tenantIsolation('child_legal_statuses', ['SELECT', 'INSERT', 'UPDATE']),
    `CREATE TABLE child_care_episodes (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       child_id uuid NOT NULL,
       start_date date NOT NULL,
       end_date date,
       start_reason text,
       end_reason text,
       notes text,
       ${COMMON},
       CHECK (end_date IS NULL OR end_date >= start_date)
     )`,
    `CREATE INDEX child_care_episodes_child ON child_care_episodes (tenant_id, child_id, start_date, id)`,
    ...tenantIsolation('child_care_episodes', ['SELECT', 'INSERT', 'UPDATE']),
    `CREATE TABLE child_alerts (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       child_id uuid NOT NULL,
       category text NOT NULL CHECK (category IN ('risk', 'medical', 'allergy', 'behaviour', 'communication', 'legal', 'other')),
       severity text NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
       title text NOT NULL,
       description text,
       active_from date NOT NULL,
       active_to date,
       ${COMMON},
       CHECK (active_to IS NULL OR active_to >= active_from)
     )`,
    `CREATE INDEX child_alerts_child ON child_alerts (tenant_id, child_id, active_from, id)`,
    ...tenantIsolation('child_alerts', ['SELECT', 'INSERT', 'UPDATE']),
    `CREATE TABLE child_family_members (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       child_id uuid NOT NULL,
       given_name text NOT NULL,
       family_name text NOT NULL,
       date_of_birth date,
       relationship text NOT NULL,
       parental_responsibility boolean NOT NULL DEFAULT false,
       contact_allowed boolean NOT NULL DEFAULT true,
       contact_supervised boolean NOT NULL DEFAULT false,
       phone text,
       email text,
       address text,
       notes text,
       ${COMMON}
     )`,
    `CREATE INDEX child_family_members_child ON child_family_members (tenant_id, child_id, id)`,
    ...tenantIsolation('child_family_members', ['SELECT', 'INSERT', 'UPDATE']),
    `CREATE TABLE child_key_contacts (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       child_id uuid NOT NULL,
       role text NOT NULL,
       name text NOT NULL,
       organisation text,
       phone text,
       email text,
       notes text,
       ${COMMON}
     )`,
    `CREATE INDEX child_key_contacts_child ON child_key_contacts (tenant_id, child_id, id)`,
    ...tenantIsolation('child_key_contacts', ['SELECT', 'INSERT', 'UPDATE']),
    `CREATE TABLE child_case_records (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       child_id uuid NOT NULL,
       kind text NOT NULL CHECK (kind IN ('note', 'contact_event', 'assessment', 'plan', 'review', 'safeguarding_incident', 'missing_episode', 'health_assessment', 'immunisation', 'education', 'pep_review')),
       occurred_on date NOT NULL,
       due_on date,
       summary text,
       author text,
       recorded_by uuid,
       details jsonb NOT NULL DEFAULT '{}',
       ${COMMON},
       FOREIGN KEY (tenant_id, recorded_by) REFERENCES users (tenant_id, id)
     )`,
    `CREATE INDEX child_case_records_child ON child_case_records (tenant_id, child_id, occurred_on, id)`,
    `CREATE INDEX child_case_records_kind ON child_case_records (tenant_id, child_id, kind, occurred_on, id)`,
    ...tenantIsolation('child_case_records', ['SELECT', 'INSERT', 'UPDATE']),
  ]);
}
