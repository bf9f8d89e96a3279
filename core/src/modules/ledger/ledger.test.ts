import fs from 'node:fs';
import path from 'node:path';
import { inTenantTransaction } from '../../db/tenantTransaction';
import { seedCareHistory } from '../../../../test/support/careHistory';
import { parseCsv, toMinor } from '../../../../test/support/csv';
import { ownerRows, startWorld, type TenantFixture, type World } from '../../../../test/support/harness';
import { formatMinor } from './money';
import { postJournal, type JournalInput } from './post';
import { LedgerExportRegistry } from './exports/registry';
import { genericFormat } from '../../../../plugins/ledger-generic/generic';

let world: World;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world?.close();
});

/** The pack's chart read from disk, to check the codes the ledger stored against the source. */
function packChart(pack: 'uk' | 'usa') {
  const file = JSON.parse(
    fs.readFileSync(path.join(__dirname, '../../../../packs', pack, 'accounts.json'), 'utf8'),
  ) as {
    accounts: Array<{ key: string; code: string }>;
    postings: Record<string, { debit: string; credit: string }>;
  };
  const code = (key: string) => file.accounts.find((a) => a.key === key)!.code;
  return { code, postings: file.postings };
}

const system = { actorType: 'system' as const, actorId: 'ledger-test', ip: null, userAgent: null, requestId: null };

function serviceScope(tenant: TenantFixture, trx: Parameters<Parameters<typeof inTenantTransaction>[2]>[0]) {
  return { trx, tenantId: tenant.id, packs: world.server.packs, actor: system };
}

function journal(amount: number, description = 'Allowance, "November" run'): JournalInput {
  return {
    postingDate: '2026-11-30',
    description,
    source: { type: 'test', id: null },
    lines: [
      { component: 'allowance', amount, description: 'Accrued, with a comma' },
      { component: 'payment', amount },
    ],
  };
}

async function count(tenant: TenantFixture, sql: string, bindings: unknown[] = []): Promise<number> {
  return (await ownerRows<{ n: number }>(world.db, tenant.id, sql, bindings))[0]!.n;
}

/**
 * A CSV response is streamed inside the request's transaction, which commits just after the last
 * byte: a count taken the moment the response ends can run before that commit, so wait for it.
 */
async function settledCount(
  tenant: TenantFixture,
  sql: string,
  bindings: unknown[],
  expected: number,
): Promise<number> {
  const deadline = Date.now() + 3000;
  let n = await count(tenant, sql, bindings);
  while (n !== expected && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    n = await count(tenant, sql, bindings);
  }
  return n;
}

async function journalNumbers(tenant: TenantFixture): Promise<number[]> {
  return (
    await ownerRows<{ number: number }>(
      world.db,
      tenant.id,
      'SELECT number FROM ledger_journals WHERE tenant_id = ? ORDER BY number',
      [tenant.id],
    )
  ).map((r) => Number(r.number));
}

describe('money', () => {
  it('prints minor units as decimal major units without floating point', () => {
    expect(formatMinor(12345, 'GBP')).toBe('123.45');
    expect(formatMinor(5, 'USD')).toBe('0.05');
    expect(formatMinor(-5, 'USD')).toBe('-0.05');
    expect(formatMinor(100, 'GBP')).toBe('1.00');
    expect(formatMinor(0, 'GBP')).toBe('0.00');
    expect(formatMinor(900719925474099, 'GBP')).toBe('9007199254740.99');
    expect(() => formatMinor(1.5, 'GBP')).toThrow(/safe integer/);
  });
});

describe('the exports extension point', () => {
  it('holds generic, xero and quickbooks, and refuses a key registered twice, naming both', () => {
    expect(world.server.plugins.ledgerExports.keys()).toEqual(['generic', 'quickbooks', 'xero']);
    const registry = new LedgerExportRegistry();
    registry.register(genericFormat, 'first-plugin');
    expect(() => registry.register({ ...genericFormat }, 'second-plugin')).toThrow(
      'Ledger export format "generic" is registered twice: by first-plugin and by second-plugin',
    );
  });
});

