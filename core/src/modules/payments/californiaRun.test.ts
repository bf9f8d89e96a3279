import { bootstrapTenant } from '../../demo/seed';
import { seedCareHistory, type HistoryIds } from '../../../../test/support/careHistory';
import { parseCsv, toMinor } from '../../../../test/support/csv';
import { runJobs } from '../../../../test/support/fixtures/payments';
import { startWorld, TEST_PASSWORD, type TenantFixture, type World } from '../../../../test/support/harness';

/**
 * A California monthly run, January 2023, worked by hand from the published basic rate
 * (LA County DCFS policy 0900-511.10, $1,129 per child per month from
 * 1 July 2022) and the pack's payment convention: paid per night the child sleeps in the home, the
 * day of departure not paid, the monthly rate ÷ the days in the month (31), each line rounded once
 * to the cent, monthly in arrears. A level of care assessed at LOC 2 is paid back to the first
 * night; the pack encodes no LOC 2 amount, so the run shows an error until the tenant's own figure
 * ($250 a month, by overlay) is added, and the run is recalculated.
 */

let world: World;
let ca: TenantFixture;
let officer: { id: string; token: string };
let ids: HistoryIds;
let runId: string;

/** (monthly × nights) ÷ days in month, half up, in cents. */
const perNights = (monthly: number, nights: number, days = 31) =>
  Math.floor((2 * monthly * nights + days) / (2 * days));
const BASIC = 112900;

beforeAll(async () => {
  world = await startWorld();
  const { tenant, adminUserId } = await bootstrapTenant(world.db, world.server.packs, {
    kind: 'service',
    name: 'Resource Families of California',
    slug: 'tenant-ca',
    packId: 'usa/ca',
    currency: 'USD',
    timeZone: 'America/Los_Angeles',
    firstAdmin: { email: 'admin@tenant-ca.test', displayName: 'CA admin', password: TEST_PASSWORD },
  });
  ca = {
    id: tenant.id,
    slug: 'tenant-ca',
    adminId: adminUserId,
    adminEmail: 'admin@tenant-ca.test',
    adminToken: await world.token('tenant-ca', 'admin@tenant-ca.test'),
  };
  officer = await world.addUser(ca, ['finance_officer']);
  ids = await seedCareHistory(
    world.db,
    ca.id,
    {
      households: [
        { key: 'Sacramento', region: null },
        { key: 'Fresno', region: null },
      ],
      children: [
        { key: 'A', dateOfBirth: '2015-02-01' },
        { key: 'B', dateOfBirth: '2019-06-30' },
        { key: 'C', dateOfBirth: '2009-12-01' },
        { key: 'D', dateOfBirth: '2011-03-15' },
      ],
      placements: [
        {
          key: 'PA',
          child: 'A',
          household: 'Sacramento',
          start: '2022-11-01',
          placementType: 'foster_family_non_relative',
        },
        {
          key: 'PB',
          child: 'B',
          household: 'Sacramento',
          start: '2023-01-10',
          placementType: 'foster_family_relative',
        },
        {
          key: 'PC',
          child: 'C',
          household: 'Fresno',
          start: '2022-09-01',
          end: '2023-01-20',
          placementType: 'foster_family_non_relative',
        },
        {
          key: 'PD',
          child: 'D',
          household: 'Fresno',
          start: '2023-01-05',
          placementType: 'foster_family_non_relative',
        },
      ],
    },
    'resource-family-approval',
  );
  expect(
    (
      await world.call('createPaySchedule', {
        token: ca.adminToken,
        body: {
          key: 'monthly',
          name: 'Monthly in arrears',
          frequency: 'monthly',
          timing: 'arrears',
          anchorDate: '2023-01-01',
          paymentLagDays: 10,
        },
      })
    ).status,
  ).toBe(201);
  const run = await world.call('createPaymentRun', { token: ca.adminToken, body: { periodStart: '2023-01-01' } });
  expect(run.body).toMatchObject({
    periodStart: '2023-01-01',
    periodEnd: '2023-01-31',
    paymentDate: '2023-02-10',
    currency: 'USD',
  });
  runId = run.body.id;
});
afterAll(async () => {
  await world?.close();
});

type Line = {
  placementId: string;
  kind: string;
  component: string;
  periodStart: string;
  periodEnd: string;
  nights: number;
  amount: number;
};

async function lines(): Promise<Array<[string, string, string, string, number, number]>> {
  const byId = Object.fromEntries(Object.entries(ids).map(([k, v]) => [v, k]));
  return (
    (await world.call('listPaymentRunLines', { token: ca.adminToken, params: { runId }, query: { limit: 100 } })).body
      .data as Line[]
  )
    .map((l): [string, string, string, string, number, number] => [
      byId[l.placementId]!,
      l.component,
      l.periodStart,
      l.periodEnd,
      l.nights,
      l.amount,
    ])
    .sort((a, b) => `${a[0]}${a[1]}`.localeCompare(`${b[0]}${b[1]}`));
}

