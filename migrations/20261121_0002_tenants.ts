import type { Knex } from 'knex';
import { runStatements } from './support';

/** Tenants: visible to themselves, and to platform administration. */
export async function up(knex: Knex): Promise<void> {
  await runStatements(knex, [
    `CREATE TABLE tenants (
       id uuid PRIMARY KEY,
       kind text NOT NULL DEFAULT 'service' CHECK (kind IN ('service', 'platform')),
       slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,48}[a-z0-9]){0,1}$'),
       name text NOT NULL,
       pack_id text NOT NULL,
       currency text NOT NULL CHECK (currency IN ('GBP', 'USD')),
       time_zone text NOT NULL,
       status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
       security_policy jsonb NOT NULL,
       version integer NOT NULL DEFAULT 1,
       created_at timestamptz NOT NULL DEFAULT now(),
       updated_at timestamptz NOT NULL DEFAULT now()
     )`,
    `ALTER TABLE tenants ENABLE ROW LEVEL SECURITY`,
    `ALTER TABLE tenants FORCE ROW LEVEL SECURITY`,
    `CREATE POLICY tenants_self ON tenants FOR SELECT USING (id = hearth_current_tenant() OR hearth_platform_scope())`,
    `CREATE POLICY tenants_self_update ON tenants FOR UPDATE
       USING (id = hearth_current_tenant() OR hearth_platform_scope())
       WITH CHECK (id = hearth_current_tenant() OR hearth_platform_scope())`,
    `CREATE POLICY tenants_platform_insert ON tenants FOR INSERT WITH CHECK (hearth_platform_scope())`,
    `GRANT SELECT, INSERT, UPDATE ON tenants TO hearth_app`,
    // The SECURITY DEFINER functions below run as the owner, whom FORCE ROW LEVEL SECURITY also filters.
    `DO $$ BEGIN
       EXECUTE format('CREATE POLICY tenants_owner_lookup ON tenants FOR SELECT TO %I USING (true)', current_user);
     END $$`,
    // Log-in knows only a slug; this answers slug -> id and nothing else, before any tenant is set.
    `CREATE OR REPLACE FUNCTION hearth_tenant_by_slug(p_slug text)
       RETURNS TABLE (id uuid, status text, kind text)
       LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
       AS $$ SELECT id, status, kind FROM tenants WHERE slug = p_slug $$`,
    `REVOKE ALL ON FUNCTION hearth_tenant_by_slug(text) FROM PUBLIC`,
    `GRANT EXECUTE ON FUNCTION hearth_tenant_by_slug(text) TO hearth_app`,
    `CREATE OR REPLACE FUNCTION hearth_tenant_status(p_id uuid)
       RETURNS text
       LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
       AS $$ SELECT status FROM tenants WHERE id = p_id $$`,
    `REVOKE ALL ON FUNCTION hearth_tenant_status(uuid) FROM PUBLIC`,
    `GRANT EXECUTE ON FUNCTION hearth_tenant_status(uuid) TO hearth_app`,
  ]);
}
