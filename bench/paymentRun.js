/*
 * A payment run at scale, end to end through the server: N active placements (default 50,000; UK
 * pack, four weeks 24 March-20 April 2025 across the 6 April uplift, so about 1.4 million nights),
 * calculated by the job and persisted, approved, finalised into the ledger, and its journal exported
 * as generic CSV over HTTP. Prints each phase's wall time, the server's peak RSS overall and in each
 * phase, and the ratio of the calculation (and of the whole run) to the time PostgreSQL takes to COPY
 * the same number of lines into a bare table of payment_lines' shape: the run's own lines, and (the
 * heavier yardstick) one line per night.
 *
 * The server runs in a process of its own (a new one for each size), which runs the calculation job
 * when this process asks; this process makes the service, loads it and calls the API, so the peak
 * RSS is the server's alone. Peaks are the kernel's high-water mark (VmHWM, reset at the start of each
 * phase), else, where /proc does not allow that, RSS sampled every 10 ms. With no size given it runs
 * 10,000 then 50,000 placements and prints, at the end, the targets for a run: peak RSS under 300 MB at
 * 50,000 placements, growing less than 1.5 times from 10,000 to 50,000, and the whole run within 15
 * times a COPY of its lines, each PASS or FAIL.
 *
 *   node bench/paymentRun.js [placements ...]     (needs a build; `npm run bench` builds first)
 *   BENCH_PLACEMENTS replaces the larger default size; BENCH_TRACE=1 prints the server's statements
 *   slower than 100 ms; node's own flags (`node --cpu-prof bench/paymentRun.js`) reach the server's
 *   process too.
 *
 * Needs a PostgreSQL server (DATABASE_URL, else 127.0.0.1:5432): the COPY yardstick is the server's.
 */
const { fork } = require('node:child_process');
const fs = require('node:fs');
const { pipeline } = require('node:stream/promises');
const { benchDatabase, benchServerConfig } = require('./support');

