import type { Knex } from 'knex';

export interface Migration {
  name: string;
  up: (knex: Knex) => Promise<void>;
}

/** PGlite takes one statement per query, so migrations are lists of single statements. */
/** knex reads `?` as a binding placeholder, so statements must not contain one (write `{0,1}` in regexes). */
export async function runStatements(knex: Knex, statements: string[]): Promise<void> {
  for (const statement of statements) await knex.raw(statement);
}

type Grant = 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE';

/**
 * The fence every tenant-scoped table gets: RLS enabled and forced (so even the owner is filtered)
 * and a policy that sees and writes only rows of the tenant in `app.tenant_id`.
 */
export function tenantIsolation(
  table: string,
  grants: Grant[] = ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
  options: { portal?: string } = {},
): string[] {
  return [
    `ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`,
    `ALTER TABLE ${table} FORCE ROW LEVEL SECURITY`,
    `CREATE POLICY ${table}_tenant_isolation ON ${table} USING (tenant_id = hearth_current_tenant()) WITH CHECK (tenant_id = hearth_current_tenant())`,
    `GRANT ${grants.join(', ')} ON ${table} TO hearth_app`,
    ...portalFence(table, options.portal ?? 'false'),
  ];
}

/**
 * What a carer's request (the role `hearth_portal`, migration 0038) sees of a table: nothing unless
 * the table says otherwise (`rule` is a restrictive policy's condition, 'open' leaves only the tenant
 * fence). The role is made by migration 0038, which fences the tables made before it itself; roles
 * are cluster-wide, so it may already exist when an earlier migration runs on a new database, and
 * 0038 then replaces what was made here.
 */
export function portalFence(table: string, rule: string): string[] {
  if (rule === 'open') return [];
  const policy = `CREATE POLICY ${table}_portal ON ${table} AS RESTRICTIVE TO hearth_portal USING (${rule}) WITH CHECK (${rule})`;
  return [
    `DO $portal$ BEGIN
       IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'hearth_portal') THEN
         EXECUTE ${quoteLiteral(policy)};
       END IF;
     END $portal$`,
  ];
}

function quoteLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/**
 * Runs `work` once for each tenant that exists, inside that tenant's scope: row-level security is
 * forced even for the owner, so a migration that changes tenants' rows must enter each tenant.
 */
export async function forEachTenant(
  knex: Knex,
  work: (trx: Knex.Transaction, tenantId: string) => Promise<void>,
): Promise<void> {
  const tenants = (await knex.raw('SELECT id FROM tenants')) as { rows: Array<{ id: string }> };
  for (const { id } of tenants.rows) {
    await knex.transaction(async (trx) => {
      await trx.raw(`SELECT set_config('app.tenant_id', ?, true)`, [id]);
      await work(trx, id);
    });
  }
}

/**
 * Adds permissions to the system roles of tenants that already exist (new tenants get them from
 * `core/src/access/systemRoles.ts`).
 */
export async function grantToSystemRoles(knex: Knex, grants: Record<string, readonly string[]>): Promise<void> {
  await forEachTenant(knex, async (trx, tenantId) => {
    for (const [role, permissions] of Object.entries(grants)) {
      await trx.raw(
        `UPDATE roles SET permissions = ARRAY(SELECT DISTINCT unnest(permissions || ?::text[]) ORDER BY 1) WHERE tenant_id = ? AND key = ? AND system`,
        [[...permissions], tenantId, role],
      );
    }
  });
}
