import type { Knex } from 'knex';
import { runStatements, tenantIsolation } from './support';

/**
 * The communication log under the retention rules. A message a rule holds (the pack's `messages` flag)
 * is asked for, approved and destroyed like a document: a destruction request names it beside its
 * documents, and destroying it clears its content (subject, body, payload, recipient address, the
 * channel's error text that may quote the address) while its row stays as the log's skeleton, marked
 * `destroyed_at`, with a tombstone saying what was destroyed, when, by whom and under which rule.
 */
export async function up(knex: Knex): Promise<void> {
  await runStatements(knex, [
    `ALTER TABLE outbound_messages ADD COLUMN destroyed_at timestamptz`,

    `CREATE TABLE retention_destruction_messages (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       request_id uuid NOT NULL,
       message_id uuid NOT NULL,
       child_id uuid,
       rule_key text NOT NULL,
       rule_source text NOT NULL,
       start_event text NOT NULL,
       event_on date NOT NULL,
       due_on date NOT NULL,
       outcome text CHECK (outcome IN ('destroyed', 'held')),
       PRIMARY KEY (tenant_id, request_id, message_id),
       FOREIGN KEY (tenant_id, request_id) REFERENCES retention_destruction_requests (tenant_id, id),
       FOREIGN KEY (tenant_id, message_id) REFERENCES outbound_messages (tenant_id, id),
       FOREIGN KEY (tenant_id, child_id) REFERENCES children (tenant_id, id)
     )`,
    `CREATE INDEX retention_destruction_messages_message ON retention_destruction_messages (tenant_id, message_id)`,
    ...tenantIsolation('retention_destruction_messages', ['SELECT', 'INSERT', 'UPDATE']),

    // The records the message was tied to, its event and channel: never its wording or address.
    `CREATE TABLE retention_message_tombstones (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       message_id uuid NOT NULL,
       event text NOT NULL,
       channel text NOT NULL,
       sent_on timestamptz NOT NULL,
       child_id uuid,
       household_id uuid,
       placement_id uuid,
       claim_id uuid,
       payment_run_id uuid,
       rule_key text NOT NULL,
       rule_source text NOT NULL,
       start_event text NOT NULL,
       event_on date NOT NULL,
       due_on date NOT NULL,
       request_id uuid NOT NULL,
       requested_by uuid NOT NULL,
       approved_by uuid NOT NULL,
       destroyed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
       PRIMARY KEY (tenant_id, id),
       UNIQUE (tenant_id, message_id),
       FOREIGN KEY (tenant_id, message_id) REFERENCES outbound_messages (tenant_id, id),
       FOREIGN KEY (tenant_id, request_id) REFERENCES retention_destruction_requests (tenant_id, id),
       FOREIGN KEY (tenant_id, child_id) REFERENCES children (tenant_id, id)
     )`,
    // What was destroyed is never edited or removed.
    ...tenantIsolation('retention_message_tombstones', ['SELECT', 'INSERT']),

    `ALTER TABLE retention_due_lists ADD COLUMN message_ids uuid[] NOT NULL DEFAULT '{}'`,
  ]);
}
