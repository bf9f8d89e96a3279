import { seedCareHistory, type HistoryIds } from '../../../../test/support/careHistory';
import { financeOfficer, runJobs } from '../../../../test/support/fixtures/payments';
import { startWorld, type World } from '../../../../test/support/harness';

/**
 * Facts as they were on each night, two weekly UK runs (7-13 and 14-20 April 2025), every line worked
 * by hand from the published 2025-26 national minimum allowance (GOV.UK "Help with the cost of
 * fostering", from 6 April 2025: London 5-10 £225, rest of England 5-10 £194 and 11-15 £220, London
 * 11-15 £257), the UK pack's illustrative fee (level 1 nothing, level 2 £100, level 3 £200 a week) and
 * its extras (one week of the child's allowance for a festival or a holiday week, on its day). Paid
 * per night, weekly ÷ 7, each line rounded once to the penny, half up.
 *
 * - Mover: a London carer at level 1 who moves to the rest of England on Thursday 10 April (recorded
 *   through the API, dated); the child (8) observes a festival on 12 April and has a holiday week
 *   from 14 April, the second run's first night.
 * - Promoted: a rest-of-England carer raised from level 2 to level 3 by terms of approval from
 *   11 April. After the first run is finalised, a move to London from 12 April and a festival on
 *   8 April are recorded late: the second run pays the differences as arrears.
 * - Newly approved: first terms (level 2) from 10 April; the child was placed on 1 April. Nights
 *   before the first terms earn the allowance and no fee.
 * - Claims: one dated in the first run's period, one dated before it, one dated in the second's.
 */

let world: World;
let ids: HistoryIds;
let officer: { id: string; token: string };
let caseworker: { id: string; token: string };
let firstRun: string;
let secondRun: string;
const claims: Record<string, string> = {};

/** (nights × weekly) ÷ 7, rounded half up, in pence. */
const perNights = (weekly: number, nights: number) => Math.floor((2 * weekly * nights + 7) / 14);

type Line = {
  id: string;
  placementId: string | null;
  householdId: string;
  kind: string;
  component: string;
  periodStart: string | null;
  periodEnd: string | null;
  nights: number | null;
  amount: number;
  claimId: string | null;
  correctsRunId: string | null;
  correctsLineIds?: string[] | null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  explanation: Record<string, any>;
};

async function lines(runId: string): Promise<Line[]> {
  return (
    await world.call('listPaymentRunLines', { token: world.a.adminToken, params: { runId }, query: { limit: 200 } })
  ).body.data as Line[];
}

