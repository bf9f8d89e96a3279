import { ownerRows, startWorld, type World } from '../../../test/support/harness';
import { claimDue, claimNext, enqueue, getJob } from './queue';
import { scheduleDailyJobs, jobsEnabled } from './runner';
import { getEventListeners } from 'node:events';
import { runDueJobs, runWorker, type JobHandler, type JobHandlers } from './worker';
import { todayIn } from '../time';

let world: World;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world?.close();
});

const services = () => world.server.services;
let serial = 0;
const kind = (name: string) => `test-${name}-${++serial}`;

async function run(handlers: JobHandlers, options: { lockMs?: number; backoffMs?: (n: number) => number } = {}) {
  return runDueJobs(world.db, {
    handlers,
    services: services(),
    backoffMs: options.backoffMs ?? (() => 0),
    lockMs: options.lockMs,
  });
}

describe('the jobs queue', () => {
  it('stores a job enqueued twice under one key once, and runs it once', async () => {
    const k = kind('once');
    const runs: string[] = [];
    const first = await enqueue(world.db, { tenantId: world.a.id, kind: k, uniqueKey: 'k-1', payload: { n: 1 } });
    const second = await enqueue(world.db, { tenantId: world.a.id, kind: k, uniqueKey: 'k-1', payload: { n: 2 } });
    expect(second).toEqual({ id: first.id, created: false });
    expect(first.created).toBe(true);
    // The same key in another tenant is another job.
    const other = await enqueue(world.db, { tenantId: world.b.id, kind: k, uniqueKey: 'k-1' });
    expect(other.created).toBe(true);

    const handler: JobHandler = async ({ job, tenantId }) => {
      runs.push(`${tenantId}:${String(job.payload.n ?? '-')}`);
      return { ok: true };
    };
    expect(await run({ [k]: handler })).toBe(2);
    expect(await run({ [k]: handler })).toBe(0);
    await enqueue(world.db, { tenantId: world.a.id, kind: k, uniqueKey: 'k-1' });
    expect(await run({ [k]: handler })).toBe(0);
    expect(runs.sort()).toEqual([`${world.a.id}:1`, `${world.b.id}:-`].sort());
    expect(await getJob(world.db, world.a.id, first.id)).toMatchObject({
      status: 'succeeded',
      attempts: 1,
      result: { ok: true },
      lockedUntil: null,
    });
  });

  it('retries a failing job with backoff, keeping its error, and fails it for good after max attempts', async () => {
    const k = kind('retry');
    let calls = 0;
    const flaky: JobHandler = async () => {
      calls++;
      if (calls < 3) throw new Error(`boom ${calls}`);
      return { calls };
    };
    const job = await enqueue(world.db, { tenantId: world.a.id, kind: k, maxAttempts: 5 });
    // With a real backoff the retry waits: queued again, not run again at once.
    expect(await run({ [k]: flaky }, { backoffMs: () => 60_000 })).toBe(1);
    const waiting = await getJob(world.db, world.a.id, job.id);
    expect(waiting).toMatchObject({ status: 'queued', attempts: 1, error: 'boom 1' });
    expect(waiting!.runAfter.getTime()).toBeGreaterThan(Date.now() + 30_000);
    expect(await run({ [k]: flaky })).toBe(0);
    // Its time comes: it runs again, fails once more, then succeeds.
    await world.db('jobs').where({ tenant_id: world.a.id, id: job.id }).update({ run_after: world.db.fn.now() });
    expect(await run({ [k]: flaky })).toBe(2);
    expect(await getJob(world.db, world.a.id, job.id)).toMatchObject({
      status: 'succeeded',
      attempts: 3,
      result: { calls: 3 },
      error: null,
    });

    const hopeless = await enqueue(world.db, { tenantId: world.a.id, kind: k, maxAttempts: 2 });
    const always: JobHandler = async () => {
      throw new Error('never works');
    };
    expect(await run({ [k]: always })).toBe(2);
    expect(await getJob(world.db, world.a.id, hopeless.id)).toMatchObject({
      status: 'failed',
      attempts: 2,
      error: 'never works',
    });
  });

  it('claims again a job whose worker died once its lock runs out, and only then', async () => {
    const k = kind('lock');
    const job = await enqueue(world.db, { tenantId: world.a.id, kind: k });
    // A worker claims it and dies without finishing.
    const claimed = await claimNext(world.db, { kinds: [k], lockMs: 300 });
    expect(claimed).toMatchObject({ id: job.id, status: 'running', attempts: 1 });
    let ran = 0;
    const handler: JobHandler = async () => {
      ran++;
      return null;
    };
    expect(await run({ [k]: handler })).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await run({ [k]: handler })).toBe(1);
    expect(ran).toBe(1);
    expect(await getJob(world.db, world.a.id, job.id)).toMatchObject({ status: 'succeeded', attempts: 2 });
    // The dead worker's late completion cannot overwrite it: its claim token is no longer the job's.
    const { markSucceeded } = await import('./queue');
    expect(await markSucceeded(world.db, claimed!, { late: true })).toBe(false);
  });

  it("runs each job in its own tenant's scope, as the application role", async () => {
    const k = kind('scope');
    await enqueue(world.db, { tenantId: world.b.id, kind: k });
    let seen: unknown = null;
    await run({
      [k]: async (ctx) => {
        seen = await ctx.inTenant(async (trx) => {
          const role = ((await trx.raw('SELECT current_user AS role')) as { rows: Array<{ role: string }> }).rows[0]!
            .role;
          const tenants = ((await trx.raw('SELECT id FROM tenants')) as { rows: Array<{ id: string }> }).rows.map(
            (r) => r.id,
          );
          const childrenOfA = (
            (await trx.raw('SELECT count(*)::int AS n FROM children WHERE tenant_id = ?', [world.a.id])) as {
              rows: Array<{ n: number }>;
            }
          ).rows[0]!.n;
          return { role, tenants, childrenOfA };
        });
        await ctx.progress(1, 1);
        return null;
      },
    });
    expect(seen).toEqual({ role: 'hearth_app', tenants: [world.b.id], childrenOfA: 0 });
  });

  it('is refused to a tenant enqueuing for another (RLS on jobs)', async () => {
    const refused = await world.db
      .transaction(async (trx) => {
        await trx.raw(`SELECT set_config('role', 'hearth_app', true), set_config('app.tenant_id', ?, true)`, [
          world.b.id,
        ]);
        await enqueue(trx, { tenantId: world.a.id, kind: kind('forged') });
      })
      .then(
        () => null,
        (error: { code?: string }) => error.code,
      );
    expect(refused).toBe('42501');
  });

  it('schedules the daily reminders once per tenant per day', async () => {
    await scheduleDailyJobs(world.db);
    expect(await scheduleDailyJobs(world.db)).toBe(0);
    const rows = await ownerRows<{ n: number }>(
      world.db,
      world.a.id,
      `SELECT count(*)::int AS n FROM jobs WHERE tenant_id = ? AND kind = 'task-reminders' AND unique_key = ?`,
      [world.a.id, `task-reminders:${todayIn('Europe/London')}`],
    );
    expect(rows[0]!.n).toBe(1);
    expect(jobsEnabled({ NODE_ENV: 'test' })).toBe(false);
    expect(jobsEnabled({ NODE_ENV: 'test', HEARTH_JOBS: '1' })).toBe(true);
    expect(jobsEnabled({ NODE_ENV: 'production' })).toBe(true);
  });
});

