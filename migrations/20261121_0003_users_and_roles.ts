import type { Knex } from 'knex';
import { runStatements, tenantIsolation } from './support';

/** People, the roles they hold, and the permissions roles grant. */
export async function up(knex: Knex): Promise<void> {
  await runStatements(knex, [
    `CREATE TABLE roles (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       key text NOT NULL CHECK (key ~ '^[a-z][a-z0-9_]{1,62}$'),
       name text NOT NULL,
       description text NOT NULL DEFAULT '',
       system boolean NOT NULL DEFAULT false,
       permissions text[] NOT NULL DEFAULT '{}',
       version integer NOT NULL DEFAULT 1,
       created_at timestamptz NOT NULL DEFAULT now(),
       updated_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id),
       UNIQUE (tenant_id, key)
     )`,
    ...tenantIsolation('roles'),
    `CREATE TABLE users (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       email text NOT NULL,
       display_name text NOT NULL,
       password_hash text,
       status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
       failed_login_count integer NOT NULL DEFAULT 0,
       locked_until timestamptz,
       mfa_enabled boolean NOT NULL DEFAULT false,
       mfa_secret text,
       mfa_pending_secret text,
       mfa_last_step bigint,
       session_generation integer NOT NULL DEFAULT 0,
       version integer NOT NULL DEFAULT 1,
       created_at timestamptz NOT NULL DEFAULT now(),
       updated_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id)
     )`,
    `CREATE UNIQUE INDEX users_tenant_email ON users (tenant_id, lower(email))`,
    ...tenantIsolation('users'),
    `CREATE TABLE user_roles (
       tenant_id uuid NOT NULL,
       user_id uuid NOT NULL,
       role_id uuid NOT NULL,
       PRIMARY KEY (tenant_id, user_id, role_id),
       FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
       FOREIGN KEY (tenant_id, role_id) REFERENCES roles (tenant_id, id)
     )`,
    `CREATE INDEX user_roles_role ON user_roles (tenant_id, role_id)`,
    ...tenantIsolation('user_roles'),
  ]);
}
