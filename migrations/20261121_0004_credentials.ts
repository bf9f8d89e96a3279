import type { Knex } from 'knex';
import { runStatements, tenantIsolation } from './support';

/** Refresh-token families, single-use password tokens and integrators' API keys; only hashes are kept. */
export async function up(knex: Knex): Promise<void> {
  await runStatements(knex, [
    `CREATE TABLE refresh_tokens (
       tenant_id uuid NOT NULL,
       id uuid NOT NULL,
       user_id uuid NOT NULL,
       family_id uuid NOT NULL,
       token_hash text NOT NULL UNIQUE,
       scope text NOT NULL CHECK (scope IN ('full', 'mfa_enrolment')),
       expires_at timestamptz NOT NULL,
       used_at timestamptz,
       revoked_at timestamptz,
       created_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id),
       FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
     )`,
    `CREATE INDEX refresh_tokens_family ON refresh_tokens (tenant_id, family_id)`,
    `CREATE INDEX refresh_tokens_user ON refresh_tokens (tenant_id, user_id)`,
    ...tenantIsolation('refresh_tokens'),
    `CREATE TABLE password_tokens (
       tenant_id uuid NOT NULL,
       id uuid NOT NULL,
       user_id uuid NOT NULL,
       purpose text NOT NULL CHECK (purpose IN ('reset', 'invite')),
       token_hash text NOT NULL UNIQUE,
       expires_at timestamptz NOT NULL,
       used_at timestamptz,
       created_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id),
       FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
     )`,
    ...tenantIsolation('password_tokens'),
    `CREATE TABLE api_keys (
       tenant_id uuid NOT NULL,
       id uuid NOT NULL,
       name text NOT NULL,
       prefix text NOT NULL,
       token_hash text NOT NULL UNIQUE,
       permissions text[] NOT NULL,
       created_by uuid NOT NULL,
       expires_at timestamptz,
       revoked_at timestamptz,
       last_used_at timestamptz,
       created_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id),
       FOREIGN KEY (tenant_id, created_by) REFERENCES users (tenant_id, id)
     )`,
    ...tenantIsolation('api_keys'),
    // Messages waiting for a delivery channel (the notification plugins come later): invitations,
    // password resets. Rows hold the link to send, so they are as sensitive as the tokens.
    `CREATE TABLE outbound_messages (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       channel text NOT NULL CHECK (channel IN ('email')),
       recipient text NOT NULL,
       template text NOT NULL,
       payload jsonb NOT NULL,
       created_at timestamptz NOT NULL DEFAULT now(),
       sent_at timestamptz,
       PRIMARY KEY (tenant_id, id)
     )`,
    ...tenantIsolation('outbound_messages'),
  ]);
}
