import { seedCareHistory, type HistoryIds } from '../../../../test/support/careHistory';
import { financeOfficer, runJobs } from '../../../../test/support/fixtures/payments';
import { startWorld, type World } from '../../../../test/support/harness';

/**
 * A UK run in which nothing is paid for two placements in care, for two reasons: one placed for
 * adoption (A3, which the pack's rules do not pay: a notice) and one written without a placement
 * type, as before the type was required (an error, which blocks the run until the type is set).
 * The run shows both on itself, counted by code with the first few in full, in the list too.
 */
let world: World;
let ids: HistoryIds;
let runId: string;

interface Summary {
  byCode: Array<{ severity: string; code: string; count: number }>;
  first: Array<{
    severity: string;
    code: string;
    householdId: string | null;
    placementId: string | null;
    childId: string | null;
    message: string;
  }>;
}

beforeAll(async () => {
  world = await startWorld();
  ids = await seedCareHistory(world.db, world.a.id, {
    households: [{ key: 'H', region: 'rest_of_england', levels: [{ from: '2024-01-01', level: 'level_1' }] }],
    children: [
      { key: 'Paid', dateOfBirth: '2015-05-01' },
      { key: 'Adopted', dateOfBirth: '2019-03-01' },
      { key: 'Untyped', dateOfBirth: '2012-09-01' },
    ],
    placements: [
      { key: 'PPaid', child: 'Paid', household: 'H', start: '2025-01-01', placementType: 'U4' },
      { key: 'PAdopted', child: 'Adopted', household: 'H', start: '2025-01-01', placementType: 'A3' },
      { key: 'PUntyped', child: 'Untyped', household: 'H', start: '2025-01-01', placementType: null },
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
          anchorDate: '2025-06-02',
        },
      })
    ).status,
  ).toBe(201);
  const run = await world.call('createPaymentRun', { token: world.a.adminToken, body: { periodStart: '2025-06-02' } });
  expect(run.status).toBe(201);
  runId = run.body.id;
});
afterAll(async () => {
  await world?.close();
});

async function calculate(): Promise<Record<string, unknown> & { issueSummary: Summary }> {
  const officer = await financeOfficer({ world, tenant: world.a });
  expect((await world.call('calculatePaymentRun', { token: officer.token, params: { runId }, body: {} })).status).toBe(
    202,
  );
  await runJobs(world);
  const run = await world.call('getPaymentRun', { token: world.a.adminToken, params: { runId } });
  expect(run.status).toBe(200);
  return run.body;
}

describe('a run that pays two placements in care nothing', () => {
  it('shows on itself what it paid nothing and why, by code and the first few in full, errors first', async () => {
    const run = await calculate();
    // One placement paid (placementCount counts those with a line), one error, one notice.
    expect(run).toMatchObject({ status: 'calculated', placementCount: 1, issueCount: 1, noticeCount: 1 });
    expect(run.issueSummary.byCode).toEqual([
      { severity: 'error', code: 'no_placement_type', count: 1 },
      { severity: 'notice', code: 'not_paid', count: 1 },
    ]);
    expect(run.issueSummary.first).toEqual([
      expect.objectContaining({
        severity: 'error',
        code: 'no_placement_type',
        householdId: ids.H!,
        placementId: ids.PUntyped!,
        childId: ids.Untyped!,
        message: expect.stringContaining(`PATCH /v1/placements/${ids.PUntyped!}`),
      }),
      expect.objectContaining({
        severity: 'notice',
        code: 'not_paid',
        householdId: ids.H!,
        placementId: ids.PAdopted!,
        childId: ids.Adopted!,
        message: expect.stringContaining('placed_for_adoption'),
      }),
    ]);
    // The list shows the same, so a run that paid someone nothing is seen without opening it.
    const list = await world.call('listPaymentRuns', { token: world.a.adminToken });
    expect(list.body.data.find((r: { id: string }) => r.id === runId).issueSummary).toEqual(run.issueSummary);
    // And the issues list is where the rest would be.
    const issues = await world.call('listPaymentRunIssues', { token: world.a.adminToken, params: { runId } });
    expect(issues.body.data).toEqual(run.issueSummary.first);
  });

  it('refuses the run while a placement in care has no type, then pays it once the type is set', async () => {
    const officer = await financeOfficer({ world, tenant: world.a });
    const submit = await world.call('submitPaymentRun', { token: officer.token, params: { runId }, body: {} });
    expect(submit.status).toBe(409);
    const typed = await world.call('updatePlacement', {
      token: world.a.adminToken,
      params: { placementId: ids.PUntyped! },
      body: { placementType: 'U6' },
      headers: { 'if-match': '"1"' },
    });
    expect(typed.status).toBe(200);
    const again = await calculate();
    expect(again).toMatchObject({ issueCount: 0, noticeCount: 1 });
    expect(again.issueSummary.byCode).toEqual([{ severity: 'notice', code: 'not_paid', count: 1 }]);
    const lines = await world.call('listPaymentRunLines', {
      token: world.a.adminToken,
      params: { runId },
      query: { placementId: ids.PUntyped! },
    });
    expect(lines.body.data.length).toBeGreaterThan(0);
    expect((await world.call('submitPaymentRun', { token: officer.token, params: { runId }, body: {} })).status).toBe(
      200,
    );
  });

  it('withholds a restricted child from those not named on it, on the run as on its issues', async () => {
    const child = await world.call('getChild', { token: world.a.adminToken, params: { childId: ids.Adopted! } });
    const restricted = await world.call('setChildRestriction', {
      token: world.a.adminToken,
      params: { childId: ids.Adopted! },
      body: { restricted: true, allowedUserIds: [world.a.adminId] },
      headers: { 'if-match': `"${child.body.version}"` },
    });
    expect(restricted.status).toBe(200);
    const officer = await financeOfficer({ world, tenant: world.a });
    const seen = await world.call('getPaymentRun', { token: officer.token, params: { runId } });
    expect(seen.body.issueSummary.first).toEqual([
      expect.objectContaining({ code: 'not_paid', householdId: ids.H!, placementId: null, childId: null }),
    ]);
    const issues = await world.call('listPaymentRunIssues', { token: officer.token, params: { runId } });
    expect(issues.body.data).toEqual(seen.body.issueSummary.first);
    const named = await world.call('getPaymentRun', { token: world.a.adminToken, params: { runId } });
    expect(named.body.issueSummary.first).toEqual([
      expect.objectContaining({ placementId: ids.PAdopted!, childId: ids.Adopted! }),
    ]);
  });
});
