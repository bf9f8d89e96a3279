import { setMaxListeners } from 'node:events';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { knexRaw, openingOf, type Opening, type Statement } from '../db/pipeline';
import { applyScope, scopeStatement } from '../db/tenantTransaction';
import type { AppServices } from '../http/operation';
import {
  appendAuditEvent,
  auditAppendAhead,
  systemActor,
  type AuditAppendAhead,
  type AuditEventInput,
} from '../modules/audit/service';
import {
  claimDue,
  claimNext,
  deferClaim,
  markFailed,
  markSucceeded,
  recordProgress,
  releaseClaim,
  type Job,
} from './queue';

/** The rows each of the statements sent with a transaction's opening answered, in order. */
export type OpeningRows = Array<Array<Record<string, unknown>>>;

/** What a handler is given: its job, and a way into its tenant's data (never any other tenant's). */
export interface JobContext {
  job: Job;
  tenantId: string;
  services: AppServices;
  /**
   * Runs work in a transaction scoped to the job's tenant, as the application role (RLS on), exactly
   * as a request's transaction is. A long job may use several, recording progress between them.
   * `first` are statements sent with the transaction's BEGIN and scope in one round trip (on
   * PostgreSQL; PGlite runs them one by one), whose rows `work` is given: a job that delivers one
   * message after another saves a round trip on each of its transactions.
   */
  inTenant<T>(work: (trx: Knex.Transaction, first: OpeningRows) => Promise<T>, first?: Statement[]): Promise<T>;
  /**
   * Appends an audit event for what the job did, in the transaction that did it (one of inTenant's),
   * as Hearth itself, the job's id as the event's request id.
   */
  audit(trx: Knex.Transaction, event: AuditEventInput): Promise<void>;
  /**
   * Records progress and extends the lock. It writes through its own statement, so call it between
   * inTenant transactions (on PGlite, one connection, a call inside one would wait for it).
   */
  progress(done: number, total?: number | null): Promise<void>;
  /** How long the queue will wait before the next attempt if this one throws (the worker's backoff). */
  retryInMs: number;
  /**
   * The statement that marks this job succeeded with `result`, for the handler's last transaction
   * (among inTenant's `first` statements, or run in it): the job ends in the commit that ends its
   * work, and the worker writes nothing after the handler returns. Where the job's claim was lost
   * meanwhile (its lock ran out and another worker took it), the statement changes nothing.
   */
  succeeded?(result: unknown): Statement;
  /**
   * `audit`, sent ahead: the append's statement, to send among inTenant's `first` statements, and
   * what takes its rows inside that transaction (appending the usual way if the head moved meanwhile).
   */
  auditAhead?(event: AuditEventInput): AuditAppendAhead;
}

/**
 * Thrown by a handler whose attempt failed and must not be retried before `at` (an SMS whose retry
 * would fall in the tenant's quiet hours): the queue waits for the later of `at` and its backoff.
 */
export class RetryNotBefore extends Error {
  constructor(
    readonly at: Date,
    cause: Error,
  ) {
    super(cause.message, { cause });
  }
}

/**
 * Thrown by a handler that did nothing and is not to run before `at` (an SMS retry claimed inside
 * quiet hours): the job goes back to the queue for then, the attempt not counted, no error kept.
 */
export class RunLater extends Error {
  constructor(readonly at: Date) {
    super(`not before ${at.toISOString()}`);
  }
}

/** A handler returns the job's result (JSON); throwing fails this attempt. */
export type JobHandler = (ctx: JobContext) => Promise<unknown>;

export type JobHandlers = Record<string, JobHandler>;

export interface WorkerOptions {
  handlers: JobHandlers;
  services: AppServices;
  /** How long a claim holds before another worker may take the job (default 5 minutes). */
  lockMs?: number;
  /** Delay before attempt n + 1, after n failed attempts (default 10 s doubling, at most an hour). */
  backoffMs?: (attempts: number) => number;
  logger?: Logger;
  /**
   * Aborted when shutdown can wait no longer: the job running is cut short (its open transactions
   * rolled back) and given back to the queue, to run again in full elsewhere or after the restart.
   */
  abandon?: AbortSignal;
}

