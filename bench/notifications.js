/*
 * Notifications in bulk: N messages (default 10,000) of `payments.remittance_ready`, one per paid
 * household of one payment run, queued through the outbox in one transaction, then delivered by the
 * server's job worker to a real SMTP server on loopback (smtp-server, in this process). Prints the
 * time to queue them, messages/s from commit to the last message accepted by the SMTP server, that
 * time itself, the server's peak RSS (VmHWM, else RSS sampled every 10 ms) while it delivered, its
 * CPU time per message (which other work on the machine disturbs far less than the wall-clock
 * figures) and the load average, so that a figure can be read against how busy the machine was.
 * HEARTH_NOTIFICATION_CONCURRENCY, if set, is passed to the server.
 *
 * The run is a payment run's id and the households synthetic addresses (household-<n>@bench.test):
 * what is measured is the outbox, the queue, rendering and SMTP, not the run's calculation
 * (bench/paymentRun.js measures that).
 *
 * The server runs in a process of its own with its job worker on (HEARTH_JOBS=1); this process
 * makes the tenant, queues the messages and runs the SMTP server.
 *
 *   node bench/notifications.js [count]     (needs a build; `npm run bench` builds first)
 *
 * Runs on DATABASE_URL, else the PostgreSQL server on 127.0.0.1:5432 (in a database it creates and
 * drops), else PGlite is refused: the server's process needs a database of its own to share.
 */
const { fork } = require('node:child_process');
const fs = require('node:fs');
const crypto = require('node:crypto');
const { setTimeout, clearTimeout } = require('node:timers');
const { SMTPServer } = require('smtp-server');
const os = require('node:os');
const { benchDatabase, benchServerConfig, cpuSeconds } = require('./support');

const dist = (p) => require(`../dist/core/src/${p}`);

/** The server's process: Hearth with its job worker, reporting its peak memory when asked. */
async function serve(url) {
  process.env.HEARTH_JOBS = '1';
  let peak = 0;
  const highWater = () => Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
  let resettable = true;
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    resettable = false;
  }
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  sampler.unref();
  const { config, db } = benchServerConfig(url);
  const server = await dist('server').startServer(config, { db });
  process.on('message', async ({ ask }) => {
    if (ask === 'reset') {
      if (resettable) fs.writeFileSync('/proc/self/clear_refs', '5');
      peak = process.memoryUsage().rss;
      process.send({ answer: 'reset' });
    } else if (ask === 'peak') {
      process.send({ answer: resettable ? highWater() : peak });
    } else if (ask === 'stop') {
      await server.close();
      await db.destroy();
      process.send({ answer: 'stopped' }, () => process.exit(0));
    }
  });
  process.send({ url: server.url });
}

function serverProcess(url, env) {
  const child = fork(__filename, [], {
    env: { ...process.env, ...env, BENCH_NOTIFY_SERVER: url },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let next = null;
  const ready = new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the server's process ended (${code})`)));
    child.on('message', (m) => {
      if (m.url) resolve(m.url);
      else next?.(m.answer);
    });
  });
  const ask = (what) =>
    new Promise((resolve) => {
      next = resolve;
      child.send({ ask: what });
    });
  return { ready, ask, child };
}

/** A real SMTP server on loopback that counts distinct Message-IDs and notes when the last arrives. */
async function smtpServer(expected) {
  const ids = new Set();
  let lastAt = 0;
  let done;
  const all = new Promise((resolve) => (done = resolve));
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, callback) {
      let head = '';
      stream.on('data', (chunk) => {
        if (head.length < 4096) head += chunk.toString('latin1');
      });
      stream.on('end', () => {
        const id = /^Message-ID:\s*(\S+)/im.exec(head)?.[1];
        if (id) ids.add(id);
        lastAt = Date.now();
        if (ids.size >= expected) done();
        callback();
      });
    },
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `smtp://127.0.0.1:${server.server.address().port}?tls=off`,
    all,
    received: () => ids.size,
    lastAt: () => lastAt,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

