import type { Knex } from 'knex';
import { grantToSystemRoles, runStatements, tenantIsolation } from './support';

/**
 * Document retention: legal holds (on a document or on a whole record), destruction requests with
 * the documents each names (the rule and due date they were due under when asked), the tombstone a
 * destroyed document leaves (what, when, by whom, under which rule: never its title, file name or
 * bytes, which may hold personal data), and the daily job's due list.
 *
 * Existing tenants' system roles get the retention permissions.
 */
export async function up(knex: Knex): Promise<void> {
  await runStatements(knex, [
    `CREATE TABLE retention_legal_holds (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       -- Either one document, or a whole record (every document kept against it, and for a child or a
       -- household every document that belongs to them).
       document_id uuid,
       subject_type text CHECK (subject_type IN ('child', 'case_record', 'household', 'member', 'check', 'claim',
         'claim_line', 'placement', 'panel', 'payment_run', 'invoice')),
       subject_id uuid,
       -- Whose it is, fixed when placed, for the visibility fence.
       child_id uuid,
       household_id uuid,
       reason text NOT NULL,
       placed_by uuid,
       placed_at timestamptz NOT NULL DEFAULT now(),
       released_by uuid,
       released_at timestamptz,
       release_reason text,
       version integer NOT NULL DEFAULT 1,
       updated_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id),
       FOREIGN KEY (tenant_id, document_id) REFERENCES documents (tenant_id, id),
       FOREIGN KEY (tenant_id, child_id) REFERENCES children (tenant_id, id),
       FOREIGN KEY (tenant_id, household_id) REFERENCES carer_households (tenant_id, id),
       CHECK ((document_id IS NULL) <> (subject_type IS NULL)),
       CHECK ((subject_type IS NULL) = (subject_id IS NULL)),
       CHECK ((released_at IS NULL) = (release_reason IS NULL))
     )`,
    `CREATE INDEX retention_legal_holds_active ON retention_legal_holds (tenant_id, id) WHERE released_at IS NULL`,
    ...tenantIsolation('retention_legal_holds', ['SELECT', 'INSERT', 'UPDATE']),

    `CREATE TABLE retention_destruction_requests (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected', 'done')),
       as_of date NOT NULL,
       note text,
       requested_by uuid NOT NULL,
       requested_by_kind text NOT NULL CHECK (requested_by_kind IN ('user', 'api_key')),
       requested_at timestamptz NOT NULL DEFAULT now(),
       decided_by uuid,
       decided_by_kind text CHECK (decided_by_kind IN ('user', 'api_key')),
       decided_at timestamptz,
       decision_note text,
       completed_at timestamptz,
       job_id uuid,
       version integer NOT NULL DEFAULT 1,
       updated_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id),
       CHECK ((status = 'pending') = (decided_at IS NULL)),
       -- Separation of duties, kept by the table as well as the code: who asked never decides.
       CHECK (decided_by IS NULL OR NOT (decided_by = requested_by AND decided_by_kind = requested_by_kind))
     )`,
    `CREATE INDEX retention_destruction_requests_status ON retention_destruction_requests (tenant_id, status, id)`,
    ...tenantIsolation('retention_destruction_requests', ['SELECT', 'INSERT', 'UPDATE']),

    `CREATE TABLE retention_destruction_items (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       request_id uuid NOT NULL,
       document_id uuid NOT NULL,
       child_id uuid,
       rule_key text NOT NULL,
       rule_source text NOT NULL,
       start_event text NOT NULL,
       event_on date NOT NULL,
       due_on date NOT NULL,
       -- Set by the destruction: destroyed, or held (a hold placed after the approval wins).
       outcome text CHECK (outcome IN ('destroyed', 'held')),
       PRIMARY KEY (tenant_id, request_id, document_id),
       FOREIGN KEY (tenant_id, request_id) REFERENCES retention_destruction_requests (tenant_id, id),
       FOREIGN KEY (tenant_id, document_id) REFERENCES documents (tenant_id, id),
       FOREIGN KEY (tenant_id, child_id) REFERENCES children (tenant_id, id)
     )`,
    `CREATE INDEX retention_destruction_items_document ON retention_destruction_items (tenant_id, document_id)`,
    ...tenantIsolation('retention_destruction_items', ['SELECT', 'INSERT', 'UPDATE']),

    `CREATE TABLE retention_tombstones (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       document_id uuid NOT NULL,
       subject_type text NOT NULL,
       subject_id uuid NOT NULL,
       child_id uuid,
       household_id uuid,
       category text NOT NULL,
       version_count integer NOT NULL CHECK (version_count >= 0),
       sha256s text[] NOT NULL,
       rule_key text NOT NULL,
       rule_source text NOT NULL,
       start_event text NOT NULL,
       event_on date NOT NULL,
       due_on date NOT NULL,
       request_id uuid NOT NULL,
       requested_by uuid NOT NULL,
       approved_by uuid NOT NULL,
       destroyed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
       PRIMARY KEY (tenant_id, id),
       UNIQUE (tenant_id, document_id),
       FOREIGN KEY (tenant_id, document_id) REFERENCES documents (tenant_id, id),
       FOREIGN KEY (tenant_id, request_id) REFERENCES retention_destruction_requests (tenant_id, id),
       FOREIGN KEY (tenant_id, child_id) REFERENCES children (tenant_id, id)
     )`,
    // What was destroyed is never edited or removed.
    ...tenantIsolation('retention_tombstones', ['SELECT', 'INSERT']),

    `CREATE TABLE retention_due_lists (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       as_of date NOT NULL,
       due_count integer NOT NULL,
       held_count integer NOT NULL,
       document_ids uuid[] NOT NULL,
       job_id uuid,
       created_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id),
       UNIQUE (tenant_id, as_of)
     )`,
    ...tenantIsolation('retention_due_lists', ['SELECT', 'INSERT']),
  ]);
  await grantToSystemRoles(knex, RETENTION_GRANTS);
}

/** A literal copy, not an import of systemRoles.ts: a migration says what was granted when it ran. */
const RETENTION_GRANTS: Record<string, string[]> = {
  tenant_admin: ['documents:retention', 'documents:destroy', 'documents:legal_hold'],
  supervisor: ['documents:retention', 'documents:legal_hold'],
};