export const DEFAULT_LOCK_MS = 5 * 60 * 1000;

export function defaultBackoffMs(attempts: number): number {
  return Math.min(10_000 * 2 ** Math.max(attempts - 1, 0), 60 * 60 * 1000);
}

/** What a cut job's later calls to the database get: its claim has been given back. */
export class JobAbandoned extends Error {
  constructor() {
    super('the job was cut short by shutdown and given back to the queue');
  }
}

interface CancellableClient {
  cancelQuery(connection: unknown): Promise<unknown>;
}

/**
 * The transactions a job has open, so that shutdown can cut them before giving the job back: a
 * statement running is cancelled (on PostgreSQL, from a connection of its own), then the
 * transaction is rolled back. Whatever the job had not committed is gone; it cannot commit later.
 */
class JobTransactions {
  private readonly open = new Set<Knex.Transaction>();
  cutShort = false;

  constructor(
    private readonly db: Knex,
    private readonly tenantId: string,
  ) {}

  run<T>(work: (trx: Knex.Transaction, first: OpeningRows) => Promise<T>, first: Statement[] = []): Promise<T> {
    if (this.cutShort) return Promise.reject(new JobAbandoned());
    // BEGIN, the scope and the first statements in one round trip (the request path's pipelined opening).
    const opening: Opening = { mode: 'write', scope: scopeStatement({ tenantId: this.tenantId }), statements: first };
    return this.db.transaction(
      async (trx) => {
        if (this.cutShort) throw new JobAbandoned();
        this.open.add(trx);
        try {
          const opened = openingOf(trx)?.opened;
          let rows: OpeningRows;
          if (opened) rows = opened.map((result) => result.rows as Array<Record<string, unknown>>);
          else {
            // The embedded database opens a transaction as knex does, one statement at a time.
            await applyScope(trx, { tenantId: this.tenantId });
            rows = [];
            for (const statement of first)
              rows.push(((await knexRaw(trx, statement)) as { rows: Array<Record<string, unknown>> }).rows);
          }
          return await work(trx, rows);
        } finally {
          this.open.delete(trx);
        }
      },
      { hearthOpening: opening } as Knex.TransactionConfig,
    );
  }

  async cut(): Promise<void> {
    this.cutShort = true;
    await Promise.all([...this.open].map((trx) => this.rollBack(trx)));
  }

  private async rollBack(trx: Knex.Transaction): Promise<void> {
    const connection = (await trx.client.acquireConnection()) as { processID?: unknown };
    // PGlite has no other session to cancel from; its one connection runs the ROLLBACK after the statement.
    if (typeof connection.processID === 'number')
      await (this.db.client as CancellableClient).cancelQuery(connection).catch(() => undefined);
    await trx.rollback(new JobAbandoned()).catch(() => undefined);
  }
}

type Settled = { kind: 'returned'; result: unknown } | { kind: 'threw'; error: unknown } | { kind: 'abandoned' };

/** The handler's outcome, or 'abandoned' if the signal aborts first (the handler is then left to fail on its own). */
function settle(work: Promise<unknown>, abandon: AbortSignal | undefined): Promise<Settled> {
  const settled = work.then(
    (result): Settled => ({ kind: 'returned', result }),
    (error: unknown): Settled => ({ kind: 'threw', error }),
  );
  if (!abandon) return settled;
  return new Promise<Settled>((resolve) => {
    const onAbort = () => resolve({ kind: 'abandoned' });
    if (abandon.aborted) onAbort();
    else abandon.addEventListener('abort', onAbort, { once: true });
    void settled.then((outcome) => {
      abandon.removeEventListener('abort', onAbort);
      resolve(outcome);
    });
  });
}

