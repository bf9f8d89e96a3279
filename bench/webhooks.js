/*
 * Webhook deliveries against API requests. A receiver that takes 1 s to answer each delivery runs
 * in this process; the server runs in its own (dist/core/src/main.js, as `npm start` runs it, with
 * its job worker on) and a load process (autocannon) asks GET /v1/children?limit=50 at a modest rate
 * (4 connections, 50 requests/s). Each round measures that GET twice: with no delivery under way,
 * then while the worker delivers a backlog of events to the slow receiver (one every second, the
 * backlog longer than the window). The figure is the GET's p99 with deliveries over its p99 without
 * (target 1.2x or less), the median of the rounds'.
 *
 * Runs on DATABASE_URL, else the PostgreSQL server on 127.0.0.1:5432 (a database it creates and
 * drops); PGlite lives inside one process and cannot be shared with the server's, so it is skipped.
 * Needs a build: `npm run bench webhooks.js` builds first. BENCH_SECONDS sets each phase's length
 * (8), BENCH_ROUNDS the rounds (3), BENCH_RECEIVER_MS the receiver's delay (1000).
 */
const { spawn } = require('node:child_process');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { benchServerEnv } = require('./support');
const { setTimeout } = require('node:timers');

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const RECEIVER_MS = Number(process.env.BENCH_RECEIVER_MS ?? 1000);
const GET_LOAD = { connections: 4, overallRate: 50 };
const PASSWORD = 'bench password 12345';
const CHILDREN = 2000;

/** Requests answered 200 in a load run (bench/processes/load.js reports autocannon's counts by status). */
const answered = (run) => run.statusCodes?.['200']?.count ?? 0;

