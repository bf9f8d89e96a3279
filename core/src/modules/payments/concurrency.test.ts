import { appendAuditEvent, systemActor } from '../audit/service';
import { claimNext, getJob } from '../../jobs/queue';
import type { JobContext } from '../../jobs/worker';
import { inTenantTransaction } from '../../db/tenantTransaction';
import { runDueJobs } from '../../jobs/worker';
import { jobHandlers } from '../../jobs/handlers';
import { seedCareHistory } from '../../../../test/support/careHistory';
import { financeOfficer, runJobs } from '../../../../test/support/fixtures/payments';
import { ownerRows, startWorld, type World } from '../../../../test/support/harness';
import { paymentRunCalculationJob, PAYMENT_RUN_CALCULATION_JOB } from './calculation/job';

/**
 * What must hold when many hands or a failure meet one run: fifty approvals give one, fifty
 * finalisations one journal; a calculation killed part way (its database connection cut) leaves
 * nothing, and its retry writes each line once; the same calculation run twice writes it once.
 */

let world: World;
let officer: { id: string; token: string };
const PLACEMENTS = 120;

beforeAll(async () => {
  world = await startWorld();
  officer = await financeOfficer({ world, tenant: world.a });
  await seedCareHistory(world.db, world.a.id, {
    households: Array.from({ length: 40 }, (_, h) => ({
      key: `H${h}`,
      region: h % 3 === 0 ? 'london' : 'rest_of_england',
      levels: [{ from: '2024-01-01', level: `level_${(h % 3) + 1}` }],
    })),
    children: Array.from({ length: PLACEMENTS }, (_, c) => ({
      key: `C${c}`,
      dateOfBirth: `${2008 + (c % 17)}-${String((c % 12) + 1).padStart(2, '0')}-15`,
    })),
    placements: Array.from({ length: PLACEMENTS }, (_, p) => ({
      key: `P${p}`,
      child: `C${p}`,
      household: `H${p % 40}`,
      start: '2025-01-01',
      placementType: 'U4',
    })),
  });
  expect(
    (
      await world.call('createPaySchedule', {
        token: world.a.adminToken,
        body: { key: 'weekly', name: 'Weekly', frequency: 'weekly', timing: 'arrears', anchorDate: '2025-05-05' },
      })
    ).status,
  ).toBe(201);
});
afterAll(async () => {
  await world?.close();
});

let runs = 0;
async function newRun(): Promise<string> {
  // The first run is May 2025's first week (the children are 0 to 17 then); the rest follow on.
  const r = await world.call('createPaymentRun', {
    token: world.a.adminToken,
    body: runs++ === 0 ? { periodStart: '2025-05-05' } : {},
  });
  expect(r.status).toBe(201);
  return r.body.id;
}

async function lineStats(runId: string) {
  return (
    await ownerRows<{ n: number; distinct_positions: number; total: number; calculations: number }>(
      world.db,
      world.a.id,
      'SELECT count(*)::int AS n, count(DISTINCT position)::int AS distinct_positions, coalesce(sum(amount), 0)::bigint AS total, count(DISTINCT calculation)::int AS calculations FROM payment_lines WHERE run_id = ?',
      [runId],
    )
  )[0]!;
}

