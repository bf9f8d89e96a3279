import { ownerRows, startWorld, type TenantFixture, type World } from '../../../../test/support/harness';
import { todayIn } from '../../time';
import { daysFromToday, makeApprovedHousehold, makeHousehold, step } from '../../../../test/support/fixtures/carers';
import { claimPaymentsDue, markClaimsPaid } from './service';

let world: World;
let submitterA: { id: string; token: string };
let financeA: { id: string; token: string };
beforeAll(async () => {
  world = await startWorld();
  submitterA = await world.addUser(world.a, ['caseworker']);
  financeA = await world.addUser(world.a, ['finance_officer']);
});
afterAll(async () => {
  await world?.close();
});

const journey = (date: string, miles: number, extra: Record<string, unknown> = {}) => ({
  kind: 'mileage',
  date,
  from: 'Home',
  to: 'Contact centre',
  purpose: 'Family time',
  miles,
  ...extra,
});

/** A household approved as carers from 1 January 2025, before every line these tests date. */
async function household(tenant: TenantFixture = world.a): Promise<string> {
  return (await makeApprovedHousehold({ world, tenant }, { approvedOn: '2025-01-01' })).id;
}

async function create(
  householdId: string,
  lines: unknown[],
  token = submitterA.token,
  extra: Record<string, unknown> = {},
) {
  const r = await world.call('createClaim', { token, params: { householdId }, body: { lines, ...extra } });
  expect(r.status).toBe(201);
  return r.body;
}

async function submit(claimId: string, token = submitterA.token) {
  const r = await world.call('submitClaim', { token, params: { claimId }, body: {} });
  expect(r.status).toBe(200);
  return r.body;
}

async function approve(claimId: string, token = financeA.token) {
  const r = await world.call('approveClaim', {
    token,
    params: { claimId },
    body: { reasons: 'Journeys checked against the diary.' },
  });
  expect(r.status).toBe(200);
  return r.body;
}

async function approvedClaim(householdId: string, lines: unknown[]) {
  const claim = await create(householdId, lines);
  await submit(claim.id);
  return approve(claim.id);
}

