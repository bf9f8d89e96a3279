/*
 * Fairness between tenants on one process. Tenant Q asks at a modest rate (4 connections, 50
 * requests/s); its p99 alone is the quiet figure. Then tenant F floods with 128 connections as fast as
 * it is answered while Q keeps asking: Q's p99 again, its ratio to quiet (the target is 2x or less),
 * and what F got (answers, 503s). Both run twice: with the default limits, and with a tenant's share
 * set to the whole pool and a queue long enough never to refuse. BENCH_SERVER_MAIN runs another
 * build's dist/core/src/main.js instead (e.g. one from before the limits, for comparison).
 *
 * The server runs in a process of its own (dist/core/src/main.js, as `npm start` runs it), and each
 * tenant's load in another (autocannon), so that F's load does not slow the measuring of Q's.
 * Runs on DATABASE_URL, else the PostgreSQL server on 127.0.0.1:5432 (a database it creates and
 * drops); PGlite is one connection, so there is no pool to share and this benchmark needs a server.
 * Needs a build: `npm run bench` builds first. BENCH_SECONDS sets each phase's length (8), BENCH_ROUNDS
 * how many times quiet and flood alternate (3); the ratio reported is the median of the rounds'.
 */
const { spawn } = require('node:child_process');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { benchServerEnv } = require('./support');

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const QUIET = { connections: 4, overallRate: 50 };
const FLOOD = { connections: 128 };
const PASSWORD = 'bench password 12345';
const CHILDREN = 2000;

/** As a load process: run autocannon with the options given and print its figures as JSON. */
async function loadProcess(options) {
  const autocannon = require('autocannon');
  const result = await autocannon(options);
  const codes = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, s]) => [code, s.count]));
  process.stdout.write(
    JSON.stringify({
      p50: result.latency.p50,
      p97_5: result.latency.p97_5,
      p99: result.latency.p99,
      max: result.latency.max,
      total: result.requests.total,
      errors: result.errors,
      timeouts: result.timeouts,
      codes,
    }) + '\n',
  );
}

/** Runs a load process and resolves with its figures. */
function load(options) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [__filename, '--load', JSON.stringify(options)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load process exited ${code}`)),
    );
  });
}

/** Starts the server as `npm start` does, with the settings given; resolves with its URL and a stop. */
function startServerProcess(url, settings) {
  const env = {
    PATH: process.env.PATH,
    ...benchServerEnv(),
    DATABASE_URL: url,
    HEARTH_DEMO: '0',
    HEARTH_JOBS: '0',
    LOG_LEVEL: 'silent',
    PORT: '0',
    ...settings,
  };
  const main = process.env.BENCH_SERVER_MAIN ?? path.join(__dirname, '..', 'dist', 'core', 'src', 'main.js');
  const child = spawn(process.execPath, [main], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const match = /Hearth is running at (\S+)/.exec(line);
      if (match)
        resolve({
          url: match[1],
          stop: () => new Promise((done) => (child.once('exit', done), child.kill('SIGTERM'))),
        });
    });
    child.once('exit', (code) => reject(new Error(`the server exited ${code} before it listened`)));
  });
}

async function token(url, slug) {
  const response = await fetch(`${url}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ tenant: slug, email: `admin@${slug}.example`, password: PASSWORD }),
  });
  if (response.status !== 200) throw new Error(`log-in to ${slug} answered ${response.status}`);
  return (await response.json()).accessToken;
}

