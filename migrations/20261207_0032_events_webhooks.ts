import type { Knex } from 'knex';
import { grantToSystemRoles, runStatements, tenantIsolation } from './support';

/**
 * The public event feed and webhooks.
 *
 * - `events`: the domain events published from the audit trail, in the transaction that audits the
 *   write. `seq` is the audit event's position in the tenant's chain: the chain's head is locked
 *   until commit, so events commit in `seq` order and a cursor on it never skips one committed late.
 *   `fence_type`/`fence_id` name the child or placement the event is about (if any), for the
 *   visibility fence; they are never shown. An event's id is its audit event's id (no foreign key:
 *   the audit trail's own guard against TRUNCATE must stay the one that answers).
 * - `webhook_endpoints`: per-tenant receivers with their signing secrets (sealed with the data key),
 *   a previous secret kept valid until `previous_secret_expires_at` during a rotation.
 * - `webhook_deliveries`: one per (endpoint, event), written in the same transaction as the event;
 *   its attempts are jobs in the queue. `webhook_attempts`: each attempt's outcome, unique per
 *   delivery and attempt number, so a delivery re-run after a crash cannot record one twice.
 */
export async function up(knex: Knex): Promise<void> {
  await runStatements(knex, [
    `CREATE TABLE events (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       seq bigint NOT NULL,
       type text NOT NULL,
       occurred_at timestamptz NOT NULL,
       subject_type text NOT NULL,
       subject_id text,
       subject_path text,
       fence_type text CHECK (fence_type IN ('child', 'placement')),
       fence_id uuid,
       data jsonb NOT NULL DEFAULT '{}',
       PRIMARY KEY (tenant_id, id),
       UNIQUE (tenant_id, seq),
       CHECK ((fence_type IS NULL) = (fence_id IS NULL))
     )`,
    `CREATE INDEX events_type_seq ON events (tenant_id, type, seq)`,
    ...tenantIsolation('events', ['SELECT', 'INSERT']),

    // Ids made in SQL, for the deliveries and jobs a write fans out to in one statement: UUID v7 as
    // core/src/ids.ts makes them, so they sort by creation like every other key.
    `CREATE OR REPLACE FUNCTION hearth_uuid_v7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
       SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
         PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3) FROM 1 FOR 6),
         52, 1), 53, 1), 'hex')::uuid
     $$`,

    `CREATE TABLE webhook_endpoints (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       url text NOT NULL CHECK (length(url) BETWEEN 1 AND 2000),
       description text,
       event_types text[] NOT NULL,
       enabled boolean NOT NULL DEFAULT true,
       disabled_reason text,
       disabled_at timestamptz,
       failing_since timestamptz,
       secret_sealed text NOT NULL,
       previous_secret_sealed text,
       previous_secret_expires_at timestamptz,
       created_by text,
       version integer NOT NULL DEFAULT 1,
       created_at timestamptz NOT NULL DEFAULT now(),
       updated_at timestamptz NOT NULL DEFAULT now(),
       deleted_at timestamptz,
       PRIMARY KEY (tenant_id, id),
       CHECK ((previous_secret_sealed IS NULL) = (previous_secret_expires_at IS NULL))
     )`,
    // What a write fans out to: the tenant's enabled endpoints.
    `CREATE INDEX webhook_endpoints_enabled ON webhook_endpoints (tenant_id) WHERE enabled AND deleted_at IS NULL`,
    ...tenantIsolation('webhook_endpoints', ['SELECT', 'INSERT', 'UPDATE']),

    `CREATE TABLE webhook_deliveries (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       endpoint_id uuid NOT NULL,
       event_id uuid NOT NULL,
       status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed', 'withheld')),
       attempts integer NOT NULL DEFAULT 0,
       next_attempt_at timestamptz,
       last_attempt_at timestamptz,
       last_response_code integer,
       last_error text,
       created_at timestamptz NOT NULL DEFAULT now(),
       updated_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id),
       UNIQUE (tenant_id, endpoint_id, event_id),
       FOREIGN KEY (tenant_id, endpoint_id) REFERENCES webhook_endpoints (tenant_id, id),
       FOREIGN KEY (tenant_id, event_id) REFERENCES events (tenant_id, id)
     )`,
    `CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (tenant_id, endpoint_id, id)`,
    // Bulk replay: what failed since a time.
    `CREATE INDEX webhook_deliveries_failed ON webhook_deliveries (tenant_id, status, last_attempt_at)`,
    ...tenantIsolation('webhook_deliveries', ['SELECT', 'INSERT', 'UPDATE']),

    `CREATE TABLE webhook_attempts (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       delivery_id uuid NOT NULL,
       attempt integer NOT NULL CHECK (attempt >= 1),
       trigger text NOT NULL CHECK (trigger IN ('automatic', 'replay')),
       started_at timestamptz NOT NULL,
       duration_ms integer NOT NULL,
       outcome text NOT NULL CHECK (outcome IN ('succeeded', 'failed')),
       response_code integer,
       error text,
       PRIMARY KEY (tenant_id, id),
       UNIQUE (tenant_id, delivery_id, attempt),
       FOREIGN KEY (tenant_id, delivery_id) REFERENCES webhook_deliveries (tenant_id, id)
     )`,
    ...tenantIsolation('webhook_attempts', ['SELECT', 'INSERT']),
  ]);

  // A literal list, not an import of systemRoles.ts: a migration says what was granted when it ran.
  await grantToSystemRoles(knex, { tenant_admin: ['events:read', 'webhooks:manage'] });
}
