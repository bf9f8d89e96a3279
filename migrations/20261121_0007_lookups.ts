import type { Knex } from 'knex';
import { runStatements, tenantIsolation } from './support';

/** Tenant option lists: copied from the platform and pack defaults at tenant creation, then extended. */
export async function up(knex: Knex): Promise<void> {
  await runStatements(knex, [
    `CREATE TABLE lookup_lists (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       key text NOT NULL CHECK (key ~ '^[a-z][a-z0-9_]{0,62}$'),
       name text NOT NULL,
       PRIMARY KEY (tenant_id, key)
     )`,
    ...tenantIsolation('lookup_lists', ['SELECT', 'INSERT']),
    `CREATE TABLE lookup_values (
       tenant_id uuid NOT NULL,
       list_key text NOT NULL,
       code text NOT NULL,
       label text NOT NULL,
       active boolean NOT NULL DEFAULT true,
       sort_order integer NOT NULL DEFAULT 0,
       source text NOT NULL CHECK (source IN ('default', 'tenant')),
       version integer NOT NULL DEFAULT 1,
       created_at timestamptz NOT NULL DEFAULT now(),
       updated_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, list_key, code),
       FOREIGN KEY (tenant_id, list_key) REFERENCES lookup_lists (tenant_id, key)
     )`,
    ...tenantIsolation('lookup_values', ['SELECT', 'INSERT', 'UPDATE']),
  ]);
}