describe('mileage claims (UK, HMRC 45p to 10,000 miles in the tax year, 25p after)', () => {
  it('splits a journey that crosses 10,000 miles between 45p and 25p, and explains it', async () => {
    const h = await household();
    const first = await approvedClaim(h, [journey('2025-05-01', 9900)]);
    expect(first.total).toBe(9900 * 45); // £4,455.00
    expect(first.status).toBe('approved');

    const second = await approvedClaim(h, [journey('2025-06-01', 250)]);
    // 100 miles left under the threshold at 45p, the other 150 at 25p: £45.00 + £37.50 = £82.50.
    expect(second.total).toBe(100 * 45 + 150 * 25);
    expect(second.total).toBe(8250);
    const [line] = second.lines;
    expect(line).toMatchObject({ kind: 'mileage', miles: 250, amount: 8250 });
    expect(line.explanation).toMatchObject({
      table: 'hmrc-mileage',
      layer: 'pack:uk',
      effectiveFrom: '2011-04-06',
      thresholdPeriodStart: '2025-04-06',
      milesBefore: 9900,
      bands: [
        { miles: 100, amountPerMile: 45, amount: 4500 },
        { miles: 150, amountPerMile: 25, amount: 3750 },
      ],
    });
    expect(line.explanation.source).toMatch(/HMRC/);

    // Still the same tax year on 5 April: all at 25p. From 6 April the count starts again at 45p.
    const late = await approvedClaim(h, [journey('2026-04-05', 10)]);
    expect(late.total).toBe(10 * 25);
    const reset = await approvedClaim(h, [journey('2026-04-06', 100)]);
    expect(reset.total).toBe(100 * 45);
    expect(reset.lines[0].explanation).toMatchObject({ thresholdPeriodStart: '2026-04-06', milesBefore: 0 });

    const [row] = await ownerRows<{ tenths_of_mile: number; amount: number }>(
      world.db,
      world.a.id,
      'SELECT tenths_of_mile, amount FROM claim_lines WHERE claim_id = ?',
      [second.id],
    );
    expect(row).toEqual({ tenths_of_mile: 2500, amount: 8250 });
  });

  it('prices again on approval: a claim approved later is banded after the one approved first', async () => {
    const h = await household();
    const big = await create(h, [journey('2025-07-01', 9900)]);
    const small = await create(h, [journey('2025-07-02', 250)]);
    await submit(big.id);
    const smallSubmitted = await submit(small.id);
    // Submitted claims are not counted: the estimate is all at 45p until the big one is approved.
    expect(smallSubmitted.total).toBe(250 * 45);
    await approve(big.id);
    const smallApproved = await approve(small.id);
    expect(smallApproved.total).toBe(100 * 45 + 150 * 25);
    const bigAgain = await world.call('getClaim', { token: financeA.token, params: { claimId: big.id } });
    expect(bigAgain.body.total).toBe(9900 * 45);
  });

  it('two approvals at once for one household never both pay 45p past the threshold', async () => {
    const h = await household();
    const big = await create(h, [journey('2025-09-01', 9900)]);
    const small = await create(h, [journey('2025-09-02', 250)]);
    await submit(big.id);
    await submit(small.id);
    const [a, b] = await Promise.all([approve(big.id), approve(small.id)]);
    // Whichever is approved first, 10,000 miles are paid at 45p and 150 at 25p between them.
    expect(a.total + b.total).toBe(10000 * 45 + 150 * 25);
  });

  it('bands within one claim in date order, and keeps tenths of a mile', async () => {
    const h = await household();
    await approvedClaim(h, [journey('2025-08-01', 9999.5)]);
    // Lines given out of order: the 1 August journey counts first (0.5 mile at 45p, 1.5 at 25p), then 2 August at 25p.
    const claim = await create(h, [journey('2025-08-02', 4), journey('2025-08-01', 2)]);
    expect(claim.lines[1].explanation.bands).toEqual([
      { miles: 0.5, amountPerMile: 45, amount: 23 },
      { miles: 1.5, amountPerMile: 25, amount: 38 },
    ]);
    expect(claim.lines[1].amount).toBe(Math.round(0.5 * 45 + 1.5 * 25)); // 22.5 + 37.5 = 60
    expect(claim.lines[0].amount).toBe(4 * 25);
    expect(claim.total).toBe(60 + 100);
  });
});

describe('California (USA pack, IRS rate as dated data)', () => {
  it('pays the IRS rate in effect on the journey date, in one band', async () => {
    const admin = await world.addUser(world.b, ['caseworker']);
    const h = await household(world.b);
    const r = await world.call('createClaim', {
      token: admin.token,
      params: { householdId: h },
      body: { lines: [journey('2025-03-01', 12.5), journey('2026-01-15', 10)] },
    });
    expect(r.status).toBe(201);
    expect(r.body.currency).toBe('USD');
    expect(r.body.lines[0].amount).toBe(Math.round(12.5 * 70)); // 875 cents, IRS Notice 2025-5
    expect(r.body.lines[0].explanation).toMatchObject({
      table: 'irs-mileage',
      effectiveFrom: '2025-01-01',
      bands: [{ miles: 12.5, amountPerMile: 70, amount: 875 }],
    });
    expect(r.body.lines[1].amount).toBe(725); // 10 × 72.5 cents, IRS Notice 2026-10
    expect(r.body.lines[1].explanation.source).toMatch(/2026-10/);
    expect(r.body.total).toBe(875 + 725);
  });
});