const dist = (p) => require(`../dist/core/src/${p}`);
const PERIOD = { from: '2025-03-24', to: '2025-04-20' };
const DAY_MS = 86_400_000;
const shift = (iso, days) => new Date(Date.parse(`${iso}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);

/**
 * This process's peak RSS since the last reset: the kernel's high-water mark where /proc lets it be
 * reset (clear_refs), else RSS sampled every 10 ms (which a long synchronous stretch can hide).
 */
function peakMemory() {
  const highWater = () => Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
  const resetHighWater = () => {
    try {
      highWater();
      fs.writeFileSync('/proc/self/clear_refs', '5');
      return true;
    } catch {
      return false;
    }
  };
  const kernel = resetHighWater();
  let sampled = process.memoryUsage.rss();
  if (!kernel)
    setInterval(() => {
      sampled = Math.max(sampled, process.memoryUsage.rss());
    }, 10).unref();
  let before = 0;
  const memory = {
    peak: () => (kernel ? highWater() : (sampled = Math.max(sampled, process.memoryUsage.rss()))),
    /** Starts a phase: its peak counts from here. */
    reset() {
      before = Math.max(before, memory.peak());
      if (kernel) resetHighWater();
      sampled = process.memoryUsage.rss();
    },
    /** The peak since start-up: every phase's, and start-up's own. */
    overall: () => Math.max(before, memory.peak()),
    method: () => (kernel ? 'VmHWM' : 'sampled every 10 ms'),
  };
  return memory;
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
    const household = {
      id: uuid('a', h),
      region: pick(['london', 'south_east', 'rest_of_england', 'rest_of_england']),
      level: pick(['level_1', 'level_2', 'level_3']),
    };
    households.push(household);
    const size = 1 + Math.floor(random() * 2.2);
    for (let k = 0; k < size && placements.length < count; k++) {
      const n = placements.length;
      const child = { id: uuid('c', n), dateOfBirth: shift(PERIOD.from, -1 - Math.floor(random() * (18 * 365 - 40))) };
      children.push(child);
      const midStart = random() < 0.1;
      const start = midStart
        ? shift(PERIOD.from, Math.floor(random() * 28))
        : shift(PERIOD.from, -1 - Math.floor(random() * 900));
      const ends = random() < 0.1;
      placements.push({
        id: uuid('b', n),
        childId: child.id,
        householdId: household.id,
        start,
        end: ends ? shift(start > PERIOD.from ? start : PERIOD.from, 1 + Math.floor(random() * 20)) : null,
        placementType: pick(['U4', 'U4', 'U6', 'U3']),
      });
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
    await bulkInsert(
      trx,
      'carer_households',
      [
        col('tenant_id', 'uuid', () => tenantId),
        col('id', 'uuid', (r) => r.id),
        col('name', 'text', (r) => `Household ${r.id.slice(1, 9)}`),
        col('region', 'text', (r) => r.region),
        col('carer_level', 'text', (r) => r.level),
        col('workflow_key', 'text', () => 'carer-approval'),
        col('approval_state', 'text', () => 'approved'),
        col('approved_state', 'text', () => 'approved'),
        col('approved_on', 'date', () => '2022-01-01'),
      ],
      s.households,
    );
    await bulkInsert(
      trx,
      'carer_approval_terms',
      [
        col('tenant_id', 'uuid', () => tenantId),
        col('id', 'uuid', (r) => r.id.replace(/^a/, 'd')),
        col('household_id', 'uuid', (r) => r.id),
        col('effective_from', 'date', () => '2022-01-01'),
        col('max_children', 'integer', () => 3),
        col('age_min', 'integer', () => 0),
        col('age_max', 'integer', () => 17),
        col('placement_kinds', 'text[]', () => ['long_term', 'short_term']),
        col('carer_level', 'text', (r) => r.level),
      ],
      s.households,
    );
    await bulkInsert(
      trx,
      'children',
      [
        col('tenant_id', 'uuid', () => tenantId),
        col('id', 'uuid', (r) => r.id),
        col('given_name', 'text', () => 'Bench'),
        col('family_name', 'text', (r) => `Child ${r.id.slice(1, 9)}`),
        col('date_of_birth', 'date', (r) => r.dateOfBirth),
        col('sex', 'text', () => 'female'),
        col('status', 'text', () => 'in_care'),
      ],
      s.children,
    );
    await bulkInsert(
      trx,
      'placements',
      [
        col('tenant_id', 'uuid', () => tenantId),
        col('id', 'uuid', (r) => r.id),
        col('child_id', 'uuid', (r) => r.childId),
        col('household_id', 'uuid', (r) => r.householdId),
        col('kind', 'text', () => 'long_term'),
        col('placement_type', 'text', (r) => r.placementType),
        col('status', 'text', (r) => (r.end ? 'ended' : 'active')),
        col('start_date', 'date', (r) => r.start),
        col('end_date', 'date', (r) => r.end),
      ],
      s.placements,
    );
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
  const row = (i) =>
    `00000000-0000-4000-8000-000000000000\t${i.toString(16).padStart(8, '0')}-0000-4000-8000-000000000001\t00000000-0000-4000-8000-000000000002\t1\t${i + 1}\t00000000-0000-4000-8000-000000000003\t00000000-0000-4000-8000-000000000004\t00000000-0000-4000-8000-000000000005\trate\tallowance\t2025-03-24\t2025-04-20\t28\t${22000 + (i % 5000)}\t1\t\\N\t\\N\t\\N\t\\N\tallowance: 28 nights, 2025-03-24 to 2025-04-20\n`;
  const out = fs.createWriteStream(file);
  for (let i = 0; i < lines; i += 1000) {
    if (!out.write(Array.from({ length: Math.min(1000, lines - i) }, (_, k) => row(i + k)).join('')))
      await new Promise((resolve) => out.once('drain', resolve));
  }
  await new Promise((resolve) => out.end(resolve));
  const client = await db.client.acquireConnection();
  try {
    await client.query('CREATE TEMP TABLE bench_copy (LIKE payment_lines INCLUDING DEFAULTS)');
    const columns =
      'tenant_id, id, run_id, calculation, position, household_id, placement_id, child_id, kind, component, period_start, period_end, nights, amount, explanation_key, corrects_run_id, corrects_line_ids, claim_id, adjustment_id, description';
    const { ms } = await timed(() =>
      pipeline(fs.createReadStream(file), client.query(copyFrom(`COPY bench_copy (${columns}) FROM STDIN`))),
    );
    await client.query('DROP TABLE bench_copy');
    return ms;
  } finally {
    await db.client.releaseConnection(client);
    fs.rmSync(file, { force: true });
  }
}

/**
 * The server's process: starts Hearth on the bench's database, then answers this bench's requests
 * over IPC: run the due jobs (the calculation) and say how long they took, start a phase of its peak
 * memory, say a phase's peak, stop.
 */
async function serve(url) {
  process.env.HEARTH_JOBS = '0';
  const memory = peakMemory();
  const { config, db } = benchServerConfig(url);
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
  const server = await dist('server').startServer(config, { db });
  const { runDueJobs } = dist('jobs/worker');
  const handlers = dist('jobs/handlers').jobHandlers();
  process.on('message', async ({ id, ask }) => {
    let answer;
    if (ask === 'run-jobs') {
      const cpu = process.cpuUsage();
      const { ms, result } = await timed(() => runDueJobs(db, { handlers, services: server.services }));
      const used = process.cpuUsage(cpu);
      answer = { ms, jobs: result, cpuMs: (used.user + used.system) / 1000 };
    } else if (ask === 'phase') {
      memory.reset();
      answer = { rss: process.memoryUsage.rss(), method: memory.method() };
    } else if (ask === 'peak') {
      answer = { peak: memory.peak(), overall: memory.overall() };
    } else if (ask === 'stop') {
      await server.close();
      await db.destroy();
      process.send({ id, answer: {} }, () => process.exit(0));
      return;
    }
    process.send({ id, answer });
  });
  process.send({ url: server.url });
}

/** Starts the server's process on the database and gives a way to ask it things. */
async function serverProcess(url) {
  const child = fork(__filename, [], {
    env: { ...process.env, BENCH_PAYMENT_SERVER: url },
    execArgv: process.execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting = new Map();
  let asked = 0;
  const started = new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the server's process ended (${code}) before it listened`)));
    child.on('message', (message) => {
      if (message.url) return resolve(message.url);
      waiting.get(message.id)?.(message.answer);
      waiting.delete(message.id);
    });
  });
  const serverUrl = await started;
  child.removeAllListeners('exit');
  child.once('exit', (code) => {
    for (const resolve of waiting.values()) resolve({ error: `the server's process ended (${code})` });
  });
  const ask = (what) =>
    new Promise((resolve) => {
      const id = ++asked;
      waiting.set(id, resolve);
      child.send({ id, ask: what });
    });
  return { url: serverUrl, ask, kill: () => child.kill() };
}

