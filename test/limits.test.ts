import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAuthenticator } from '../core/src/auth/passport';
import { loadContract } from '../core/src/http/contract';
import { applyScope } from '../core/src/db/tenantTransaction';
import { createApp } from '../core/src/http/app';
import { allOperations } from '../core/src/modules';
import { holdTableLock, startWorld, type World } from './support/harness';
import { adminUrl } from './support/databases';

/**
 * The limits through the real server: a pool of 3, one connection per tenant, two requests waiting
 * at most (one per tenant), statements cut at 2 s. The owner locks the children table, so a
 * tenant's list of children holds its connection until the lock goes or the statement times out.
 * That needs a second session beside the server's, which PGlite (one connection) does not have.
 */

const STATEMENT_TIMEOUT_MS = 2000;
const onServer = adminUrl() ? it : it.skip;

let world: World;
beforeAll(async () => {
  world = await startWorld({
    dbPoolMax: 3,
    tenantMaxConcurrency: 1,
    maxQueuedRequests: 2,
    statementTimeoutMs: STATEMENT_TIMEOUT_MS,
  });
}, 120_000);
afterAll(async () => {
  await world?.close();
});

describe('limits on the request path', () => {
  onServer(
    'holds a tenant to its share, refuses past its queue with 503 and Retry-After, serves other tenants meanwhile, and cancels a statement past the timeout as a 503',
    async () => {
      const release = await holdTableLock(world.db, 'children');
      try {
        // Raw requests: the contract does not declare the 503s these answer (see the README's limits).
        const list = () => world.http('GET', '/v1/children', { token: world.a.adminToken });
        const startedAt = Date.now();
        const holding = list();
        await until(() => admission().tenantStats(world.a.id).inUse === 1);
        const waiting = list();
        await until(() => admission().tenantStats(world.a.id).queued === 1);

        const refused = await list();
        expect(refused.status).toBe(503);
        expect(refused.headers.get('retry-after')).toBe('1');
        expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        expect(refused.body).toMatchObject({ type: 'https://hearth.dev/problems/overloaded', status: 503 });

        // Tenant B is not held up by A: its request is answered while A's wait.
        const other = await world.call('getCurrentPrincipal', { token: world.b.adminToken });
        expect(other.status).toBe(200);
        expect(Date.now() - startedAt).toBeLessThan(STATEMENT_TIMEOUT_MS);

        // A's first request is still blocked on the lock: the statement timeout cancels it, a 503, not a 500.
        const timedOut = await holding;
        expect(timedOut.status).toBe(503);
        expect(timedOut.body).toMatchObject({ type: 'https://hearth.dev/problems/timeout', status: 503 });
        expect(Date.now() - startedAt).toBeGreaterThanOrEqual(STATEMENT_TIMEOUT_MS - 50);
        await release();
        // The waiter had its turn once the first let go.
        expect((await waiting).status).toBe(200);
        expect(admission().stats()).toMatchObject({ inUse: 0, queued: 0 });

        const metrics = await (await fetch(`${world.url}/metrics`)).text();
        expect(metrics).toMatch(/^hearth_admission_refused_total\{reason="tenant-queue-full"\} 1$/m);
        expect(metrics).toMatch(/^hearth_admission_queued 0$/m);
        expect(metrics).toMatch(/^hearth_admission_in_use \d+$/m);
      } finally {
        await release();
      }
    },
  );

  onServer(
    'sets the timeouts in the transaction only: every session of the pool keeps the server default',
    async () => {
      for (let i = 0; i < 6; i++)
        expect((await world.call('getCurrentPrincipal', { token: world.a.adminToken })).status).toBe(200);
      // Hold all three of the server's connections at once, so each is asked.
      let arrived = 0;
      const settings = await Promise.all(
        [1, 2, 3].map(() =>
          world.server.db.transaction(async (trx) => {
            arrived++;
            await until(() => arrived === 3);
            const { rows } = (await trx.raw(
              `SELECT current_setting('statement_timeout') AS statement, current_setting('idle_in_transaction_session_timeout') AS idle`,
            )) as { rows: Array<{ statement: string; idle: string }> };
            return rows[0];
          }),
        ),
      );
      expect(settings).toEqual([1, 2, 3].map(() => ({ statement: '0', idle: '0' })));
    },
  );

  onServer(
    'ends the session of a transaction left idle past the idle timeout, so a stalled process holds no locks',
    async () => {
      const outcome = await world.db
        .transaction(async (trx) => {
          await applyScope(trx, { tenantId: world.a.id, idleInTransactionTimeoutMs: 200 });
          await new Promise((resolve) => setTimeout(resolve, 1000));
          await trx.raw('SELECT 1');
          return 'still open';
        })
        .catch((error: Error) => error.message);
      expect(outcome).not.toBe('still open');
      // The pool carries on with a new session.
      expect(((await world.db.raw('SELECT 1 AS one')) as { rows: Array<{ one: number }> }).rows[0]!.one).toBe(1);
    },
  );

  it('answers readiness 503 while draining, so that a load balancer stops sending', async () => {
    const config = world.config;
    let draining = false;
    const app = createApp({
      db: world.server.db,
      contract: loadContract(),
      operations: allOperations(),
      services: world.server.services,
      authenticator: createAuthenticator(config),
      isDraining: () => draining,
    });
    const server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      draining = true;
      const ready = await fetch(`${url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({
        type: 'https://hearth.dev/problems/unavailable',
        detail: 'Not ready: shutting down',
      });
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('shutdown past its deadline', () => {
  // Last in this file: it shuts the world's server down.
  onServer('destroys the connections of requests still running, says which, and reports itself unclean', async () => {
    const release = await holdTableLock(world.db, 'children');
    try {
      const stuck = fetch(`${world.url}/v1/children`, {
        headers: { authorization: `Bearer ${world.a.adminToken}`, 'x-request-id': 'stuck-request-1' },
      }).then(
        (response) => response.status,
        (error: Error) => error.name,
      );
      await until(() => admission().stats().inUse === 1);
      const outcome = await world.server.shutdown(1000);
      expect(outcome).toMatchObject({
        clean: false,
        cutRequests: [{ requestId: 'stuck-request-1', method: 'GET', path: '/v1/children' }],
      });
      expect(outcome.ms).toBeGreaterThanOrEqual(1000);
      expect(outcome.ms).toBeLessThan(1500);
      // The client saw its connection go, not an answer.
      expect(await stuck).toBe('TypeError');
    } finally {
      await release();
    }
  });
});

function admission() {
  return world.server.admission;
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  if (!condition()) throw new Error('the condition never held');
}