describe('expenses, decisions and withdrawal', () => {
  it('records an expense with evidence, then a rejection with reasons, in history and audit', async () => {
    const h = await household();
    const claim = await create(
      h,
      [{ kind: 'expense', date: daysFromToday(-3), category: 'school_trip', description: 'Museum trip', amount: 1250 }],
      submitterA.token,
      {
        evidence: [{ key: 'receipt', title: 'Museum receipt', receivedOn: daysFromToday(-2) }],
      },
    );
    expect(claim.total).toBe(1250);
    expect(claim.evidence).toMatchObject([{ key: 'receipt', title: 'Museum receipt' }]);
    await submit(claim.id);
    const rejected = await world.call('rejectClaim', {
      token: financeA.token,
      params: { claimId: claim.id },
      body: { reasons: 'Paid from the school budget.' },
    });
    expect(rejected.status).toBe(200);
    expect(rejected.body).toMatchObject({
      status: 'rejected',
      decidedBy: financeA.id,
      decisionReasons: 'Paid from the school budget.',
    });
    expect(rejected.body.history.map((e: { toStatus: string }) => e.toStatus)).toEqual([
      'draft',
      'submitted',
      'rejected',
    ]);
    expect(rejected.body.history[2]).toMatchObject({ actorId: financeA.id, reasons: 'Paid from the school budget.' });
    const audit = await ownerRows<{ action: string }>(
      world.db,
      world.a.id,
      "SELECT action FROM audit_events WHERE (entity_type = 'claim' AND entity_id = ?) OR (entity_type = 'carer_household' AND entity_id = ? AND after ->> 'id' = ?)",
      [claim.id, h, claim.id],
    );
    expect(audit.map((a) => a.action).sort()).toEqual(['claim.created', 'claim.rejected', 'claim.submitted']);
    const again = await world.call('approveClaim', { token: financeA.token, params: { claimId: claim.id }, body: {} });
    expect(again.status).toBe(409);
    const noReasons = await world.call('rejectClaim', {
      token: financeA.token,
      params: { claimId: claim.id },
      body: {},
    });
    expect(noReasons.status).toBe(400);
  });

  it('refuses the submitter as approver (separation of duties)', async () => {
    const h = await household();
    const claim = await create(h, [journey(daysFromToday(-1), 3)], world.a.adminToken);
    await submit(claim.id, world.a.adminToken);
    const own = await world.call('approveClaim', {
      token: world.a.adminToken,
      params: { claimId: claim.id },
      body: {},
    });
    expect(own.status).toBe(403);
    expect(own.body.detail).toMatch(/separation of duties/);
    const ownReject = await world.call('rejectClaim', {
      token: world.a.adminToken,
      params: { claimId: claim.id },
      body: { reasons: 'x' },
    });
    expect(ownReject.status).toBe(403);
    const [row] = await ownerRows<{ status: string }>(world.db, world.a.id, 'SELECT status FROM claims WHERE id = ?', [
      claim.id,
    ]);
    expect(row!.status).toBe('submitted');
    // A caseworker cannot approve at all.
    const noPermission = await world.call('approveClaim', {
      token: submitterA.token,
      params: { claimId: claim.id },
      body: {},
    });
    expect(noPermission.status).toBe(403);
    const approved = await approve(claim.id);
    expect(approved.decidedBy).toBe(financeA.id);
  });

  it('withdraws a draft or submitted claim, and then nothing more', async () => {
    const h = await household();
    const draft = await create(h, [journey(daysFromToday(-1), 3)]);
    const w1 = await world.call('withdrawClaim', {
      token: submitterA.token,
      params: { claimId: draft.id },
      body: { reasons: 'Entered twice.' },
    });
    expect(w1.status).toBe(200);
    expect(w1.body.status).toBe('withdrawn');
    expect(
      (await world.call('submitClaim', { token: submitterA.token, params: { claimId: draft.id }, body: {} })).status,
    ).toBe(409);
    const submitted = await create(h, [journey(daysFromToday(-1), 3)]);
    await submit(submitted.id);
    expect(
      (await world.call('withdrawClaim', { token: submitterA.token, params: { claimId: submitted.id }, body: {} })).body
        .status,
    ).toBe('withdrawn');
    const approved = await approvedClaim(h, [journey(daysFromToday(-1), 3)]);
    expect(
      (await world.call('withdrawClaim', { token: submitterA.token, params: { claimId: approved.id }, body: {} }))
        .status,
    ).toBe(409);
  });

  it('changes only a draft, with If-Match, pricing the new lines', async () => {
    const h = await household();
    const draft = await create(h, [journey(daysFromToday(-1), 3)]);
    const changed = await world.call('updateClaim', {
      token: submitterA.token,
      params: { claimId: draft.id },
      headers: { 'If-Match': `"${draft.version}"` },
      body: { lines: [journey(daysFromToday(-1), 10)] },
    });
    expect(changed.status).toBe(200);
    expect(changed.body.total).toBe(10 * 45);
    expect(changed.body.lines).toHaveLength(1);
    const stale = await world.call('updateClaim', {
      token: submitterA.token,
      params: { claimId: draft.id },
      headers: { 'If-Match': `"${draft.version}"` },
      body: { description: 'x' },
    });
    expect(stale.status).toBe(412);
  });
});

