import type { Knex } from 'knex';
import { runStatements, tenantIsolation } from './support';

/**
 * Levels of care (California's Level of Care Protocol, Texas service levels): assessed for a child
 * in a placement, effective from a date, and paid from that date, back to the first night where the
 * assessment says so. A new assessment is a new row; none is ever edited.
 */
export async function up(knex: Knex): Promise<void> {
  await runStatements(knex, [
    // A level of care is assessed for a child in a placement, from a date (paid back to that date).
    `CREATE TABLE placement_levels_of_care (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       placement_id uuid NOT NULL,
       level text NOT NULL,
       effective_from date NOT NULL,
       assessed_on date,
       notes text,
       recorded_by uuid,
       created_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id),
       FOREIGN KEY (tenant_id, placement_id) REFERENCES placements (tenant_id, id)
     )`,
    `CREATE INDEX placement_levels_of_care_placement ON placement_levels_of_care (tenant_id, placement_id, effective_from, created_at)`,
    ...tenantIsolation('placement_levels_of_care', ['SELECT', 'INSERT']),
    `CREATE TRIGGER placement_levels_of_care_append_only BEFORE UPDATE OR DELETE ON placement_levels_of_care FOR EACH ROW EXECUTE FUNCTION hearth_refuse_change()`,
  ]);
}