async function calculate(): Promise<Record<string, unknown>> {
  expect((await world.call('calculatePaymentRun', { token: officer.token, params: { runId }, body: {} })).status).toBe(
    202,
  );
  await runJobs(world);
  return (await world.call('getPaymentRun', { token: ca.adminToken, params: { runId } })).body;
}

describe('a California monthly run, every line worked by hand', () => {
  it('shows an error for a level of care the pack cannot price, and refuses to go forward with it', async () => {
    const loc = await world.call('recordLevelOfCare', {
      token: ca.adminToken,
      params: { placementId: ids.PD! },
      body: {
        level: 'loc_2',
        effectiveFrom: '2023-01-05',
        assessedOn: '2023-02-20',
        notes: 'LOC protocol: paid back to the first night',
      },
    });
    expect(loc.status).toBe(201);
    const run = await calculate();
    expect(run).toMatchObject({ status: 'calculated', issueCount: 1 });
    const issues = await world.call('listPaymentRunIssues', { token: ca.adminToken, params: { runId } });
    expect(issues.body.data).toEqual([
      expect.objectContaining({
        placementId: ids.PD,
        severity: 'error',
        code: 'rate_configuration',
        message: expect.stringContaining('level-of-care'),
      }),
    ]);
    const submit = await world.call('submitPaymentRun', { token: officer.token, params: { runId }, body: {} });
    expect(submit.status).toBe(409);
    expect(submit.body.blockers).toEqual([expect.objectContaining({ kind: 'condition' })]);
  });

  it('pays every night at $1,129 ÷ 31 and the LOC 2 supplement from the first night once the tenant sets its amount', async () => {
    const rates = await world.addUser(ca, ['tenant_admin']);
    const overlay = await world.call('createOverlay', {
      token: rates.token,
      body: {
        effectiveFrom: '2022-07-01',
        description: 'Our LOC 2 supplement',
        changes: { rates: { 'level-of-care': { amounts: { loc_2: 25000 } } } },
      },
    });
    expect(overlay.status).toBe(201);
    const run = await calculate();
    expect(run).toMatchObject({ status: 'calculated', issueCount: 0, calculation: { number: 2 } });
    expect(await lines()).toEqual([
      ['PA', 'allowance', '2023-01-01', '2023-01-31', 31, BASIC], // the whole month is the monthly rate
      ['PB', 'allowance', '2023-01-10', '2023-01-31', 22, perNights(BASIC, 22)], // from the 10th: 80,123
      ['PC', 'allowance', '2023-01-01', '2023-01-19', 19, perNights(BASIC, 19)], // left on the 20th, unpaid: 69,197
      ['PD', 'allowance', '2023-01-05', '2023-01-31', 27, perNights(BASIC, 27)], // 98,332
      ['PD', 'level_of_care', '2023-01-05', '2023-01-31', 27, perNights(25000, 27)], // 21,774
    ]);
    expect([perNights(BASIC, 22), perNights(BASIC, 19), perNights(BASIC, 27), perNights(25000, 27)]).toEqual([
      80123, 69197, 98332, 21774,
    ]);
    expect(run.total).toBe(112900 + 80123 + 69197 + 98332 + 21774);
  });

  it('is approved by someone who neither calculated it nor set the supplement, and exports a QuickBooks journal that balances', async () => {
    expect((await world.call('submitPaymentRun', { token: officer.token, params: { runId }, body: {} })).status).toBe(
      200,
    );
    expect((await world.call('approvePaymentRun', { token: ca.adminToken, params: { runId }, body: {} })).status).toBe(
      200,
    );
    const finalised = await world.call('finalisePaymentRun', { token: ca.adminToken, params: { runId }, body: {} });
    expect(finalised.status).toBe(200);
    const csv = await world.call('exportPaymentRun', {
      token: ca.adminToken,
      params: { runId },
      body: { format: 'quickbooks' },
    });
    const [header, ...records] = parseCsv(csv.text);
    expect(header).toEqual(['Journal No', 'Journal Date', 'Account', 'Debits', 'Credits', 'Description', 'Name']);
    expect(new Set(records.map((r) => r[1]))).toEqual(new Set(['02/10/2023']));
    const sum = (i: number) => records.reduce((s, r) => s + (r[i] ? toMinor(r[i]!) : 0), 0);
    expect({ debits: sum(3), credits: sum(4) }).toEqual({ debits: 382326, credits: 382326 });
    // Basic rate to maintenance payments (5100), the supplement to level-of-care supplements (5110), households to provider payables (2100).
    const byAccount = (code: string) =>
      records
        .filter((r) => r[2] === code)
        .reduce((s, r) => s + (r[3] ? toMinor(r[3]) : 0) - (r[4] ? toMinor(r[4]) : 0), 0);
    expect({ maintenance: byAccount('5100'), supplement: byAccount('5110'), payables: byAccount('2100') }).toEqual({
      maintenance: 360552,
      supplement: 21774,
      payables: -382326,
    });
  });
});