describe('bad input is a 422 naming the field, and writes nothing', () => {
  it.each([
    ['negative miles', () => [journey(daysFromToday(-1), -5)], '/body/lines/0/miles'],
    ['a journey in the future', () => [journey(daysFromToday(3), 5)], '/body/lines/0/date'],
    ['more than a tenth of a mile', () => [journey(daysFromToday(-1), 1.25)], '/body/lines/0/miles'],
    [
      'an expense of nothing',
      () => [{ kind: 'expense', date: daysFromToday(-1), category: 'x', description: 'y', amount: 0 }],
      '/body/lines/0/amount',
    ],
    [
      'an expense without a category',
      () => [{ kind: 'expense', date: daysFromToday(-1), description: 'y', amount: 10 }],
      '/body/lines/0/category',
    ],
    [
      'miles on an expense line',
      () => [{ kind: 'expense', date: daysFromToday(-1), category: 'x', description: 'y', amount: 10, miles: 3 }],
      '/body/lines/0/miles',
    ],
    ['a journey before the table has a rate', () => [journey('2010-01-01', 5)], '/body/lines/0/date'],
    [
      'an unknown child',
      () => [journey(daysFromToday(-1), 5, { childId: '018f0000-0000-7000-8000-000000000000' })],
      '/body/lines/0/childId',
    ],
  ])('%s', async (_what, lines, pointer) => {
    const h = await household();
    const before = await ownerRows(world.db, world.a.id, 'SELECT count(*)::int AS n FROM claims');
    const r = await world.call('createClaim', {
      token: submitterA.token,
      params: { householdId: h },
      body: { lines: lines() },
    });
    expect(r.status).toBe(422);
    expect(r.body.errors.map((e: { pointer: string }) => e.pointer)).toContain(pointer);
    expect(await ownerRows(world.db, world.a.id, 'SELECT count(*)::int AS n FROM claims')).toEqual(before);
  });

  it("an unknown household, or another tenant's, is not found", async () => {
    const other = (await makeHousehold({ world, tenant: world.b })).id;
    for (const householdId of ['018f0000-0000-7000-8000-000000000000', other]) {
      const before = await ownerRows(world.db, world.a.id, 'SELECT count(*)::int AS n FROM claims');
      const r = await world.call('createClaim', {
        token: submitterA.token,
        params: { householdId },
        body: { lines: [journey(daysFromToday(-1), 5)] },
      });
      expect(r.status).toBe(404);
      expect(r.body.detail).toMatch(/carer household/);
      expect(await ownerRows(world.db, world.a.id, 'SELECT count(*)::int AS n FROM claims')).toEqual(before);
    }
  });
});

