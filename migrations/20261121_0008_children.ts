import type { Knex } from 'knex';
import { runStatements, tenantIsolation } from './support';

/** Child case records, soft-deletable, with named-user access for restricted records. */
export async function up(knex: Knex): Promise<void> {
  await runStatements(knex, [
    `CREATE TABLE children (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       given_name text NOT NULL,
       family_name text NOT NULL,
       preferred_name text,
       date_of_birth date NOT NULL,
       sex text NOT NULL,
       ethnicity text,
       status text NOT NULL CHECK (status IN ('referred', 'in_care', 'left_care')),
       allocated_worker_id uuid,
       restricted boolean NOT NULL DEFAULT false,
       version integer NOT NULL DEFAULT 1,
       created_by text,
       created_at timestamptz NOT NULL DEFAULT now(),
       updated_at timestamptz NOT NULL DEFAULT now(),
       deleted_at timestamptz,
       deleted_by uuid,
       PRIMARY KEY (tenant_id, id),
       FOREIGN KEY (tenant_id, allocated_worker_id) REFERENCES users (tenant_id, id)
     )`,
    `CREATE INDEX children_worker ON children (tenant_id, allocated_worker_id) WHERE deleted_at IS NULL`,
    `CREATE INDEX children_status ON children (tenant_id, status) WHERE deleted_at IS NULL`,
    `CREATE INDEX children_family_name ON children (tenant_id, lower(family_name))`,
    ...tenantIsolation('children', ['SELECT', 'INSERT', 'UPDATE']),
    `CREATE TABLE child_access_grants (
       tenant_id uuid NOT NULL,
       child_id uuid NOT NULL,
       user_id uuid NOT NULL,
       granted_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, child_id, user_id),
       FOREIGN KEY (tenant_id, child_id) REFERENCES children (tenant_id, id),
       FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
     )`,
    ...tenantIsolation('child_access_grants'),
  ]);
}
