import knexFactory from 'knex';
import { openDatabase, type Database } from '../core/src/db/database';
import { runMigrations } from '../core/src/db/migrate';
import { applyScope } from '../core/src/db/tenantTransaction';
import { provisionTenant } from '../core/src/modules/tenants/provision';
import { loadPacks } from '../core/src/packs/registry';
import { migrations } from '../migrations';
import { adminUrl, urlFor } from './support/databases';

/**
 * Migration 0037 meets a database whose carer and claim evidence are still in their own tables: the
 * database is brought to the migration before it, given a tenant with a household, a claim and their
 * evidence rows, then migrated. Each row must be a document of its record, with its id, its key, date,
 * title and notes, no version (no bytes were ever kept), and nothing appended to the audit chain.
 */
const MIGRATION = '20261207_0037_evidence_documents';

let db: Database;
let drop: () => Promise<void>;

beforeAll(async () => {
  if (adminUrl()) {
    const name = `hearth_migrate_evidence_${Date.now().toString(36)}`;
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
}, 120_000);
afterAll(async () => {
  await drop?.();
});

const ids = {
  household: '01900000-0000-7000-8000-000000000001',
  claim: '01900000-0000-7000-8000-000000000002',
  notice: '01900000-0000-7000-8000-000000000003',
  reference: '01900000-0000-7000-8000-000000000004',
  receipt: '01900000-0000-7000-8000-000000000005',
  recorder: '01900000-0000-7000-8000-000000000006',
};

it('moves carer and claim evidence onto documents of their household and claim', async () => {
  const upTo = migrations.findIndex((m) => m.name === MIGRATION);
  expect(upTo).toBeGreaterThan(0);
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
    return tenant.id;
  });
  const asTenant = <T>(work: (trx: import('knex').Knex.Transaction) => Promise<T>) =>
    db.transaction(async (trx) => {
      await trx.raw(`SELECT set_config('app.tenant_id', ?, true)`, [tenantId]);
      return work(trx);
    });
  const t = { tenant_id: tenantId };
  await asTenant(async (trx) => {
    await trx('carer_households').insert({
      ...t,
      id: ids.household,
      name: 'The Older household',
      workflow_key: 'carer-approval',
      approval_state: 'approved',
    });
    await trx('carer_evidence_documents').insert([
      {
        ...t,
        id: ids.notice,
        household_id: ids.household,
        key: 'resignation_notice',
        title: 'Resignation letter',
        received_on: '2026-11-02',
        notes: 'Handed to the supervising social worker',
        recorded_by: ids.recorder,
        created_at: new Date('2026-11-03T09:00:00Z'),
      },
      {
        ...t,
        id: ids.reference,
        household_id: ids.household,
        key: 'reference',
        title: 'Reference from employer',
        received_on: '2026-10-01',
      },
    ]);
    await trx('claims').insert({
      ...t,
      id: ids.claim,
      household_id: ids.household,
      status: 'submitted',
      currency: 'GBP',
    });
    await trx('claim_evidence').insert({
      ...t,
      id: ids.receipt,
      claim_id: ids.claim,
      key: 'receipt',
      title: 'Parking receipt',
      received_on: '2026-11-20',
    });
  });
  const auditBefore = await asTenant((trx) => trx('audit_events').count<{ count: string }[]>('* as count'));

  const applied = await runMigrations(db);
  expect(applied[0]).toBe(MIGRATION);

  const documents = await asTenant((trx) =>
    trx('documents')
      .orderBy('id')
      .select(
        'id',
        'subject_type',
        'subject_id',
        'child_id',
        'household_id',
        'category',
        'title',
        'sensitivity',
        'status',
        'current_version',
        'created_by',
        'evidence_key',
        trx.raw(`to_char(received_on, 'YYYY-MM-DD') AS received_on`),
        'notes',
        'created_at',
      ),
  );
  expect(documents).toEqual([
    {
      id: ids.notice,
      subject_type: 'household',
      subject_id: ids.household,
      child_id: null,
      household_id: ids.household,
      category: 'other',
      title: 'Resignation letter',
      sensitivity: 'staff',
      status: 'active',
      current_version: null,
      created_by: ids.recorder,
      evidence_key: 'resignation_notice',
      received_on: '2026-11-02',
      notes: 'Handed to the supervising social worker',
      created_at: new Date('2026-11-03T09:00:00Z'),
    },
    expect.objectContaining({
      id: ids.reference,
      subject_type: 'household',
      household_id: ids.household,
      // The key is a document category of the tenant's: the document is filed under it.
      category: 'reference',
      evidence_key: 'reference',
      received_on: '2026-10-01',
      notes: null,
      created_by: null,
    }),
    expect.objectContaining({
      id: ids.receipt,
      subject_type: 'claim',
      subject_id: ids.claim,
      // The claim's household, as attaching the evidence would give it.
      household_id: ids.household,
      category: 'receipt',
      title: 'Parking receipt',
      evidence_key: 'receipt',
      received_on: '2026-11-20',
      current_version: null,
    }),
  ]);
  const versions = await asTenant((trx) => trx('document_versions').count<{ count: string }[]>('* as count'));
  expect(Number(versions[0]!.count)).toBe(0);
  const old = await db.raw(
    `SELECT to_regclass('carer_evidence_documents') AS carer, to_regclass('claim_evidence') AS claim`,
  );
  expect(old.rows[0]).toEqual({ carer: null, claim: null });
  // No migration writes the audit chain: the moved rows' history is the requests that made them.
  const auditAfter = await asTenant((trx) => trx('audit_events').count<{ count: string }[]>('* as count'));
  expect(auditAfter[0]!.count).toBe(auditBefore[0]!.count);
});
