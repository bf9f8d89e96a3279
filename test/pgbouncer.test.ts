import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { startServer, type RunningServer } from '../core/src/server';
import { adminUrl } from './support/databases';
import { holdTableLock, startWorld, type World } from './support/harness';

/**
 * The request path through PgBouncer in transaction pooling mode, where each transaction may run on
 * a different server connection and every server connection serves every client in turn. Hearth's
 * per-request scope (role, tenant, statement timeout) is set with set_config(…, true), local to the
 * transaction, and it uses no named prepared statements (which PgBouncer 1.18 cannot carry across
 * server connections) and no session-level SET; this checks it. PgBouncer runs on a loopback port
 * with a few server connections in front of the test's PostgreSQL server.
 */

function findPgbouncer(): string | null {
  for (const candidate of ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer', '/usr/local/bin/pgbouncer'])
    if (fs.existsSync(candidate)) return candidate;
  return null;
}

const binary = findPgbouncer();
/**
 * PgBouncer's server connections. A log-in holds its transaction's connection while the rate limits
 * take another from their own pool, so the pool must exceed the log-ins in flight (the public
 * operations' share, 2 here) by the rate limits' 2, or log-ins wait on each other for ever.
 */
const SERVER_CONNECTIONS = 4;
const skipped = !adminUrl()
  ? 'the tests run on PGlite, with no server for PgBouncer to front'
  : !binary
    ? 'pgbouncer is not installed (Debian: apt-get install pgbouncer)'
    : null;
if (skipped) process.stdout.write(`test/pgbouncer.test.ts skipped: ${skipped}\n`);
const maybe = skipped ? describe.skip : describe;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

async function listening(port: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => (socket.end(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`pgbouncer did not listen on ${port} within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** PgBouncer in transaction mode in front of the PostgreSQL server the tests use; trust on loopback. */
async function startPgbouncer(dir: string): Promise<{ port: number; process: ChildProcess; log: () => string }> {
  const upstream = new URL(adminUrl()!);
  const port = await freePort();
  const user = decodeURIComponent(upstream.username) || 'postgres';
  fs.writeFileSync(path.join(dir, 'userlist.txt'), `"${user}" ""\n`);
  fs.writeFileSync(
    path.join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = host=${upstream.hostname} port=${upstream.port || 5432}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${path.join(dir, 'userlist.txt')}`,
      'pool_mode = transaction',
      `default_pool_size = ${SERVER_CONNECTIONS}`,
      'max_client_conn = 200',
      `logfile = ${path.join(dir, 'pgbouncer.log')}`,
      `pidfile = ${path.join(dir, 'pgbouncer.pid')}`,
      '',
    ].join('\n'),
  );
  const args = [path.join(dir, 'pgbouncer.ini')];
  // PgBouncer refuses to run as root; it can drop to another user, who must own its files.
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    for (const file of ['', 'userlist.txt', 'pgbouncer.ini']) fs.chownSync(path.join(dir, file), uid, -1);
    args.unshift('-u', 'postgres');
  }
  const child = spawn(binary!, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const log = () =>
    `${stderr}${fs.existsSync(path.join(dir, 'pgbouncer.log')) ? fs.readFileSync(path.join(dir, 'pgbouncer.log'), 'utf8') : ''}`;
  await listening(port, 10_000).catch((error: Error) => Promise.reject(new Error(`${error.message}\n${log()}`)));
  return { port, process: child, log };
}

let world: World;
let dir: string;
let bouncer: Awaited<ReturnType<typeof startPgbouncer>> | null = null;
let server: RunningServer;
let viaBouncer: Knex;

maybe('the request path through PgBouncer in transaction mode', () => {
  beforeAll(async () => {
    world = await startWorld();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-pgbouncer-'));
    bouncer = await startPgbouncer(dir);
    const url = new URL(world.config.databaseUrl!);
    url.hostname = '127.0.0.1';
    url.port = String(bouncer.port);
    // A second server on the same database, through PgBouncer; the same secret, so the world's tokens hold.
    server = await startServer({
      ...world.config,
      databaseUrl: url.toString(),
      dbPoolMax: 6,
      tenantMaxConcurrency: 2,
      statementTimeoutMs: 1500,
    });
    viaBouncer = knexFactory({ client: 'pg', connection: url.toString(), pool: { min: 0, max: SERVER_CONNECTIONS } });
  }, 120_000);
  afterAll(async () => {
    await viaBouncer?.destroy();
    await server?.close();
    bouncer?.process.kill('SIGINT');
    await world?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const as = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });

  it("serves two tenants' requests, interleaved on PgBouncer's few server connections, each seeing only its own rows", async () => {
    const ids: Record<string, string> = {};
    for (const [name, tenant] of [
      ['a', world.a],
      ['b', world.b],
    ] as const) {
      const created = await fetch(`${server.url}/v1/children`, {
        method: 'POST',
        headers: as(tenant.adminToken),
        body: JSON.stringify({
          givenName: `Bouncer${name}`,
          familyName: 'Pooled',
          dateOfBirth: '2015-03-01',
          sex: 'female',
        }),
      });
      expect(created.status).toBe(201);
      ids[name] = ((await created.json()) as { id: string }).id;
    }
    const asks = Array.from({ length: 60 }, async (_, i) => {
      const tenant = i % 2 ? world.b : world.a;
      const response = await fetch(`${server.url}/v1/children?q=Pooled`, { headers: as(tenant.adminToken) });
      const body = (await response.json()) as { data: Array<{ id: string }> };
      return { tenant: tenant === world.a ? 'a' : 'b', status: response.status, ids: body.data.map((c) => c.id) };
    });
    for (const answer of await Promise.all(asks))
      expect(answer).toEqual({ tenant: answer.tenant, status: 200, ids: [ids[answer.tenant]] });
  });

  it('logs in through it, again and again, from both tenants at once', async () => {
    const logins = Array.from({ length: 12 }, async (_, i) => {
      const tenant = i % 2 ? world.b : world.a;
      const response = await fetch(`${server.url}/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          tenant: tenant.slug,
          email: tenant.adminEmail,
          password: 'correct horse battery staple',
        }),
      });
      return { status: response.status, body: response.status === 200 ? null : await response.text() };
    });
    for (const answer of await Promise.all(logins)) expect(answer).toEqual({ status: 200, body: null });
    expect(bouncer!.log()).not.toMatch(/prepared statement .* does not exist/);
  });

  it('cancels a statement past the timeout as a 503, and leaves no role, tenant or timeout on the server connections', async () => {
    // Directly on the server, not through PgBouncer: its two connections stay for the requests.
    const release = await holdTableLock(world.db, 'children');
    try {
      const response = await fetch(`${server.url}/v1/children`, { headers: as(world.a.adminToken) });
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({ type: 'https://hearth.dev/problems/timeout' });
    } finally {
      await release();
    }
    // As many transactions at once through PgBouncer as it has server connections take them all: each shows the defaults.
    let arrived = 0;
    const seen = await Promise.all(
      Array.from({ length: SERVER_CONNECTIONS }, () =>
        viaBouncer.transaction(async (trx) => {
          arrived++;
          for (let i = 0; i < 300 && arrived < SERVER_CONNECTIONS; i++)
            await new Promise((resolve) => setTimeout(resolve, 10));
          const { rows } = (await trx.raw(
            `SELECT current_user AS role, current_setting('statement_timeout') AS statement, current_setting('idle_in_transaction_session_timeout') AS idle,
                    coalesce(current_setting('app.tenant_id', true), '') AS tenant, pg_backend_pid() AS pid`,
          )) as { rows: Array<{ role: string; statement: string; idle: string; tenant: string; pid: number }> };
          return rows[0]!;
        }),
      ),
    );
    expect(new Set(seen.map((s) => s.pid)).size).toBe(SERVER_CONNECTIONS);
    for (const s of seen)
      expect({ role: s.role, statement: s.statement, idle: s.idle, tenant: s.tenant }).toEqual({
        role: new URL(adminUrl()!).username || 'postgres',
        statement: '0',
        idle: '0',
        tenant: '',
      });
    expect(bouncer!.log()).not.toMatch(/prepared statement .* does not exist/);
  });
});
