import { runDueJobs } from '../../jobs/worker';
import { seedCareHistory, type HistoryIds } from '../../../../test/support/careHistory';
import { financeOfficer, runJobs } from '../../../../test/support/fixtures/payments';
import { ownerRows, startWorld, type World } from '../../../../test/support/harness';
import { calculationJob, PAYMENT_RUN_CALCULATION_JOB } from './calculation/job';

/**
 * A calculation works through the carer households a slice at a time, writing each slice before it
 * reads the next, so what it holds does not grow with the service. Sliced finely, a run must come
 * out as it does in one piece: the same lines in the same positions with the same explanations,
 * the same issues and totals. The run here has every kind of line: rate and extra lines for twelve
 * households, corrections to a finalised run (a back-dated overlay, a late-recorded end), claims
 * and adjustments.
 */

let world: World;
let ids: HistoryIds;
let officer: { id: string; token: string };
let runId: string;
const HOUSEHOLDS = 12;
const PLACEMENTS = 30;

async function calculate(slicedBy?: number): Promise<void> {
  expect((await world.call('calculatePaymentRun', { token: officer.token, params: { runId }, body: {} })).status).toBe(
    202,
  );
  if (slicedBy === undefined) await runJobs(world);
  else
    await runDueJobs(world.db, {
      handlers: { [PAYMENT_RUN_CALCULATION_JOB]: calculationJob({ householdsPerSlice: slicedBy }) },
      services: world.server.services,
      backoffMs: () => 0,
    });
  expect((await world.call('getPaymentRun', { token: world.a.adminToken, params: { runId } })).body).toMatchObject({
    status: 'calculated',
  });
}

/** Everything a calculation wrote, as a reader sees it (ids aside: each calculation has its own). */
async function written() {
  const run = (await world.call('getPaymentRun', { token: world.a.adminToken, params: { runId } })).body;
  const lines = await ownerRows(
    world.db,
    world.a.id,
    `SELECT l.position, l.household_id, l.placement_id, l.child_id, l.kind, l.component, l.period_start, l.period_end, l.nights, l.amount,
            l.corrects_run_id, l.corrects_line_ids, l.claim_id, l.adjustment_id, l.description, e.body AS explanation
       FROM payment_lines l
       LEFT JOIN payment_explanations e ON e.tenant_id = l.tenant_id AND e.run_id = l.run_id AND e.calculation = l.calculation AND e.key = l.explanation_key
      WHERE l.run_id = ? AND l.calculation = ? ORDER BY l.position`,
    [runId, run.calculation.number],
  );
  const issues = await ownerRows(
    world.db,
    world.a.id,
    'SELECT household_id, placement_id, child_id, severity, code, message FROM payment_run_issues WHERE run_id = ? AND calculation = ? ORDER BY severity, code, message',
    [runId, run.calculation.number],
  );
  const { inputs, ...totals } = (
    await ownerRows<{ inputs: Record<string, unknown> } & Record<string, unknown>>(
      world.db,
      world.a.id,
      'SELECT total, line_count, household_count, placement_count, issue_count, notice_count, correction_count, inputs FROM payment_runs WHERE id = ?',
      [runId],
    )
  )[0]!;
  const { readAt: _readAt, ...sameInputs } = inputs;
  return {
    lines,
    issues,
    totals,
    inputs: sameInputs,
    progress: { done: run.calculation.done, total: run.calculation.total },
  };
}

