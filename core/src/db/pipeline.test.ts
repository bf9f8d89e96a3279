import type { Knex } from 'knex';
import { freshDatabase, type TestDatabase } from '../../../test/support/databases';
import { Child } from '../modules/children/models';
import { openingOf, runPipeline, type Opening } from './pipeline';
import { scopeStatement } from './tenantTransaction';

/**
 * The request path's transactions, checked against PostgreSQL itself: whatever round trips they
 * save, every query a request runs must run as the application role, in the request's tenant, and
 * nothing of the scope may outlive the request on the pooled connection.
 */
let store: TestDatabase;
const skip = !process.env.HEARTH_TEST_ADMIN_URL;
if (skip)
  process.stdout.write(
    'core/src/db/pipeline.test.ts skipped: pipelines are for a PostgreSQL server; the embedded database opens transactions one statement at a time\n',
  );

beforeAll(async () => {
  if (!skip) store = await freshDatabase();
});
afterAll(async () => {
  await store?.drop();
});

const TENANT = '01900000-0000-7000-8000-000000000001';
const who = `SELECT current_user AS role, current_setting('app.tenant_id', true) AS tenant, txid_current_if_assigned() AS txid, now()::text AS started`;

function opening(mode: Opening['mode']): Opening {
  return {
    mode,
    scope: scopeStatement({ tenantId: TENANT }),
    statements: [
      {
        text: `SELECT current_user AS role, current_setting('app.tenant_id', true) AS tenant, $1::int AS n`,
        values: [7],
      },
    ],
  };
}

const rows = async (trx: Knex.Transaction, sql: string) =>
  ((await trx.raw(sql)) as { rows: Array<Record<string, unknown>> }).rows;

(skip ? describe.skip : describe)('a request transaction on PostgreSQL', () => {
  it('opens a read-only request in one round trip, and runs every later query, knex or objection, as the application role in its tenant', async () => {
    await store.db.transaction(
      async (trx) => {
        expect(openingOf(trx)!.opened!.map((r) => r.rows)).toEqual([[{ role: 'hearth_app', tenant: TENANT, n: 7 }]]);
        const first = await rows(trx, who);
        const second = await rows(trx, who);
        expect([first[0]!.role, first[0]!.tenant, second[0]!.role, second[0]!.tenant]).toEqual([
          'hearth_app',
          TENANT,
          'hearth_app',
          TENANT,
        ]);
        // Each query is its own implicit transaction: no BEGIN holds a snapshot or locks between them.
        expect(first[0]!.started).not.toBe(second[0]!.started);
        // objection's queries go the same way (RLS applies: the tenant has no children).
        expect(await Child.query(trx).where('tenant_id', TENANT)).toEqual([]);
      },
      { hearthOpening: opening('read') } as Knex.TransactionConfig,
    );
  });

  it('opens a writing request with BEGIN, the scope and the principal in one round trip, then one transaction to the COMMIT', async () => {
    await store.db.transaction(
      async (trx) => {
        expect(openingOf(trx)!.opened!.map((r) => r.rows)).toEqual([[{ role: 'hearth_app', tenant: TENANT, n: 7 }]]);
        const first = await rows(trx, who);
        const second = await rows(trx, who);
        expect([first[0]!.role, first[0]!.tenant, second[0]!.tenant]).toEqual(['hearth_app', TENANT, TENANT]);
        expect(first[0]!.started).toBe(second[0]!.started);
      },
      { hearthOpening: opening('write') } as Knex.TransactionConfig,
    );
  });

  it('leaves nothing of the scope on the pooled connection afterwards, however the request ended', async () => {
    for (const mode of ['read', 'write'] as const) {
      await store.db.transaction(async () => undefined, { hearthOpening: opening(mode) } as Knex.TransactionConfig);
      await store.db
        .transaction(
          async () => {
            throw new Error('refused');
          },
          { hearthOpening: opening(mode) } as Knex.TransactionConfig,
        )
        .catch(() => undefined);
    }
    // The pool has few connections: every one is checked.
    const seen = await Promise.all(
      Array.from(
        { length: 5 },
        () => store.db.raw(who) as Promise<{ rows: Array<{ role: string; tenant: string | null }> }>,
      ),
    );
    expect(seen.map((r) => [r.rows[0]!.role, r.rows[0]!.tenant ?? ''])).toEqual(
      Array.from({ length: 5 }, () => ['postgres', '']),
    );
  });

  it('fails the whole pipeline, leaving the connection usable, when one of its statements fails', async () => {
    const connection = (await store.db.client.acquireConnection()) as Parameters<typeof runPipeline>[0];
    try {
      await expect(runPipeline(connection, [{ text: 'SELECT 1/0' }, { text: 'SELECT 2' }])).rejects.toThrow(
        'division by zero',
      );
      const after = await runPipeline(connection, [{ text: 'SELECT $1::int AS n', values: [3] }]);
      expect(after[0]!.rows).toEqual([{ n: 3 }]);
    } finally {
      await store.db.client.releaseConnection(connection);
    }
  });

  it('rolls back a writing request whose opening fails, so the connection goes back outside any transaction', async () => {
    const failing: Opening = { ...opening('write'), statements: [{ text: 'SELECT 1/0' }] };
    await expect(
      store.db.transaction(async () => undefined, { hearthOpening: failing } as Knex.TransactionConfig),
    ).rejects.toThrow('division by zero');
    const after = await Promise.all(
      Array.from(
        { length: 5 },
        () =>
          store.db.raw(
            `SELECT current_setting('app.tenant_id', true) AS tenant, now() = statement_timestamp() AS outside`,
          ) as Promise<{ rows: Array<{ tenant: string | null; outside: boolean }> }>,
      ),
    );
    expect(after.map((r) => [r.rows[0]!.tenant ?? '', r.rows[0]!.outside])).toEqual(
      Array.from({ length: 5 }, () => ['', true]),
    );
  });
});
