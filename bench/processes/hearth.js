/*
 * Hearth in a process of its own, for benchmarks: production configuration on BENCH_DATABASE_URL,
 * silent logs, a free port. Prints `READY <url>` once listening; SIGTERM closes it.
 */
const { benchServerConfig } = require('../support');
const { startServer } = require('../../dist/core/src/server');

async function main() {
  const { config, db } = benchServerConfig(process.env.BENCH_DATABASE_URL);
  await db.destroy();
  const server = await startServer(config);
  process.stdout.write(`READY ${server.url}\n`);
  process.once('SIGTERM', () => server.close().then(() => process.exit(0)));
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
