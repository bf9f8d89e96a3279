import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { forEachTenant, runStatements, tenantIsolation } from './support';

/**
 * Facts a payment run reads by date that had no dates: a carer household's region, which changes
 * when the household moves (the allowance differs by region), and a child's occasions (a festival
 * the child observes, the first day of a recognised holiday week) that the pack's extras pay for.
 *
 * A household's regions are append-only, like its terms of approval: a move is a new row from its
 * date, a correction a later row for the same date; a row without a date is where the household has
 * been from the start. Each household that has a region now gets it as that undated row.
 *
 * Occasions are kept on the child's record beside its other dated records, with soft delete.
 */
export async function up(knex: Knex): Promise<void> {
  await runStatements(knex, [
    `CREATE TABLE carer_household_regions (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       household_id uuid NOT NULL,
       region text,
       -- Null: where the household has been from the start, before any dated move.
       effective_from date,
       notes text,
       recorded_by uuid,
       -- The clock, not the transaction's start: two rows for one date written in one request keep their order.
       created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
       PRIMARY KEY (tenant_id, id),
       FOREIGN KEY (tenant_id, household_id) REFERENCES carer_households (tenant_id, id)
     )`,
    `CREATE INDEX carer_household_regions_household ON carer_household_regions (tenant_id, household_id, effective_from NULLS FIRST, created_at)`,
    ...tenantIsolation('carer_household_regions', ['SELECT', 'INSERT']),
    `CREATE TRIGGER carer_household_regions_append_only BEFORE UPDATE OR DELETE ON carer_household_regions FOR EACH ROW EXECUTE FUNCTION hearth_refuse_change()`,
    `CREATE TABLE child_occasions (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       child_id uuid NOT NULL,
       kind text NOT NULL CHECK (kind IN ('festival', 'holiday')),
       occasion_date date NOT NULL,
       name text NOT NULL,
       notes text,
       version integer NOT NULL DEFAULT 1,
       created_by uuid,
       created_at timestamptz NOT NULL DEFAULT now(),
       updated_at timestamptz NOT NULL DEFAULT now(),
       deleted_at timestamptz,
       deleted_by uuid,
       PRIMARY KEY (tenant_id, id),
       FOREIGN KEY (tenant_id, child_id) REFERENCES children (tenant_id, id)
     )`,
    `CREATE INDEX child_occasions_child ON child_occasions (tenant_id, child_id, occasion_date, id)`,
    ...tenantIsolation('child_occasions', ['SELECT', 'INSERT', 'UPDATE']),
  ]);
  await forEachTenant(knex, async (trx, tenantId) => {
    const households = (await trx('carer_households').whereNotNull('region').select('id', 'region')) as Array<{
      id: string;
      region: string;
    }>;
    for (const h of households) {
      await trx('carer_household_regions').insert({
        tenant_id: tenantId,
        id: randomUUID(),
        household_id: h.id,
        region: h.region,
        effective_from: null,
        notes: 'The region recorded on the household before regions were dated',
      });
    }
  });
}
