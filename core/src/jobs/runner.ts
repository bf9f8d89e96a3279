import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { HearthConfig } from '../config';
import type { Database } from '../db/database';
import type { AppServices } from '../http/operation';
import { NOTIFICATION_DELIVERY_JOB } from '../modules/notifications/outbox';
import { scheduleAuditCheckpoints } from '../modules/audit/checkpointJob';
import { RETENTION_DUE_JOB, retentionDueKey } from '../modules/documents/retentionDaily';
import { TASK_REMINDERS_JOB, taskRemindersKey } from '../modules/tasks/reminders';
import { DOCUMENT_EXPIRY_JOB, documentExpiryKey } from '../modules/documents/expiry';
import { CHECK_EXPIRY_JOB, checkExpiryKey } from '../modules/carers/checkExpiry';
import { Tenant } from '../modules/tenants/models';
import { todayIn } from '../time';
import { jobHandlers } from './handlers';
import { enqueue } from './queue';
import { runWorker, type JobHandlers } from './worker';

/** The jobs each service tenant runs once a day, by kind and the unique key of one day's run. */
const DAILY_JOBS: Array<{ kind: string; key: (date: string) => string }> = [
  { kind: TASK_REMINDERS_JOB, key: taskRemindersKey },
  { kind: DOCUMENT_EXPIRY_JOB, key: documentExpiryKey },
  { kind: RETENTION_DUE_JOB, key: retentionDueKey },
  { kind: CHECK_EXPIRY_JOB, key: checkExpiryKey },
];

/**
 * The daily jobs: for each active service tenant, one job of each DAILY_JOBS kind for the tenant's
 * today (its own time zone). The unique key makes this safe to run as often as we like, from as many
 * processes as we like: each tenant's day is enqueued, and run, once.
 */
export async function scheduleDailyJobs(db: Knex): Promise<number> {
  // As the owner: tenants_owner_lookup lets it list tenants; the jobs_owner_worker policy lets it enqueue for each.
  const tenants = await Tenant.query(db).where({ kind: 'service', status: 'active' }).select('id', 'time_zone');
  let created = 0;
  for (const tenant of tenants) {
    const date = todayIn(tenant.timeZone);
    for (const daily of DAILY_JOBS) {
      const job = await enqueue(db, {
        tenantId: tenant.id,
        kind: daily.kind,
        uniqueKey: daily.key(date),
        payload: { date },
      });
      if (job.created) created++;
    }
  }
  return created;
}

export interface JobsRunner {
  /**
   * Stops claiming jobs and waits for the one running. With `graceMs`, a job still running after
   * that long is cut short: rolled back and given back to the queue, so that it runs again in full.
   */
  stop(options?: { graceMs?: number }): Promise<void>;
}

/**
 * Connections the worker may hold: for the jobs run one at a time, the job's transaction and one
 * statement beside it (progress, claiming); for notification deliveries, one each of those running
 * at once (a delivery holds one connection at a time, and none while it waits on the channel). The
 * server gives the worker a pool of this size of its own, so jobs never take a connection a request
 * is waiting for.
 */
export function jobsPoolMax(config: Pick<HearthConfig, 'notifications'>): number {
  return 2 + config.notifications.concurrency;
}

/** Whether this process runs jobs: HEARTH_JOBS=1 or 0 decides; otherwise on, except under tests. */
export function jobsEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.HEARTH_JOBS === '1') return true;
  if (env.HEARTH_JOBS === '0') return false;
  return env.NODE_ENV !== 'test';
}

/**
 * Starts the worker loop and the scheduler in this process (as the database owner); `stop` ends both
 * (the server calls it on close, before it closes the database). Tests drive the queue themselves (runDueJobs), so under NODE_ENV=test
 * nothing starts unless HEARTH_JOBS=1.
 */
export function startJobsRunner(options: {
  db: Knex;
  services: AppServices;
  logger?: Logger;
  handlers?: JobHandlers;
  scheduleEveryMs?: number;
  pollMs?: number;
}): JobsRunner {
  if (!jobsEnabled()) return { stop: async () => undefined };
  const controller = new AbortController();
  const abandon = new AbortController();
  const schedule = async () => {
    try {
      const created = await scheduleDailyJobs(options.db);
      if (created) options.logger?.info({ created }, 'daily jobs enqueued');
    } catch (error) {
      if (!controller.signal.aborted) options.logger?.error({ err: error }, 'scheduling the daily jobs failed');
    }
  };
  const timer = setInterval(() => void schedule(), options.scheduleEveryMs ?? 15 * 60 * 1000);
  timer.unref();
  // Audit checkpoints, one per tenant per period: looked for four times a period, so each is at most a quarter late.
  const checkpointEveryMs = options.services.config.audit.checkpointEveryMs;
  const checkpoint = async () => {
    try {
      const created = await scheduleAuditCheckpoints(options.db, checkpointEveryMs);
      if (created) options.logger?.info({ created }, 'audit checkpoints enqueued');
    } catch (error) {
      if (!controller.signal.aborted) options.logger?.error({ err: error }, 'scheduling the audit checkpoints failed');
    }
  };
  const checkpointTimer = setInterval(() => void checkpoint(), Math.max(checkpointEveryMs / 4, 15_000));
  checkpointTimer.unref();
  const worker = Promise.all([schedule(), checkpoint()]).then(() =>
    runWorker(options.db, {
      handlers: options.handlers ?? jobHandlers(),
      services: options.services,
      logger: options.logger,
      pollMs: options.pollMs,
      signal: controller.signal,
      abandon: abandon.signal,
      // Deliveries wait on a mail server or an SMS provider, not on this process: several at once,
      // in a lane of their own, so a payment run's remittances never wait behind a long job either.
      // PGlite is one connection, which requests share: there they take turns.
      lanes: [
        {
          kinds: [NOTIFICATION_DELIVERY_JOB],
          concurrency: (options.db as Database).hearthEmbedded ? 1 : options.services.config.notifications.concurrency,
        },
      ],
    }),
  );
  const stop = async ({ graceMs }: { graceMs?: number } = {}) => {
    clearInterval(timer);
    clearInterval(checkpointTimer);
    controller.abort();
    const cutAt = graceMs === undefined ? null : setTimeout(() => abandon.abort(), graceMs);
    await worker.catch(() => undefined);
    if (cutAt) clearTimeout(cutAt);
  };
  return { stop };
}