describe('only an approved household claims, for days it was approved', () => {
  const count = async () => ownerRows(world.db, world.a.id, 'SELECT count(*)::int AS n FROM claims');

  it('refuses a claim from a household that was never approved, naming the household, and writes nothing', async () => {
    const applicant = await makeHousehold({ world, tenant: world.a });
    const before = await count();
    const r = await world.call('createClaim', {
      token: submitterA.token,
      params: { householdId: applicant.id },
      body: { lines: [journey(daysFromToday(-1), 5)] },
    });
    expect(r.status).toBe(422);
    expect(r.body.type).toBe('https://hearth.dev/problems/unprocessable');
    expect(r.body.errors).toEqual([
      {
        pointer: '/path/householdId',
        message: expect.stringMatching(/has never been approved as carers \(its approval is at "enquiry"\)/),
      },
    ]);
    expect(await count()).toEqual(before);
  });

  it('refuses each line dated before the approval, naming its date', async () => {
    const h = await household();
    const r = await world.call('createClaim', {
      token: submitterA.token,
      params: { householdId: h },
      body: { lines: [journey('2025-02-01', 5), journey('2024-12-31', 5)] },
    });
    expect(r.status).toBe(422);
    expect(r.body.errors).toEqual([
      {
        pointer: '/body/lines/1/date',
        message: 'is dated 2024-12-31, a day the household was not approved as carers (approved from 2025-01-01)',
      },
    ]);
  });

  it('refuses to submit or approve a claim for a day after the approval ended, and takes one for days before', async () => {
    const h = await household();
    const today = todayIn('Europe/London');
    const forToday = await create(h, [journey(today, 5)]);
    const whileApproved = await create(h, [journey('2025-06-01', 5)]);
    const submittedForToday = await create(h, [journey(today, 7)]);
    await submit(submittedForToday.id);
    // The approval is terminated today: today is no longer a day the household is approved.
    await step({ world, tenant: world.a }, h, 'deregister', {
      decision: { key: 'termination_decision', outcome: 'terminate', reasons: 'Standards of care not met.' },
    });
    const refused = await world.call('submitClaim', {
      token: submitterA.token,
      params: { claimId: forToday.id },
      body: {},
    });
    expect(refused.status).toBe(422);
    expect(refused.body).toMatchObject({
      code: 'household_not_approved',
      errors: [
        {
          pointer: '/path/claimId',
          message: `line 1 is dated ${today}, a day the household was not approved as carers (approved from 2025-01-01 until its approval ended on ${today})`,
        },
      ],
    });
    const notApproved = await world.call('approveClaim', {
      token: financeA.token,
      params: { claimId: submittedForToday.id },
      body: {},
    });
    expect(notApproved.status).toBe(422);
    expect(notApproved.body.code).toBe('household_not_approved');
    const [row] = await ownerRows<{ status: string }>(world.db, world.a.id, 'SELECT status FROM claims WHERE id = ?', [
      submittedForToday.id,
    ]);
    expect(row!.status).toBe('submitted');
    // Costs from while the household was approved are still paid.
    expect((await submit(whileApproved.id)).status).toBe('submitted');
    expect((await approve(whileApproved.id)).status).toBe('approved');
    const late = await world.call('createClaim', {
      token: submitterA.token,
      params: { householdId: h },
      body: { lines: [journey(today, 5)] },
    });
    expect(late.status).toBe(422);
    expect(late.body.errors.map((e: { pointer: string }) => e.pointer)).toEqual(['/body/lines/0/date']);
  });
});

