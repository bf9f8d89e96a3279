import { seedCareHistory, type HistoryIds } from '../../../../test/support/careHistory';
import { financeOfficer, runJobs } from '../../../../test/support/fixtures/payments';
import { ownerRows, startWorld, type World } from '../../../../test/support/harness';

/**
 * Paying in advance: a weekly run pays the week to come for every placement that is open, on the
 * published NMA (GOV.UK 2025-26: London, 5-10, £225 a week) and the UK pack's level 2 fee (£100).
 * When the placement then ends part way through that week, the next run recovers the nights not in
 * care, and the household, paid nothing else, owes the difference: its payable is debited.
 */

let world: World;
let ids: HistoryIds;
let officer: { id: string; token: string };

const perNights = (weekly: number, nights: number) => Math.floor((2 * weekly * nights + 7) / 14);

async function through(runId: string, to: 'finalised'): Promise<void> {
  expect((await world.call('calculatePaymentRun', { token: officer.token, params: { runId }, body: {} })).status).toBe(
    202,
  );
  await runJobs(world);
  expect((await world.call('submitPaymentRun', { token: officer.token, params: { runId }, body: {} })).status).toBe(
    200,
  );
  expect(
    (await world.call('approvePaymentRun', { token: world.a.adminToken, params: { runId }, body: {} })).status,
  ).toBe(200);
  if (to === 'finalised')
    expect(
      (await world.call('finalisePaymentRun', { token: world.a.adminToken, params: { runId }, body: {} })).status,
    ).toBe(200);
}

beforeAll(async () => {
  world = await startWorld();
  officer = await financeOfficer({ world, tenant: world.a });
  ids = await seedCareHistory(world.db, world.a.id, {
    households: [{ key: 'London', region: 'london', levels: [{ from: '2024-01-01', level: 'level_2' }] }],
    children: [{ key: 'C', dateOfBirth: '2016-02-10' }],
    placements: [{ key: 'P', child: 'C', household: 'London', start: '2025-05-01', placementType: 'U4' }],
  });
  expect(
    (
      await world.call('createPaySchedule', {
        token: world.a.adminToken,
        body: {
          key: 'weekly-advance',
          name: 'Weekly in advance',
          frequency: 'weekly',
          timing: 'advance',
          anchorDate: '2025-06-02',
          paymentLagDays: 2,
        },
      })
    ).status,
  ).toBe(201);
});
afterAll(async () => {
  await world?.close();
});

it('pays the coming week in advance, and recovers in the next run the nights after an end recorded later', async () => {
  const first = (
    await world.call('createPaymentRun', { token: world.a.adminToken, body: { periodStart: '2025-06-02' } })
  ).body;
  expect(first).toMatchObject({
    timing: 'advance',
    periodStart: '2025-06-02',
    periodEnd: '2025-06-08',
    paymentDate: '2025-05-31',
  });
  await through(first.id, 'finalised');
  const paid = (await world.call('listPaymentRunLines', { token: world.a.adminToken, params: { runId: first.id } }))
    .body.data as Array<{ component: string; amount: number }>;
  expect(paid.map((l) => [l.component, l.amount])).toEqual([
    ['allowance', 22500],
    ['fee', 10000],
  ]);

  // The child left on 5 June (the 5th not paid): 2, 3 and 4 June were in care.
  await ownerRows(
    world.db,
    world.a.id,
    "UPDATE placements SET end_date = '2025-06-05', status = 'ended', updated_at = now() WHERE tenant_id = ? AND id = ? RETURNING id",
    [world.a.id, ids.P],
  );
  const second = (await world.call('createPaymentRun', { token: world.a.adminToken, body: {} })).body;
  expect(second).toMatchObject({ periodStart: '2025-06-09', periodEnd: '2025-06-15' });
  await through(second.id, 'finalised');
  const run = (await world.call('getPaymentRun', { token: world.a.adminToken, params: { runId: second.id } })).body;
  const recovered = { allowance: perNights(22500, 3) - 22500, fee: perNights(10000, 3) - 10000 };
  expect(recovered).toEqual({ allowance: -12857, fee: -5714 });
  const lines = (await world.call('listPaymentRunLines', { token: world.a.adminToken, params: { runId: second.id } }))
    .body.data as Array<{ kind: string; component: string; amount: number; correctsRunId: string }>;
  expect(lines.map((l) => [l.kind, l.component, l.amount, l.correctsRunId])).toEqual([
    ['recovery', 'allowance', recovered.allowance, first.id],
    ['recovery', 'fee', recovered.fee, first.id],
  ]);
  expect(run.total).toBe(recovered.allowance + recovered.fee);

  // The household owes 185.71: its payable account (2100) is debited, the expense accounts credited.
  const journal = (
    await world.call('getLedgerJournal', { token: world.a.adminToken, params: { journalId: run.journalId } })
  ).body;
  const entries = journal.entries as Array<{ accountCode: string; debit: number; credit: number }>;
  expect(entries.map((e) => [e.accountCode, e.debit, e.credit])).toEqual([
    ['5100', 0, 12857],
    ['5110', 0, 5714],
    ['2100', 18571, 0],
  ]);
});