describe('a job at shutdown', () => {
  beforeAll(async () => {
    await world.db.raw('CREATE TABLE job_probe (tenant_id uuid NOT NULL, job_id text NOT NULL)');
    await world.db.raw('GRANT SELECT, INSERT ON job_probe TO hearth_app');
  });
  const probes = async (jobId: string) =>
    (
      (await world.db.raw('SELECT count(*)::int AS n FROM job_probe WHERE job_id = ?', [jobId])) as {
        rows: Array<{ n: number }>;
      }
    ).rows[0]!.n;

  it('is cut short when the abandon signal aborts: its transaction rolled back, its claim given back uncounted, and it runs again in full', async () => {
    const k = kind('cut');
    const job = await enqueue(world.db, { tenantId: world.a.id, kind: k });
    const abandon = new AbortController();
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    let wake!: () => void;
    const asleep = new Promise<void>((resolve) => (wake = resolve));
    const stuck: JobHandler = (ctx) =>
      ctx.inTenant(async (trx) => {
        await trx.raw('INSERT INTO job_probe (tenant_id, job_id) VALUES (?, ?)', [ctx.tenantId, ctx.job.id]);
        entered();
        // On PostgreSQL a statement that would run for a minute (cancelled); PGlite's one session
        // cannot be interrupted, so there the job idles in its transaction instead.
        if (world.db.hearthEmbedded) await asleep;
        else await trx.raw('SELECT pg_sleep(60)');
      });
    const started = Date.now();
    const running = runDueJobs(world.db, {
      handlers: { [k]: stuck },
      services: services(),
      abandon: abandon.signal,
      signal: abandon.signal,
    });
    await inside;
    abandon.abort();
    expect(await running).toBe(1);
    expect(Date.now() - started).toBeLessThan(10_000);
    wake();
    expect(await getJob(world.db, world.a.id, job.id)).toMatchObject({
      status: 'queued',
      attempts: 0,
      lockedBy: null,
      lockedUntil: null,
      result: null,
    });
    expect(await probes(job.id)).toBe(0);

    const whole: JobHandler = async (ctx) => {
      await ctx.inTenant((trx) =>
        trx.raw('INSERT INTO job_probe (tenant_id, job_id) VALUES (?, ?)', [ctx.tenantId, ctx.job.id]),
      );
      return { done: true };
    };
    expect(await run({ [k]: whole })).toBe(1);
    expect(await getJob(world.db, world.a.id, job.id)).toMatchObject({
      status: 'succeeded',
      attempts: 1,
      result: { done: true },
    });
    expect(await probes(job.id)).toBe(1);
  });

  it('claims nothing more once the stop signal aborts: the job running finishes, the next waits', async () => {
    const k = kind('stop');
    const first = await enqueue(world.db, { tenantId: world.a.id, kind: k });
    const second = await enqueue(world.db, { tenantId: world.a.id, kind: k });
    const stop = new AbortController();
    const handler: JobHandler = async () => {
      stop.abort();
      return 'finished';
    };
    expect(await runDueJobs(world.db, { handlers: { [k]: handler }, services: services(), signal: stop.signal })).toBe(
      1,
    );
    const states = [await getJob(world.db, world.a.id, first.id), await getJob(world.db, world.a.id, second.id)]
      .map((j) => j!.status)
      .sort();
    expect(states).toEqual(['queued', 'succeeded']);
  });
});