describe('lists, the outstanding report, and payment', () => {
  it('lists by household and status, reports outstanding totals, and pays approved claims once', async () => {
    const h = await household();
    const submitted = await create(h, [journey(daysFromToday(-2), 10)]);
    await submit(submitted.id);
    const approved = await approvedClaim(h, [journey(daysFromToday(-2), 20)]);
    await create(h, [journey(daysFromToday(-2), 30)]); // a draft: not outstanding

    const list = await world.call('listClaims', { token: financeA.token, query: { householdId: h, limit: 2 } });
    expect(list.status).toBe(200);
    expect(list.body.data).toHaveLength(2);
    const rest = await world.call('listClaims', {
      token: financeA.token,
      query: { householdId: h, limit: 2, cursor: list.body.nextCursor },
    });
    expect(rest.body.data).toHaveLength(1);
    expect(rest.body.nextCursor).toBeNull();
    const onlyApproved = await world.call('listClaims', {
      token: financeA.token,
      query: { householdId: h, status: 'approved', limit: 10 },
    });
    expect(onlyApproved.body.data.map((c: { id: string }) => c.id)).toEqual([approved.id]);
    const future = await world.call('listClaims', {
      token: financeA.token,
      query: { householdId: h, from: daysFromToday(2), limit: 10 },
    });
    expect(future.body.data).toEqual([]);

    const report = await world.call('getClaimsOutstanding', { token: financeA.token });
    expect(report.status).toBe(200);
    expect(report.body.currency).toBe('GBP');
    expect(report.body.households.find((x: { householdId: string }) => x.householdId === h)).toMatchObject({
      submittedCount: 1,
      submittedTotal: 10 * 45,
      approvedUnpaidCount: 1,
      approvedUnpaidTotal: 20 * 45,
      total: 30 * 45,
    });

    const runId = '018f0000-0000-7000-8000-0000000000aa';
    await world.db.transaction(async (trx) => {
      await trx.raw(`SELECT set_config('app.tenant_id', ?, true)`, [world.a.id]);
      const ready = await claimPaymentsDue(trx, world.a.id);
      expect(ready.map((c) => c.claimId)).toContain(approved.id);
      expect(ready.map((c) => c.claimId)).not.toContain(submitted.id);
      expect(ready.filter((c) => c.claimId === approved.id)).toEqual([
        expect.objectContaining({ householdId: h, kind: 'mileage', amount: 20 * 45, lines: 1 }),
      ]);
      await expect(markClaimsPaid(trx, world.a.id, [submitted.id], runId, daysFromToday(0))).rejects.toThrow(
        /not approved-and-unpaid/,
      );
      expect(await markClaimsPaid(trx, world.a.id, [approved.id], runId, daysFromToday(0))).toBe(1);
      expect((await claimPaymentsDue(trx, world.a.id)).map((c) => c.claimId)).not.toContain(approved.id);
      await expect(markClaimsPaid(trx, world.a.id, [approved.id], runId, daysFromToday(0))).rejects.toThrow(
        /not approved-and-unpaid/,
      );
    });

    const paid = await world.call('getClaim', { token: financeA.token, params: { claimId: approved.id } });
    expect(paid.body).toMatchObject({ status: 'paid', paidInRunId: runId, paidOn: daysFromToday(0) });
    expect(paid.body.history.at(-1)).toMatchObject({ fromStatus: 'approved', toStatus: 'paid' });
    for (const [op, body] of [
      ['withdrawClaim', {}],
      ['approveClaim', {}],
      ['rejectClaim', { reasons: 'late' }],
      ['submitClaim', {}],
    ] as const) {
      expect((await world.call(op, { token: world.a.adminToken, params: { claimId: approved.id }, body })).status).toBe(
        409,
      );
    }
    const patch = await world.call('updateClaim', {
      token: submitterA.token,
      params: { claimId: approved.id },
      headers: { 'If-Match': `"${paid.body.version}"` },
      body: { description: 'x' },
    });
    expect(patch.status).toBe(409);
    const after = await world.call('getClaimsOutstanding', { token: financeA.token });
    expect(after.body.households.find((x: { householdId: string }) => x.householdId === h)).toMatchObject({
      approvedUnpaidCount: 0,
      submittedCount: 1,
    });
  });
});

describe('expense categories, when the tenant has a list of them', () => {
  it('refuses a code not on the list, naming the field', async () => {
    // No pack defines the list yet; a tenant that has one gets its codes checked (set up as the owner).
    await world.db.transaction(async (trx) => {
      await trx.raw(`SELECT set_config('app.tenant_id', ?, true)`, [world.a.id]);
      await trx('lookup_lists').insert({ tenant_id: world.a.id, key: 'expense_category', name: 'Expense categories' });
      await trx('lookup_values').insert({
        tenant_id: world.a.id,
        list_key: 'expense_category',
        code: 'school_trip',
        label: 'School trip',
        source: 'tenant',
      });
    });
    const h = await household();
    const expense = (category: string) => ({
      kind: 'expense',
      date: daysFromToday(-1),
      category,
      description: 'Trip',
      amount: 500,
    });
    const bad = await world.call('createClaim', {
      token: submitterA.token,
      params: { householdId: h },
      body: { lines: [expense('school_trip'), expense('spa_day')] },
    });
    expect(bad.status).toBe(422);
    expect(bad.body.errors.map((e: { pointer: string }) => e.pointer)).toEqual(['/body/lines/1/category']);
    const good = await world.call('createClaim', {
      token: submitterA.token,
      params: { householdId: h },
      body: { lines: [expense('school_trip')] },
    });
    expect(good.status).toBe(201);
  });
});
