import type { Knex } from 'knex';
import { runStatements, tenantIsolation } from './support';

/**
 * The claims module's tables: carers' expense and mileage claims, their lines (mileage is kept in
 * tenths of a mile, as an integer), the evidence documents they reference, and each claim's history.
 */
export async function up(knex: Knex): Promise<void> {
  await runStatements(knex, [
    `CREATE TABLE claims (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       household_id uuid NOT NULL,
       description text,
       status text NOT NULL CHECK (status IN ('draft', 'submitted', 'approved', 'rejected', 'withdrawn', 'paid')),
       currency char(3) NOT NULL,
       total integer NOT NULL DEFAULT 0,
       submitted_by uuid,
       submitted_at timestamptz,
       decided_by uuid,
       decided_at timestamptz,
       decided_on date,
       decision_reasons text,
       withdrawn_at timestamptz,
       paid_in_run_id uuid,
       paid_on date,
       version integer NOT NULL DEFAULT 1,
       created_by uuid,
       created_at timestamptz NOT NULL DEFAULT now(),
       updated_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id),
       FOREIGN KEY (tenant_id, household_id) REFERENCES carer_households (tenant_id, id)
     )`,
    'CREATE INDEX claims_household ON claims (tenant_id, household_id, status)',
    'CREATE INDEX claims_status ON claims (tenant_id, status, id)',
    ...tenantIsolation('claims'),
    `CREATE TABLE claim_lines (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       claim_id uuid NOT NULL,
       position integer NOT NULL,
       kind text NOT NULL CHECK (kind IN ('mileage', 'expense')),
       line_date date NOT NULL,
       from_place text,
       to_place text,
       purpose text,
       tenths_of_mile integer CHECK (tenths_of_mile > 0),
       category text,
       description text,
       amount integer NOT NULL CHECK (amount >= 0),
       child_id uuid,
       placement_id uuid,
       explanation jsonb,
       PRIMARY KEY (tenant_id, id),
       UNIQUE (tenant_id, claim_id, position),
       FOREIGN KEY (tenant_id, claim_id) REFERENCES claims (tenant_id, id),
       FOREIGN KEY (tenant_id, child_id) REFERENCES children (tenant_id, id),
       FOREIGN KEY (tenant_id, placement_id) REFERENCES placements (tenant_id, id),
       CHECK ((kind = 'mileage' AND tenths_of_mile IS NOT NULL) OR (kind = 'expense' AND category IS NOT NULL))
     )`,
    'CREATE INDEX claim_lines_date ON claim_lines (tenant_id, line_date)',
    ...tenantIsolation('claim_lines'),
    `CREATE TABLE claim_evidence (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       claim_id uuid NOT NULL,
       key text NOT NULL,
       title text NOT NULL,
       received_on date NOT NULL,
       PRIMARY KEY (tenant_id, id),
       FOREIGN KEY (tenant_id, claim_id) REFERENCES claims (tenant_id, id)
     )`,
    ...tenantIsolation('claim_evidence'),
    `CREATE TABLE claim_history (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       claim_id uuid NOT NULL,
       from_status text,
       to_status text NOT NULL,
       actor_id uuid,
       at timestamptz NOT NULL DEFAULT now(),
       reasons text,
       PRIMARY KEY (tenant_id, id),
       FOREIGN KEY (tenant_id, claim_id) REFERENCES claims (tenant_id, id)
     )`,
    'CREATE INDEX claim_history_claim ON claim_history (tenant_id, claim_id, at)',
    ...tenantIsolation('claim_history', ['SELECT', 'INSERT']),
  ]);
}
