import type { Knex } from 'knex';
import { runStatements, tenantIsolation } from './support';

/** First responses to POSTs that carried an Idempotency-Key, replayed when the key comes again. */
export async function up(knex: Knex): Promise<void> {
  await runStatements(knex, [
    `CREATE TABLE idempotency_keys (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       principal_id uuid NOT NULL,
       key text NOT NULL,
       operation_id text NOT NULL,
       request_hash text NOT NULL,
       response_status integer,
       response_headers jsonb,
       response_body jsonb,
       created_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, principal_id, key)
     )`,
    `CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at)`,
    ...tenantIsolation('idempotency_keys', ['SELECT', 'INSERT', 'UPDATE']),
  ]);
}