/** Runs one claimed job to its end: succeeded, queued again with backoff, failed, or (at shutdown) given back. */
async function runJob(db: Knex, job: Job, options: WorkerOptions): Promise<void> {
  const lockMs = options.lockMs ?? DEFAULT_LOCK_MS;
  const handler = options.handlers[job.kind];
  const backoff = options.backoffMs ?? defaultBackoffMs;
  // A job whose worker died on every attempt is not run again past its attempts.
  if (!handler || job.attempts > job.maxAttempts) {
    await markFailed(
      db,
      { ...job, attempts: job.maxAttempts },
      handler
        ? `gave up after ${job.maxAttempts} attempts (the lock ran out)`
        : `no handler for jobs of kind "${job.kind}"`,
      0,
    );
    return;
  }
  const transactions = new JobTransactions(db, job.tenantId);
  let succeededWithWork = false;
  const ctx: JobContext = {
    job,
    tenantId: job.tenantId,
    services: options.services,
    inTenant: (work, first) => transactions.run(work, first),
    audit: async (trx, event) => {
      await appendAuditEvent(trx, job.tenantId, systemActor(`job-${job.id}`), event);
    },
    auditAhead: (event) => auditAppendAhead(job.tenantId, systemActor(`job-${job.id}`), event),
    progress: (done, total = null) =>
      transactions.cutShort ? Promise.reject(new JobAbandoned()) : recordProgress(db, job, { done, total }, lockMs),
    retryInMs: backoff(job.attempts),
    succeeded: (result) => {
      succeededWithWork = true;
      return {
        text: `UPDATE jobs SET status = 'succeeded', result = $1::jsonb, locked_until = NULL, finished_at = now()
                WHERE tenant_id = $2 AND id = $3 AND locked_by = $4 AND status = 'running'`,
        values: [JSON.stringify(result ?? null), job.tenantId, job.id, job.lockedBy],
      };
    },
  };
  const outcome = await settle(
    Promise.resolve().then(() => handler(ctx)),
    options.abandon,
  );
  if (outcome.kind === 'abandoned') {
    await transactions.cut();
    const released = await releaseClaim(db, job);
    options.logger?.warn(
      { job: job.id, kind: job.kind, tenant: job.tenantId, released },
      'job cut short by shutdown: rolled back and given back to the queue',
    );
    return;
  }
  if (outcome.kind === 'threw') {
    const error = outcome.error;
    if (error instanceof RunLater) {
      const deferred = await deferClaim(db, job, error.at);
      options.logger?.info(
        { job: job.id, kind: job.kind, tenant: job.tenantId, at: error.at, deferred },
        'job put off: it runs again later',
      );
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    const notBefore = error instanceof RetryNotBefore ? error.at.getTime() - Date.now() : 0;
    const failed = await markFailed(db, job, message, Math.max(backoff(job.attempts), notBefore));
    options.logger?.warn(
      { job: job.id, kind: job.kind, tenant: job.tenantId, attempts: job.attempts, outcome: failed, err: error },
      'job failed',
    );
    return;
  }
  const result = outcome.result;
  // The handler marked its success in the transaction that did its work: nothing is left to write.
  if (succeededWithWork) return;
  if (!(await markSucceeded(db, job, result)))
    options.logger?.warn(
      { job: job.id, kind: job.kind },
      'job finished after its lock ran out; another claim owns it now',
    );
}

/**
 * Claims and runs jobs until none is due; returns how many it ran. Tests and the runner's loop both
 * use it. `db` is the owner's connection: it claims across tenants, and each job then runs in its
 * own tenant's scope.
 */
export async function runDueJobs(
  db: Knex,
  options: WorkerOptions & { max?: number; signal?: AbortSignal },
): Promise<number> {
  const kinds = Object.keys(options.handlers);
  let ran = 0;
  // Once the signal aborts, no job is claimed: the one running finishes (or is abandoned) and that is all.
  while (ran < (options.max ?? Number.POSITIVE_INFINITY) && !options.signal?.aborted) {
    const job = await claimNext(db, { kinds, lockMs: options.lockMs ?? DEFAULT_LOCK_MS });
    if (!job) break;
    await runJob(db, job, options);
    ran++;
  }
  return ran;
}

/** Kinds of job a worker runs side by side, up to `concurrency` at once, apart from every other kind. */
export interface WorkerLane {
  kinds: string[];
  concurrency: number;
}

/** Resolves after `ms`, at the signal's abort, or when `early` settles; leaves no listener or timer behind. */
function pause(ms: number, signal: AbortSignal, early?: Promise<unknown>): Promise<void> {
  return new Promise<void>((resolve) => {
    const wake = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', wake);
      resolve();
    };
    const timer = setTimeout(wake, ms);
    signal.addEventListener('abort', wake, { once: true });
    void early?.then(wake, wake);
  });
}