describe('posting journals', () => {
  it("posts through the service: a component line becomes a debit and a credit on the pack's accounts, audited once", async () => {
    const uk = packChart('uk');
    const auditBefore = await count(
      world.a,
      `SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = ? AND action = 'ledger_journal.post'`,
      [world.a.id],
    );
    const posted = await inTenantTransaction(world.db, { tenantId: world.a.id }, (trx) =>
      postJournal(serviceScope(world.a, trx), journal(12345)),
    );
    expect(posted).toMatchObject({
      currency: 'GBP',
      lineCount: 4,
      total: 2 * 12345,
      source: { type: 'test', id: null },
    });
    expect(posted.entries.map((e) => [e.lineNumber, e.accountKey, e.accountCode, e.debit, e.credit])).toEqual([
      [1, uk.postings.allowance!.debit, uk.code(uk.postings.allowance!.debit), 12345, 0],
      [2, uk.postings.allowance!.credit, uk.code(uk.postings.allowance!.credit), 0, 12345],
      [3, uk.postings.payment!.debit, uk.code(uk.postings.payment!.debit), 12345, 0],
      [4, uk.postings.payment!.credit, uk.code(uk.postings.payment!.credit), 0, 12345],
    ]);
    const rows = await ownerRows<{ account_code: string; debit: number; credit: number }>(
      world.db,
      world.a.id,
      'SELECT account_code, debit, credit FROM ledger_entries WHERE tenant_id = ? AND journal_id = ? ORDER BY line_number',
      [world.a.id, posted.id],
    );
    expect(rows.map((r) => [r.account_code, Number(r.debit), Number(r.credit)])).toEqual(
      posted.entries.map((e) => [e.accountCode, e.debit, e.credit]),
    );
    expect(
      await count(
        world.a,
        `SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = ? AND action = 'ledger_journal.post'`,
        [world.a.id],
      ),
    ).toBe(auditBefore + 1);
  });

  it('posts through the API; UK and USA tenants get their own account codes', async () => {
    for (const [tenant, pack, currency] of [
      [world.a, 'uk', 'GBP'],
      [world.b, 'usa', 'USD'],
    ] as const) {
      const chart = packChart(pack);
      const r = await world.call('postLedgerJournal', {
        token: tenant.adminToken,
        body: {
          postingDate: '2026-11-30',
          description: 'Manual',
          reference: 'MJ-1',
          lines: [
            { component: 'payment', amount: 500 },
            { account: chart.postings.payment!.credit, debit: 70 },
            { account: chart.postings.payment!.debit, credit: 70 },
          ],
        },
      });
      expect(r.status).toBe(201);
      expect(r.body).toMatchObject({
        currency,
        source: { type: 'manual', id: 'MJ-1' },
        lineCount: 4,
        total: 570,
        exports: [],
      });
      const bank = chart.postings.payment!.credit;
      expect(r.body.entries.map((e: { accountCode: string }) => e.accountCode)).toEqual([
        chart.code(chart.postings.payment!.debit),
        chart.code(bank),
        chart.code(bank),
        chart.code(chart.postings.payment!.debit),
      ]);
      const read = await world.call('getLedgerJournal', { token: tenant.adminToken, params: { journalId: r.body.id } });
      expect(read.status).toBe(200);
      expect(read.body).toEqual(r.body);
    }
    // The two packs' banks differ, so the check above would catch one tenant using the other's chart.
    expect(packChart('uk').code(packChart('uk').postings.payment!.credit)).not.toBe(
      packChart('usa').code(packChart('usa').postings.payment!.credit),
    );
    const otherPack = await world.call('postLedgerJournal', {
      token: world.b.adminToken,
      body: { postingDate: '2026-11-30', description: 'UK key', lines: [{ component: 'birthday_extra', amount: 100 }] },
    });
    expect(otherPack.status).toBe(422);
    expect(otherPack.body.errors[0].pointer).toBe('/body/lines/0/component');
  });

  it('refuses an unbalanced or unmappable journal with 422 naming the line, writing nothing', async () => {
    const before = await journalNumbers(world.a);
    const audits = await count(world.a, 'SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = ?', [
      world.a.id,
    ]);
    const cases: Array<[unknown[], string]> = [
      [
        [
          { account: 'bank', debit: 100 },
          { account: 'carers_payable', credit: 90 },
        ],
        '/body/lines',
      ],
      [
        [
          { component: 'allowance', amount: 100 },
          { component: 'nonsense', amount: 100 },
        ],
        '/body/lines/1/component',
      ],
      [
        [
          { account: 'bank', debit: 100, credit: 100 },
          { account: 'carers_payable', credit: 100 },
        ],
        '/body/lines/0',
      ],
      [
        [
          { account: 'no_such_account', debit: 100 },
          { account: 'bank', credit: 100 },
        ],
        '/body/lines/0/account',
      ],
      [[{ component: 'allowance', amount: 100, account: 'bank' }], '/body/lines/0'],
      [[{ account: 'bank', debit: 100 }], '/body/lines'],
      [
        [{ component: 'allowance', amount: 100, childId: '0190f5d4-0000-7000-8000-000000000000' }],
        '/body/lines/0/childId',
      ],
      [
        [{ component: 'allowance', amount: 100, periodStart: '2026-11-30', periodEnd: '2026-11-01' }],
        '/body/lines/0/periodEnd',
      ],
    ];
    for (const [lines, pointer] of cases) {
      const r = await world.call('postLedgerJournal', {
        token: world.a.adminToken,
        body: { postingDate: '2026-11-30', description: 'Bad', lines },
      });
      expect(r.status).toBe(422);
      expect(r.body.errors.map((e: { pointer: string }) => e.pointer)).toContain(pointer);
    }
    expect(await journalNumbers(world.a)).toEqual(before);
    expect(await count(world.a, 'SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = ?', [world.a.id])).toBe(
      audits,
    );
  });

  it("refuses a line whose placement is not the household's or the child's it names, by 422 and in the database", async () => {
    const ids = await seedCareHistory(world.db, world.a.id, {
      households: [
        { key: 'H1', region: 'london' },
        { key: 'H2', region: 'london' },
      ],
      children: [
        { key: 'C1', dateOfBirth: '2015-01-01' },
        { key: 'C2', dateOfBirth: '2016-01-01' },
      ],
      placements: [{ key: 'P1', child: 'C1', household: 'H1', start: '2025-01-01', placementType: 'U4' }],
    });
    const before = await journalNumbers(world.a);
    const post = (refs: Record<string, string>) =>
      world.call('postLedgerJournal', {
        token: world.a.adminToken,
        body: {
          postingDate: '2026-11-30',
          description: 'Refs',
          lines: [{ component: 'allowance', amount: 100, placementId: ids.P1, ...refs }],
        },
      });
    for (const [refs, pointers] of [
      [{ carerHouseholdId: ids.H2! }, ['/body/lines/0/carerHouseholdId']],
      [{ childId: ids.C2! }, ['/body/lines/0/childId']],
      [{ carerHouseholdId: ids.H2!, childId: ids.C2! }, ['/body/lines/0/carerHouseholdId', '/body/lines/0/childId']],
    ] as const) {
      const r = await post(refs);
      expect({ status: r.status, pointers: r.body.errors?.map((e: { pointer: string }) => e.pointer) }).toEqual({
        status: 422,
        pointers,
      });
    }
    expect(await journalNumbers(world.a)).toEqual(before);

    // Written in SQL, past the application: the key from an entry to its placement holds the three together.
    const entry = (refs: { household: string | null; child: string | null }) =>
      world.db.transaction(async (trx) => {
        await trx.raw(`SELECT set_config('app.tenant_id', ?, true)`, [world.a.id]);
        await trx.raw('UPDATE ledger_counters SET last_number = last_number + 1 WHERE tenant_id = ?', [world.a.id]);
        const id = (
          await trx.raw(
            `INSERT INTO ledger_journals (tenant_id, id, number, posting_date, description, source_type, currency) SELECT ?, gen_random_uuid(), last_number, '2026-11-30', 'sql', 'test', 'GBP' FROM ledger_counters WHERE tenant_id = ? RETURNING id`,
            [world.a.id, world.a.id],
          )
        ).rows[0].id;
        for (const [line, debit, credit] of [
          [1, 100, 0],
          [2, 0, 100],
        ]) {
          await trx.raw(
            `INSERT INTO ledger_entries (tenant_id, id, journal_id, line_number, account_key, account_code, debit, credit, carer_household_id, child_id, placement_id) VALUES (?, gen_random_uuid(), ?, ?, 'bank', '1200', ?, ?, ?, ?, ?)`,
            [world.a.id, id, line, debit, credit, refs.household, refs.child, ids.P1],
          );
        }
        throw new Error('taken');
      });
    await expect(entry({ household: ids.H2!, child: ids.C1! })).rejects.toThrow(
      /ledger_entries_placement_household_child_fkey/,
    );
    await expect(entry({ household: ids.H1!, child: ids.C2! })).rejects.toThrow(
      /ledger_entries_placement_household_child_fkey/,
    );
    await expect(entry({ household: ids.H1!, child: ids.C1! })).rejects.toThrow('taken');
    await expect(entry({ household: null, child: null })).rejects.toThrow('taken');
    expect(await journalNumbers(world.a)).toEqual(before);
  });

  it('numbers journals without gaps when a posting rolls back mid-way and under 10 concurrent posts', async () => {
    const before = await journalNumbers(world.a);
    const next = before[before.length - 1]! + 1;
    await expect(
      inTenantTransaction(world.db, { tenantId: world.a.id }, async (trx) => {
        const posted = await postJournal(serviceScope(world.a, trx), journal(100));
        expect(posted.number).toBe(next);
        throw new Error('the rest of the payment run failed');
      }),
    ).rejects.toThrow('the rest of the payment run failed');
    expect(await journalNumbers(world.a)).toEqual(before);

    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        world.call('postLedgerJournal', {
          token: world.a.adminToken,
          body: {
            postingDate: '2026-11-30',
            description: `Concurrent ${i}`,
            lines: [{ component: 'fee', amount: 100 + i }],
          },
        }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(201));
    expect(results.map((r) => r.body.number as number).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 10 }, (_, i) => next + i),
    );
    const all = await journalNumbers(world.a);
    expect(all).toEqual(Array.from({ length: all.length }, (_, i) => i + 1));
  });

  it('lists journals newest first with filters and a cursor', async () => {
    const first = await world.call('listLedgerJournals', { token: world.a.adminToken, query: { limit: 2 } });
    expect(first.status).toBe(200);
    expect(first.body.data).toHaveLength(2);
    expect(first.body.data[0].number).toBeGreaterThan(first.body.data[1].number);
    const second = await world.call('listLedgerJournals', {
      token: world.a.adminToken,
      query: { limit: 2, cursor: first.body.nextCursor },
    });
    expect(second.body.data[0].number).toBeLessThan(first.body.data[1].number);
    const manual = await world.call('listLedgerJournals', {
      token: world.a.adminToken,
      query: { sourceType: 'manual', sourceId: 'MJ-1' },
    });
    expect(manual.body.data.map((j: { source: { id: string } }) => j.source.id)).toEqual(['MJ-1']);
    const none = await world.call('listLedgerJournals', { token: world.a.adminToken, query: { from: '2027-01-01' } });
    expect(none.body.data).toEqual([]);
  });
});

