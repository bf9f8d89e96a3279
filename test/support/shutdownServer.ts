import fs from 'node:fs';
import type { Knex } from 'knex';
import { loadConfig } from '../../core/src/config';
import { jobHandlers } from '../../core/src/jobs/handlers';
import type { JobHandler } from '../../core/src/jobs/worker';
import { exitOnSignals, startServer } from '../../core/src/server';

/**
 * The server as `npm start` runs it (configuration from the environment, SIGTERM and SIGINT as
 * main.ts handles them), with one job kind more for test/shutdown.test.ts: a job that, once the file
 * SHUTDOWN_TEST_TRIGGER exists, writes a probe row and then stays inside its transaction for a
 * minute, so that shutdown finds it mid-run. It prints `listening <url>` when it listens.
 */
export const SLOW_JOB = 'test-slow-job';

const trigger = process.env.SHUTDOWN_TEST_TRIGGER ?? '';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const slowJob: JobHandler = async (ctx) => {
  while (!fs.existsSync(trigger)) await sleep(50);
  await ctx.inTenant(async (trx: Knex.Transaction) => {
    await trx.raw('INSERT INTO shutdown_probe (tenant_id, job_id) VALUES (?, ?)', [ctx.tenantId, ctx.job.id]);
    process.stdout.write('slow job inside its transaction\n');
    // PGlite runs a statement on the one thread, so there the job idles inside its transaction instead.
    if (process.env.DATABASE_URL) await trx.raw('SELECT pg_sleep(60)');
    else await sleep(60_000);
  });
  return { finished: true };
};

async function main(): Promise<void> {
  const config = loadConfig();
  const server = await startServer(config, { jobHandlers: { ...jobHandlers(), [SLOW_JOB]: slowJob } });
  exitOnSignals(server);
  process.stdout.write(`listening ${server.url}\n`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`cannot start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