/**
 * One lane's loop: keeps up to `concurrency` of its kinds' jobs running, claiming as many as there
 * are free places in one statement, until the signal aborts; then waits for the jobs running (which
 * the abandon signal cuts short and gives back).
 */
async function runLane(
  db: Knex,
  lane: WorkerLane,
  options: WorkerOptions & { pollMs: number; signal: AbortSignal },
): Promise<void> {
  const lockMs = options.lockMs ?? DEFAULT_LOCK_MS;
  const running = new Set<Promise<void>>();
  const start = (job: Job) => {
    const run: Promise<void> = runJob(db, job, options)
      .catch((error: unknown) =>
        options.logger?.error({ err: error, job: job.id, kind: job.kind }, 'job worker: recording the outcome failed'),
      )
      .finally(() => running.delete(run));
    running.add(run);
  };
  while (!options.signal.aborted) {
    const free = lane.concurrency - running.size;
    let claimed: Job[] = [];
    if (free > 0) {
      try {
        claimed = await claimDue(db, { kinds: lane.kinds, lockMs, limit: free });
      } catch (error) {
        if (options.signal.aborted) break;
        options.logger?.error({ err: error }, 'job worker: claiming failed');
      }
    }
    // What was claimed runs even if the signal aborted meanwhile: it is ours until it ends or is given back.
    claimed.forEach(start);
    if (options.signal.aborted) break;
    // Full: claim again as soon as a place frees. A payment run's remittances queue thousands of
    // messages at once; each place is refilled the moment its message is done.
    if (running.size >= lane.concurrency) {
      await Promise.race(running);
      continue;
    }
    // Nothing more was due: wait for the poll, or for a job to end (its place may take what came since).
    await pause(options.pollMs, options.signal, running.size ? Promise.race(running) : undefined);
  }
  await Promise.all(running);
}

/**
 * The worker: every kind of job one at a time, as ever, except the kinds a lane names, which run up to
 * the lane's concurrency at once beside them (notification deliveries, which mostly wait on a mail
 * server). Runs until the signal aborts.
 */
export async function runWorker(
  db: Knex,
  options: WorkerOptions & { pollMs?: number; signal: AbortSignal; lanes?: WorkerLane[] },
): Promise<void> {
  const pollMs = options.pollMs ?? 2000;
  const kinds = Object.keys(options.handlers);
  const lanes = (options.lanes ?? [])
    .map((lane) => ({
      kinds: lane.kinds.filter((k) => kinds.includes(k)),
      concurrency: Math.max(1, Math.floor(lane.concurrency)),
    }))
    .filter((lane) => lane.kinds.length);
  const laned = new Set(lanes.flatMap((lane) => lane.kinds));
  const rest = kinds.filter((k) => !laned.has(k));
  if (rest.length || !lanes.length) lanes.unshift({ kinds: rest, concurrency: 1 });
  // Each job running listens on the abandon signal until it ends: as many listeners as jobs, by design.
  const running = lanes.reduce((n, lane) => n + lane.concurrency, 0);
  if (options.abandon && running > 10) setMaxListeners(running + 10, options.abandon);
  await Promise.all(lanes.map((lane) => runLane(db, lane, { ...options, pollMs })));
}
