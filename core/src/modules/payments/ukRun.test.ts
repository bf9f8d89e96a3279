import { seedCareHistory, type HistoryIds } from '../../../../test/support/careHistory';
import { parseCsv, toMinor } from '../../../../test/support/csv';
import { financeOfficer, runJobs } from '../../../../test/support/fixtures/payments';
import { ownerRows, startWorld, type World } from '../../../../test/support/harness';

/**
 * A four-week UK run, 24 March to 20 April 2025, worked by hand from the published national minimum
 * allowance (GOV.UK "Help with the cost of fostering", weekly, for
 * 2024-25 from 6 April 2024 and 2025-26 from 6 April 2025), the UK pack's illustrative fee table
 * (level 2 £100, level 3 £200 a week, from 6 April 2025) and its rules: paid per night, the night of
 * arrival counts and the day of departure does not, weekly ÷ 7 per night, each line rounded once to
 * the penny, half up; a birthday in the period pays one week of the child's allowance.
 *
 * In it: a London carer at level 2 whose child turns 5 on 1 April (band 3-4 → 5-10, and a birthday
 * week) across the 6 April uplift; a rest-of-England carer at level 3 with a child placed mid-period
 * (10 April) and another whose placement ended on 30 March (the 30th unpaid); and a rest-of-England
 * respite carer at level 1 (no fee) who has the second child for three nights, 14-16 April, while the
 * usual carer's allowance continues (the pack's default).
 */

let world: World;
let ids: HistoryIds;
let runId: string;

/** (nights × weekly) ÷ 7, rounded half up, in pence. */
const perNights = (weekly: number, nights: number) => Math.floor((2 * weekly * nights + 7) / 14);

const EXPECTED = [
  // London, level 2: child born 1 April 2020.
  {
    placement: 'P1',
    kind: 'rate',
    component: 'allowance',
    from: '2025-03-24',
    to: '2025-03-31',
    nights: 8,
    amount: perNights(19500, 8),
  }, // age 4, band 3-4, 2024-25: £195
  {
    placement: 'P1',
    kind: 'rate',
    component: 'allowance',
    from: '2025-04-01',
    to: '2025-04-05',
    nights: 5,
    amount: perNights(21700, 5),
  }, // age 5, band 5-10, 2024-25: £217
  {
    placement: 'P1',
    kind: 'extra',
    component: 'birthday_extra',
    from: '2025-04-01',
    to: '2025-04-01',
    nights: null,
    amount: 21700,
  }, // one week at the birthday's rate
  {
    placement: 'P1',
    kind: 'rate',
    component: 'allowance',
    from: '2025-04-06',
    to: '2025-04-20',
    nights: 15,
    amount: perNights(22500, 15),
  }, // 2025-26: £225
  {
    placement: 'P1',
    kind: 'rate',
    component: 'fee',
    from: '2025-04-06',
    to: '2025-04-20',
    nights: 15,
    amount: perNights(10000, 15),
  }, // level 2: £100 from 6 April 2025
  // Rest of England, level 3: a child placed on 10 April (born 15 August 2012, 12: band 11-15).
  {
    placement: 'P2',
    kind: 'rate',
    component: 'allowance',
    from: '2025-04-10',
    to: '2025-04-20',
    nights: 11,
    amount: perNights(22000, 11),
  },
  {
    placement: 'P2',
    kind: 'rate',
    component: 'fee',
    from: '2025-04-10',
    to: '2025-04-20',
    nights: 11,
    amount: perNights(20000, 11),
  },
  // ...and a child who left on 30 March (born 1 June 2009, 15): nights 24-29 March, 2024-25 £213.
  {
    placement: 'P3',
    kind: 'rate',
    component: 'allowance',
    from: '2025-03-24',
    to: '2025-03-29',
    nights: 6,
    amount: perNights(21300, 6),
  },
  // Respite, rest of England, level 1 (fee £0, so no fee line): the second child, 14-16 April.
  {
    placement: 'P4',
    kind: 'rate',
    component: 'allowance',
    from: '2025-04-14',
    to: '2025-04-16',
    nights: 3,
    amount: perNights(22000, 3),
  },
];

