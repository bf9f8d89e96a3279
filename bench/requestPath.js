/*
 * The request path under load, against the yardstick of bare express + pg doing the same read.
 *
 * Three kinds of process, so no figure includes another's work: this one (seeds the database and
 * prints), Hearth (bench/processes/hearth.js) and the bare baseline (bench/processes/bare.js) each
 * in its own, and the load generator (autocannon, bench/processes/load.js) in a fourth, started for
 * each scenario. Scenarios run one after another, each on a quiet server.
 *
 * The figure the request path is judged by: an authenticated GET /v1/children/{id} at 32
 * connections, as a ratio of the bare one-statement handler's requests/s (target at least 0.5x),
 * and its p99 (target under 50 ms). The bare six-statement handler shows what the round trips of
 * the old request path cost on their own.
 *
 *   node bench/requestPath.js          (needs a build: `npm run bench` builds first)
 *
 * BENCH_CONNECTIONS (32), BENCH_SECONDS (10), BENCH_CHILDREN (20,000). To profile Hearth alone:
 * BENCH_HEARTH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' (node's flags for Hearth's process only)
 * and BENCH_ONLY=children/ (runs only the scenarios whose name contains it, and the yardstick). Needs a PostgreSQL server
 * (DATABASE_URL, else 127.0.0.1:5432, in a database it creates and drops).
 */
const { benchDatabase, benchServerConfig, cpuSeconds, loadFromAnotherProcess, startProcess } = require('./support');
const dist = (p) => require(`../dist/core/src/${p}`);

const { runMigrations } = dist('db/migrate');
const { bootstrapTenant } = dist('demo/seed');
const { loadPacks } = dist('packs/registry');

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const CHILDREN = Number(process.env.BENCH_CHILDREN ?? 20000);

async function seed(url) {
  const { db } = benchServerConfig(url);
  try {
    await runMigrations(db);
    const password = 'bench password 12345';
    const { tenant, adminUserId } = await bootstrapTenant(db, loadPacks(), {
      kind: 'service',
      name: 'Bench',
      slug: 'bench',
      packId: 'uk',
      currency: 'GBP',
      timeZone: 'Europe/London',
      firstAdmin: { email: 'admin@bench.example', displayName: 'Bench', password },
    });
    // A service of realistic size, inserted in SQL (the owner gives itself the tenant: RLS is forced).
    await db.transaction(async (trx) => {
      await trx.raw(`SELECT set_config('app.tenant_id', ?, true)`, [tenant.id]);
      await trx.raw(
        `INSERT INTO children (tenant_id, id, given_name, family_name, date_of_birth, sex, status)
         SELECT ?, gen_random_uuid(), 'Child' || g, initcap(substr(md5((g % 500)::text), 1, 8)), date '2008-01-01' + (g % 6000), CASE WHEN g % 2 = 0 THEN 'male' ELSE 'female' END, 'in_care'
         FROM generate_series(1, ?) g`,
        [tenant.id, CHILDREN],
      );
    });
    // As autovacuum would soon after such a load: without statistics the planner guesses badly.
    await db.raw('ANALYZE');
    const {
      rows: [{ term }],
    } = await db.raw(`SELECT substr(md5('7'), 1, 5) AS term`);
    return { tenantId: tenant.id, adminUserId, password, term };
  } finally {
    await db.destroy();
  }
}

/** One scenario: its load, and the CPU the server under test spent per request (ms), which machine load disturbs less than requests/s. */
async function run(name, server, options) {
  if (process.env.BENCH_ONLY && !name.includes(process.env.BENCH_ONLY) && !name.includes('yardstick')) return null;
  const before = cpuSeconds(server.pid);
  const result = await loadFromAnotherProcess({ duration: SECONDS, connections: CONNECTIONS, ...options });
  return { name, ...result, cpuMs: ((cpuSeconds(server.pid) - before) * 1000) / Math.max(1, result.total) };
}