describe('many hands on one run', () => {
  it('gives one approval among fifty concurrent calls, and one journal among fifty finalisations', async () => {
    const runId = await newRun();
    expect(
      (await world.call('calculatePaymentRun', { token: officer.token, params: { runId }, body: {} })).status,
    ).toBe(202);
    await runJobs(world);
    const submitted = await world.call('submitPaymentRun', { token: officer.token, params: { runId }, body: {} });
    expect({
      status: submitted.status,
      issues:
        submitted.status === 200
          ? []
          : (
              await world.call('listPaymentRunIssues', { token: world.a.adminToken, params: { runId } })
            ).body.data.slice(0, 3),
      body: submitted.status === 200 ? null : submitted.body,
    }).toEqual({ status: 200, issues: [], body: null });

    const approvals = await Promise.all(
      Array.from({ length: 50 }, () =>
        world.call('approvePaymentRun', { token: world.a.adminToken, params: { runId }, body: {} }),
      ),
    );
    expect(approvals.map((r) => r.status).sort()).toEqual([200, ...Array<number>(49).fill(409)]);
    const steps = await ownerRows<{ n: number }>(
      world.db,
      world.a.id,
      "SELECT count(*)::int AS n FROM payment_run_steps WHERE run_id = ? AND action = 'approve'",
      [runId],
    );
    expect(steps[0]!.n).toBe(1);

    const finals = await Promise.all(
      Array.from({ length: 50 }, () =>
        world.call('finalisePaymentRun', { token: world.a.adminToken, params: { runId }, body: {} }),
      ),
    );
    expect(finals.map((r) => r.status).sort()).toEqual([200, ...Array<number>(49).fill(409)]);
    const journals = await ownerRows<{ n: number; entries: number }>(
      world.db,
      world.a.id,
      "SELECT count(DISTINCT j.id)::int AS n, count(e.id)::int AS entries FROM ledger_journals j JOIN ledger_entries e ON e.tenant_id = j.tenant_id AND e.journal_id = j.id WHERE j.source_type = 'payment_run' AND j.source_id = ?",
      [runId],
    );
    const stats = await lineStats(runId);
    expect(journals[0]!.n).toBe(1);
    // One debit per line, one credit per household.
    expect(journals[0]!.entries).toBe(stats.n + 40);
  });

  it('refuses the calculator the approval, whatever the workflow allows', async () => {
    const runId = await newRun();
    await world.call('calculatePaymentRun', { token: world.a.adminToken, params: { runId }, body: {} });
    await runJobs(world);
    await world.call('submitPaymentRun', { token: world.a.adminToken, params: { runId }, body: {} });
    const own = await world.call('approvePaymentRun', { token: world.a.adminToken, params: { runId }, body: {} });
    expect(own.status).toBe(403);
    expect(own.body.blockers).toEqual([expect.objectContaining({ kind: 'separation_of_duties' })]);
    const run = await world.call('getPaymentRun', { token: world.a.adminToken, params: { runId } });
    expect(run.body.status).toBe('submitted');
    expect(run.body.nextSteps.find((s: { step: string }) => s.step === 'approve')).toMatchObject({
      allowed: false,
      blockers: [expect.objectContaining({ kind: 'separation_of_duties' })],
    });
    expect(
      (
        await world.call('cancelPaymentRun', {
          token: world.a.adminToken,
          params: { runId },
          body: { reasons: 'test' },
        })
      ).status,
    ).toBe(200);
  });
});

