/*
 * The request path under load: what authentication, the per-request transaction (SET LOCAL ROLE,
 * set_config, RLS), the principal re-read and the audit append cost, measured against /healthz,
 * which does none of them. Prints requests/s and latency per scenario and the ratio to /healthz.
 *
 * Runs on DATABASE_URL, else the PostgreSQL server on 127.0.0.1:5432 (in a database it creates and
 * drops), else PGlite. Needs a build: `npm run bench` builds first.
 */
const autocannon = require('autocannon');
const { benchDatabase, benchServerConfig } = require('./support');
const dist = (p) => require(`../dist/core/src/${p}`);

const { runMigrations } = dist('db/migrate');
const { bootstrapTenant } = dist('demo/seed');
const { loadPacks } = dist('packs/registry');
const { startServer } = dist('server');

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const CHILDREN = Number(process.env.BENCH_CHILDREN ?? 20000);

function run(name, options) {
  return new Promise((resolve, reject) => {
    autocannon({ duration: SECONDS, connections: CONNECTIONS, ...options }, (error, result) => {
      if (error) return reject(error);
      const failures = result.non2xx + result.errors + result.timeouts;
      resolve({ name, rps: result.requests.average, p50: result.latency.p50, p97_5: result.latency.p97_5, p99: result.latency.p99, failures, total: result.requests.total });
    });
  });
}

async function main() {
  const store = await benchDatabase();
  const { config, db } = benchServerConfig(store.url);
  await runMigrations(db);
  const password = 'bench password 12345';
  const { tenant } = await bootstrapTenant(db, loadPacks(), { kind: 'service', name: 'Bench', slug: 'bench', packId: 'uk', currency: 'GBP', timeZone: 'Europe/London', firstAdmin: { email: 'admin@bench.example', displayName: 'Bench', password } });
  // A service of realistic size, inserted in SQL (the owner bypasses RLS; tenant_id is explicit).
  await db.raw(
    `INSERT INTO children (tenant_id, id, given_name, family_name, date_of_birth, sex, status)
     SELECT ?, gen_random_uuid(), 'Child' || g, initcap(substr(md5((g % 500)::text), 1, 8)), date '2008-01-01' + (g % 6000), CASE WHEN g % 2 = 0 THEN 'male' ELSE 'female' END, 'in_care'
     FROM generate_series(1, ?) g`,
    [tenant.id, CHILDREN],
  );
  // As autovacuum would soon after such a load: without statistics the planner guesses badly.
  await db.raw('ANALYZE');
  // A name search as a worker types it: the first five letters of one of the 500 family names.
  const { rows: [{ term }] } = await db.raw(`SELECT substr(md5('7'), 1, 5) AS term`);
  const server = await startServer(config, store.url ? {} : { db });
  try {
    const login = await fetch(`${server.url}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ tenant: 'bench', email: 'admin@bench.example', password }) });
    const { accessToken } = await login.json();
    const auth = { authorization: `Bearer ${accessToken}` };
    const list = await (await fetch(`${server.url}/v1/children?limit=1`, { headers: auth })).json();
    const childId = list.data[0].id;

    const results = [];
    results.push(await run('GET /healthz (no auth, no database)', { url: `${server.url}/healthz` }));
    results.push(await run('GET /v1/auth/me (JWT, transaction, principal)', { url: `${server.url}/v1/auth/me`, headers: auth }));
    results.push(await run('GET /v1/children/{id}', { url: `${server.url}/v1/children/${childId}`, headers: auth }));
    results.push(await run('GET /v1/children?limit=50', { url: `${server.url}/v1/children?limit=50`, headers: auth }));
    results.push(await run(`GET /v1/children?q=${term}&limit=50`, { url: `${server.url}/v1/children?q=${term}&limit=50`, headers: auth }));
    results.push(
      await run('POST /v1/children (write + audit append)', {
        url: `${server.url}/v1/children`,
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        // The same child every time: allowDuplicate, or duplicate detection answers 409 after the first.
        body: JSON.stringify({ givenName: 'Bench', familyName: 'Write', dateOfBirth: '2015-01-01', sex: 'female', allowDuplicate: true }),
      }),
    );

    const base = results[0].rps;
    process.stdout.write(`\nHearth request path on ${store.url ? 'PostgreSQL' : 'PGlite'}: ${CHILDREN} children in the tenant, ${CONNECTIONS} connections, ${SECONDS} s per scenario\n\n`);
    process.stdout.write(`${'scenario'.padEnd(46)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(7)} ${'p97.5'.padStart(7)} ${'p99'.padStart(6)} ${'vs healthz'.padStart(10)} failures\n`);
    for (const r of results) {
      process.stdout.write(`${r.name.padEnd(46)} ${r.rps.toFixed(0).padStart(8)} ${String(r.p50).padStart(7)} ${String(r.p97_5).padStart(7)} ${String(r.p99).padStart(6)} ${(r.rps / base).toFixed(3).padStart(10)} ${r.failures}/${r.total}\n`);
    }
    const { rows } = await db.raw(`SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = ? AND action = 'child.created'`, [tenant.id]);
    const writes = results[results.length - 1];
    process.stdout.write(`\naudit events for the POST scenario: ${rows[0].n} (requests answered 2xx: ${writes.total - writes.failures})\n`);
  } finally {
    await server.close();
    await db.destroy();
    await store.drop();
  }
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