async function calculate(runId: string): Promise<void> {
  expect((await world.call('calculatePaymentRun', { token: officer.token, params: { runId }, body: {} })).status).toBe(
    202,
  );
  await runJobs(world);
  const run = await world.call('getPaymentRun', { token: world.a.adminToken, params: { runId } });
  expect(run.body).toMatchObject({ status: 'calculated', issueCount: 0 });
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

const occasions: Record<string, string> = {};

async function occasion(child: string, kind: 'festival' | 'holiday', date: string, name: string): Promise<string> {
  const r = await world.call('createChildOccasion', {
    token: world.a.adminToken,
    params: { childId: ids[child]! },
    body: { kind, date, name },
  });
  expect(r.status).toBe(201);
  return r.body.id as string;
}

async function move(household: string, region: string, effectiveFrom: string): Promise<void> {
  expect(
    (
      await world.call('recordCarerHouseholdRegion', {
        token: world.a.adminToken,
        params: { householdId: ids[household]! },
        body: { region, effectiveFrom },
      })
    ).status,
  ).toBe(201);
}

async function approvedClaim(household: string, date: string, amount: number): Promise<string> {
  const created = await world.call('createClaim', {
    token: caseworker.token,
    params: { householdId: ids[household]! },
    body: { lines: [{ kind: 'expense', date, category: 'school_uniform', description: 'Uniform', amount }] },
  });
  expect(created.status).toBe(201);
  expect(
    (await world.call('submitClaim', { token: caseworker.token, params: { claimId: created.body.id }, body: {} }))
      .status,
  ).toBe(200);
  expect(
    (
      await world.call('approveClaim', {
        token: officer.token,
        params: { claimId: created.body.id },
        body: { reasons: 'Receipt seen' },
      })
    ).status,
  ).toBe(200);
  return created.body.id as string;
}

/** A run's lines as [placement or claim key, kind, component, from, to, nights, amount], in a stable order. */
function shape(all: Line[]): Array<[string, string, string, string | null, string | null, number | null, number]> {
  const key = Object.fromEntries([...Object.entries(ids), ...Object.entries(claims)].map(([k, id]) => [id, k]));
  return all
    .map((l): [string, string, string, string | null, string | null, number | null, number] => [
      key[l.placementId ?? l.claimId ?? '']!,
      l.kind,
      l.component,
      l.periodStart,
      l.periodEnd,
      l.nights,
      l.amount,
    ])
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

beforeAll(async () => {
  world = await startWorld();
  officer = await financeOfficer({ world, tenant: world.a });
  caseworker = await world.addUser(world.a, ['caseworker']);
  ids = await seedCareHistory(world.db, world.a.id, {
    households: [
      { key: 'Mover', region: 'london', levels: [{ from: '2024-01-01', level: 'level_1' }] },
      {
        key: 'Promoted',
        region: 'rest_of_england',
        levels: [
          { from: '2024-01-01', level: 'level_2' },
          { from: '2025-04-11', level: 'level_3' },
        ],
      },
      { key: 'NewlyApproved', region: 'rest_of_england', levels: [{ from: '2025-04-10', level: 'level_2' }] },
    ],
    children: [
      { key: 'C1', dateOfBirth: '2017-02-01' }, // 8: band 5-10
      { key: 'C2', dateOfBirth: '2013-01-15' }, // 12: band 11-15
      { key: 'C3', dateOfBirth: '2019-09-01' }, // 5: band 5-10
    ],
    placements: [
      { key: 'P1', child: 'C1', household: 'Mover', start: '2025-01-01', placementType: 'U4' },
      { key: 'P2', child: 'C2', household: 'Promoted', start: '2025-01-01', placementType: 'U4' },
      { key: 'P3', child: 'C3', household: 'NewlyApproved', start: '2025-04-01', placementType: 'U4' },
    ],
  });
  expect(
    (
      await world.call('createPaySchedule', {
        token: world.a.adminToken,
        body: {
          key: 'weekly',
          name: 'Weekly in arrears',
          frequency: 'weekly',
          timing: 'arrears',
          anchorDate: '2025-04-07',
        },
      })
    ).status,
  ).toBe(201);

  await move('Mover', 'rest_of_england', '2025-04-10');
  await occasion('C1', 'festival', '2025-04-12', 'Vaisakhi');
  occasions.holiday = await occasion('C1', 'holiday', '2025-04-14', 'Easter holiday week');
  claims.X = await approvedClaim('Promoted', '2025-04-10', 2500);
  claims.Z = await approvedClaim('Mover', '2025-03-01', 1000);
  claims.Y = await approvedClaim('NewlyApproved', '2025-04-16', 4000);

  firstRun = (await world.call('createPaymentRun', { token: world.a.adminToken, body: { periodStart: '2025-04-07' } }))
    .body.id;
  await calculate(firstRun);
});
afterAll(async () => {
  await world?.close();
});

describe('a run pays each night by the facts of that night', () => {
  it('pays the first week as worked by hand: the move, the level change, the first terms, the festival, the claims by date', async () => {
    expect(shape(await lines(firstRun))).toEqual(
      shape([
        // Mover: London 7-9 April, the rest of England from the 10th (level 1: no fee); the festival week at the new region's rate.
        {
          placementId: ids.P1!,
          kind: 'rate',
          component: 'allowance',
          periodStart: '2025-04-07',
          periodEnd: '2025-04-09',
          nights: 3,
          amount: perNights(22500, 3),
        },
        {
          placementId: ids.P1!,
          kind: 'rate',
          component: 'allowance',
          periodStart: '2025-04-10',
          periodEnd: '2025-04-13',
          nights: 4,
          amount: perNights(19400, 4),
        },
        {
          placementId: ids.P1!,
          kind: 'extra',
          component: 'festival_extra',
          periodStart: '2025-04-12',
          periodEnd: '2025-04-12',
          nights: null,
          amount: 19400,
        },
        // Promoted: level 2 to the 10th, level 3 from the 11th; the allowance splits with the fact.
        {
          placementId: ids.P2!,
          kind: 'rate',
          component: 'allowance',
          periodStart: '2025-04-07',
          periodEnd: '2025-04-10',
          nights: 4,
          amount: perNights(22000, 4),
        },
        {
          placementId: ids.P2!,
          kind: 'rate',
          component: 'fee',
          periodStart: '2025-04-07',
          periodEnd: '2025-04-10',
          nights: 4,
          amount: perNights(10000, 4),
        },
        {
          placementId: ids.P2!,
          kind: 'rate',
          component: 'allowance',
          periodStart: '2025-04-11',
          periodEnd: '2025-04-13',
          nights: 3,
          amount: perNights(22000, 3),
        },
        {
          placementId: ids.P2!,
          kind: 'rate',
          component: 'fee',
          periodStart: '2025-04-11',
          periodEnd: '2025-04-13',
          nights: 3,
          amount: perNights(20000, 3),
        },
        // Newly approved: no fee before its first terms (10 April), the allowance throughout.
        {
          placementId: ids.P3!,
          kind: 'rate',
          component: 'allowance',
          periodStart: '2025-04-07',
          periodEnd: '2025-04-09',
          nights: 3,
          amount: perNights(19400, 3),
        },
        {
          placementId: ids.P3!,
          kind: 'rate',
          component: 'allowance',
          periodStart: '2025-04-10',
          periodEnd: '2025-04-13',
          nights: 4,
          amount: perNights(19400, 4),
        },
        {
          placementId: ids.P3!,
          kind: 'rate',
          component: 'fee',
          periodStart: '2025-04-10',
          periodEnd: '2025-04-13',
          nights: 4,
          amount: perNights(10000, 4),
        },
        // Claims dated in the period (10 April) and before it (1 March); not the one dated 16 April.
        {
          placementId: null,
          claimId: claims.X!,
          kind: 'claim',
          component: 'expense',
          periodStart: '2025-04-10',
          periodEnd: '2025-04-10',
          nights: null,
          amount: 2500,
        },
        {
          placementId: null,
          claimId: claims.Z!,
          kind: 'claim',
          component: 'expense',
          periodStart: '2025-03-01',
          periodEnd: '2025-03-01',
          nights: null,
          amount: 1000,
        },
      ] as Line[]),
    );
    // The hand calculation's own figures, so a slip in perNights cannot hide.
    expect([
      perNights(22500, 3),
      perNights(19400, 4),
      perNights(22000, 4),
      perNights(10000, 4),
      perNights(22000, 3),
      perNights(20000, 3),
      perNights(19400, 3),
    ]).toEqual([9643, 11086, 12571, 5714, 9429, 8571, 8314]);
    const run = await world.call('getPaymentRun', { token: world.a.adminToken, params: { runId: firstRun } });
    expect(run.body.total).toBe(9643 + 11086 + 19400 + 12571 + 5714 + 9429 + 8571 + 8314 + 11086 + 5714 + 2500 + 1000);
  });

  it('explains each line with the facts as they were on its nights, and the festival with its occasion', async () => {
    const all = await lines(firstRun);
    const of = (placement: string, component: string, from: string) =>
      all.find((l) => l.placementId === ids[placement] && l.component === component && l.periodStart === from)!
        .explanation;
    expect(of('P1', 'allowance', '2025-04-07')).toMatchObject({
      table: 'nma-allowance',
      periodAmount: 22500,
      facts: { region: 'london', carerLevel: 'level_1', ageBand: '5-10' },
    });
    expect(of('P1', 'allowance', '2025-04-10')).toMatchObject({
      periodAmount: 19400,
      facts: { region: 'rest_of_england', carerLevel: 'level_1' },
    });
    expect(of('P2', 'fee', '2025-04-11')).toMatchObject({
      rule: 'fee_by_level',
      table: 'fee-by-level',
      periodAmount: 20000,
      facts: { carerLevel: 'level_3' },
    });
    expect(of('P3', 'allowance', '2025-04-07').facts).toMatchObject({ carerLevel: null });
    const festival = of('P1', 'festival_extra', '2025-04-12');
    expect(festival).toMatchObject({
      rule: 'festival_extra',
      table: 'nma-allowance',
      periodAmount: 19400,
      facts: { region: 'rest_of_england', ageBand: '5-10', occasion: 'festival' },
      occasion: { kind: 'festival', date: '2025-04-12', name: 'Vaisakhi' },
    });
    expect(festival.occasion.recordId).toEqual(expect.any(String));
    const claim = all.find((l) => l.claimId === claims.X)!.explanation;
    expect(claim).toMatchObject({ kind: 'claim', claimDate: '2025-04-10', paidThrough: '2025-04-13' });
  });

  it('pays the next week its own: the holiday week on its first day, the claim dated in it, and late changes to the first week as arrears', async () => {
    await finalise(firstRun);
    // Recorded after the first run was finalised, both reaching back into it.
    await move('Promoted', 'london', '2025-04-12');
    await occasion('C2', 'festival', '2025-04-08', 'Eid al-Fitr (as the family kept it)');
    secondRun = (await world.call('createPaymentRun', { token: world.a.adminToken, body: {} })).body.id;
    await calculate(secondRun);
    const all = await lines(secondRun);
    // Due now for Promoted's first week: 7-10 at £220 (level 2), the 11th at £220 (level 3), 12-13 in London at £257.
    const dueAllowance = perNights(22000, 4) + perNights(22000, 1) + perNights(25700, 2);
    expect(dueAllowance).toBe(12571 + 3143 + 7343);
    expect(shape(all)).toEqual(
      shape([
        {
          placementId: ids.P1!,
          kind: 'rate',
          component: 'allowance',
          periodStart: '2025-04-14',
          periodEnd: '2025-04-20',
          nights: 7,
          amount: 19400,
        },
        {
          placementId: ids.P1!,
          kind: 'extra',
          component: 'holiday_extra',
          periodStart: '2025-04-14',
          periodEnd: '2025-04-14',
          nights: null,
          amount: 19400,
        },
        {
          placementId: ids.P2!,
          kind: 'rate',
          component: 'allowance',
          periodStart: '2025-04-14',
          periodEnd: '2025-04-20',
          nights: 7,
          amount: 25700,
        },
        {
          placementId: ids.P2!,
          kind: 'rate',
          component: 'fee',
          periodStart: '2025-04-14',
          periodEnd: '2025-04-20',
          nights: 7,
          amount: 20000,
        },
        {
          placementId: ids.P2!,
          kind: 'arrears',
          component: 'allowance',
          periodStart: '2025-04-07',
          periodEnd: '2025-04-13',
          nights: null,
          amount: dueAllowance - (12571 + 9429),
        },
        {
          placementId: ids.P2!,
          kind: 'arrears',
          component: 'festival_extra',
          periodStart: '2025-04-07',
          periodEnd: '2025-04-13',
          nights: null,
          amount: 22000,
        },
        {
          placementId: ids.P3!,
          kind: 'rate',
          component: 'allowance',
          periodStart: '2025-04-14',
          periodEnd: '2025-04-20',
          nights: 7,
          amount: 19400,
        },
        {
          placementId: ids.P3!,
          kind: 'rate',
          component: 'fee',
          periodStart: '2025-04-14',
          periodEnd: '2025-04-20',
          nights: 7,
          amount: 10000,
        },
        {
          placementId: null,
          claimId: claims.Y!,
          kind: 'claim',
          component: 'expense',
          periodStart: '2025-04-16',
          periodEnd: '2025-04-16',
          nights: null,
          amount: 4000,
        },
      ] as Line[]),
    );
    const arrears = all.find((l) => l.kind === 'arrears' && l.component === 'festival_extra')!;
    expect(arrears.correctsRunId).toBe(firstRun);
    expect(arrears.explanation.due.segments[0].explanation).toMatchObject({
      occasion: { kind: 'festival', date: '2025-04-08' },
      facts: { region: 'rest_of_england', ageBand: '11-15' },
    });
  });

  it('recovers an extra paid for an occasion deleted afterwards, in the next run, pointing at the line it paid', async () => {
    await finalise(secondRun);
    const paid = (await lines(secondRun)).find((l) => l.component === 'holiday_extra')!;
    const deleted = await world.call('deleteChildOccasion', {
      token: world.a.adminToken,
      params: { childId: ids.C1!, occasionId: occasions.holiday! },
      headers: { 'if-match': '"1"' },
    });
    expect(deleted.status).toBe(200);
    const thirdRun = (await world.call('createPaymentRun', { token: world.a.adminToken, body: {} })).body.id as string;
    await calculate(thirdRun);
    const corrections = (await lines(thirdRun)).filter((l) => l.correctsRunId !== null);
    expect(corrections.map((l) => [l.placementId, l.kind, l.component, l.amount])).toEqual([
      [ids.P1, 'recovery', 'holiday_extra', -19400],
    ]);
    expect(corrections[0]).toMatchObject({ correctsRunId: secondRun, correctsLineIds: [paid.id] });
  });
});
