import type { Knex } from 'knex';
import { newId } from '../ids';

/**
 * A small durable queue on PostgreSQL (and PGlite: the same SQL). A job belongs to one tenant and
 * has a kind, a JSON payload and, optionally, a unique key: enqueued twice with the same key, it is
 * stored (and run) once. Workers claim jobs with FOR UPDATE SKIP LOCKED, holding a lock until a
 * time; a job whose worker died is claimed again once its lock has run out. A failure is retried
 * with backoff until max_attempts, then the job is failed with its error kept.
 */

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed';

export interface JobProgress {
  done: number;
  total: number | null;
}

export interface Job {
  tenantId: string;
  id: string;
  kind: string;
  uniqueKey: string | null;
  payload: Record<string, unknown>;
  status: JobStatus;
  attempts: number;
  maxAttempts: number;
  runAfter: Date;
  lockedUntil: Date | null;
  lockedBy: string | null;
  progress: JobProgress;
  result: unknown;
  error: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

interface JobRow {
  tenant_id: string;
  id: string;
  kind: string;
  unique_key: string | null;
  payload: Record<string, unknown>;
  status: JobStatus;
  attempts: number;
  max_attempts: number;
  run_after: Date;
  locked_until: Date | null;
  locked_by: string | null;
  progress: JobProgress;
  result: unknown;
  error: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

export function jobFromRow(row: JobRow): Job {
  return {
    tenantId: row.tenant_id,
    id: row.id,
    kind: row.kind,
    uniqueKey: row.unique_key,
    payload: row.payload ?? {},
    status: row.status,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    runAfter: new Date(row.run_after),
    lockedUntil: row.locked_until ? new Date(row.locked_until) : null,
    lockedBy: row.locked_by,
    progress: row.progress,
    result: row.result ?? null,
    error: row.error,
    createdAt: new Date(row.created_at),
    startedAt: row.started_at ? new Date(row.started_at) : null,
    finishedAt: row.finished_at ? new Date(row.finished_at) : null,
  };
}

export interface EnqueueInput {
  tenantId: string;
  kind: string;
  payload?: Record<string, unknown>;
  /** The same kind and key in the same tenant is one job, however often it is enqueued. */
  uniqueKey?: string;
  /** Not before this time (default: now). */
  runAfter?: Date;
  maxAttempts?: number;
}

/**
 * Adds a job, or finds the one already enqueued under the same unique key. Works on the owner's
 * connection (the scheduler) and inside a request's tenant-scoped transaction (RLS lets a tenant
 * enqueue only its own jobs), so a job can be enqueued atomically with the write that asks for it.
 */
export async function enqueue(
  db: Knex | Knex.Transaction,
  input: EnqueueInput,
): Promise<{ id: string; created: boolean }> {
  const id = newId();
  const inserted = (await db.raw(
    `INSERT INTO jobs (tenant_id, id, kind, unique_key, payload, run_after, max_attempts)
     VALUES (?, ?, ?, ?, ?::jsonb, coalesce(?::timestamptz, now()), ?)
     ON CONFLICT (tenant_id, kind, unique_key) WHERE unique_key IS NOT NULL DO NOTHING
     RETURNING id`,
    [
      input.tenantId,
      id,
      input.kind,
      input.uniqueKey ?? null,
      JSON.stringify(input.payload ?? {}),
      input.runAfter ? input.runAfter.toISOString() : null,
      input.maxAttempts ?? 5,
    ],
  )) as { rows: Array<{ id: string }> };
  if (inserted.rows.length) return { id, created: true };
  const existing = (await db('jobs')
    .where({ tenant_id: input.tenantId, kind: input.kind, unique_key: input.uniqueKey! })
    .first('id')) as { id: string };
  return { id: existing.id, created: false };
}

/**
 * Claims up to `limit` jobs that are due (queued and past their run_after) or abandoned (running
 * with their lock run out), as the owner across tenants, in one statement: concurrent workers skip
 * each other's rows rather than wait on them. Abandoned jobs come first, then each kind's due jobs
 * in run_after order, read from jobs_due one kind at a time so that nothing is read past the limit
 * (a payment run's 10,000 queued messages cost a claim of another kind nothing). The claim token
 * in locked_by is what lets only this claimant finish a job. Returned in the order they were due.
 */
export async function claimDue(db: Knex, options: { kinds: string[]; lockMs: number; limit?: number }): Promise<Job[]> {
  const limit = Math.max(1, Math.floor(options.limit ?? 1));
  if (!options.kinds.length) return [];
  const token = newId();
  const result = (await db.raw(
    `WITH abandoned AS (
       SELECT tenant_id, id, run_after FROM jobs
        WHERE status = 'running' AND locked_until < now() AND kind = ANY(?::text[])
        ORDER BY locked_until
        LIMIT ?
          FOR UPDATE SKIP LOCKED
     ), due AS (
       SELECT d.tenant_id, d.id, d.run_after
         FROM unnest(?::text[]) AS k(kind)
         CROSS JOIN LATERAL (
           SELECT tenant_id, id, run_after FROM jobs
            WHERE status = 'queued' AND kind = k.kind AND run_after <= now()
            ORDER BY run_after, id
            LIMIT ?
              FOR UPDATE SKIP LOCKED) AS d
     ), picked AS (
       (SELECT tenant_id, id FROM abandoned)
       UNION ALL
       (SELECT tenant_id, id FROM (SELECT * FROM due ORDER BY run_after, id LIMIT ?) AS first_due)
       LIMIT ?
     )
     UPDATE jobs AS j
        SET status = 'running', attempts = j.attempts + 1, locked_by = ?,
            locked_until = now() + (? * interval '1 millisecond'),
            started_at = coalesce(j.started_at, now()), error = NULL
       FROM picked
      WHERE j.tenant_id = picked.tenant_id AND j.id = picked.id
      RETURNING j.*`,
    [options.kinds, limit, options.kinds, limit, limit, limit, token, options.lockMs],
  )) as { rows: JobRow[] };
  return result.rows
    .map(jobFromRow)
    .sort((a, b) => a.runAfter.getTime() - b.runAfter.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Claims the next job that is due or abandoned (claimDue, one at a time). */
export async function claimNext(db: Knex, options: { kinds: string[]; lockMs: number }): Promise<Job | null> {
  return (await claimDue(db, { ...options, limit: 1 }))[0] ?? null;
}

/** Keeps a long job's lock alive and records how far it got (visible to readers at once). */
export async function recordProgress(db: Knex, job: Job, progress: JobProgress, lockMs: number): Promise<void> {
  await db('jobs')
    .where({ tenant_id: job.tenantId, id: job.id, locked_by: job.lockedBy, status: 'running' })
    .update({
      progress: JSON.stringify(progress),
      locked_until: db.raw(`now() + (? * interval '1 millisecond')`, [lockMs]),
    });
}

export async function markSucceeded(db: Knex, job: Job, result: unknown): Promise<boolean> {
  const updated = await db('jobs')
    .where({ tenant_id: job.tenantId, id: job.id, locked_by: job.lockedBy, status: 'running' })
    .update({
      status: 'succeeded',
      result: JSON.stringify(result ?? null),
      locked_until: null,
      finished_at: db.fn.now(),
    });
  return updated > 0;
}

/** A failure is queued again after the backoff, or, at max_attempts, the job fails for good. */
export async function markFailed(db: Knex, job: Job, error: string, retryInMs: number): Promise<'retry' | 'failed'> {
  const final = job.attempts >= job.maxAttempts;
  await db('jobs')
    .where({ tenant_id: job.tenantId, id: job.id, locked_by: job.lockedBy, status: 'running' })
    .update(
      final
        ? { status: 'failed', error, locked_until: null, finished_at: db.fn.now() }
        : {
            status: 'queued',
            error,
            locked_until: null,
            locked_by: null,
            run_after: db.raw(`now() + (? * interval '1 millisecond')`, [retryInMs]),
          },
    );
  return final ? 'failed' : 'retry';
}

/**
 * Gives a claimed job back as if it had not been claimed: queued, due at once, the attempt not
 * counted (a shutdown cut it short; the job did nothing wrong). Only its claimant can.
 */
export async function releaseClaim(db: Knex, job: Job): Promise<boolean> {
  const updated = await db('jobs')
    .where({ tenant_id: job.tenantId, id: job.id, locked_by: job.lockedBy, status: 'running' })
    .update({
      status: 'queued',
      locked_until: null,
      locked_by: null,
      run_after: db.fn.now(),
      attempts: db.raw('greatest(attempts - 1, 0)'),
    });
  return updated > 0;
}

/**
 * Puts a claimed job off until `at`, as if it had not been claimed (the attempt not counted, no
 * error kept): it did nothing, and is not to run before then. Only its claimant can.
 */
export async function deferClaim(db: Knex, job: Job, at: Date): Promise<boolean> {
  const updated = await db('jobs')
    .where({ tenant_id: job.tenantId, id: job.id, locked_by: job.lockedBy, status: 'running' })
    .update({
      status: 'queued',
      locked_until: null,
      locked_by: null,
      error: null,
      run_after: at.toISOString(),
      attempts: db.raw('greatest(attempts - 1, 0)'),
    });
  return updated > 0;
}

export async function getJob(db: Knex | Knex.Transaction, tenantId: string, id: string): Promise<Job | null> {
  const row = (await db('jobs').where({ tenant_id: tenantId, id }).first()) as JobRow | undefined;
  return row ? jobFromRow(row) : null;
}
