import type { Knex } from 'knex';
import { grantToSystemRoles, runStatements, tenantIsolation } from './support';

/**
 * Notifications. `outbound_messages`, until now a list nothing read, becomes the outbox: one row per
 * message to one recipient on one channel, written in the transaction of the event that asks for it,
 * with its delivery state, the records it is about (the communication log) and a key that makes an
 * event's message unique. Rows written before delivery existed are kept, marked failed with the
 * reason: their links have long expired, and sending them now would surprise their recipients.
 */
export async function up(knex: Knex): Promise<void> {
  await runStatements(knex, [
    `ALTER TABLE outbound_messages DROP CONSTRAINT outbound_messages_channel_check`,
    `ALTER TABLE outbound_messages ADD CONSTRAINT outbound_messages_channel_check CHECK (channel IN ('email', 'sms', 'inapp'))`,
    `ALTER TABLE outbound_messages
       ADD COLUMN event text,
       ADD COLUMN user_id uuid,
       ADD COLUMN status text NOT NULL DEFAULT 'queued',
       ADD COLUMN critical boolean NOT NULL DEFAULT false,
       ADD COLUMN dedupe_key text,
       ADD COLUMN attempts integer NOT NULL DEFAULT 0,
       ADD COLUMN last_error text,
       ADD COLUMN provider_message_id text,
       ADD COLUMN template_version text,
       ADD COLUMN subject text,
       ADD COLUMN body text,
       ADD COLUMN not_before timestamptz,
       ADD COLUMN delivered_at timestamptz,
       ADD COLUMN read_at timestamptz,
       ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now(),
       ADD COLUMN child_id uuid,
       ADD COLUMN household_id uuid,
       ADD COLUMN placement_id uuid,
       ADD COLUMN claim_id uuid,
       ADD COLUMN payment_run_id uuid`,
    `UPDATE outbound_messages SET event = template, status = 'failed',
            last_error = 'written before Hearth delivered messages; never sent'`,
    `ALTER TABLE outbound_messages ALTER COLUMN event SET NOT NULL`,
    `ALTER TABLE outbound_messages ADD CONSTRAINT outbound_messages_status_check
       CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'bounced', 'failed', 'dead'))`,
    `ALTER TABLE outbound_messages ADD CONSTRAINT outbound_messages_user_fk
       FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)`,
    `ALTER TABLE outbound_messages ADD CONSTRAINT outbound_messages_child_fk
       FOREIGN KEY (tenant_id, child_id) REFERENCES children (tenant_id, id)`,
    `ALTER TABLE outbound_messages ADD CONSTRAINT outbound_messages_household_fk
       FOREIGN KEY (tenant_id, household_id) REFERENCES carer_households (tenant_id, id)`,
    `ALTER TABLE outbound_messages ADD CONSTRAINT outbound_messages_placement_fk
       FOREIGN KEY (tenant_id, placement_id) REFERENCES placements (tenant_id, id)`,
    `ALTER TABLE outbound_messages ADD CONSTRAINT outbound_messages_claim_fk
       FOREIGN KEY (tenant_id, claim_id) REFERENCES claims (tenant_id, id)`,
    `ALTER TABLE outbound_messages ADD CONSTRAINT outbound_messages_payment_run_fk
       FOREIGN KEY (tenant_id, payment_run_id) REFERENCES payment_runs (tenant_id, id)`,
    // One message per event, recipient and channel: an event written twice (a job run again) sends once.
    `CREATE UNIQUE INDEX outbound_messages_dedupe ON outbound_messages (tenant_id, dedupe_key) WHERE dedupe_key IS NOT NULL`,
    `CREATE INDEX outbound_messages_log ON outbound_messages (tenant_id, created_at DESC, id DESC)`,
    `CREATE INDEX outbound_messages_inbox ON outbound_messages (tenant_id, user_id, created_at DESC, id DESC) WHERE channel = 'inapp'`,
    `CREATE INDEX outbound_messages_child ON outbound_messages (tenant_id, child_id) WHERE child_id IS NOT NULL`,
    `CREATE INDEX outbound_messages_household ON outbound_messages (tenant_id, household_id) WHERE household_id IS NOT NULL`,
    `CREATE INDEX outbound_messages_recipient ON outbound_messages (tenant_id, lower(recipient))`,
    // A reminder is written first (its unique key decides whether it is new), then its messages, whose id it keeps.
    `GRANT UPDATE (outbound_message_id) ON task_reminders TO hearth_app`,

    // Each attempt at delivering a message, kept: what a failing channel said, and when.
    `CREATE TABLE notification_attempts (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       message_id uuid NOT NULL,
       attempt integer NOT NULL,
       channel_key text NOT NULL,
       started_at timestamptz NOT NULL DEFAULT now(),
       finished_at timestamptz,
       outcome text CHECK (outcome IN ('sent', 'delivered', 'bounced', 'failed', 'deferred')),
       error text,
       provider_message_id text,
       PRIMARY KEY (tenant_id, id),
       FOREIGN KEY (tenant_id, message_id) REFERENCES outbound_messages (tenant_id, id)
     )`,
    `CREATE INDEX notification_attempts_message ON notification_attempts (tenant_id, message_id, attempt)`,
    ...tenantIsolation('notification_attempts', ['SELECT', 'INSERT', 'UPDATE']),

    // The tenant's choices: which events notify by which channels, and SMS quiet hours. One row per tenant.
    `CREATE TABLE notification_settings (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       policies jsonb NOT NULL DEFAULT '{}',
       quiet_hours jsonb,
       version integer NOT NULL DEFAULT 1,
       created_at timestamptz NOT NULL DEFAULT now(),
       updated_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id)
     )`,
    ...tenantIsolation('notification_settings', ['SELECT', 'INSERT', 'UPDATE']),

    // A person's own choices: the non-critical event/channel pairs they opted out of, and an SMS number.
    `CREATE TABLE notification_preferences (
       tenant_id uuid NOT NULL,
       user_id uuid NOT NULL,
       opted_out text[] NOT NULL DEFAULT '{}',
       sms_number text,
       version integer NOT NULL DEFAULT 1,
       created_at timestamptz NOT NULL DEFAULT now(),
       updated_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, user_id),
       FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
     )`,
    ...tenantIsolation('notification_preferences', ['SELECT', 'INSERT', 'UPDATE']),
  ]);
  await grantToSystemRoles(knex, {
    tenant_admin: ['notifications:read', 'notifications:manage'],
    supervisor: ['notifications:read'],
    caseworker: ['notifications:read'],
    finance_officer: ['notifications:read'],
  });
}
