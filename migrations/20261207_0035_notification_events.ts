import type { Knex } from 'knex';
import { runStatements, tenantIsolation } from './support';

/**
 * The notification events that had no way to reach a household, and the tenant's own wording.
 *
 * - `carer_households.email`: where a household's own messages go (its panel date, its remittance
 *   advice). Carers have no logins, so without it those events had no one to tell.
 * - `notification_template_overrides`: a tenant's wording for one event on one channel, replacing the
 *   pack's from `effective_from`. Append-only like configuration overlays: each change is the next
 *   version, and a message records the version it was rendered from.
 */
export async function up(knex: Knex): Promise<void> {
  await runStatements(knex, [
    `ALTER TABLE carer_households ADD COLUMN email text`,
    `CREATE TABLE notification_template_overrides (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       event text NOT NULL,
       channel text NOT NULL CHECK (channel IN ('email', 'sms', 'inapp')),
       version integer NOT NULL CHECK (version >= 1),
       effective_from date NOT NULL,
       subject text,
       text text NOT NULL,
       html text,
       description text NOT NULL,
       created_by uuid,
       created_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id),
       UNIQUE (tenant_id, event, channel, version),
       FOREIGN KEY (tenant_id, created_by) REFERENCES users (tenant_id, id)
     )`,
    ...tenantIsolation('notification_template_overrides', ['SELECT', 'INSERT']),
  ]);
}
