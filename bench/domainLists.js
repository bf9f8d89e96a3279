/*
 * The lists a fostering service's front ends call all day, on a service of realistic size: the
 * synthetic large service of `npm run seed:large` (5,000 children, 2,000 households, about 8,000
 * placements over five years, their reviews, visits, checks and the tasks the cycles make of them).
 * Prints p50/p95/p99 per endpoint (requests one after another, after a warm-up), each against its
 * target (p95 under 50 ms for lists, under 200 ms for a shortlist), and requests/s at 10 connections.
 *
 * Runs on DATABASE_URL, else the PostgreSQL server on 127.0.0.1:5432 (in a database it creates and
 * drops), else PGlite. Needs a build: `npm run bench` builds first.
 */
const autocannon = require('autocannon');
const { benchDatabase, benchServerConfig, timeRequests } = require('./support');
const dist = (p) => require(`../dist/core/src/${p}`);

const { runMigrations } = dist('db/migrate');
const { bootstrapTenant } = dist('demo/seed');
const { LARGE_SERVICE } = dist('demo/largeService');
const { seedLargeService } = dist('demo/largeServiceSeed');
const { loadPacks } = dist('packs/registry');
const { startServer } = dist('server');

const COUNT = Number(process.env.BENCH_REQUESTS ?? 200);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);

function throughput(url, headers) {
  return new Promise((resolve, reject) => {
    autocannon({ url, headers, duration: SECONDS, connections: 10 }, (error, result) =>
      error
        ? reject(error)
        : resolve({ rps: result.requests.average, failures: result.non2xx + result.errors + result.timeouts }),
    );
  });
}

const addDays = (iso, days) => new Date(Date.parse(`${iso}T00:00:00Z`) + days * 86400000).toISOString().slice(0, 10);

async function main() {
  const store = await benchDatabase('hearth_bench_domain');
  // The daily reminders job would compete with the measurements.
  process.env.HEARTH_JOBS = '0';
  const { config, db } = benchServerConfig(store.url);
  let server;
  try {
    await runMigrations(db);
    const packs = loadPacks();
    const password = 'bench password 12345';
    const { tenant } = await bootstrapTenant(db, packs, {
      kind: 'service',
      name: 'Large',
      slug: 'large',
      packId: 'uk',
      currency: 'GBP',
      timeZone: 'Europe/London',
      firstAdmin: { email: 'admin@large.example', displayName: 'Large admin', password },
    });
    const seeded = Date.now();
    const { service, counts } = await seedLargeService(db, packs, tenant.id, LARGE_SERVICE);
    await db.raw('ANALYZE');
    const seedSeconds = (Date.now() - seeded) / 1000;

    server = await startServer(config, store.url ? {} : { db });
    const login = await fetch(`${server.url}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: 'large', email: 'admin@large.example', password }),
    });
    const { accessToken } = await login.json();
    const auth = { authorization: `Bearer ${accessToken}` };

    // The busiest caseworker, their team, and a child in care who needs a new home near the middle of the area.
    const caseload = (w) => service.children.filter((c) => c.allocatedWorkerId === w.id).length;
    const worker = service.workers
      .filter((w) => w.role === 'caseworker')
      .reduce((a, b) => (caseload(b) > caseload(a) ? b : a));
    const {
      rows: [team],
    } = await db.raw(`SELECT team_id FROM team_members WHERE tenant_id = ? AND user_id = ?`, [tenant.id, worker.id]);
    const child = service.children.find((c) => !c.leftCareOn && c.dateOfBirth > addDays(LARGE_SERVICE.asOf, -12 * 365));
    const request = await fetch(`${server.url}/v1/children/${child.id}/matching-requests`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({
        placementKind: 'short_term',
        wantedFrom: LARGE_SERVICE.asOf,
        location: { lat: 51.5, lon: -0.12 },
        maxDistanceKm: 40,
        requiredSkills: ['sibling_groups'],
      }),
    });
    if (request.status !== 201)
      throw new Error(`createMatchingRequest answered ${request.status}: ${await request.text()}`);
    const matching = await request.json();

    const base = server.url;
    const scenarios = [
      {
        name: "children by worker (a caseworker's caseload)",
        target: 50,
        url: `${base}/v1/children?allocatedWorkerId=${worker.id}&limit=50`,
      },
      {
        name: 'tasks overdue for a worker',
        target: 50,
        url: `${base}/v1/tasks?ownerId=${worker.id}&overdue=true&limit=50`,
      },
      {
        name: 'tasks overdue for a team',
        target: 50,
        url: `${base}/v1/tasks?teamId=${team.team_id}&overdue=true&limit=50`,
      },
      {
        name: 'carers with checks expiring in 60 days',
        target: 50,
        url: `${base}/v1/carer-checks?expiringBefore=${addDays(LARGE_SERVICE.asOf, 60)}&limit=50`,
      },
      { name: 'children by name (two letters typed)', target: 50, url: `${base}/v1/children?q=sm&limit=50` },
      {
        name: 'shortlist for a matching request',
        target: 200,
        url: `${base}/v1/matching-requests/${matching.id}/shortlist`,
      },
    ];
    const results = [];
    for (const s of scenarios)
      results.push({
        ...s,
        ...(await timeRequests(s.url, auth, { count: COUNT })),
        ...(await throughput(s.url, auth)),
      });

    const shortlist = await (await fetch(scenarios[5].url, { headers: auth })).json();
    const {
      rows: [{ overdue }],
    } = await db.raw(
      `SELECT count(*)::int AS overdue FROM tasks WHERE tenant_id = ? AND owner_id = ? AND status = 'open' AND due_date < current_date`,
      [tenant.id, worker.id],
    );
    process.stdout.write(
      `\nHearth domain lists on ${store.url ? 'PostgreSQL' : 'PGlite'}: the large synthetic service (seeded in ${seedSeconds.toFixed(0)} s)\n`,
    );
    process.stdout.write(
      `  ${Object.entries(counts)
        .map(([t, n]) => `${t} ${n}`)
        .join(', ')}\n`,
    );
    process.stdout.write(
      `  the busiest caseworker: ${caseload(worker)} children, ${overdue} overdue tasks; shortlist of ${(shortlist.data ?? shortlist.candidates ?? []).length} households\n`,
    );
    process.stdout.write(
      `  ${COUNT} requests one after another per endpoint for latency, then ${SECONDS} s at 10 connections\n\n`,
    );
    process.stdout.write(
      `${'endpoint'.padEnd(46)} ${'p50'.padStart(7)} ${'p95'.padStart(7)} ${'p99'.padStart(7)} ${'target'.padStart(7)} ${'p95/target'.padStart(10)} ${'req/s'.padStart(7)}\n`,
    );
    for (const r of results) {
      process.stdout.write(
        `${r.name.padEnd(46)} ${r.p50.toFixed(1).padStart(7)} ${r.p95.toFixed(1).padStart(7)} ${r.p99.toFixed(1).padStart(7)} ${String(r.target).padStart(7)} ${(r.p95 / r.target).toFixed(2).padStart(10)} ${r.rps.toFixed(0).padStart(7)}${r.failures ? `  (${r.failures} failed)` : ''}\n`,
      );
    }
    process.stdout.write('\n(latency in ms; a ratio under 1.00 meets the target)\n');
  } finally {
    await server?.close();
    await db.destroy();
    await store.drop();
  }
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
