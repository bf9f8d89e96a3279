import type { Knex } from 'knex';
import { forEachTenant, runStatements } from './support';

/**
 * Carer and claim evidence move onto documents (issue 12): one way to keep a file, one access rule,
 * one download log, one retention rule. A document may now be evidence: the key a workflow step or a
 * claim names it by, the day it was received, and a note.
 *
 * The old rows (carer_evidence_documents, claim_evidence) recorded only that a document was received:
 * a key, a title, a date, never bytes. Each becomes a document with no version (current_version null),
 * a record of receipt that a file can later be uploaded to as its first version. Each keeps its id, so
 * the audit events that named it name the document; carer evidence is kept against its household,
 * claim evidence against its claim (with the claim's household, as attaching it would). A household's
 * is of the category its key names where the key is a document category of the tenant, else `other`;
 * a claim's is a `receipt` (or `other`, for a tenant that removed that category). A claim's evidence
 * never said who recorded it or when: created_by stays null and created_at is when this ran (the
 * retention rules count from the record's events, a claim paid or an approval ended, never from it).
 * The migration appends no audit events (no migration does; the chain records requests and jobs),
 * and the old tables go: nothing reads them any more.
 */
export async function up(knex: Knex): Promise<void> {
  await runStatements(knex, [
    `ALTER TABLE documents ADD COLUMN evidence_key text, ADD COLUMN received_on date, ADD COLUMN notes text,
       ADD CONSTRAINT documents_evidence_received CHECK ((evidence_key IS NULL) = (received_on IS NULL))`,
    `CREATE INDEX documents_evidence ON documents (tenant_id, household_id, evidence_key, received_on)
       WHERE evidence_key IS NOT NULL`,
  ]);
  const category = (key: string, fallback: string) =>
    `CASE WHEN EXISTS (SELECT 1 FROM lookup_values v WHERE v.tenant_id = e.tenant_id
                          AND v.list_key = 'document_category' AND v.code = ${key} AND v.active)
          THEN ${key} ELSE '${fallback}' END`;
  // Row-level security is forced on these tables, for their owner too: each tenant's rows in its own scope.
  await forEachTenant(knex, async (trx, tenantId) => {
    await trx.raw(
      `INSERT INTO documents (tenant_id, id, subject_type, subject_id, child_id, household_id, category, title,
                              sensitivity, status, current_version, created_by, created_at, updated_at,
                              evidence_key, received_on, notes)
       SELECT e.tenant_id, e.id, 'household', e.household_id, NULL, e.household_id, ${category('e.key', 'other')},
              e.title, 'staff', 'active', NULL, e.recorded_by, e.created_at, e.created_at, e.key, e.received_on, e.notes
         FROM carer_evidence_documents e WHERE e.tenant_id = ?`,
      [tenantId],
    );
    await trx.raw(
      `INSERT INTO documents (tenant_id, id, subject_type, subject_id, child_id, household_id, category, title,
                              sensitivity, status, current_version, created_by, evidence_key, received_on)
       SELECT e.tenant_id, e.id, 'claim', e.claim_id, NULL, c.household_id, ${category("'receipt'", 'other')},
              e.title, 'staff', 'active', NULL, NULL, e.key, e.received_on
         FROM claim_evidence e JOIN claims c ON c.tenant_id = e.tenant_id AND c.id = e.claim_id
        WHERE e.tenant_id = ?`,
      [tenantId],
    );
  });
  await runStatements(knex, ['DROP TABLE carer_evidence_documents', 'DROP TABLE claim_evidence']);
}
