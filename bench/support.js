/* What the benchmarks share: a database of their own, and latency figures from timed requests. */
const os = require('node:os');
const path = require('node:path');
const knexFactory = require('knex');
const { reachable } = require('../test/support/reachable');

/** DATABASE_URL, else a database made on the server at 127.0.0.1:5432 and dropped afterwards, else PGlite (url undefined). */
async function benchDatabase(prefix = 'hearth_bench') {
  const admin = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
  if (!(await reachable(admin))) return { url: undefined, drop: async () => {} };
  const name = `${prefix}_${Date.now().toString(36)}`;
  const adminDb = knexFactory({ client: 'pg', connection: admin });
  await adminDb.raw(`CREATE DATABASE ${name}`);
  await adminDb.destroy();
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const again = knexFactory({ client: 'pg', connection: admin });
      await again.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await again.destroy();
    },
  };
}

/** The value below which `q` of the sorted samples fall (nearest rank). */
function percentile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/**
 * Latency of one request, sent `count` times one after another (after `warmup` unmeasured ones), so
 * each figure is the server's time for that request alone, not time spent queued behind others.
 */
async function timeRequests(url, headers, { count = 200, warmup = 20 } = {}) {
  const samples = [];
  for (let i = 0; i < warmup + count; i++) {
    const started = process.hrtime.bigint();
    const response = await fetch(url, { headers });
    await response.arrayBuffer();
    if (!response.ok) throw new Error(`${url} answered ${response.status}`);
    if (i >= warmup) samples.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  samples.sort((a, b) => a - b);
  return {
    p50: percentile(samples, 0.5),
    p95: percentile(samples, 0.95),
    p99: percentile(samples, 0.99),
    max: samples[samples.length - 1],
  };
}

/**
 * The production settings a bench server runs with, as environment variables: fixed keys, and the
 * places production must name (audit checkpoints, documents, email) in temporary folders unless the
 * bench's own environment names them (bench/notifications.js names its SMTP server).
 */
function benchServerEnv() {
  return {
    NODE_ENV: 'production',
    HEARTH_JWT_SECRET: 'bench-secret-bench-secret-bench-secret',
    HEARTH_DATA_KEY: Buffer.alloc(32, 7).toString('base64'),
    HEARTH_AUDIT_KEY: Buffer.alloc(32, 8).toString('base64'),
    HEARTH_AUDIT_SIGNING_KEY: Buffer.alloc(32, 9).toString('base64'),
    HEARTH_AUDIT_CHECKPOINT_TARGET: path.join(os.tmpdir(), 'hearth-bench-audit-checkpoints'),
    HEARTH_DOCUMENT_STORAGE_TARGET:
      process.env.HEARTH_DOCUMENT_STORAGE_TARGET || path.join(os.tmpdir(), 'hearth-bench-documents'),
    ...(process.env.HEARTH_DOCUMENT_MAX_BYTES
      ? { HEARTH_DOCUMENT_MAX_BYTES: process.env.HEARTH_DOCUMENT_MAX_BYTES }
      : {}),
    ...(process.env.HEARTH_NOTIFICATION_CONCURRENCY
      ? { HEARTH_NOTIFICATION_CONCURRENCY: process.env.HEARTH_NOTIFICATION_CONCURRENCY }
      : {}),
    HEARTH_EMAIL_CHANNEL: process.env.HEARTH_EMAIL_CHANNEL || 'mailbox',
    HEARTH_EMAIL_TARGET: process.env.HEARTH_EMAIL_TARGET || path.join(os.tmpdir(), 'hearth-bench-mailbox'),
  };
}

/**
 * A production-like server configuration on the bench's database (fixed secrets, no demo tenants,
 * silent logs, any free port) and the owner's pool beside it. Needs a build: it reads dist/.
 */
function benchServerConfig(url) {
  const { loadConfig } = require('../dist/core/src/config');
  const { openDatabase } = require('../dist/core/src/db/database');
  const config = loadConfig(benchServerEnv(), {
    databaseUrl: url,
    embeddedDataDir: null,
    port: 0,
    seedDemoTenants: false,
    logLevel: 'silent',
  });
  return { config, db: openDatabase({ url, embeddedDataDir: null, poolMax: 20 }) };
}

module.exports = { benchDatabase, benchServerConfig, benchServerEnv, percentile, timeRequests };

const { spawn, execFile } = require('node:child_process');

/**
 * Starts one of bench/processes/*.js as a process of its own and resolves once it prints
 * `READY <url>`, with its URL and a stop() that sends SIGTERM and waits for it to exit.
 */
function startProcess(script, env = {}, nodeArgs = []) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, path.join(__dirname, 'processes', script)], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    const onData = (chunk) => {
      out += chunk;
      const ready = /READY (\S+)/.exec(out);
      if (ready) {
        child.stdout.off('data', onData);
        child.stdout.resume();
        resolve({
          url: ready[1],
          pid: child.pid,
          stop: () =>
            new Promise((done) => {
              if (child.exitCode !== null) return done();
              child.once('exit', () => done());
              child.kill('SIGTERM');
            }),
        });
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${script} exited (${code}) before it was ready: ${out}`)));
  });
}

/** Runs autocannon from a process of its own (bench/processes/load.js) and resolves with its figures. */
function loadFromAnotherProcess(options) {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [path.join(__dirname, 'processes', 'load.js'), JSON.stringify(options)],
      { maxBuffer: 1 << 20 },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`load generator failed: ${stderr || error.message}`));
        resolve(JSON.parse(stdout));
      },
    );
  });
}

/** CPU seconds a process has used so far (user + system), from /proc: figures that machine load disturbs less than wall time. */
function cpuSeconds(pid) {
  try {
    const fields = require('node:fs').readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

module.exports.startProcess = startProcess;
module.exports.cpuSeconds = cpuSeconds;
module.exports.loadFromAnotherProcess = loadFromAnotherProcess;
