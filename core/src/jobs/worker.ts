import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { applyScope } from '../db/tenantTransaction';
import type { AppServices } from '../http/operation';
import { appendAuditEvent, systemActor, type AuditEventInput } from '../modules/audit/service';
import { claimNext, markFailed, markSucceeded, recordProgress, releaseClaim, type Job } from './queue';

/** What a handler is given: its job, and a way into its tenant's data (never any other tenant's). */
export interface JobContext {
  job: Job;
  tenantId: string;
  services: AppServices;
  /**
   * Runs work in a transaction scoped to the job's tenant, as the application role (RLS on), exactly
   * as a request's transaction is. A long job may use several, recording progress between them.
   */
  inTenant<T>(work: (trx: Knex.Transaction) => Promise<T>): Promise<T>;
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

  run<T>(work: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
    if (this.cutShort) return Promise.reject(new JobAbandoned());
    return this.db.transaction(async (trx) => {
      if (this.cutShort) throw new JobAbandoned();
      this.open.add(trx);
      try {
        await applyScope(trx, { tenantId: this.tenantId });
        return await work(trx);
      } finally {
        this.open.delete(trx);
      }
    });
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
  const ctx: JobContext = {
    job,
    tenantId: job.tenantId,
    services: options.services,
    inTenant: (work) => transactions.run(work),
    audit: async (trx, event) => {
      await appendAuditEvent(trx, job.tenantId, systemActor(`job-${job.id}`), event);
    },
    progress: (done, total = null) =>
      transactions.cutShort ? Promise.reject(new JobAbandoned()) : recordProgress(db, job, { done, total }, lockMs),
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
    const message = error instanceof Error ? error.message : String(error);
    const failed = await markFailed(db, job, message, backoff(job.attempts));
    options.logger?.warn(
      { job: job.id, kind: job.kind, tenant: job.tenantId, attempts: job.attempts, outcome: failed, err: error },
      'job failed',
    );
    return;
  }
  const result = outcome.result;
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

const BATCH = 100;

/** A worker loop: runs due jobs, then (unless a whole batch was due) waits pollMs, until the signal aborts. */
export async function runWorker(
  db: Knex,
  options: WorkerOptions & { pollMs?: number; signal: AbortSignal },
): Promise<void> {
  const pollMs = options.pollMs ?? 2000;
  while (!options.signal.aborted) {
    let ran = 0;
    try {
      ran = await runDueJobs(db, { ...options, max: BATCH });
    } catch (error) {
      if (options.signal.aborted) break;
      options.logger?.error({ err: error }, 'job worker: claiming failed');
    }
    // An abort that came while a job ran has already fired: waiting for it would wait the whole poll.
    if (options.signal.aborted) break;
    // A full batch means more are due (a payment run's remittances queue thousands of messages at
    // once): claim again at once rather than deliver a hundred per poll.
    if (ran === BATCH) continue;
    // The wait's abort listener goes when the wait ends either way: one left behind per poll piled up
    // on the signal (Node warned of a leak, MaxListenersExceededWarning, some 20 seconds after start).
    await new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        options.signal.removeEventListener('abort', wake);
        resolve();
      }, pollMs);
      options.signal.addEventListener('abort', wake, { once: true });
    });
  }
}
