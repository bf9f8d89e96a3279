import type { Knex } from 'knex';
import { runStatements } from './support';

/**
 * One foreign key per payment line and per ledger entry for what it is about, in place of three.
 *
 * Payment lines and ledger entries each named their household, child and placement with a key of
 * their own: three index probes and three row locks per row. A payment run writes 134,000 lines at
 * 50,000 placements and its journal 165,000 entries, and those checks were most of the time both
 * took (about 11 µs per key per row). A line about a placement names the placement's own household
 * and child, so one composite key to the placement, (tenant_id, placement_id, household_id,
 * child_id), checks all three at once, and holds more than the three did: the household and child
 * are the placement's.
 *
 * A composite key is not checked when any of its columns is null, so each reference also has a key
 * of its own through a generated column that holds it only where the composite key cannot vouch for
 * it (a claim's line has a household and no placement; an invoice's entry a placement and a child
 * and no household; a manual journal any of them). Every reference still exists and is the
 * tenant's, whatever is null: the guarantee the three keys gave, at one key per row where all three
 * are named.
 *
 * The ledger's keys refuse a manual journal line whose placement is not its household's or child's
 * when it names all three; the ledger checks the same before posting and answers 422 naming the field.
 */
export async function up(knex: Knex): Promise<void> {
  await runStatements(knex, [
    // What the composite keys point at: a placement's household and child never change once it is made.
    'ALTER TABLE placements ADD CONSTRAINT placements_household_child_key UNIQUE (tenant_id, id, household_id, child_id)',
    ...referenceKeys('payment_lines', 'household_id'),
    ...referenceKeys('ledger_entries', 'carer_household_id'),
  ]);
}

/** The composite key, the three references it cannot vouch for as generated columns with a key each, and the three old keys dropped. */
function referenceKeys(table: string, household: string): string[] {
  return [
    `ALTER TABLE ${table}
       ADD COLUMN placement_id_alone uuid GENERATED ALWAYS AS (CASE WHEN ${household} IS NULL OR child_id IS NULL THEN placement_id END) STORED,
       ADD COLUMN household_id_alone uuid GENERATED ALWAYS AS (CASE WHEN placement_id IS NULL OR child_id IS NULL THEN ${household} END) STORED,
       ADD COLUMN child_id_alone uuid GENERATED ALWAYS AS (CASE WHEN placement_id IS NULL OR ${household} IS NULL THEN child_id END) STORED`,
    `ALTER TABLE ${table}
       ADD CONSTRAINT ${table}_placement_household_child_fkey FOREIGN KEY (tenant_id, placement_id, ${household}, child_id) REFERENCES placements (tenant_id, id, household_id, child_id),
       ADD CONSTRAINT ${table}_placement_alone_fkey FOREIGN KEY (tenant_id, placement_id_alone) REFERENCES placements (tenant_id, id),
       ADD CONSTRAINT ${table}_household_alone_fkey FOREIGN KEY (tenant_id, household_id_alone) REFERENCES carer_households (tenant_id, id),
       ADD CONSTRAINT ${table}_child_alone_fkey FOREIGN KEY (tenant_id, child_id_alone) REFERENCES children (tenant_id, id),
       DROP CONSTRAINT ${table}_tenant_id_${household}_fkey,
       DROP CONSTRAINT ${table}_tenant_id_child_id_fkey,
       DROP CONSTRAINT ${table}_tenant_id_placement_id_fkey`,
  ];
}