async function one(count) {
  const store = await benchDatabase('hearth_bench_pay');
  if (!store.url) throw new Error("bench/paymentRun.js needs a PostgreSQL server: the COPY yardstick is the server's");
  const { db } = benchServerConfig(store.url);
  let server;
  try {
    await dist('db/migrate').runMigrations(db);
    const packs = dist('packs/registry').loadPacks();
    const password = 'bench-password-bench-password';
    const { tenant } = await dist('demo/seed').bootstrapTenant(db, packs, {
      kind: 'service',
      name: 'Bench fostering',
      slug: 'bench',
      packId: 'uk',
      currency: 'GBP',
      timeZone: 'Europe/London',
      firstAdmin: { email: 'admin@bench.test', displayName: 'Admin', password },
    });
    const s = service(count);
    const loaded = await timed(() => load(db, tenant.id, s));
    server = await serverProcess(store.url);
    const api = async (method, path, token, body) => {
      const response = await fetch(`${server.url}${path}`, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text.slice(0, 300)}`);
      return text ? JSON.parse(text) : null;
    };
    const login = async (email) =>
      (await api('POST', '/v1/auth/login', null, { tenant: 'bench', email, password })).accessToken;
    const admin = await login('admin@bench.test');
    await api('POST', '/v1/users', admin, {
      email: 'officer@bench.test',
      displayName: 'Officer',
      roles: ['finance_officer'],
      password,
    });
    const officer = await login('officer@bench.test');
    await api('POST', '/v1/pay-schedules', admin, {
      key: 'four-weekly',
      name: 'Four-weekly',
      frequency: 'four_weekly',
      timing: 'arrears',
      anchorDate: PERIOD.from,
    });
    const run = await api('POST', '/v1/payment-runs', admin, { periodStart: PERIOD.from });

    await api('POST', `/v1/payment-runs/${run.id}/calculate`, officer, {});
    const atRest = await server.ask('phase');
    const calculated = await server.ask('run-jobs');
    if (calculated.error) throw new Error(calculated.error);
    const calculation = await server.ask('peak');
    const after = await api('GET', `/v1/payment-runs/${run.id}`, admin);
    if (after.status !== 'calculated')
      throw new Error(`the run is ${after.status}: ${JSON.stringify(after.calculation)}`);
    const nights = Number(
      (
        await db.raw(
          `SELECT coalesce(sum(nights), 0)::bigint AS n FROM payment_lines WHERE run_id = ? AND kind = 'rate' AND component = 'allowance'`,
          [run.id],
        )
      ).rows[0].n,
    );

    await api('POST', `/v1/payment-runs/${run.id}/submit`, officer, {});
    await api('POST', `/v1/payment-runs/${run.id}/approve`, admin, {});
    await server.ask('phase');
    const finalised = await timed(() => api('POST', `/v1/payment-runs/${run.id}/finalise`, admin, {}));
    const finalising = await server.ask('peak');
    const entries = Number(
      (await db.raw('SELECT count(*)::int AS n FROM ledger_entries WHERE journal_id = ?', [finalised.result.journalId]))
        .rows[0].n,
    );

    const beforeExport = await server.ask('phase');
    const exported = await timed(async () => {
      const response = await fetch(`${server.url}/v1/payment-runs/${run.id}/exports`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({ format: 'generic' }),
      });
      if (!response.ok) throw new Error(`export answered ${response.status}`);
      let bytes = 0;
      let rows = 0;
      for await (const chunk of response.body) {
        bytes += chunk.length;
        for (const b of chunk) if (b === 10) rows++;
      }
      return { bytes, rows };
    });
    const exporting = await server.ask('peak');

    const copyLines = await copyYardstick(db, after.lineCount);
    const copyNights = await copyYardstick(db, nights);
    return {
      placements: count,
      households: s.households.length,
      nights,
      lines: after.lineCount,
      entries,
      total: after.total,
      loadMs: loaded.ms,
      calculateMs: calculated.ms,
      calculateCpuMs: calculated.cpuMs,
      finaliseMs: finalised.ms,
      exportMs: exported.ms,
      exportRows: exported.result.rows - 1,
      exportBytes: exported.result.bytes,
      copyLinesMs: copyLines,
      copyNightsMs: copyNights,
      memoryMethod: atRest.method,
      peakRss: exporting.overall,
      rssAtRest: atRest.rss,
      calculationPeakRss: calculation.peak,
      finalisePeakRss: finalising.peak,
      exportPeakRss: exporting.peak,
      rssBeforeExport: beforeExport.rss,
    };
  } finally {
    if (server) await server.ask('stop');
    await db.destroy();
    await store.drop();
  }
}

/** What a payment run should manage (issue 17): its memory bounded and flat as services grow, and its time within a multiple of COPY. */
const TARGETS = {
  peakRssBytes: 300 * 1048576,
  atPlacements: 50000,
  growthFrom: 10000,
  growthBelow: 1.5,
  wholeRunCopies: 15,
};

const runMsOf = (r) => r.calculateMs + r.finaliseMs + r.exportMs;

function print(r) {
  const runMs = runMsOf(r);
  const lines = [
    `placements ${r.placements.toLocaleString('en-GB')} in ${r.households.toLocaleString('en-GB')} households; ${r.nights.toLocaleString('en-GB')} nights paid; ${r.lines.toLocaleString('en-GB')} payment lines; ${r.entries.toLocaleString('en-GB')} ledger entries; total £${(r.total / 100).toLocaleString('en-GB', { minimumFractionDigits: 2 })}`,
    `  calculate + persist (job)   ${secs(r.calculateMs)}  (the server's CPU ${secs(r.calculateCpuMs)})`,
    `  approve → finalise (ledger) ${secs(r.finaliseMs)}`,
    `  export generic CSV (HTTP)   ${secs(r.exportMs)}  (${r.exportRows.toLocaleString('en-GB')} rows, ${mb(r.exportBytes)})`,
    `  whole run                   ${secs(runMs)}`,
    `  COPY of ${r.lines.toLocaleString('en-GB')} lines ${secs(r.copyLinesMs)}: calculation ${(r.calculateMs / r.copyLinesMs).toFixed(1)}x, whole run ${(runMs / r.copyLinesMs).toFixed(1)}x`,
    `  COPY of ${r.nights.toLocaleString('en-GB')} lines (one per night) ${secs(r.copyNightsMs)}: calculation ${(r.calculateMs / r.copyNightsMs).toFixed(1)}x, whole run ${(runMs / r.copyNightsMs).toFixed(1)}x`,
    `  server's peak RSS ${mb(r.peakRss)} (${r.memoryMethod}): at rest before calculating ${mb(r.rssAtRest)}; calculating ${mb(r.calculationPeakRss)}; finalising ${mb(r.finalisePeakRss)}; exporting ${mb(r.exportPeakRss)}, ${mb(r.exportPeakRss - r.rssBeforeExport)} above where it began`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** Each target, PASS or FAIL, for the sizes measured. */
function printTargets(results) {
  const verdict = (ok) => (ok ? 'PASS' : 'FAIL');
  const lines = ['targets:'];
  const at = results.find((r) => r.placements === TARGETS.atPlacements);
  if (at)
    lines.push(
      `  peak RSS at ${at.placements.toLocaleString('en-GB')} placements under ${mb(TARGETS.peakRssBytes)}: ${verdict(at.peakRss < TARGETS.peakRssBytes)} (${mb(at.peakRss)})`,
    );
  const from = results.find((r) => r.placements === TARGETS.growthFrom);
  if (at && from) {
    const growth = at.peakRss / from.peakRss;
    lines.push(
      `  peak RSS growth ${from.placements.toLocaleString('en-GB')} → ${at.placements.toLocaleString('en-GB')} placements under ${TARGETS.growthBelow}x: ${verdict(growth < TARGETS.growthBelow)} (${growth.toFixed(2)}x: ${mb(from.peakRss)} → ${mb(at.peakRss)})`,
    );
  }
  for (const r of results) {
    const ratio = runMsOf(r) / r.copyLinesMs;
    lines.push(
      `  whole run at ${r.placements.toLocaleString('en-GB')} placements within ${TARGETS.wholeRunCopies}x a COPY of its lines: ${verdict(ratio <= TARGETS.wholeRunCopies)} (${ratio.toFixed(1)}x)`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main() {
  if (process.env.BENCH_PAYMENT_SERVER) return serve(process.env.BENCH_PAYMENT_SERVER);
  const sizes = process.argv
    .slice(2)
    .map(Number)
    .filter((n) => n > 0);
  const results = [];
  for (const size of sizes.length ? sizes : [10000, Number(process.env.BENCH_PLACEMENTS ?? 50000)]) {
    const result = await one(size);
    print(result);
    results.push(result);
  }
  if (results.length > 1) {
    process.stdout.write('export memory as runs grow (RSS above where the export began):\n');
    for (const r of results)
      process.stdout.write(
        `  ${r.placements.toLocaleString('en-GB')} placements, ${r.exportRows.toLocaleString('en-GB')} rows: ${mb(r.exportPeakRss - r.rssBeforeExport)}\n`,
      );
  }
  printTargets(results);
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