/** The server as `npm start` runs it, with its job worker on and private (loopback) receivers allowed. */
function startServerProcess(url) {
  const env = {
    PATH: process.env.PATH,
    ...benchServerEnv(),
    DATABASE_URL: url,
    HEARTH_DEMO: '0',
    HEARTH_JOBS: '1',
    HEARTH_WEBHOOKS_ALLOW_PRIVATE: '1',
    HEARTH_WEBHOOKS_TIMEOUT_MS: String(RECEIVER_MS * 5),
    LOG_LEVEL: 'silent',
    PORT: '0',
  };
  const main = path.join(__dirname, '..', 'dist', 'core', 'src', 'main.js');
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

/** A receiver that answers 200 after RECEIVER_MS, counting what it got and when. */
async function slowReceiver() {
  const arrivals = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      arrivals.push(Date.now());
      setTimeout(() => res.writeHead(200).end('ok'), RECEIVER_MS);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/hooks`,
    arrivals,
    close: () => new Promise((resolve) => (server.closeAllConnections(), server.close(resolve))),
  };
}

async function api(url, method, route, token, body) {
  const response = await fetch(`${url}${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (response.status >= 300)
    throw new Error(`${method} ${route} answered ${response.status}: ${await response.text()}`);
  return response.json();
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main() {
  const { benchDatabase, loadFromAnotherProcess } = require('./support');
  const dist = (p) => require(`../dist/core/src/${p}`);
  const { openDatabase } = dist('db/database');
  const { runMigrations } = dist('db/migrate');
  const { bootstrapTenant } = dist('demo/seed');
  const { loadPacks } = dist('packs/registry');

  const store = await benchDatabase('hearth_webhooks');
  if (!store.url) {
    process.stdout.write(
      'webhooks.js: no PostgreSQL server answers; PGlite lives in one process and cannot be shared with the server. Skipped.\n',
    );
    return;
  }
  const receiver = await slowReceiver();
  let server;
  try {
    const db = openDatabase({ url: store.url, embeddedDataDir: null, poolMax: 2 });
    await runMigrations(db);
    const { tenant } = await bootstrapTenant(db, loadPacks(), {
      kind: 'service',
      name: 'hooks',
      slug: 'hooks',
      packId: 'uk',
      currency: 'GBP',
      timeZone: 'Europe/London',
      firstAdmin: { email: 'admin@hooks.example', displayName: 'hooks', password: PASSWORD },
    });
    await db.raw(
      `INSERT INTO children (tenant_id, id, given_name, family_name, date_of_birth, sex, status)
       SELECT ?, gen_random_uuid(), 'Child' || g, initcap(substr(md5((g % 500)::text), 1, 8)), date '2008-01-01' + (g % 6000), CASE WHEN g % 2 = 0 THEN 'male' ELSE 'female' END, 'in_care'
       FROM generate_series(1, ?) g`,
      [tenant.id, CHILDREN],
    );
    await db.raw('ANALYZE');
    await db.destroy();

    server = await startServerProcess(store.url);
    const login = await fetch(`${server.url}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: 'hooks', email: 'admin@hooks.example', password: PASSWORD }),
    });
    const token = (await login.json()).accessToken;
    await api(server.url, 'POST', '/v1/webhook-endpoints', token, { url: receiver.url, eventTypes: ['child.created'] });
    const target = { url: `${server.url}/v1/children?limit=50`, headers: { authorization: `Bearer ${token}` } };

    process.stdout.write(
      `Webhooks against API requests: ${os.cpus().length} cores, load average ${os.loadavg()[0].toFixed(1)} at the start; ` +
        `${ROUNDS} rounds of ${SECONDS} s without deliveries then ${SECONDS} s with them; a receiver taking ${RECEIVER_MS} ms a delivery; ` +
        `GET /v1/children?limit=50 (${CHILDREN} children) at ${GET_LOAD.overallRate}/s on ${GET_LOAD.connections} connections\n`,
    );
    await loadFromAnotherProcess({ ...target, ...GET_LOAD, duration: 3 });
    const rounds = [];
    let created = 0;
    for (let i = 0; i < ROUNDS; i++) {
      // Nothing in flight: every delivery so far has reached the receiver and been answered.
      while (receiver.arrivals.length < created) await sleep(200);
      await sleep(RECEIVER_MS + 500);
      const quiet = await loadFromAnotherProcess({ ...target, ...GET_LOAD, duration: SECONDS });

      // A backlog longer than the window: one delivery a second keeps the worker busy throughout.
      const backlog = SECONDS + 6;
      for (let n = 0; n < backlog; n++)
        await api(server.url, 'POST', '/v1/children', token, {
          givenName: `Bench${i}x${n}`,
          familyName: 'Hook',
          dateOfBirth: '2015-01-01',
          sex: 'female',
          ethnicity: 'WBRI',
        });
      created += backlog;
      const firstArrival = receiver.arrivals.length;
      while (receiver.arrivals.length === firstArrival) await sleep(50);
      const windowStart = Date.now();
      const busy = await loadFromAnotherProcess({ ...target, ...GET_LOAD, duration: SECONDS });
      const windowEnd = Date.now();
      const delivered = receiver.arrivals.filter((t) => t >= windowStart && t <= windowEnd).length;
      rounds.push({ quiet, busy, delivered });
      process.stdout.write(
        `  round ${i + 1}: GET without deliveries p50 ${quiet.p50} ms, p99 ${quiet.p99} ms (${answered(quiet)} answered); ` +
          `with deliveries p50 ${busy.p50} ms, p99 ${busy.p99} ms (${answered(busy)} answered), ` +
          `${delivered} deliveries arrived in the window; p99 ratio ${(busy.p99 / quiet.p99).toFixed(2)}x\n`,
      );
    }
    const ratio = median(rounds.map((r) => r.busy.p99 / r.quiet.p99));
    process.stdout.write(
      `median over ${ROUNDS} rounds: GET p99 with deliveries to a ${RECEIVER_MS} ms receiver / without ${ratio.toFixed(2)}x (target 1.2x or less)\n`,
    );
    process.stdout.write(
      `load average at the end ${os.loadavg()[0].toFixed(1)} (other work shares this machine's cores)\n`,
    );
  } finally {
    if (server) await server.stop();
    await receiver.close();
    await store.drop();
  }
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
