import knexFactory from 'knex';
import { openDatabase, type Database } from '../core/src/db/database';
import { runMigrations } from '../core/src/db/migrate';
import { applyScope } from '../core/src/db/tenantTransaction';
import { provisionTenant } from '../core/src/modules/tenants/provision';
import { loadPacks } from '../core/src/packs/registry';
import { migrations } from '../migrations';
import { adminUrl, urlFor } from './support/databases';

/**
 * Migrations meet databases that already hold tenants. Here a database is brought to the state
 * before the configuration permissions existed, holds a tenant whose system roles lack them, and is
 * then migrated to the latest: the roles must gain them, without touching tenant-made roles.
 */
const BEFORE = '20261121_0008_children';

let db: Database;
let drop: () => Promise<void>;

beforeAll(async () => {
  if (adminUrl()) {
    const name = `hearth_migrate_${Date.now().toString(36)}`;
    const admin = knexFactory({ client: 'pg', connection: adminUrl()!, pool: { min: 0, max: 1 } });
    await admin.raw(`CREATE DATABASE ${name}`);
    await admin.destroy();
    db = openDatabase({ url: urlFor(name), embeddedDataDir: null, poolMax: 2 });
    drop = async () => {
      await db.destroy();
      const again = knexFactory({ client: 'pg', connection: adminUrl()!, pool: { min: 0, max: 1 } });
      await again.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await again.destroy();
    };
  } else {
    db = openDatabase({ url: undefined, embeddedDataDir: null });
    drop = () => db.destroy();
  }
});
afterAll(async () => {
  await drop?.();
});

it('gives the system roles of existing tenants the permissions later migrations add', async () => {
  const upTo = migrations.findIndex((m) => m.name === BEFORE) + 1;
  // Apply the early migrations as knex would, recording them, so the rest run as pending.
  await db.raw(
    'CREATE TABLE knex_migrations (id serial PRIMARY KEY, name varchar(255), batch integer, migration_time timestamptz)',
  );
  await db.raw('CREATE TABLE knex_migrations_lock (index serial PRIMARY KEY, is_locked integer)');
  await db('knex_migrations_lock').insert({ is_locked: 0 });
  for (const migration of migrations.slice(0, upTo)) {
    await db.transaction((trx) => migration.up(trx));
    await db('knex_migrations').insert({ name: migration.name, batch: 1, migration_time: new Date() });
  }
  const tenantId = await db.transaction(async (trx) => {
    await applyScope(trx, { tenantId: null, platform: true });
    const { tenant } = await provisionTenant(trx, loadPacks(), {
      kind: 'service',
      name: 'Older',
      slug: 'older',
      packId: 'uk',
      currency: 'GBP',
      timeZone: 'Europe/London',
      firstAdmin: { email: 'a@older.test', displayName: 'A', password: 'a long enough password' },
    });
    // As the roles were before the configuration permissions existed, plus a role of the tenant's own.
    await trx.raw(
      `UPDATE roles SET permissions = ARRAY(SELECT p FROM unnest(permissions) p WHERE p !~ '^(configuration|forms|rates):') WHERE tenant_id = ?`,
      [tenant.id],
    );
    await trx('roles').insert({
      tenant_id: tenant.id,
      id: '01900000-0000-7000-8000-0000000000aa',
      key: 'own_role',
      name: 'Own',
      system: false,
      permissions: ['children:read'],
    });
    return tenant.id;
  });

  const applied = await runMigrations(db);
  expect(applied).toEqual(migrations.slice(upTo).map((m) => m.name));

  const roles = await db.transaction(async (trx) => {
    await trx.raw(`SELECT set_config('app.tenant_id', ?, true)`, [tenantId]);
    return (await trx('roles').where({ tenant_id: tenantId }).select('key', 'permissions')) as Array<{
      key: string;
      permissions: string[];
    }>;
  });
  const of = (key: string) =>
    roles
      .find((r) => r.key === key)!
      .permissions.filter((p) => /^(configuration|forms|rates):/.test(p))
      .sort();
  expect(of('tenant_admin')).toEqual([
    'configuration:manage',
    'configuration:read',
    'forms:read',
    'forms:submit',
    'rates:evaluate',
  ]);
  expect(of('caseworker')).toEqual(['configuration:read', 'forms:read', 'forms:submit']);
  expect(of('finance_officer')).toEqual(['configuration:read', 'rates:evaluate']);
  expect(roles.find((r) => r.key === 'own_role')!.permissions).toEqual(['children:read']);
});