async function main() {
  const store = await benchDatabase();
  if (!store.url) throw new Error('bench/requestPath.js needs a PostgreSQL server (DATABASE_URL, else 127.0.0.1:5432)');
  const seeded = await seed(store.url);
  const hearthArgs = (process.env.BENCH_HEARTH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const hearth = await startProcess('hearth.js', { BENCH_DATABASE_URL: store.url }, hearthArgs);
  const bare = await startProcess('bare.js', { BENCH_DATABASE_URL: store.url });
  try {
    const login = await fetch(`${hearth.url}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: 'bench', email: 'admin@bench.example', password: seeded.password }),
    });
    const { accessToken } = await login.json();
    const auth = { authorization: `Bearer ${accessToken}` };
    const list = await (await fetch(`${hearth.url}/v1/children?limit=1`, { headers: auth })).json();
    const childId = list.data[0].id;

    const results = [];
    results.push(
      await run('bare: one SELECT (the yardstick)', bare, { url: `${bare.url}/one/${seeded.tenantId}/${childId}` }),
    );
    results.push(
      await run('bare: the six statements, six round trips', bare, {
        url: `${bare.url}/six/${seeded.tenantId}/${childId}?user=${seeded.adminUserId}`,
      }),
    );
    results.push(
      await run('bare: the same in three round trips', bare, {
        url: `${bare.url}/three/${seeded.tenantId}/${childId}?user=${seeded.adminUserId}`,
      }),
    );
    results.push(await run('Hearth GET /healthz (no auth, no database)', hearth, { url: `${hearth.url}/healthz` }));
    results.push(await run('Hearth GET /v1/auth/me', hearth, { url: `${hearth.url}/v1/auth/me`, headers: auth }));
    const child = await run('Hearth GET /v1/children/{id}', hearth, {
      url: `${hearth.url}/v1/children/${childId}`,
      headers: auth,
    });
    results.push(child);
    results.push(
      await run('Hearth GET /v1/children?limit=50', hearth, {
        url: `${hearth.url}/v1/children?limit=50`,
        headers: auth,
      }),
    );
    results.push(
      await run(`Hearth GET /v1/children?q=${seeded.term}&limit=50`, hearth, {
        url: `${hearth.url}/v1/children?q=${seeded.term}&limit=50`,
        headers: auth,
      }),
    );
    results.push(
      await run('Hearth POST /v1/children (write + audit)', hearth, {
        url: `${hearth.url}/v1/children`,
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        // The same child every time: allowDuplicate, or duplicate detection answers 409 after the first.
        body: JSON.stringify({
          givenName: 'Bench',
          familyName: 'Write',
          dateOfBirth: '2015-01-01',
          sex: 'female',
          allowDuplicate: true,
        }),
      }),
    );

    const ran = results.filter((r) => r !== null);
    const yardstick = ran[0].rps;
    process.stdout.write(
      `\nRequest path on PostgreSQL: ${CHILDREN} children in the tenant, ${CONNECTIONS} connections, ${SECONDS} s per scenario; Hearth, the bare baseline and the load generator each in a process of their own\n\n`,
    );
    process.stdout.write(
      `${'scenario'.padEnd(48)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(7)} ${'p90'.padStart(6)} ${'p99'.padStart(6)} ${'vs bare 1'.padStart(9)} ${'CPU ms/req'.padStart(10)} failures\n`,
    );
    for (const r of ran) {
      process.stdout.write(
        `${r.name.padEnd(48)} ${r.rps.toFixed(0).padStart(8)} ${String(r.p50).padStart(7)} ${String(r.p90).padStart(6)} ${String(r.p99).padStart(6)} ${(r.rps / yardstick).toFixed(2).padStart(9)} ${r.cpuMs.toFixed(2).padStart(10)} ${r.failures}/${r.total}\n`,
      );
    }
    if (child === null) return;
    const ratio = child.rps / yardstick;
    process.stdout.write(
      `\nServer CPU per request: Hearth GET /v1/children/{id} ${child.cpuMs.toFixed(2)} ms, the bare one-statement handler ${results[0].cpuMs.toFixed(2)} ms\n`,
    );
    process.stdout.write(
      `GET /v1/children/{id}: ${ratio.toFixed(2)}x the bare one-statement handler (target >= 0.50: ${ratio >= 0.5 ? 'met' : 'NOT met'}); p99 ${child.p99} ms (target < 50: ${child.p99 < 50 ? 'met' : 'NOT met'})\n`,
    );
  } finally {
    await hearth.stop();
    await bare.stop();
    await store.drop();
  }
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
