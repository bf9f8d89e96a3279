import { seedCareHistory, type HistoryIds } from '../../../../test/support/careHistory';
import { financeOfficer, runJobs } from '../../../../test/support/fixtures/payments';
import { ownerRows, startWorld, type World } from '../../../../test/support/harness';

/**
 * Corrections arrive in the next run and never touch what was finalised. Two four-week UK runs
 * (24 March-20 April, 21 April-18 May 2025) on the published NMA (GOV.UK, 2024-25 and 2025-26):
 * after the first is finalised, the tenant raises its London 5-10 allowance from 6 April 2025 by a
 * back-dated overlay (£230 a week, above the £225 floor), and a placement's end on 15 April is
 * recorded late. The second run carries exactly the differences, each pointing at the lines it corrects.
 */

let world: World;
let ids: HistoryIds;
let officer: { id: string; token: string };

const perNights = (weekly: number, nights: number) => Math.floor((2 * weekly * nights + 7) / 14);

async function calculate(runId: string): Promise<void> {
  expect((await world.call('calculatePaymentRun', { token: officer.token, params: { runId }, body: {} })).status).toBe(
    202,
  );
  await runJobs(world);
  expect((await world.call('getPaymentRun', { token: world.a.adminToken, params: { runId } })).body.status).toBe(
    'calculated',
  );
}

async function finalise(runId: string): Promise<void> {
  expect((await world.call('submitPaymentRun', { token: officer.token, params: { runId }, body: {} })).status).toBe(
    200,
  );
  expect(
    (await world.call('approvePaymentRun', { token: world.a.adminToken, params: { runId }, body: {} })).status,
  ).toBe(200);
  expect(
    (await world.call('finalisePaymentRun', { token: world.a.adminToken, params: { runId }, body: {} })).status,
  ).toBe(200);
}

type Line = {
  id: string;
  placementId: string;
  kind: string;
  component: string;
  periodStart: string;
  periodEnd: string;
  amount: number;
  correctsRunId: string | null;
  correctsLineIds: string[];
  explanation: Record<string, unknown>;
};

async function lines(runId: string): Promise<Line[]> {
  return (
    await world.call('listPaymentRunLines', { token: world.a.adminToken, params: { runId }, query: { limit: 200 } })
  ).body.data as Line[];
}

beforeAll(async () => {
  world = await startWorld();
  officer = await financeOfficer({ world, tenant: world.a });
  ids = await seedCareHistory(world.db, world.a.id, {
    households: [
      { key: 'London', region: 'london', levels: [{ from: '2024-01-01', level: 'level_2' }] },
      { key: 'Leeds', region: 'rest_of_england', levels: [{ from: '2024-01-01', level: 'level_3' }] },
    ],
    children: [
      { key: 'C1', dateOfBirth: '2018-09-01' },
      { key: 'C2', dateOfBirth: '2012-08-15' },
    ],
    placements: [
      { key: 'P1', child: 'C1', household: 'London', start: '2025-01-01', placementType: 'U4' },
      { key: 'P2', child: 'C2', household: 'Leeds', start: '2025-04-10', placementType: 'U6' },
    ],
  });
  expect(
    (
      await world.call('createPaySchedule', {
        token: world.a.adminToken,
        body: {
          key: 'four-weekly',
          name: 'Four-weekly',
          frequency: 'four_weekly',
          timing: 'arrears',
          anchorDate: '2025-03-24',
        },
      })
    ).status,
  ).toBe(201);
});
afterAll(async () => {
  await world?.close();
});