beforeAll(async () => {
  world = await startWorld();
  ids = await seedCareHistory(world.db, world.a.id, {
    households: [
      { key: 'London', region: 'london', levels: [{ from: '2024-01-01', level: 'level_2' }] },
      { key: 'RestOfEngland', region: 'rest_of_england', levels: [{ from: '2024-01-01', level: 'level_3' }] },
      { key: 'Respite', region: 'rest_of_england', levels: [{ from: '2024-01-01', level: 'level_1' }] },
    ],
    children: [
      { key: 'C1', dateOfBirth: '2020-04-01' },
      { key: 'C2', dateOfBirth: '2012-08-15' },
      { key: 'C3', dateOfBirth: '2009-06-01' },
    ],
    placements: [
      { key: 'P1', child: 'C1', household: 'London', start: '2025-01-01', placementType: 'U4' },
      { key: 'P2', child: 'C2', household: 'RestOfEngland', start: '2025-04-10', placementType: 'U6' },
      {
        key: 'P3',
        child: 'C3',
        household: 'RestOfEngland',
        start: '2024-11-01',
        end: '2025-03-30',
        placementType: 'U4',
      },
      {
        key: 'P4',
        child: 'C2',
        household: 'Respite',
        start: '2025-04-14',
        plannedEnd: '2025-04-17',
        respiteOf: 'P2',
        placementType: 'U6',
      },
    ],
  });
  const schedule = await world.call('createPaySchedule', {
    token: world.a.adminToken,
    body: {
      key: 'four-weekly',
      name: 'Four-weekly in arrears',
      frequency: 'four_weekly',
      timing: 'arrears',
      anchorDate: '2025-03-24',
      paymentLagDays: 4,
    },
  });
  expect(schedule.status).toBe(201);
  const run = await world.call('createPaymentRun', { token: world.a.adminToken, body: { periodStart: '2025-03-24' } });
  expect(run.status).toBe(201);
  expect(run.body).toMatchObject({
    periodStart: '2025-03-24',
    periodEnd: '2025-04-20',
    paymentDate: '2025-04-24',
    status: 'draft',
    reference: 'PR-000001',
  });
  runId = run.body.id;
});
afterAll(async () => {
  await world?.close();
});

