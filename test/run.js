#!/usr/bin/env node
/*
 * The whole test suite. Tests need PostgreSQL: DATABASE_URL if set, else the server on
 * 127.0.0.1:5432 if one answers, else the embedded PGlite, so `npm test` passes on a fresh machine.
 */
const { spawnSync } = require('node:child_process');
const { reachable } = require('./support/reachable');

async function main() {
  const env = { ...process.env, NODE_ENV: 'test' };
  const candidate = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
  // HEARTH_TEST_EMBEDDED=1 forces PGlite, to check the newcomer's path on a machine that has a server.
  if (process.env.HEARTH_TEST_EMBEDDED !== '1' && (await reachable(candidate))) {
    env.HEARTH_TEST_ADMIN_URL = candidate;
    process.stdout.write(`Tests run on PostgreSQL at ${candidate.replace(/\/\/[^@]*@/, '//')}\n`);
  } else {
    env.HEARTH_TEST_EMBEDDED = '1';
    process.stdout.write('No PostgreSQL server answers; tests run on the embedded PGlite\n');
  }
  delete env.DATABASE_URL;
  // PGlite loads its WebAssembly through dynamic import(), which jest's VM needs this flag to allow.
  const jest = require.resolve('jest/bin/jest');
  const result = spawnSync(
    process.execPath,
    ['--experimental-vm-modules', '--no-warnings=ExperimentalWarning', jest, ...process.argv.slice(2)],
    { stdio: 'inherit', env },
  );
  process.exit(result.status ?? 1);
}

main();