beforeAll(async () => {
  world = await startWorld();
  officer = await financeOfficer({ world, tenant: world.a });
  const regions = ['london', 'rest_of_england', 'south_east'];
  ids = await seedCareHistory(world.db, world.a.id, {
    households: Array.from({ length: HOUSEHOLDS }, (_, h) => ({
      key: `H${h}`,
      region: regions[h % 3]!,
      // Two households' carers change level part way through the second period.
      levels: [
        { from: '2024-01-01', level: `level_${(h % 3) + 1}` },
        ...(h % 5 === 0 ? [{ from: '2025-05-01', level: 'level_3' }] : []),
      ],
    })),
    children: Array.from({ length: PLACEMENTS }, (_, c) => ({
      key: `C${c}`,
      dateOfBirth: `${2008 + (c % 17)}-${String((c % 12) + 1).padStart(2, '0')}-${String(1 + (c % 27)).padStart(2, '0')}`,
    })),
    placements: Array.from({ length: PLACEMENTS }, (_, p) => ({
      key: `P${p}`,
      child: `C${p}`,
      household: `H${p % HOUSEHOLDS}`,
      start: p % 7 === 3 ? '2025-04-02' : '2025-01-01',
      end: p % 11 === 4 ? '2025-05-09' : null,
      placementType: ['U4', 'U6', 'U3'][p % 3]!,
    })),
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

  // The first period is paid and finalised.
  runId = (await world.call('createPaymentRun', { token: world.a.adminToken, body: { periodStart: '2025-03-24' } }))
    .body.id;
  await calculate();
  for (const [step, token] of [
    ['submitPaymentRun', officer.token],
    ['approvePaymentRun', world.a.adminToken],
    ['finalisePaymentRun', world.a.adminToken],
  ] as const) {
    expect((await world.call(step, { token, params: { runId }, body: {} })).status).toBe(200);
  }

  // Then London's 5-10 allowance is raised from 6 April by a back-dated overlay, and an end on 15 April is recorded late.
  const rates = await world.addUser(world.a, ['tenant_admin']);
  expect(
    (
      await world.call('createOverlay', {
        token: rates.token,
        body: {
          effectiveFrom: '2025-04-06',
          description: 'London 5-10 uplift',
          changes: { rates: { 'nma-allowance': { amounts: { '5-10': { london: 23000 } } } } },
        },
      })
    ).status,
  ).toBe(201);
  await ownerRows(
    world.db,
    world.a.id,
    "UPDATE placements SET end_date = '2025-04-15', status = 'ended', updated_at = now() WHERE tenant_id = ? AND id = ? RETURNING id",
    [world.a.id, ids.P7],
  );

  // Claims and adjustments waiting for the next run, on households here and there.
  const caseworker = await world.addUser(world.a, ['caseworker']);
  for (const household of ['H1', 'H8']) {
    const claim = await world.call('createClaim', {
      token: caseworker.token,
      params: { householdId: ids[household]! },
      body: {
        lines: [{ kind: 'mileage', date: '2025-04-25', from: 'Home', to: 'School', purpose: 'School run', miles: 14 }],
      },
    });
    expect(claim.status).toBe(201);
    expect(
      (await world.call('submitClaim', { token: caseworker.token, params: { claimId: claim.body.id }, body: {} }))
        .status,
    ).toBe(200);
    expect(
      (
        await world.call('approveClaim', {
          token: officer.token,
          params: { claimId: claim.body.id },
          body: { reasons: 'Checked' },
        })
      ).status,
    ).toBe(200);
  }
  for (const body of [
    {
      householdId: ids.H4!,
      placementId: ids.P4!,
      component: 'allowance',
      amount: 1250,
      reason: 'A night not recorded',
    },
    { householdId: ids.H9!, component: 'allowance', amount: -800, reason: 'Paid twice' },
  ]) {
    const proposed = await world.call('proposePaymentAdjustment', { token: world.a.adminToken, body });
    expect(proposed.status).toBe(201);
    expect(
      (
        await world.call('decidePaymentAdjustment', {
          token: officer.token,
          params: { adjustmentId: proposed.body.id },
          body: { decision: 'approve', reasons: 'Agreed' },
        })
      ).status,
    ).toBe(200);
  }
  runId = (await world.call('createPaymentRun', { token: world.a.adminToken, body: {} })).body.id;
});
afterAll(async () => {
  await world?.close();
});

it('writes a run sliced two households at a time exactly as in one piece, one statement per slice', async () => {
  await calculate();
  const whole = await written();
  expect(new Set(whole.lines.map((l) => l.kind))).toEqual(
    new Set(['rate', 'extra', 'arrears', 'recovery', 'claim', 'adjustment']),
  );
  expect(whole.progress).toEqual({ done: PLACEMENTS - 1, total: PLACEMENTS - 1 });

  // The owner counts, for each statement that writes this run's lines, its lines and their households.
  await world.db.raw('CREATE TABLE test_line_statements (lines integer NOT NULL, households integer NOT NULL)');
  await world.db
    .raw(`CREATE FUNCTION test_count_line_statement() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
    BEGIN
      INSERT INTO test_line_statements SELECT count(*), count(DISTINCT household_id) FROM new_rows;
      RETURN NULL;
    END $$`);
  await world.db.raw(
    'CREATE TRIGGER test_count_line_statement AFTER INSERT ON payment_lines REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION test_count_line_statement()',
  );
  try {
    await calculate(2);
  } finally {
    await world.db.raw('DROP TRIGGER test_count_line_statement ON payment_lines');
  }
  const statements = (await world.db.raw('SELECT lines, households FROM test_line_statements')).rows as Array<{
    lines: number;
    households: number;
  }>;
  expect(statements.reduce((sum, s) => sum + s.lines, 0)).toBe(whole.lines.length);
  expect(statements.length).toBeGreaterThanOrEqual(HOUSEHOLDS / 2);
  expect(Math.max(...statements.map((s) => s.households))).toBeLessThanOrEqual(2);

  const sliced = await written();
  expect(sliced).toEqual(whole);
});
