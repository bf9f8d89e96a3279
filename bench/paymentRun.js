/*
 * A payment run at scale, end to end through the server: N active placements (default 50,000; UK
 * pack, four weeks 24 March-20 April 2025 across the 6 April uplift, so about 1.4 million nights),
 * calculated by the job and persisted, approved, finalised into the ledger, and its journal exported
 * as generic CSV over HTTP. Prints each phase's wall time, the process's peak RSS (the server runs
 * in this process) overall and while exporting, and the ratio of the calculation (and of the whole
 * run) to the time PostgreSQL takes to COPY the same number of lines into a bare table of
 * payment_lines' shape: the run's own lines, and (the heavier yardstick) one line per night.
 *
 * Each size runs in a process of its own, so each peak RSS is its own; with no size given it runs
 * 10,000 then 50,000 placements and prints the export memory of both side by side, to show it flat.
 *
 *   node bench/paymentRun.js [placements ...]     (needs a build; `npm run bench` builds first)
 *
 * Needs a PostgreSQL server (DATABASE_URL, else 127.0.0.1:5432): the COPY yardstick is the server's.
 */
const { spawnSync } = require('node:child_process');
const { pipeline } = require('node:stream/promises');
const { benchDatabase, benchServerConfig } = require('./support');

const dist = (p) => require(`../dist/core/src/${p}`);
const PERIOD = { from: '2025-03-24', to: '2025-04-20' };
const DAY_MS = 86_400_000;
const shift = (iso, days) => new Date(Date.parse(`${iso}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);

/** Peak RSS since the last reset, and over the whole process, sampled every 10 ms (and at each read). */
function rssSampler() {
  let peak = process.memoryUsage().rss;
  let overall = peak;
  const sample = () => {
    const rss = process.memoryUsage().rss;
    peak = Math.max(peak, rss);
    overall = Math.max(overall, rss);
  };
  const timer = setInterval(sample, 10);
  timer.unref();
  return {
    reset: () => { peak = process.memoryUsage().rss; },
    peak: () => (sample(), peak),
    overall: () => (sample(), overall),
    stop: () => clearInterval(timer),
  };
}

const mb = (bytes) => `${(bytes / 1048576).toFixed(0)} MB`;
const secs = (ms) => `${(ms / 1000).toFixed(2)} s`;

async function timed(work) {
  const started = process.hrtime.bigint();
  const result = await work();
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, result };
}

/** The same service every run (a fixed seed): households of one to three children, some arriving or leaving in the period, some in respite. */
function service(count) {
  let seed = 20250406;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const pick = (values) => values[Math.floor(random() * values.length)];
  const households = [];
  const children = [];
  const placements = [];
  // Readable ids: a hex letter for the kind, then the number (household a…, placement b…, child c…).
  const uuid = (kind, n) => `${kind}${n.toString(16).padStart(7, '0')}-0000-4000-8000-000000000000`;
  let h = 0;
  while (placements.length < count) {
    const household = { id: uuid('a', h), region: pick(['london', 'south_east', 'rest_of_england', 'rest_of_england']), level: pick(['level_1', 'level_2', 'level_3']) };
    households.push(household);
    const size = 1 + Math.floor(random() * 2.2);
    for (let k = 0; k < size && placements.length < count; k++) {
      const n = placements.length;
      const child = { id: uuid('c', n), dateOfBirth: shift(PERIOD.from, -1 - Math.floor(random() * (18 * 365 - 40))) };
      children.push(child);
      const midStart = random() < 0.1;
      const start = midStart ? shift(PERIOD.from, Math.floor(random() * 28)) : shift(PERIOD.from, -1 - Math.floor(random() * 900));
      const ends = random() < 0.1;
      placements.push({ id: uuid('b', n), childId: child.id, householdId: household.id, start, end: ends ? shift(start > PERIOD.from ? start : PERIOD.from, 1 + Math.floor(random() * 20)) : null, placementType: pick(['U4', 'U4', 'U6', 'U3']) });
    }
    h++;
  }
  return { households, children, placements };
}

/** Writes the service as the owner, in bulk (an operator's load, as `npm run seed:large` does). */
async function load(db, tenantId, s) {
  const { bulkInsert } = dist('db/bulkInsert');
  await db.transaction(async (trx) => {
    await trx.raw(`SELECT set_config('app.tenant_id', ?, true)`, [tenantId]);
    const col = (name, type, value) => ({ name, type, value });
    await bulkInsert(trx, 'carer_households', [col('tenant_id', 'uuid', () => tenantId), col('id', 'uuid', (r) => r.id), col('name', 'text', (r) => `Household ${r.id.slice(1, 9)}`), col('region', 'text', (r) => r.region),
      col('carer_level', 'text', (r) => r.level), col('workflow_key', 'text', () => 'carer-approval'), col('approval_state', 'text', () => 'approved'), col('approved_state', 'text', () => 'approved'), col('approved_on', 'date', () => '2022-01-01')], s.households);
    await bulkInsert(trx, 'carer_approval_terms', [col('tenant_id', 'uuid', () => tenantId), col('id', 'uuid', (r) => r.id.replace(/^a/, 'd')), col('household_id', 'uuid', (r) => r.id), col('effective_from', 'date', () => '2022-01-01'),
      col('max_children', 'integer', () => 3), col('age_min', 'integer', () => 0), col('age_max', 'integer', () => 17), col('placement_kinds', 'text[]', () => ['long_term', 'short_term']), col('carer_level', 'text', (r) => r.level)], s.households);
    await bulkInsert(trx, 'children', [col('tenant_id', 'uuid', () => tenantId), col('id', 'uuid', (r) => r.id), col('given_name', 'text', () => 'Bench'), col('family_name', 'text', (r) => `Child ${r.id.slice(1, 9)}`),
      col('date_of_birth', 'date', (r) => r.dateOfBirth), col('sex', 'text', () => 'female'), col('status', 'text', () => 'in_care')], s.children);
    await bulkInsert(trx, 'placements', [col('tenant_id', 'uuid', () => tenantId), col('id', 'uuid', (r) => r.id), col('child_id', 'uuid', (r) => r.childId), col('household_id', 'uuid', (r) => r.householdId),
      col('kind', 'text', () => 'long_term'), col('placement_type', 'text', (r) => r.placementType), col('status', 'text', (r) => (r.end ? 'ended' : 'active')), col('start_date', 'date', (r) => r.start), col('end_date', 'date', (r) => r.end)], s.placements);
  });
  await db.raw('ANALYZE');
}

/**
 * PostgreSQL's COPY of `rows` lines shaped as payment_lines into a bare table (no keys, checks or
 * triggers): the floor any writer of those lines stands on. The lines are written to a file first
 * and streamed from it, so the figure is COPY's, not the time to make up the text.
 */
async function copyYardstick(db, lines) {
  const { from: copyFrom } = require('pg-copy-streams');
  const fs = require('node:fs');
  const file = require('node:path').join(require('node:os').tmpdir(), `hearth-bench-copy-${process.pid}.tsv`);
  const row = (i) => `00000000-0000-4000-8000-000000000000\t${i.toString(16).padStart(8, '0')}-0000-4000-8000-000000000001\t00000000-0000-4000-8000-000000000002\t1\t${i + 1}\t00000000-0000-4000-8000-000000000003\t00000000-0000-4000-8000-000000000004\t00000000-0000-4000-8000-000000000005\trate\tallowance\t2025-03-24\t2025-04-20\t28\t${22000 + (i % 5000)}\t1\t\\N\t\\N\t\\N\t\\N\tallowance: 28 nights, 2025-03-24 to 2025-04-20\n`;
  const out = fs.createWriteStream(file);
  for (let i = 0; i < lines; i += 1000) {
    if (!out.write(Array.from({ length: Math.min(1000, lines - i) }, (_, k) => row(i + k)).join(''))) await new Promise((resolve) => out.once('drain', resolve));
  }
  await new Promise((resolve) => out.end(resolve));
  const client = await db.client.acquireConnection();
  try {
    await client.query('CREATE TEMP TABLE bench_copy (LIKE payment_lines INCLUDING DEFAULTS)');
    const columns = 'tenant_id, id, run_id, calculation, position, household_id, placement_id, child_id, kind, component, period_start, period_end, nights, amount, explanation_key, corrects_run_id, corrects_line_ids, claim_id, adjustment_id, description';
    const { ms } = await timed(() => pipeline(fs.createReadStream(file), client.query(copyFrom(`COPY bench_copy (${columns}) FROM STDIN`))));
    await client.query('DROP TABLE bench_copy');
    return ms;
  } finally {
    await db.client.releaseConnection(client);
    fs.rmSync(file, { force: true });
  }
}

async function one(count) {
  const store = await benchDatabase('hearth_bench_pay');
  if (!store.url) throw new Error('bench/paymentRun.js needs a PostgreSQL server: the COPY yardstick is the server\'s');
  process.env.HEARTH_JOBS = '0';
  const { config, db } = benchServerConfig(store.url);
  const memory = rssSampler();
  // BENCH_TRACE=1 prints every statement slower than 100 ms, to see where a phase's time goes.
  if (process.env.BENCH_TRACE) {
    const starts = new Map();
    db.on('query', (q) => starts.set(q.__knexQueryUid, { at: Date.now(), sql: q.sql }));
    db.on('query-response', (_r, q) => {
      const s = starts.get(q.__knexQueryUid);
      starts.delete(q.__knexQueryUid);
      if (s && Date.now() - s.at > 100) process.stderr.write(`slow ${Date.now() - s.at} ms: ${s.sql.slice(0, 160)}\n`);
    });
  }
  let server;
  try {
    await dist('db/migrate').runMigrations(db);
    const packs = dist('packs/registry').loadPacks();
    const password = 'bench-password-bench-password';
    const { tenant } = await dist('demo/seed').bootstrapTenant(db, packs, { kind: 'service', name: 'Bench fostering', slug: 'bench', packId: 'uk', currency: 'GBP', timeZone: 'Europe/London', firstAdmin: { email: 'admin@bench.test', displayName: 'Admin', password } });
    const s = service(count);
    const loaded = await timed(() => load(db, tenant.id, s));
    server = await dist('server').startServer(config, { db });
    const api = async (method, path, token, body) => {
      const response = await fetch(`${server.url}${path}`, { method, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
      const text = await response.text();
      if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text.slice(0, 300)}`);
      return text ? JSON.parse(text) : null;
    };
    const login = async (email) => (await api('POST', '/v1/auth/login', null, { tenant: 'bench', email, password })).accessToken;
    const admin = await login('admin@bench.test');
    await api('POST', '/v1/users', admin, { email: 'officer@bench.test', displayName: 'Officer', roles: ['finance_officer'], password });
    const officer = await login('officer@bench.test');
    await api('POST', '/v1/pay-schedules', admin, { key: 'four-weekly', name: 'Four-weekly', frequency: 'four_weekly', timing: 'arrears', anchorDate: PERIOD.from });
    const run = await api('POST', '/v1/payment-runs', admin, { periodStart: PERIOD.from });

    memory.reset();
    await api('POST', `/v1/payment-runs/${run.id}/calculate`, officer, {});
    const { runDueJobs } = dist('jobs/worker');
    const calculated = await timed(() => runDueJobs(db, { handlers: dist('jobs/handlers').jobHandlers(), services: server.services }));
    const calculationPeak = memory.peak();
    const after = await api('GET', `/v1/payment-runs/${run.id}`, admin);
    if (after.status !== 'calculated') throw new Error(`the run is ${after.status}: ${JSON.stringify(after.calculation)}`);
    const nights = Number((await db.raw(`SELECT coalesce(sum(nights), 0)::bigint AS n FROM payment_lines WHERE run_id = ? AND kind = 'rate' AND component = 'allowance'`, [run.id])).rows[0].n);

    await api('POST', `/v1/payment-runs/${run.id}/submit`, officer, {});
    await api('POST', `/v1/payment-runs/${run.id}/approve`, admin, {});
    const finalised = await timed(() => api('POST', `/v1/payment-runs/${run.id}/finalise`, admin, {}));
    const entries = Number((await db.raw('SELECT count(*)::int AS n FROM ledger_entries WHERE journal_id = ?', [finalised.result.journalId])).rows[0].n);

    memory.reset();
    const beforeExport = process.memoryUsage().rss;
    const exported = await timed(async () => {
      const response = await fetch(`${server.url}/v1/payment-runs/${run.id}/exports`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ format: 'generic' }) });
      if (!response.ok) throw new Error(`export answered ${response.status}`);
      let bytes = 0;
      let rows = 0;
      for await (const chunk of response.body) {
        bytes += chunk.length;
        for (const b of chunk) if (b === 10) rows++;
      }
      return { bytes, rows };
    });
    const exportPeak = memory.peak();

    const copyLines = await copyYardstick(db, after.lineCount);
    const copyNights = await copyYardstick(db, nights);
    const result = {
      placements: count, households: s.households.length, nights, lines: after.lineCount, entries, total: after.total,
      loadMs: loaded.ms, calculateMs: calculated.ms, finaliseMs: finalised.ms, exportMs: exported.ms, exportRows: exported.result.rows - 1, exportBytes: exported.result.bytes,
      copyLinesMs: copyLines, copyNightsMs: copyNights, peakRss: memory.overall(), calculationPeakRss: calculationPeak, exportPeakRss: exportPeak, rssBeforeExport: beforeExport,
    };
    return result;
  } finally {
    memory.stop();
    if (server) await server.close();
    await db.destroy();
    await store.drop();
  }
}

