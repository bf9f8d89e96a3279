import type { Knex } from 'knex';
import { runStatements, tenantIsolation } from './support';

/**
 * Evidence packs: a household's or a child's documents, decisions and audit events for a period,
 * assembled by a job into one ZIP kept as a document. The snapshot (the audit trail's last sequence
 * number, the time, and the document versions the asker could see) is fixed when the pack is asked
 * for, so the job reads nothing newer and a rebuild from it writes the same files.
 */
export async function up(knex: Knex): Promise<void> {
  await runStatements(knex, [
    `CREATE TABLE evidence_packs (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       subject_type text NOT NULL CHECK (subject_type IN ('household', 'child')),
       subject_id uuid NOT NULL,
       -- Whose pack it is, for the fence: exactly one of the two, matching subject_type.
       child_id uuid,
       household_id uuid,
       period_from date NOT NULL,
       period_to date NOT NULL,
       status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'building', 'ready', 'failed')),
       progress_done integer NOT NULL DEFAULT 0,
       progress_total integer NOT NULL DEFAULT 0,
       snapshot_seq bigint NOT NULL,
       snapshot_at timestamptz NOT NULL,
       -- The document versions in the pack: [{ documentId, number }], fenced for the asker when taken.
       snapshot_documents jsonb NOT NULL,
       -- Who asked: the job stores the pack as them and reads their fence.
       requested_by_type text NOT NULL CHECK (requested_by_type IN ('user', 'api_key')),
       requested_by uuid NOT NULL,
       rebuild_of uuid,
       document_id uuid,
       manifest_sha256 text CHECK (manifest_sha256 ~ '^[0-9a-f]{64}$'),
       error text,
       version integer NOT NULL DEFAULT 1,
       created_at timestamptz NOT NULL DEFAULT now(),
       updated_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id),
       CHECK (period_from <= period_to),
       CHECK ((subject_type = 'child' AND child_id = subject_id AND household_id IS NULL)
           OR (subject_type = 'household' AND household_id = subject_id AND child_id IS NULL)),
       FOREIGN KEY (tenant_id, child_id) REFERENCES children (tenant_id, id),
       FOREIGN KEY (tenant_id, household_id) REFERENCES carer_households (tenant_id, id),
       FOREIGN KEY (tenant_id, document_id) REFERENCES documents (tenant_id, id),
       FOREIGN KEY (tenant_id, rebuild_of) REFERENCES evidence_packs (tenant_id, id)
     )`,
    'CREATE INDEX evidence_packs_subject ON evidence_packs (tenant_id, subject_type, subject_id, id)',
    'CREATE INDEX evidence_packs_child ON evidence_packs (tenant_id, child_id) WHERE child_id IS NOT NULL',
    ...tenantIsolation('evidence_packs', ['SELECT', 'INSERT', 'UPDATE']),
  ]);
}