describe('the worker loop', () => {
  it('leaves no listener behind on its stop signal as it polls (none piles up to a MaxListenersExceededWarning)', async () => {
    const stop = new AbortController();
    const loop = runWorker(world.db, {
      handlers: { [kind('idle')]: async () => undefined },
      services: services(),
      pollMs: 1,
      signal: stop.signal,
    });
    let listening: number;
    try {
      // A poll a few milliseconds apart: in a second, far more than the ten waits a leak would need to pass the limit.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      listening = getEventListeners(stop.signal, 'abort').length;
    } finally {
      stop.abort();
      await loop;
    }
    expect(listening).toBeLessThanOrEqual(1);
    expect(getEventListeners(stop.signal, 'abort')).toHaveLength(0);
  });
});

describe('a lane of its own', () => {
  it('claims as many as it has places for, in the order they fell due, and none of another kind', async () => {
    const k = kind('batch');
    const other = kind('other');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push(
        (
          await enqueue(world.db, {
            tenantId: i % 2 ? world.b.id : world.a.id,
            kind: k,
            runAfter: new Date(Date.now() - (10 - i) * 1000),
          })
        ).id,
      );
    await enqueue(world.db, { tenantId: world.a.id, kind: other, runAfter: new Date(Date.now() - 60_000) });
    await enqueue(world.db, { tenantId: world.a.id, kind: k, runAfter: new Date(Date.now() + 60_000) });
    const first = await claimDue(world.db, { kinds: [k], lockMs: 60_000, limit: 3 });
    expect(first.map((j) => j.id)).toEqual(ids.slice(0, 3));
    expect(first.every((j) => j.status === 'running' && j.attempts === 1)).toBe(true);
    // The rest of what is due; the one not yet due and the other kind stay queued.
    expect((await claimDue(world.db, { kinds: [k], lockMs: 60_000, limit: 3 })).map((j) => j.id)).toEqual(ids.slice(3));
    expect(await claimDue(world.db, { kinds: [k], lockMs: 60_000, limit: 3 })).toEqual([]);
  });

  // PGlite has one connection: jobs there run one at a time, whatever the lane says.
  (process.env.HEARTH_TEST_ADMIN_URL ? it : it.skip)(
    'runs its jobs several at once, and at shutdown gives back every one still running',
    async () => {
      const k = kind('lane');
      const jobs = await Promise.all([1, 2, 3, 4].map(() => enqueue(world.db, { tenantId: world.a.id, kind: k })));
      const stop = new AbortController();
      const abandon = new AbortController();
      let inside = 0;
      let most = 0;
      let three!: () => void;
      const allIn = new Promise<void>((resolve) => (three = resolve));
      const stuck: JobHandler = (ctx) =>
        ctx.inTenant(async (trx) => {
          most = Math.max(most, ++inside);
          if (inside === 3) three();
          await trx.raw('SELECT pg_sleep(60)');
        });
      const loop = runWorker(world.db, {
        handlers: { [k]: stuck },
        services: services(),
        pollMs: 50,
        signal: stop.signal,
        abandon: abandon.signal,
        lanes: [{ kinds: [k], concurrency: 3 }],
      });
      await allIn;
      stop.abort();
      abandon.abort();
      await loop;
      expect(most).toBe(3);
      const states = await Promise.all(jobs.map((j) => getJob(world.db, world.a.id, j.id)));
      // Three were running and were given back uncounted; the fourth was never claimed.
      expect(states.map((j) => `${j!.status}:${j!.attempts}`)).toEqual([
        'queued:0',
        'queued:0',
        'queued:0',
        'queued:0',
      ]);
    },
  );
});