async function measure(store, label, settings) {
  const server = await startServerProcess(store.url, settings);
  try {
    const target = (t) => ({ url: `${server.url}/v1/children?limit=50`, headers: { authorization: `Bearer ${t}` } });
    const q = target(await token(server.url, 'quiet'));
    const f = target(await token(server.url, 'flood'));
    // Warm-up (JIT, the pool's connections), not measured.
    await Promise.all([load({ ...q, ...QUIET, duration: 3 }), load({ ...f, connections: 8, duration: 3 })]);
    // Quiet and flood alternate, so that the machine's other work, which comes and goes, weighs on both alike.
    const rounds = [];
    for (let i = 0; i < ROUNDS; i++) {
      const quiet = await load({ ...q, ...QUIET, duration: SECONDS });
      const [underFlood, flood] = await Promise.all([
        load({ ...q, ...QUIET, duration: SECONDS }),
        load({ ...f, ...FLOOD, duration: SECONDS }),
      ]);
      rounds.push({ quiet, underFlood, flood });
    }
    return { label, rounds };
  } finally {
    await server.stop();
  }
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function report({ label, rounds }) {
  const ok = (r) => r.codes['200'] ?? 0;
  const refused = (r) => r.codes['503'] ?? 0;
  const other = (r) => r.total - ok(r) - refused(r);
  process.stdout.write(`\n${label}\n`);
  rounds.forEach(({ quiet, underFlood, flood }, i) => {
    process.stdout.write(`  round ${i + 1}\n`);
    process.stdout.write(
      `    Q alone       (4 conn, 50/s): p50 ${quiet.p50} ms, p97.5 ${quiet.p97_5} ms, p99 ${quiet.p99} ms; ${ok(quiet)} answered, ${refused(quiet)} 503, ${other(quiet)} other\n`,
    );
    process.stdout.write(
      `    Q while F floods             : p50 ${underFlood.p50} ms, p97.5 ${underFlood.p97_5} ms, p99 ${underFlood.p99} ms; ${ok(underFlood)} answered, ${refused(underFlood)} 503, ${other(underFlood)} other\n`,
    );
    process.stdout.write(
      `    F flooding    (128 conn)     : ${(ok(flood) / SECONDS).toFixed(0)} answered/s, ${(refused(flood) / SECONDS).toFixed(0)} 503/s, ${other(flood)} other; p50 ${flood.p50} ms, p99 ${flood.p99} ms\n`,
    );
    process.stdout.write(`    Q p99 under flood / quiet    : ${(underFlood.p99 / quiet.p99).toFixed(2)}x\n`);
  });
  const ratio = median(rounds.map((r) => r.underFlood.p99 / r.quiet.p99));
  process.stdout.write(
    `  median over ${rounds.length} rounds: Q p99 under flood / quiet ${ratio.toFixed(2)}x (target 2x or less); F ${median(rounds.map((r) => ok(r.flood) / SECONDS)).toFixed(0)} answered/s, ${median(rounds.map((r) => refused(r.flood) / SECONDS)).toFixed(0)} 503/s\n`,
  );
}

async function main() {
  const { benchDatabase } = require('./support');
  const dist = (p) => require(`../dist/core/src/${p}`);
  const { openDatabase } = dist('db/database');
  const { runMigrations } = dist('db/migrate');
  const { bootstrapTenant } = dist('demo/seed');
  const { loadPacks } = dist('packs/registry');

  const store = await benchDatabase('hearth_fairness');
  if (!store.url) {
    process.stdout.write(
      'fairness.js: no PostgreSQL server answers; PGlite is one connection, with no pool for tenants to share. Skipped.\n',
    );
    return;
  }
  try {
    const db = openDatabase({ url: store.url, embeddedDataDir: null, poolMax: 2 });
    await runMigrations(db);
    const packs = loadPacks();
    for (const slug of ['quiet', 'flood']) {
      const { tenant } = await bootstrapTenant(db, packs, {
        kind: 'service',
        name: slug,
        slug,
        packId: 'uk',
        currency: 'GBP',
        timeZone: 'Europe/London',
        firstAdmin: { email: `admin@${slug}.example`, displayName: slug, password: PASSWORD },
      });
      await db.raw(
        `INSERT INTO children (tenant_id, id, given_name, family_name, date_of_birth, sex, status)
         SELECT ?, gen_random_uuid(), 'Child' || g, initcap(substr(md5((g % 500)::text), 1, 8)), date '2008-01-01' + (g % 6000), CASE WHEN g % 2 = 0 THEN 'male' ELSE 'female' END, 'in_care'
         FROM generate_series(1, ?) g`,
        [tenant.id, CHILDREN],
      );
    }
    await db.raw('ANALYZE');
    await db.destroy();

    const load = os.loadavg()[0];
    process.stdout.write(
      `Fairness between tenants: ${os.cpus().length} cores, load average ${load.toFixed(1)} at the start; ${ROUNDS} rounds of ${SECONDS} s quiet then ${SECONDS} s flood; GET /v1/children?limit=50 on ${CHILDREN} children per tenant\n`,
    );
    const results = [
      await measure(store, 'Default limits (pool 10, a tenant 3 of them; 1000 may wait, a tenant 300)', {}),
      await measure(
        store,
        'No tenant share (a tenant may hold the whole pool; the gate still serves the tenant holding fewest first)',
        { HEARTH_TENANT_MAX_CONCURRENCY: '10', HEARTH_MAX_QUEUED_REQUESTS: '100000' },
      ),
    ];
    for (const r of results) report(r);
    process.stdout.write(
      `\nload average at the end ${os.loadavg()[0].toFixed(1)} (other work on this machine shares its cores: figures are noisy)\n`,
    );
  } finally {
    await store.drop();
  }
}

if (process.argv[2] === '--load') {
  loadProcess(JSON.parse(process.argv[3])).catch((error) => {
    process.stderr.write(`${error.stack ?? error}\n`);
    process.exit(1);
  });
} else {
  main().catch((error) => {
    process.stderr.write(`${error.stack ?? error}\n`);
    process.exit(1);
  });
}
