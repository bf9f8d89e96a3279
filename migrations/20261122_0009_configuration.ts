import type { Knex } from 'knex';
import { runStatements, tenantIsolation } from './support';

/**
 * Tenant configuration overlays (versioned, effective-dated, never edited) and form submissions
 * (stored with the form version they were valid against); and the new configuration permissions
 * for the system roles of tenants that already exist.
 */
const NEW_PERMISSIONS: Record<string, string[]> = {
  tenant_admin: ['configuration:read', 'configuration:manage', 'forms:read', 'forms:submit', 'rates:evaluate'],
  supervisor: ['configuration:read', 'forms:read', 'forms:submit', 'rates:evaluate'],
  caseworker: ['configuration:read', 'forms:read', 'forms:submit'],
  placement_officer: ['configuration:read', 'forms:read', 'rates:evaluate'],
  finance_officer: ['configuration:read', 'rates:evaluate'],
  panel_member: ['configuration:read', 'forms:read'],
};

export async function up(knex: Knex): Promise<void> {
  await runStatements(knex, [
    `CREATE TABLE tenant_config_overlays (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       version integer NOT NULL CHECK (version > 0),
       effective_from date NOT NULL,
       description text NOT NULL,
       changes jsonb NOT NULL,
       created_by uuid,
       created_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id),
       UNIQUE (tenant_id, version)
     )`,
    ...tenantIsolation('tenant_config_overlays', ['SELECT', 'INSERT']),
    `CREATE TRIGGER tenant_config_overlays_append_only BEFORE UPDATE OR DELETE ON tenant_config_overlays
       FOR EACH ROW EXECUTE FUNCTION hearth_refuse_change()`,
    `CREATE TABLE form_submissions (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       form_key text NOT NULL,
       form_version integer NOT NULL,
       layer text NOT NULL,
       subject_type text NOT NULL CHECK (subject_type IN ('child', 'carer_household', 'placement', 'user')),
       subject_id uuid NOT NULL,
       data jsonb NOT NULL,
       submitted_by uuid,
       submitted_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id)
     )`,
    `CREATE INDEX form_submissions_subject ON form_submissions (tenant_id, subject_type, subject_id)`,
    ...tenantIsolation('form_submissions', ['SELECT', 'INSERT']),
  ]);
  // Row-level security is forced even for the owner, so each tenant's roles are updated inside that
  // tenant's scope (tenants themselves are readable to the owner through its lookup policy).
  const tenants = (await knex.raw('SELECT id FROM tenants')) as { rows: Array<{ id: string }> };
  for (const { id } of tenants.rows) {
    await knex.transaction(async (trx) => {
      await trx.raw(`SELECT set_config('app.tenant_id', ?, true)`, [id]);
      for (const [role, permissions] of Object.entries(NEW_PERMISSIONS)) {
        await trx.raw(
          `UPDATE roles SET permissions = ARRAY(SELECT DISTINCT unnest(permissions || ?::text[]) ORDER BY 1) WHERE tenant_id = ? AND key = ? AND system`,
          [permissions, id, role],
        );
      }
    });
  }
}