describe('a UK run, every line worked by hand', () => {
  it('is calculated by a background job that reports its progress', async () => {
    const officer = await financeOfficer({ world, tenant: world.a });
    const queued = await world.call('calculatePaymentRun', { token: officer.token, params: { runId }, body: {} });
    expect(queued.status).toBe(202);
    expect(queued.body).toMatchObject({ status: 'calculating', calculation: { number: 1, status: 'queued', done: 0 } });
    expect(await runJobs(world)).toBe(1);
    const run = await world.call('getPaymentRun', { token: world.a.adminToken, params: { runId } });
    expect(run.body).toMatchObject({
      status: 'calculated',
      calculatedBy: officer.id,
      issueCount: 0,
      calculation: { number: 1, status: 'succeeded', done: 4, total: 4, percent: 100, attempts: 1 },
    });
  });

  it('pays every line as worked by hand, and the run total is their sum', async () => {
    const lines = await world.call('listPaymentRunLines', {
      token: world.a.adminToken,
      params: { runId },
      query: { limit: 100 },
    });
    expect(lines.status).toBe(200);
    const byPlacement = Object.fromEntries(Object.entries(ids).map(([key, id]) => [id, key]));
    const got = (
      lines.body.data as Array<{
        placementId: string;
        kind: string;
        component: string;
        periodStart: string;
        periodEnd: string;
        nights: number | null;
        amount: number;
      }>
    ).map((l) => ({
      placement: byPlacement[l.placementId],
      kind: l.kind,
      component: l.component,
      from: l.periodStart,
      to: l.periodEnd,
      nights: l.nights,
      amount: l.amount,
    }));
    const order = (l: { placement?: string; from: string; component: string }) =>
      `${l.placement}|${l.from}|${l.component}`;
    expect([...got].sort((a, b) => order(a).localeCompare(order(b)))).toEqual(
      [...EXPECTED].sort((a, b) => order(a).localeCompare(order(b))),
    );
    // The hand calculation's own figures, so a rounding slip in perNights cannot hide.
    expect(EXPECTED.map((l) => l.amount)).toEqual([22286, 15500, 21700, 48214, 21429, 34571, 31429, 18257, 9429]);
    const run = await world.call('getPaymentRun', { token: world.a.adminToken, params: { runId } });
    expect(run.body.total).toBe(222815);
    expect(run.body).toMatchObject({ lineCount: 9, householdCount: 3, placementCount: 4 });
  });

  it('explains each line: the rule, the table value and its source, the facts of those nights', async () => {
    const lines = await world.call('listPaymentRunLines', {
      token: world.a.adminToken,
      params: { runId },
      query: { placementId: ids.P1!, kind: 'rate' },
    });
    const first = (
      lines.body.data as Array<{ periodStart: string; component: string; explanation: Record<string, unknown> }>
    ).find((l) => l.periodStart === '2025-03-24')!;
    expect(first.explanation).toMatchObject({
      rule: 'allowance_foster_night',
      table: 'nma-allowance',
      layer: 'pack:uk',
      effectiveFrom: '2024-04-06',
      periodAmount: 19500,
      facts: {
        ageYears: 4,
        ageBand: '3-4',
        region: 'london',
        carerLevel: 'level_2',
        placementType: 'foster_unrelated',
        respite: false,
      },
    });
    expect(String(first.explanation.source)).toContain('GOV.UK');
  });

  it('renders the London carer statement with allowance and fee shown apart, as HTML and as PDF', async () => {
    const html = await world.call('getCarerStatement', {
      token: world.a.adminToken,
      params: { runId, householdId: ids.London! },
    });
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toContain('text/html');
    for (const text of ['£222.86', '£155.00', '£482.14', '£214.29', '£217.00', '£1,291.29'])
      expect(html.text).toContain(text);
    const pdf = await world.http('GET', `/v1/payment-runs/${runId}/households/${ids.London}/statement?format=pdf`, {
      token: world.a.adminToken,
    });
    expect(pdf.status).toBe(200);
    expect(pdf.headers.get('content-type')).toBe('application/pdf');
    expect(pdf.text.startsWith('%PDF-')).toBe(true);
  });

  it('is approved by someone other than its calculator, finalised into one balanced journal, and exports that parse back', async () => {
    const officer = await financeOfficer({ world, tenant: world.a });
    expect((await world.call('submitPaymentRun', { token: officer.token, params: { runId }, body: {} })).status).toBe(
      200,
    );
    const own = await world.call('approvePaymentRun', { token: officer.token, params: { runId }, body: {} });
    expect(own.status).toBe(403);
    expect(own.body).toMatchObject({ code: 'separation_of_duties' });
    expect(
      (await world.call('approvePaymentRun', { token: world.a.adminToken, params: { runId }, body: {} })).status,
    ).toBe(200);
    const finalised = await world.call('finalisePaymentRun', {
      token: world.a.adminToken,
      params: { runId },
      body: {},
    });
    expect(finalised.status).toBe(200);
    const journalId = finalised.body.journalId as string;

    const journal = await world.call('getLedgerJournal', { token: world.a.adminToken, params: { journalId } });
    const entries = journal.body.entries as Array<{
      accountCode: string;
      debit: number;
      credit: number;
      sourceLineId: string | null;
      carerHouseholdId: string;
    }>;
    expect(journal.body.total).toBe(222815);
    // Nine line debits (allowance 5100, fee 5110, extras 5120) and one credit to carers payable (2100) per household.
    expect(
      entries
        .filter((e) => e.sourceLineId)
        .map((e) => e.accountCode)
        .sort(),
    ).toEqual(['5100', '5100', '5100', '5100', '5100', '5100', '5110', '5110', '5120']);
    expect(
      entries
        .filter((e) => !e.sourceLineId)
        .map((e) => [e.accountCode, e.credit])
        .sort(),
    ).toEqual(
      [
        ['2100', 9429],
        ['2100', 84257],
        ['2100', 129129],
      ].sort(),
    );
    expect(entries.reduce((s, e) => s + e.debit - e.credit, 0)).toBe(0);

    for (const format of ['generic', 'xero', 'quickbooks']) {
      const csv = await world.call('exportPaymentRun', {
        token: world.a.adminToken,
        params: { runId },
        body: { format },
      });
      expect(csv.status).toBe(200);
      const [header, ...records] = parseCsv(csv.text);
      expect(records).toHaveLength(entries.length);
      if (format === 'xero') {
        const amount = header!.indexOf('*Amount');
        expect(records.reduce((s, r) => s + toMinor(r[amount]!), 0)).toBe(0);
        expect(records.filter((r) => toMinor(r[amount]!) > 0).reduce((s, r) => s + toMinor(r[amount]!), 0)).toBe(
          222815,
        );
      } else {
        const [debit, credit] =
          format === 'generic'
            ? [header!.indexOf('debit'), header!.indexOf('credit')]
            : [header!.indexOf('Debits'), header!.indexOf('Credits')];
        const sum = (i: number) => records.reduce((s, r) => s + (r[i] ? toMinor(r[i]!) : 0), 0);
        expect({ debits: sum(debit), credits: sum(credit) }).toEqual({ debits: 222815, credits: 222815 });
      }
    }
    const run = await world.call('getPaymentRun', { token: world.a.adminToken, params: { runId } });
    expect(run.body.status).toBe('exported');
  });

  it('lets a finance system pull the run with an API key holding ledger:export, and no other', async () => {
    const withExport = await world.call('createApiKey', {
      token: world.a.adminToken,
      body: { name: 'finance pull', permissions: ['ledger:export'] },
    });
    const without = await world.call('createApiKey', {
      token: world.a.adminToken,
      body: { name: 'reader', permissions: ['payments:read'] },
    });
    const pulled = await world.http('POST', `/v1/payment-runs/${runId}/exports`, {
      apiKey: withExport.body.secret,
      body: { format: 'xero' },
    });
    expect(pulled.status).toBe(200);
    expect(parseCsv(pulled.text).length).toBe(13);
    const refused = await world.http('POST', `/v1/payment-runs/${runId}/exports`, {
      apiKey: without.body.secret,
      body: { format: 'xero' },
    });
    expect(refused.status).toBe(403);
  });

  it('reports what was paid, by component and by household, and what is owed for care after the run', async () => {
    const byComponent = await world.call('getPaymentsReport', {
      token: world.a.adminToken,
      query: { from: '2025-04-01', to: '2025-04-30', groupBy: 'component' },
    });
    expect(byComponent.body.groups.map((g: { key: string; amount: number }) => [g.key, g.amount])).toEqual([
      ['allowance', 22286 + 15500 + 48214 + 34571 + 18257 + 9429],
      ['birthday_extra', 21700],
      ['fee', 21429 + 31429],
    ]);
    expect(byComponent.body).toMatchObject({ total: 222815, runs: 1 });
    const byHousehold = await world.call('getPaymentsReport', {
      token: world.a.adminToken,
      query: { from: '2025-04-01', to: '2025-04-30', groupBy: 'household' },
    });
    expect(
      Object.fromEntries(byHousehold.body.groups.map((g: { key: string; amount: number }) => [g.key, g.amount])),
    ).toEqual({ [ids.London!]: 129129, [ids.RestOfEngland!]: 84257, [ids.Respite!]: 9429 });
    // A week after the run: the London child (5-10, £225 and the £100 fee) and the Leeds child (11-15, £220 and £200) for 7 nights each.
    const accruals = await world.call('getAccrualsReport', {
      token: world.a.adminToken,
      query: { asOf: '2025-04-27' },
    });
    expect(accruals.body).toMatchObject({
      paidThrough: '2025-04-20',
      unpaidFrom: '2025-04-21',
      careNights: 14,
      total: 22500 + 10000 + 22000 + 20000,
      issues: 0,
    });
  });

  it('keeps finalised lines and entries as they are: UPDATE and DELETE fail in SQL, as the owner and as the application role', async () => {
    for (const statement of [
      'UPDATE payment_lines SET amount = amount + 1 WHERE run_id = ?',
      'DELETE FROM payment_lines WHERE run_id = ?',
      'UPDATE ledger_entries SET debit = debit + 1 WHERE journal_id = (SELECT journal_id FROM payment_runs WHERE id = ?) AND debit > 0',
      'DELETE FROM ledger_entries WHERE journal_id = (SELECT journal_id FROM payment_runs WHERE id = ?)',
      'UPDATE payment_runs SET total = 1 WHERE id = ?',
    ]) {
      await expect(ownerRows(world.db, world.a.id, statement, [runId])).rejects.toThrow();
      await expect(
        world.db.transaction(async (trx) => {
          await trx.raw(`SELECT set_config('role', 'hearth_app', true), set_config('app.tenant_id', ?, true)`, [
            world.a.id,
          ]);
          await trx.raw(statement, [runId]);
        }),
      ).rejects.toThrow();
    }
    const lines = await ownerRows<{ n: number; total: number }>(
      world.db,
      world.a.id,
      'SELECT count(*)::int AS n, sum(amount)::bigint AS total FROM payment_lines WHERE run_id = ?',
      [runId],
    );
    expect(lines[0]).toEqual({ n: 9, total: 222815 });
  });
});