describe('a calculation that fails part way', () => {
  const onServer = () => !world.db.hearthEmbedded;

  it('leaves no partial run when its database connection is killed mid-write, and the retried job writes each line once', async () => {
    if (!onServer()) return; // PGlite is one in-process connection: there is no connection to kill.
    const runId = await newRun();
    // The owner arms a trap: the first statement that writes this run's lines kills its own connection.
    await world.db.raw('CREATE TABLE IF NOT EXISTS test_kill_once (fired boolean NOT NULL)');
    await world.db.raw('DELETE FROM test_kill_once');
    await world.db
      .raw(`CREATE OR REPLACE FUNCTION test_kill_calculation() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
      BEGIN
        IF NOT EXISTS (SELECT 1 FROM test_kill_once) THEN
          INSERT INTO test_kill_once VALUES (true);
          PERFORM pg_terminate_backend(pg_backend_pid());
        END IF;
        RETURN NULL;
      END $$`);
    await world.db.raw(
      'CREATE TRIGGER test_kill_calculation AFTER INSERT ON payment_lines FOR EACH STATEMENT EXECUTE FUNCTION test_kill_calculation()',
    );
    try {
      expect(
        (await world.call('calculatePaymentRun', { token: officer.token, params: { runId }, body: {} })).status,
      ).toBe(202);
      // The first attempt dies (its insert of the trap's row dies with it, so the trap fires once per attempt
      // until a commit: mark it fired from outside, as the owner, once the first attempt has failed).
      await runDueJobs(world.db, {
        handlers: jobHandlers(),
        services: world.server.services,
        backoffMs: () => 0,
        max: 1,
      });
      const afterKill = await world.call('getPaymentRun', { token: world.a.adminToken, params: { runId } });
      expect(afterKill.body).toMatchObject({ status: 'calculating', calculation: { status: 'queued', attempts: 1 } });
      expect(afterKill.body.calculation.error).toMatch(/terminat/i);
      expect(await lineStats(runId)).toEqual({ n: 0, distinct_positions: 0, total: 0, calculations: 0 });
      await world.db.raw('INSERT INTO test_kill_once VALUES (true)');
      await runJobs(world);
    } finally {
      await world.db.raw('DROP TRIGGER IF EXISTS test_kill_calculation ON payment_lines');
    }
    const run = await world.call('getPaymentRun', { token: world.a.adminToken, params: { runId } });
    expect(run.body).toMatchObject({
      status: 'calculated',
      calculation: { number: 1, status: 'succeeded', attempts: 2 },
    });
    const stats = await lineStats(runId);
    expect(stats.n).toBe(run.body.lineCount);
    expect(stats.distinct_positions).toBe(stats.n);
    expect(stats.calculations).toBe(1);
    expect(Number(stats.total)).toBe(run.body.total);
    expect(stats.n).toBeGreaterThanOrEqual(PLACEMENTS);
    expect(
      (
        await world.call('cancelPaymentRun', {
          token: world.a.adminToken,
          params: { runId },
          body: { reasons: 'test' },
        })
      ).status,
    ).toBe(200);
  });

  it('writes the calculation once when the same job runs twice at once (a worker whose lock ran out, and the one that took it over)', async () => {
    const runId = await newRun();
    expect(
      (await world.call('calculatePaymentRun', { token: officer.token, params: { runId }, body: {} })).status,
    ).toBe(202);
    const job = (await claimNext(world.db, { kinds: [PAYMENT_RUN_CALCULATION_JOB], lockMs: 60_000 }))!;
    const ctx: JobContext = {
      job,
      tenantId: job.tenantId,
      services: world.server.services,
      inTenant: (work) => inTenantTransaction(world.db, { tenantId: job.tenantId }, (trx) => work(trx, [])),
      audit: async (trx, event) =>
        void (await appendAuditEvent(trx, job.tenantId, systemActor(`job-${job.id}`), event)),
      progress: async () => undefined,
      retryInMs: 0,
    };
    const results = await Promise.all([paymentRunCalculationJob(ctx), paymentRunCalculationJob(ctx)]);
    expect(results.filter((r) => (r as { skipped?: string }).skipped)).toHaveLength(1);
    const run = await world.call('getPaymentRun', { token: world.a.adminToken, params: { runId } });
    expect(run.body.status).toBe('calculated');
    const stats = await lineStats(runId);
    expect(stats).toMatchObject({ n: run.body.lineCount, distinct_positions: run.body.lineCount, calculations: 1 });
    expect(await getJob(world.db, world.a.id, job.id)).toMatchObject({ status: 'running' });
    expect(
      (
        await world.call('cancelPaymentRun', {
          token: world.a.adminToken,
          params: { runId },
          body: { reasons: 'test' },
        })
      ).status,
    ).toBe(200);
  });

  it('stores a job enqueued twice once: calculating a run that is calculating is refused, and only one job exists', async () => {
    const runId = await newRun();
    const first = await world.call('calculatePaymentRun', { token: officer.token, params: { runId }, body: {} });
    const second = await world.call('calculatePaymentRun', { token: officer.token, params: { runId }, body: {} });
    expect([first.status, second.status]).toEqual([202, 409]);
    const jobs = await ownerRows<{ n: number }>(
      world.db,
      world.a.id,
      "SELECT count(*)::int AS n FROM jobs WHERE kind = 'payment-run-calculation' AND payload->>'runId' = ?",
      [runId],
    );
    expect(jobs[0]!.n).toBe(1);
  });
});
