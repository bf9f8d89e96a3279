/*
 * A job worker in a process of its own, for the test that kills one mid-delivery (SIGKILL: no
 * shutdown, no giving back). It runs the webhook-delivery jobs that are due, with the lock it is
 * told, on the database in DATABASE_URL, and prints `claimed` when it starts.
 */
import { loadConfig } from '../../core/src/config';
import { openDatabase } from '../../core/src/db/database';
import type { AppServices } from '../../core/src/http/operation';
import { runDueJobs } from '../../core/src/jobs/worker';
import { webhookDeliveryJob } from '../../core/src/modules/webhooks/delivery';
import { WEBHOOK_DELIVERY_JOB } from '../../core/src/modules/webhooks/settings';

async function main(): Promise<void> {
  const config = loadConfig({ NODE_ENV: 'test' }, { databaseUrl: process.env.DATABASE_URL, embeddedDataDir: null });
  const db = openDatabase({ url: process.env.DATABASE_URL, embeddedDataDir: null, poolMax: 2 });
  // The delivery job reads only the data key (to open the endpoint's secret) from the services.
  const services = { config } as AppServices;
  process.stdout.write('started\n');
  await runDueJobs(db, {
    handlers: { [WEBHOOK_DELIVERY_JOB]: webhookDeliveryJob },
    services,
    lockMs: Number(process.env.WORKER_LOCK_MS ?? 500),
  });
  await db.destroy();
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