describe('the database keeps the ledger balanced and append-only', () => {
  async function anyJournal(tenant: TenantFixture) {
    return (
      await ownerRows<{ id: string }>(
        world.db,
        tenant.id,
        'SELECT id FROM ledger_journals WHERE tenant_id = ? ORDER BY number LIMIT 1',
        [tenant.id],
      )
    )[0]!.id;
  }

  it('refuses at commit an unbalanced journal inserted in SQL, and a line added to a balanced one', async () => {
    const before = await journalNumbers(world.a);
    const attempt = (lines: Array<[number, number]>, journalId?: string) =>
      world.db.transaction(async (trx) => {
        await trx.raw(`SELECT set_config('app.tenant_id', ?, true)`, [world.a.id]);
        const id = journalId ?? (await trx.raw('SELECT gen_random_uuid() AS id')).rows[0].id;
        if (!journalId) {
          await trx.raw('UPDATE ledger_counters SET last_number = last_number + 1 WHERE tenant_id = ?', [world.a.id]);
          await trx.raw(
            `INSERT INTO ledger_journals (tenant_id, id, number, posting_date, description, source_type, currency) SELECT ?, ?, last_number, '2026-11-30', 'sql', 'test', 'GBP' FROM ledger_counters WHERE tenant_id = ?`,
            [world.a.id, id, world.a.id],
          );
        }
        let n = journalId
          ? Number(
              (await trx.raw('SELECT max(line_number) AS n FROM ledger_entries WHERE journal_id = ?', [id])).rows[0].n,
            )
          : 0;
        for (const [debit, credit] of lines) {
          await trx.raw(
            `INSERT INTO ledger_entries (tenant_id, id, journal_id, line_number, account_key, account_code, debit, credit) VALUES (?, gen_random_uuid(), ?, ?, 'bank', '1200', ?, ?)`,
            [world.a.id, id, ++n, debit, credit],
          );
        }
        // Accepted so far: the check is deferred to commit.
      });
    await expect(
      attempt([
        [100, 0],
        [0, 90],
      ]),
    ).rejects.toThrow(/unbalanced/);
    await expect(attempt([[100, 0]])).rejects.toThrow(/unbalanced/);
    await expect(attempt([])).rejects.toThrow(/unbalanced/);
    await expect(attempt([[100, 0]], await anyJournal(world.a))).rejects.toThrow(/unbalanced/);
    await expect(
      attempt([
        [100, 100],
        [0, 0],
      ]),
    ).rejects.toThrow(/ledger_entries_one_side/);
    // Checked once at SET CONSTRAINTS … IMMEDIATE, then a line added after the check: still refused at commit.
    await expect(
      world.db.transaction(async (trx) => {
        await trx.raw(`SELECT set_config('app.tenant_id', ?, true)`, [world.a.id]);
        await trx.raw('UPDATE ledger_counters SET last_number = last_number + 1 WHERE tenant_id = ?', [world.a.id]);
        const id = (
          await trx.raw(
            `INSERT INTO ledger_journals (tenant_id, id, number, posting_date, description, source_type, currency) SELECT ?, gen_random_uuid(), last_number, '2026-11-30', 'sql', 'test', 'GBP' FROM ledger_counters WHERE tenant_id = ? RETURNING id`,
            [world.a.id, world.a.id],
          )
        ).rows[0].id;
        for (const [line, debit, credit] of [
          [1, 100, 0],
          [2, 0, 100],
        ])
          await trx.raw(
            `INSERT INTO ledger_entries (tenant_id, id, journal_id, line_number, account_key, account_code, debit, credit) VALUES (?, gen_random_uuid(), ?, ?, 'bank', '1200', ?, ?)`,
            [world.a.id, id, line, debit, credit],
          );
        await trx.raw('SET CONSTRAINTS ALL IMMEDIATE');
        await trx.raw('SET CONSTRAINTS ALL DEFERRED');
        await trx.raw(
          `INSERT INTO ledger_entries (tenant_id, id, journal_id, line_number, account_key, account_code, debit, credit) VALUES (?, gen_random_uuid(), ?, 3, 'bank', '1200', 5, 0)`,
          [world.a.id, id],
        );
      }),
    ).rejects.toThrow(/unbalanced/);
    // Lines are numbered in order: a skipped number is refused as it is written.
    const balanced = await anyJournal(world.a);
    await expect(
      world.db.transaction(async (trx) => {
        await trx.raw(`SELECT set_config('app.tenant_id', ?, true)`, [world.a.id]);
        await trx.raw(
          `INSERT INTO ledger_entries (tenant_id, id, journal_id, line_number, account_key, account_code, debit, credit) VALUES (?, gen_random_uuid(), ?, 99, 'bank', '1200', 5, 0)`,
          [world.a.id, balanced],
        );
      }),
    ).rejects.toThrow(/out of order/);
    expect(await journalNumbers(world.a)).toEqual(before);
    // And a balanced one commits: the trigger is not refusing everything.
    await attempt([
      [100, 0],
      [0, 100],
    ]);
    expect(await journalNumbers(world.a)).toEqual([...before, before.length + 1]);
  });

  it('refuses a journal number the counter did not give, and a counter that jumps', async () => {
    const before = await journalNumbers(world.a);
    const inA = (work: (trx: Parameters<Parameters<typeof world.db.transaction>[0]>[0]) => Promise<unknown>) =>
      world.db.transaction(async (trx) => {
        await trx.raw(`SELECT set_config('app.tenant_id', ?, true)`, [world.a.id]);
        await work(trx);
      });
    await expect(
      inA((trx) =>
        trx.raw(
          `INSERT INTO ledger_journals (tenant_id, id, number, posting_date, description, source_type, currency) VALUES (?, gen_random_uuid(), 999999, '2026-11-30', 'sql', 'test', 'GBP')`,
          [world.a.id],
        ),
      ),
    ).rejects.toThrow(/is not the number the tenant's counter gave/);
    await expect(
      inA((trx) =>
        trx.raw('UPDATE ledger_counters SET last_number = last_number + 2 WHERE tenant_id = ?', [world.a.id]),
      ),
    ).rejects.toThrow(/only step by one/);
    await expect(
      inA((trx) => trx.raw('DELETE FROM ledger_counters WHERE tenant_id = ?', [world.a.id])),
    ).rejects.toThrow(/append-only/);
    expect(await journalNumbers(world.a)).toEqual(before);
  });

  const statements = ['ledger_journals', 'ledger_entries', 'ledger_exports'].flatMap((table) => [
    [table, `UPDATE ${table} SET tenant_id = tenant_id`, 'UPDATE'],
    [table, `DELETE FROM ${table}`, 'DELETE'],
    [table, `TRUNCATE ${table} CASCADE`, 'TRUNCATE'],
  ]);

  beforeAll(async () => {
    expect(
      (await world.call('createLedgerExport', { token: world.a.adminToken, body: { format: 'generic' } })).status,
    ).toBe(200);
    await settledCount(world.a, 'SELECT count(*)::int AS n FROM ledger_exports WHERE tenant_id = ?', [world.a.id], 1);
  });

  it.each(statements)('%s: %s fails for the owner (trigger)', async (table, statement, verb) => {
    const rows = await count(world.a, `SELECT count(*)::int AS n FROM ${table} WHERE tenant_id = ?`, [world.a.id]);
    expect(rows).toBeGreaterThan(0);
    await expect(world.db.raw(statement)).rejects.toThrow(`${table} is append-only: ${verb} refused`);
    expect(await count(world.a, `SELECT count(*)::int AS n FROM ${table} WHERE tenant_id = ?`, [world.a.id])).toBe(
      rows,
    );
  });

  it.each(statements)('%s: %s fails for hearth_app (no privilege)', async (table, statement) => {
    const attempt = world.db.transaction(async (trx) => {
      await trx.raw('SET LOCAL ROLE hearth_app');
      await trx.raw(`SELECT set_config('app.tenant_id', ?, true)`, [world.a.id]);
      const visible = ((await trx.raw(`SELECT count(*)::int AS n FROM ${table}`)) as { rows: Array<{ n: number }> })
        .rows[0]!.n;
      expect(visible).toBeGreaterThan(0);
      await trx.raw(statement);
    });
    await expect(attempt).rejects.toThrow(/permission denied/);
  });
});

describe('exports', () => {
  let range: { journalFrom: number; journalTo: number };
  beforeAll(async () => {
    const numbers: number[] = [];
    for (const amount of [12345, 1, 99, 100000]) {
      const r = await world.call('postLedgerJournal', {
        token: world.a.adminToken,
        body: {
          postingDate: '2026-10-31',
          description: `Export "test", ${amount}`,
          lines: [
            { component: 'allowance', amount, description: 'line, "quoted"' },
            { component: 'fee', amount: amount + 1 },
            { component: 'payment', amount: 2 * amount + 1 },
          ],
        },
      });
      expect(r.status).toBe(201);
      numbers.push(r.body.number);
    }
    range = { journalFrom: Math.min(...numbers), journalTo: Math.max(...numbers) };
  });

  async function entriesInRange() {
    return ownerRows<{ number: number; debit: number; credit: number; account_code: string }>(
      world.db,
      world.a.id,
      'SELECT j.number, e.debit, e.credit, e.account_code FROM ledger_entries e JOIN ledger_journals j ON j.tenant_id = e.tenant_id AND j.id = e.journal_id WHERE j.tenant_id = ? AND j.number BETWEEN ? AND ? ORDER BY j.number, e.line_number',
      [world.a.id, range.journalFrom, range.journalTo],
    );
  }

  const formats = {
    generic: {
      journal: 'journal_number',
      signed: (r: Record<string, string>) => toMinor(r.debit!) - toMinor(r.credit!),
      account: 'account_code',
    },
    xero: {
      journal: '*Narration',
      signed: (r: Record<string, string>) => toMinor(r['*Amount']!),
      account: '*AccountCode',
    },
    quickbooks: {
      journal: 'Journal No',
      signed: (r: Record<string, string>) => (r.Debits ? toMinor(r.Debits) : 0) - (r.Credits ? toMinor(r.Credits) : 0),
      account: 'Account',
    },
  } as const;

  it.each(Object.keys(formats) as Array<keyof typeof formats>)(
    '%s: strict RFC 4180, every journal sums to zero, totals match, same bytes twice, recorded and audited',
    async (key) => {
      const f = formats[key];
      const audits = await count(
        world.a,
        `SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = ? AND action = 'ledger_export.create'`,
        [world.a.id],
      );
      const exportsBefore = await count(world.a, 'SELECT count(*)::int AS n FROM ledger_exports WHERE tenant_id = ?', [
        world.a.id,
      ]);
      const r = await world.call('createLedgerExport', { token: world.a.adminToken, body: { format: key, ...range } });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/^text\/csv/);
      const [header, ...records] = parseCsv(r.text);
      expect(header).toEqual(world.server.plugins.ledgerExports.get(key)!.columns);
      const rows = records.map((rec) => Object.fromEntries(header!.map((h, i) => [h, rec[i]!])));
      const entries = await entriesInRange();
      expect(rows).toHaveLength(entries.length);
      expect(rows.map((row) => row[f.account])).toEqual(entries.map((e) => e.account_code));
      const byJournal = new Map<string, number>();
      for (const row of rows) byJournal.set(row[f.journal]!, (byJournal.get(row[f.journal]!) ?? 0) + f.signed(row));
      expect(byJournal.size).toBe(range.journalTo - range.journalFrom + 1);
      for (const sum of byJournal.values()) expect(sum).toBe(0);
      const debits = rows.reduce((s, row) => s + Math.max(f.signed(row), 0), 0);
      expect(debits).toBe(entries.reduce((s, e) => s + Number(e.debit), 0));
      expect(r.text).toContain('"line, ""quoted"""');

      const again = await world.call('createLedgerExport', {
        token: world.a.adminToken,
        body: { format: key, ...range },
      });
      expect(again.text).toBe(r.text);
      expect(
        await settledCount(
          world.a,
          `SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = ? AND action = 'ledger_export.create'`,
          [world.a.id],
          audits + 2,
        ),
      ).toBe(audits + 2);
      expect(
        await settledCount(
          world.a,
          'SELECT count(*)::int AS n FROM ledger_exports WHERE tenant_id = ?',
          [world.a.id],
          exportsBefore + 2,
        ),
      ).toBe(exportsBefore + 2);
      const [recorded] = await ownerRows<{
        format: string;
        journal_count: number;
        row_count: number;
        total_minor: number;
      }>(world.db, world.a.id, 'SELECT * FROM ledger_exports WHERE tenant_id = ? ORDER BY id DESC LIMIT 1', [
        world.a.id,
      ]);
      expect(recorded).toMatchObject({ format: key, journal_count: byJournal.size, row_count: rows.length });
      expect(Number(recorded!.total_minor)).toBe(debits);
    },
  );

  it('xero and quickbooks follow the tenant\'s edition: UK "No VAT" and day-first dates, USA "Tax Exempt" and month-first', async () => {
    const uk = parseCsv(
      (await world.call('createLedgerExport', { token: world.a.adminToken, body: { format: 'xero', ...range } })).text,
    );
    expect(new Set(uk.slice(1).map((r) => r[4]))).toEqual(new Set(['No VAT']));
    expect(new Set(uk.slice(1).map((r) => r[1]))).toEqual(new Set(['31/10/2026']));
    const posted = await world.call('postLedgerJournal', {
      token: world.b.adminToken,
      body: { postingDate: '2026-10-31', description: 'US', lines: [{ component: 'allowance', amount: 250 }] },
    });
    const us = parseCsv(
      (
        await world.call('createLedgerExport', {
          token: world.b.adminToken,
          body: { format: 'xero', journalFrom: posted.body.number, journalTo: posted.body.number },
        })
      ).text,
    );
    expect(us.slice(1).map((r) => [r[1], r[3], r[4], r[5]])).toEqual([
      ['10/31/2026', packChart('usa').code('maintenance_payments'), 'Tax Exempt', '2.50'],
      ['10/31/2026', packChart('usa').code('provider_payables'), 'Tax Exempt', '-2.50'],
    ]);
    const qb = parseCsv(
      (
        await world.call('createLedgerExport', {
          token: world.b.adminToken,
          body: { format: 'quickbooks', journalFrom: posted.body.number, journalTo: posted.body.number },
        })
      ).text,
    );
    expect(qb.slice(1)).toEqual([
      [String(posted.body.number), '10/31/2026', '5100', '2.50', '', 'US', ''],
      [String(posted.body.number), '10/31/2026', '2100', '', '2.50', 'US', ''],
    ]);
  });

  it('replays an earlier export byte for byte after more journals are posted, and the journal knows its exports', async () => {
    const exportsBefore = await count(world.a, 'SELECT count(*)::int AS n FROM ledger_exports WHERE tenant_id = ?', [
      world.a.id,
    ]);
    const first = await world.call('createLedgerExport', {
      token: world.a.adminToken,
      body: { format: 'generic', from: '2026-10-01', to: '2026-10-31' },
    });
    await settledCount(
      world.a,
      'SELECT count(*)::int AS n FROM ledger_exports WHERE tenant_id = ?',
      [world.a.id],
      exportsBefore + 1,
    );
    const listed = await world.call('listLedgerExports', {
      token: world.a.adminToken,
      query: { format: 'generic', limit: 1 },
    });
    const exportId = listed.body.data[0].id as string;
    expect(listed.body.data[0].filters).toMatchObject({ from: '2026-10-01', to: '2026-10-31' });
    await world.call('postLedgerJournal', {
      token: world.a.adminToken,
      body: { postingDate: '2026-10-15', description: 'Back-dated', lines: [{ component: 'fee', amount: 7 }] },
    });
    const fresh = await world.call('createLedgerExport', {
      token: world.a.adminToken,
      body: { format: 'generic', from: '2026-10-01', to: '2026-10-31' },
    });
    expect(fresh.text).not.toBe(first.text);
    const replay = await world.call('createLedgerExport', {
      token: world.a.adminToken,
      body: { format: 'generic', exportId },
    });
    expect(replay.status).toBe(200);
    expect(replay.text).toBe(first.text);
    const mixed = await world.call('createLedgerExport', {
      token: world.a.adminToken,
      body: { format: 'generic', exportId, from: '2026-01-01' },
    });
    expect(mixed.status).toBe(422);

    const journalId = parseCsv(first.text)[1]![1]!;
    const read = await world.call('getLedgerJournal', { token: world.a.adminToken, params: { journalId } });
    expect(read.body.exports.map((e: { id: string }) => e.id)).toContain(exportId);
    const outside = await world.call('listLedgerJournals', {
      token: world.a.adminToken,
      query: { from: '2026-11-30', to: '2026-11-30', limit: 1 },
    });
    const outsideRead = await world.call('getLedgerJournal', {
      token: world.a.adminToken,
      params: { journalId: outside.body.data[0].id },
    });
    expect(outsideRead.body.exports.map((e: { id: string }) => e.id)).not.toContain(exportId);
  });

  it('streams past a batch boundary in journal and line order, every entry once', async () => {
    const big = await inTenantTransaction(world.db, { tenantId: world.b.id }, (trx) =>
      postJournal(serviceScope(world.b, trx), {
        postingDate: '2026-09-30',
        description: 'A large run',
        source: { type: 'payment_run', id: 'run-big' },
        lines: Array.from({ length: 700 }, (_, i) => ({
          component: i % 2 ? 'allowance' : 'level_of_care',
          amount: 1000 + i,
          sourceLineId: `line-${i}`,
        })),
      }),
    );
    const small = await inTenantTransaction(world.db, { tenantId: world.b.id }, (trx) =>
      postJournal(serviceScope(world.b, trx), { ...journal(5), source: { type: 'payment_run', id: 'run-big' } }),
    );
    const r = await world.call('createLedgerExport', {
      token: world.b.adminToken,
      body: { format: 'generic', sourceType: 'payment_run', sourceId: 'run-big' },
    });
    const [header, ...records] = parseCsv(r.text);
    const at = (name: string) => header!.indexOf(name);
    expect(records).toHaveLength(1400 + 4);
    expect(records.map((rec) => `${rec[at('journal_number')]}/${rec[at('line_number')]}`)).toEqual([
      ...Array.from({ length: 1400 }, (_, i) => `${big.number}/${i + 1}`),
      ...Array.from({ length: 4 }, (_, i) => `${small.number}/${i + 1}`),
    ]);
    expect(new Set(records.map((rec) => rec[at('line_id')])).size).toBe(1404);
    expect(records[0]![at('source_line_id')]).toBe('line-0');
  });

  it('refuses an unknown format and bad ranges with 422', async () => {
    for (const [body, pointer] of [
      [{ format: 'sage' }, '/body/format'],
      [{ format: 'generic', from: '2026-12-01', to: '2026-11-01' }, '/body/to'],
      [{ format: 'generic', journalFrom: 5, journalTo: 2 }, '/body/journalTo'],
      [{ format: 'generic', sourceId: 'x' }, '/body/sourceType'],
    ] as const) {
      const r = await world.call('createLedgerExport', { token: world.a.adminToken, body });
      expect(r.status).toBe(422);
      expect(r.body.errors[0].pointer).toBe(pointer);
    }
  });

  it('an API key with ledger:export can pull; one with only ledger:read cannot; a caseworker cannot read', async () => {
    const key = async (permissions: string[]) => {
      const r = await world.call('createApiKey', {
        token: world.a.adminToken,
        body: { name: `ledger ${permissions.join(' ')}`, permissions },
      });
      expect(r.status).toBe(201);
      return r.body.secret as string;
    };
    const exporter = await key(['ledger:export']);
    const pulled = await world.call('createLedgerExport', {
      apiKey: exporter,
      body: { format: 'quickbooks', ...range },
    });
    expect(pulled.status).toBe(200);
    expect(parseCsv(pulled.text).length).toBeGreaterThan(1);
    const reader = await key(['ledger:read']);
    expect(
      (await world.call('createLedgerExport', { apiKey: reader, body: { format: 'quickbooks', ...range } })).status,
    ).toBe(403);
    expect(
      (
        await world.call('postLedgerJournal', {
          apiKey: reader,
          body: { postingDate: '2026-11-30', description: 'x', lines: [{ component: 'fee', amount: 1 }] },
        })
      ).status,
    ).toBe(403);
    expect((await world.call('listLedgerJournals', { apiKey: reader })).status).toBe(200);
    const caseworker = await world.addUser(world.a, ['caseworker']);
    expect((await world.call('listLedgerJournals', { token: caseworker.token })).status).toBe(403);
    const finance = await world.addUser(world.a, ['finance_officer']);
    expect(
      (await world.call('createLedgerExport', { token: finance.token, body: { format: 'generic', ...range } })).status,
    ).toBe(200);
  });
});
