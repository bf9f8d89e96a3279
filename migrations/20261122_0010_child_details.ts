import type { Knex } from 'knex';
import { runStatements, tenantIsolation } from './support';

/**
 * More of the child record (gender, language, religion, disabilities), identifiers kept encrypted
 * with a keyed digest for duplicate detection, and merging of duplicate records.
 */
export async function up(knex: Knex): Promise<void> {
  await runStatements(knex, [
    `ALTER TABLE children ADD COLUMN gender text`,
    `ALTER TABLE children ADD COLUMN language text`,
    `ALTER TABLE children ADD COLUMN interpreter_needed boolean NOT NULL DEFAULT false`,
    `ALTER TABLE children ADD COLUMN religion text`,
    `ALTER TABLE children ADD COLUMN disabilities text[] NOT NULL DEFAULT '{}'`,
    `ALTER TABLE children ADD COLUMN merged_into uuid`,
    `ALTER TABLE children ADD CONSTRAINT children_merged_into_fkey FOREIGN KEY (tenant_id, merged_into) REFERENCES children (tenant_id, id)`,
    `CREATE INDEX children_name_and_birth ON children (tenant_id, lower(family_name), lower(given_name), date_of_birth) WHERE deleted_at IS NULL`,
    `CREATE TABLE child_identifiers (
       tenant_id uuid NOT NULL,
       child_id uuid NOT NULL,
       kind text NOT NULL CHECK (kind IN ('nhs_number', 'upn', 'state_id', 'medicaid_id')),
       value_sealed text NOT NULL,
       value_digest text NOT NULL,
       last_four text NOT NULL,
       created_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, child_id, kind),
       FOREIGN KEY (tenant_id, child_id) REFERENCES children (tenant_id, id)
     )`,
    `CREATE INDEX child_identifiers_digest ON child_identifiers (tenant_id, kind, value_digest)`,
    ...tenantIsolation('child_identifiers'),
  ]);
}