function print(r) {
  const runMs = r.calculateMs + r.finaliseMs + r.exportMs;
  const lines = [
    `placements ${r.placements.toLocaleString('en-GB')} in ${r.households.toLocaleString('en-GB')} households; ${r.nights.toLocaleString('en-GB')} nights paid; ${r.lines.toLocaleString('en-GB')} payment lines; ${r.entries.toLocaleString('en-GB')} ledger entries; total £${(r.total / 100).toLocaleString('en-GB', { minimumFractionDigits: 2 })}`,
    `  calculate + persist (job)   ${secs(r.calculateMs)}`,
    `  approve → finalise (ledger) ${secs(r.finaliseMs)}`,
    `  export generic CSV (HTTP)   ${secs(r.exportMs)}  (${r.exportRows.toLocaleString('en-GB')} rows, ${mb(r.exportBytes)})`,
    `  whole run                   ${secs(runMs)}`,
    `  COPY of ${r.lines.toLocaleString('en-GB')} lines ${secs(r.copyLinesMs)}: calculation ${(r.calculateMs / r.copyLinesMs).toFixed(1)}x, whole run ${(runMs / r.copyLinesMs).toFixed(1)}x`,
    `  COPY of ${r.nights.toLocaleString('en-GB')} lines (one per night) ${secs(r.copyNightsMs)}: calculation ${(r.calculateMs / r.copyNightsMs).toFixed(1)}x, whole run ${(runMs / r.copyNightsMs).toFixed(1)}x`,
    `  peak RSS ${mb(r.peakRss)} (calculating ${mb(r.calculationPeakRss)}); while exporting ${mb(r.exportPeakRss)}, ${mb(r.exportPeakRss - r.rssBeforeExport)} above where it began`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main() {
  const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
  if (process.env.BENCH_PAYMENT_CHILD) {
    const result = await one(Number(process.env.BENCH_PAYMENT_CHILD));
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
    return;
  }
  const results = [];
  for (const size of sizes.length ? sizes : [10000, Number(process.env.BENCH_PLACEMENTS ?? 50000)]) {
    const child = spawnSync(process.execPath, ['--expose-gc', __filename], { env: { ...process.env, BENCH_PAYMENT_CHILD: String(size) }, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
    if (child.status !== 0) {
      process.stderr.write(child.stdout + child.stderr);
      process.exit(child.status ?? 1);
    }
    const result = JSON.parse(child.stdout.split('\n').find((l) => l.startsWith('RESULT ')).slice(7));
    print(result);
    results.push(result);
  }
  if (results.length > 1) {
    process.stdout.write('export memory as runs grow (RSS above where the export began):\n');
    for (const r of results) process.stdout.write(`  ${r.placements.toLocaleString('en-GB')} placements, ${r.exportRows.toLocaleString('en-GB')} rows: ${mb(r.exportPeakRss - r.rssBeforeExport)}\n`);
  }
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
