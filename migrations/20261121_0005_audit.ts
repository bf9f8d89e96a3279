import type { Knex } from 'knex';
import { runStatements, tenantIsolation } from './support';

/**
 * The audit trail: append-only for everyone (the application role gets no UPDATE or DELETE, and a
 * trigger refuses both, and TRUNCATE, even to the owner), hash-chained per tenant.
 */
export async function up(knex: Knex): Promise<void> {
  await runStatements(knex, [
    `CREATE TABLE audit_events (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       seq bigint NOT NULL,
       occurred_at timestamptz NOT NULL,
       actor_type text NOT NULL CHECK (actor_type IN ('user', 'api_key', 'system', 'anonymous')),
       actor_id text,
       action text NOT NULL,
       entity_type text NOT NULL,
       entity_id text,
       before jsonb,
       after jsonb,
       ip text,
       user_agent text,
       request_id text,
       prev_hash text NOT NULL,
       hash text NOT NULL,
       PRIMARY KEY (tenant_id, id),
       UNIQUE (tenant_id, seq)
     )`,
    `CREATE INDEX audit_events_entity ON audit_events (tenant_id, entity_type, entity_id)`,
    `CREATE INDEX audit_events_actor ON audit_events (tenant_id, actor_id)`,
    `CREATE INDEX audit_events_time ON audit_events (tenant_id, occurred_at)`,
    ...tenantIsolation('audit_events', ['SELECT', 'INSERT']),
    `CREATE OR REPLACE FUNCTION hearth_refuse_change() RETURNS trigger
       LANGUAGE plpgsql AS $$
       BEGIN
         RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'P0001';
       END $$`,
    `CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
       FOR EACH ROW EXECUTE FUNCTION hearth_refuse_change()`,
    `CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
       FOR EACH STATEMENT EXECUTE FUNCTION hearth_refuse_change()`,
    // One row per tenant holding the chain's head; locking it serialises appends within a tenant.
    `CREATE TABLE audit_chain_heads (
       tenant_id uuid PRIMARY KEY REFERENCES tenants (id),
       last_seq bigint NOT NULL,
       last_hash text NOT NULL
     )`,
    ...tenantIsolation('audit_chain_heads', ['SELECT', 'INSERT', 'UPDATE']),
  ]);
}