describe('corrections to a finalised run', () => {
  let first: string;
  let second: string;
  let paidFirst: Line[];
  let ledgerBefore: unknown[];

  it('finalises the first run', async () => {
    first = (await world.call('createPaymentRun', { token: world.a.adminToken, body: { periodStart: '2025-03-24' } }))
      .body.id;
    await calculate(first);
    await finalise(first);
    paidFirst = await lines(first);
    // P1 (London, 6: band 5-10): 13 nights at £217 (2024-25), 15 at £225; fee from 6 April. P2 (from 10 April): 11 nights.
    expect(
      paidFirst.map((l) => [l.placementId === ids.P1 ? 'P1' : 'P2', l.component, l.periodStart, l.amount]),
    ).toEqual(
      expect.arrayContaining([
        ['P1', 'allowance', '2025-03-24', perNights(21700, 13)],
        ['P1', 'allowance', '2025-04-06', perNights(22500, 15)],
        ['P2', 'allowance', '2025-04-10', perNights(22000, 11)],
        ['P2', 'fee', '2025-04-10', perNights(20000, 11)],
      ]),
    );
    ledgerBefore = await ownerRows(
      world.db,
      world.a.id,
      'SELECT e.* FROM ledger_entries e JOIN payment_runs r ON r.tenant_id = e.tenant_id AND r.journal_id = e.journal_id WHERE r.id = ? ORDER BY e.line_number',
      [first],
    );
    expect(ledgerBefore.length).toBeGreaterThan(0);
  });

  it('pays exactly the arrears of a back-dated overlay and recovers the nights after a late-recorded end, in the next run', async () => {
    // Someone other than the approver raises London 5-10 from 6 April 2025: £230 a week (above the £225 floor).
    const rates = await world.addUser(world.a, ['tenant_admin']);
    const overlay = await world.call('createOverlay', {
      token: rates.token,
      body: {
        effectiveFrom: '2025-04-06',
        description: 'London 5-10 uplift',
        changes: { rates: { 'nma-allowance': { amounts: { '5-10': { london: 23000 } } } } },
      },
    });
    expect(overlay.status).toBe(201);
    // P2's end on 15 April is recorded only now (the day of departure is not paid).
    await ownerRows(
      world.db,
      world.a.id,
      "UPDATE placements SET end_date = '2025-04-15', status = 'ended', updated_at = now() WHERE tenant_id = ? AND id = ? RETURNING id",
      [world.a.id, ids.P2],
    );

    second = (await world.call('createPaymentRun', { token: world.a.adminToken, body: {} })).body.id;
    await calculate(second);
    const corrections = (await lines(second)).filter((l) => l.correctsRunId);
    const firstP1Allowance = paidFirst
      .filter((l) => l.placementId === ids.P1 && l.component === 'allowance')
      .map((l) => l.id)
      .sort();
    const firstP2 = (component: string) =>
      paidFirst
        .filter((l) => l.placementId === ids.P2 && l.component === component)
        .map((l) => l.id)
        .sort();
    const byKey = (a: { placement?: string; component: string }, b: { placement?: string; component: string }) =>
      `${a.placement}${a.component}`.localeCompare(`${b.placement}${b.component}`);
    expect(
      corrections
        .map((l) => ({
          placement: l.placementId,
          kind: l.kind,
          component: l.component,
          amount: l.amount,
          correctsRunId: l.correctsRunId,
          correctsLineIds: l.correctsLineIds,
        }))
        .sort(byKey),
    ).toEqual(
      [
        // 15 nights at £230 instead of £225: 49,286 - 48,214 pence.
        {
          placement: ids.P1,
          kind: 'arrears',
          component: 'allowance',
          amount: perNights(23000, 15) - perNights(22500, 15),
          correctsRunId: first,
          correctsLineIds: firstP1Allowance,
        },
        // P2 paid 10-20 April (11 nights), due 10-14 April (5 nights).
        {
          placement: ids.P2,
          kind: 'recovery',
          component: 'allowance',
          amount: perNights(22000, 5) - perNights(22000, 11),
          correctsRunId: first,
          correctsLineIds: firstP2('allowance'),
        },
        {
          placement: ids.P2,
          kind: 'recovery',
          component: 'fee',
          amount: perNights(20000, 5) - perNights(20000, 11),
          correctsRunId: first,
          correctsLineIds: firstP2('fee'),
        },
      ].sort(byKey),
    );
    expect(corrections.map((l) => l.amount)).toEqual(expect.arrayContaining([1072, -18857, -17143]));
    const explained = corrections.find((l) => l.kind === 'arrears')!.explanation as {
      due: { amount: number };
      paid: { amount: number };
      difference: number;
    };
    expect(explained).toMatchObject({
      due: { amount: perNights(21700, 13) + perNights(23000, 15) },
      paid: { amount: perNights(21700, 13) + perNights(22500, 15) },
      difference: 1072,
    });

    // The second period itself: P1 at £230 for 28 nights is four whole weeks; P2 has left.
    const own = (await lines(second)).filter((l) => !l.correctsRunId);
    expect(own.filter((l) => l.component === 'allowance').map((l) => [l.placementId, l.amount])).toEqual([
      [ids.P1, 4 * 23000],
    ]);

    // Whoever last changed a rate the run uses may not approve it.
    expect(
      (await world.call('submitPaymentRun', { token: officer.token, params: { runId: second }, body: {} })).status,
    ).toBe(200);
    const barred = await world.call('approvePaymentRun', { token: rates.token, params: { runId: second }, body: {} });
    expect(barred.status).toBe(403);
    expect(barred.body.detail).toContain('nma-allowance');
  });

  it('leaves the first run and its ledger entries exactly as they were', async () => {
    expect(await lines(first)).toEqual(paidFirst);
    expect(
      await ownerRows(
        world.db,
        world.a.id,
        'SELECT e.* FROM ledger_entries e JOIN payment_runs r ON r.tenant_id = e.tenant_id AND r.journal_id = e.journal_id WHERE r.id = ? ORDER BY e.line_number',
        [first],
      ),
    ).toEqual(ledgerBefore);
  });

  it('corrects nothing twice: recalculating the second run gives the same corrections, and a third run none', async () => {
    const before = (await lines(second))
      .filter((l) => l.correctsRunId)
      .map((l) => [l.placementId, l.component, l.amount]);
    await calculate(second);
    expect(
      (await lines(second)).filter((l) => l.correctsRunId).map((l) => [l.placementId, l.component, l.amount]),
    ).toEqual(before);
    expect(
      (await world.call('submitPaymentRun', { token: officer.token, params: { runId: second }, body: {} })).status,
    ).toBe(200);
    expect(
      (await world.call('approvePaymentRun', { token: world.a.adminToken, params: { runId: second }, body: {} }))
        .status,
    ).toBe(200);
    expect(
      (await world.call('finalisePaymentRun', { token: world.a.adminToken, params: { runId: second }, body: {} }))
        .status,
    ).toBe(200);
    const third = (await world.call('createPaymentRun', { token: world.a.adminToken, body: {} })).body.id;
    await calculate(third);
    expect((await lines(third)).filter((l) => l.correctsRunId)).toEqual([]);
  });
});