async function main() {
  const count = Number(process.argv[2] ?? process.env.BENCH_NOTIFICATIONS ?? 10_000);
  const store = await benchDatabase('hearth_bench_notify');
  if (!store.url) throw new Error('bench/notifications.js needs a PostgreSQL server (DATABASE_URL or 127.0.0.1:5432)');
  const smtp = await smtpServer(count);
  const { db } = benchServerConfig(store.url);
  let server;
  try {
    await dist('db/migrate').runMigrations(db);
    const packs = dist('packs/registry').loadPacks();
    const { tenant } = await dist('demo/seed').bootstrapTenant(db, packs, {
      kind: 'service',
      name: 'Bench fostering',
      slug: 'bench',
      packId: 'uk',
      currency: 'GBP',
      timeZone: 'Europe/London',
      firstAdmin: { email: 'admin@bench.test', displayName: 'Admin', password: 'bench-password-bench-password' },
    });
    server = serverProcess(store.url, { HEARTH_EMAIL_CHANNEL: 'smtp', HEARTH_EMAIL_TARGET: smtp.url });
    await server.ready;
    await server.ask('reset');

    const run = crypto.randomUUID();
    const { inTenantTransaction } = dist('db/tenantTransaction');
    const { queueNotification } = dist('modules/notifications/outbox');
    const cpuBefore = cpuSeconds(server.child.pid);
    const queuedAt = Date.now();
    const written = await inTenantTransaction(db, { tenantId: tenant.id }, (trx) =>
      queueNotification(
        { trx, tenantId: tenant.id },
        {
          event: 'payments.remittance_ready',
          occurrence: `run-${run}`,
          recipients: Array.from({ length: count }, (_, i) => ({
            email: `household-${i + 1}@bench.test`,
            name: `Household ${i + 1}`,
          })),
          data: { paymentDate: '2026-12-04' },
          link: `/payment-runs/${run}/remittances`,
          reference: `run-${run.slice(0, 8)}`,
        },
      ),
    );
    const committedAt = Date.now();
    if (written.length !== count) throw new Error(`queued ${written.length} messages, not ${count}`);
    const timeout = setTimeout(() => {
      process.stderr.write(`gave up: ${smtp.received()} of ${count} delivered after 30 minutes\n`);
      process.exit(1);
    }, 30 * 60_000);
    await smtp.all;
    const cpu = cpuSeconds(server.child.pid) - cpuBefore;
    const load = os.loadavg();
    clearTimeout(timeout);
    const seconds = (smtp.lastAt() - committedAt) / 1000;
    const peak = await server.ask('peak');
    const states = await dist('db/tenantTransaction').inTenantTransaction(db, { tenantId: tenant.id }, (trx) =>
      trx('outbound_messages').select('status').count('* as n').groupBy('status'),
    );
    console.log(`messages queued in one transaction: ${count} in ${committedAt - queuedAt} ms`);
    console.log(`delivered to the SMTP server:       ${smtp.received()} distinct Message-IDs`);
    console.log(`commit to last delivery:            ${seconds.toFixed(1)} s`);
    console.log(`messages/s:                         ${(count / seconds).toFixed(0)}`);
    console.log(`server peak RSS while delivering:   ${(peak / 1024 / 1024).toFixed(0)} MB`);
    console.log(`server CPU per message:             ${((cpu * 1000) / count).toFixed(2)} ms`);
    console.log(
      `load average at the end:            ${load.map((l) => l.toFixed(1)).join(', ')} (${os.cpus().length} cores)`,
    );
    console.log(`message states:                     ${states.map((s) => `${s.status} ${s.n}`).join(', ')}`);
  } finally {
    if (server) await server.ask('stop').catch(() => undefined);
    await smtp.close();
    await db.destroy();
    await store.drop();
  }
}

if (process.env.BENCH_NOTIFY_SERVER) void serve(process.env.BENCH_NOTIFY_SERVER);
else
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
