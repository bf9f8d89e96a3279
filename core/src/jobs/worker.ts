import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { inTenantTransaction } from '../db/tenantTransaction';
import type { AppServices } from '../http/operation';
import { claimNext, markFailed, markSucceeded, recordProgress, type Job } from './queue';

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
}

export const DEFAULT_LOCK_MS = 5 * 60 * 1000;

export function defaultBackoffMs(attempts: number): number {
  return Math.min(10_000 * 2 ** Math.max(attempts - 1, 0), 60 * 60 * 1000);
}

/** Runs one claimed job to its end: succeeded, queued again with backoff, or failed. */
async function runJob(db: Knex, job: Job, options: WorkerOptions): Promise<void> {
  const lockMs = options.lockMs ?? DEFAULT_LOCK_MS;
  const handler = options.handlers[job.kind];
  const backoff = options.backoffMs ?? defaultBackoffMs;
  // A job whose worker died on every attempt is not run again past its attempts.
  if (!handler || job.attempts > job.maxAttempts) {
    await markFailed(db, { ...job, attempts: job.maxAttempts }, handler ? `gave up after ${job.maxAttempts} attempts (the lock ran out)` : `no handler for jobs of kind "${job.kind}"`, 0);
    return;
  }
  const ctx: JobContext = {
    job,
    tenantId: job.tenantId,
    services: options.services,
    inTenant: (work) => inTenantTransaction(db, { tenantId: job.tenantId }, work),
    progress: (done, total = null) => recordProgress(db, job, { done, total }, lockMs),
  };
  let result: unknown;
  try {
    result = await handler(ctx);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const outcome = await markFailed(db, job, message, backoff(job.attempts));
    options.logger?.warn({ job: job.id, kind: job.kind, tenant: job.tenantId, attempts: job.attempts, outcome, err: error }, 'job failed');
    return;
  }
  if (!(await markSucceeded(db, job, result))) options.logger?.warn({ job: job.id, kind: job.kind }, 'job finished after its lock ran out; another claim owns it now');
}

/**
 * Claims and runs jobs until none is due; returns how many it ran. Tests and the runner's loop both
 * use it. `db` is the owner's connection: it claims across tenants, and each job then runs in its
 * own tenant's scope.
 */
export async function runDueJobs(db: Knex, options: WorkerOptions & { max?: number }): Promise<number> {
  const kinds = Object.keys(options.handlers);
  let ran = 0;
  while (ran < (options.max ?? Number.POSITIVE_INFINITY)) {
    const job = await claimNext(db, { kinds, lockMs: options.lockMs ?? DEFAULT_LOCK_MS });
    if (!job) break;
    await runJob(db, job, options);
    ran++;
  }
  return ran;
}

/** A worker loop: runs due jobs, then waits pollMs, until the signal aborts. */
export async function runWorker(db: Knex, options: WorkerOptions & { pollMs?: number; signal: AbortSignal }): Promise<void> {
  const pollMs = options.pollMs ?? 2000;
  while (!options.signal.aborted) {
    try {
      await runDueJobs(db, { ...options, max: 100 });
    } catch (error) {
      if (options.signal.aborted) break;
      options.logger?.error({ err: error }, 'job worker: claiming failed');
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, pollMs);
      options.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });
  }
}
