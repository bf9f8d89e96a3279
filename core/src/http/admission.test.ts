import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { ConfigError, loadConfig } from '../config';
import {
  AdmissionGate,
  admissionLimits,
  NotAdmitted,
  PUBLIC_KEY,
  RETRY_AFTER_SECONDS,
  type Release,
} from './admission';

/** Lets pending promise callbacks run, so that an admission that is due has happened. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/** Starts an acquire and records when it is admitted or refused. */
function ask(gate: AdmissionGate, key: string, signal?: AbortSignal) {
  const state: { release: Release | null; refused: NotAdmitted | null } = { release: null, refused: null };
  const promise = gate.acquire(key, signal).then(
    (release) => {
      state.release = release;
    },
    (error: unknown) => {
      if (!(error instanceof NotAdmitted)) throw error;
      state.refused = error;
    },
  );
  return Object.assign(state, { promise });
}

describe('the admission gate', () => {
  it('admits up to the pool and, per tenant, up to its share; a tenant at its share waits while others are admitted', async () => {
    const gate = new AdmissionGate({ capacity: 4, perTenant: 2, maxQueued: 10, maxQueuedPerTenant: 5 });
    const f = [ask(gate, 'F'), ask(gate, 'F'), ask(gate, 'F')];
    const q = [ask(gate, 'Q'), ask(gate, 'Q')];
    await settle();
    expect(f.map((r) => r.release !== null)).toEqual([true, true, false]);
    expect(q.map((r) => r.release !== null)).toEqual([true, true]);
    expect(gate.stats()).toMatchObject({ inUse: 4, queued: 1 });
    expect(gate.tenantStats('F')).toEqual({ inUse: 2, queued: 1 });
    // A slot of Q's frees: F is still at its share, so the slot stays free rather than go to F.
    q[0]!.release!();
    await settle();
    expect(f[2]!.release).toBeNull();
    expect(gate.stats()).toMatchObject({ inUse: 3, queued: 1 });
    // One of F's own frees: its waiter takes it.
    f[0]!.release!();
    await settle();
    expect(f[2]!.release).not.toBeNull();
    expect(gate.tenantStats('F')).toEqual({ inUse: 2, queued: 0 });
  });

  it('hands a freed slot to the waiting tenant holding fewest, then to the one waiting longest', async () => {
    const gate = new AdmissionGate({ capacity: 3, perTenant: 2, maxQueued: 10, maxQueuedPerTenant: 10 });
    const held = [ask(gate, 'F'), ask(gate, 'F'), ask(gate, 'G')];
    await settle();
    // Waiting, in this order: F (holds 2, at its share), G (holds 1), H (holds none), then G again.
    const fWaits = ask(gate, 'F');
    const gWaits = ask(gate, 'G');
    const hWaits = ask(gate, 'H');
    const gAgain = ask(gate, 'G');
    await settle();
    held[0]!.release!(); // F's slot frees: F and G hold 1, H none, so H goes first, though it asked after both.
    await settle();
    expect([fWaits, gWaits, hWaits, gAgain].map((r) => r.release !== null)).toEqual([false, false, true, false]);
    held[2]!.release!(); // G's slot: G holds none now, F 1; G, with its longest waiter, goes.
    await settle();
    expect([fWaits, gWaits, hWaits, gAgain].map((r) => r.release !== null)).toEqual([false, true, true, false]);
    hWaits.release!(); // F and G both hold 1: F's waiter has waited longer.
    await settle();
    expect([fWaits, gWaits, hWaits, gAgain].map((r) => r.release !== null)).toEqual([true, true, true, false]);
  });

  it('refuses at once past a tenant part of the queue, and past the whole of it, but never keeps a tenant out for others that wait more', async () => {
    const gate = new AdmissionGate({ capacity: 1, perTenant: 1, maxQueued: 3, maxQueuedPerTenant: 2 });
    const holder = ask(gate, 'F');
    const waiting = [ask(gate, 'F'), ask(gate, 'F')];
    const third = ask(gate, 'F');
    await settle();
    expect(holder.release).not.toBeNull();
    expect(waiting.map((r) => r.refused)).toEqual([null, null]);
    expect(third.refused?.reason).toBe('tenant-queue-full');
    expect(third.refused?.status).toBe(503);
    expect(third.refused?.body.type).toBe('https://hearth.dev/problems/overloaded');
    // Q takes the last place. R finds the queue full: F, with most waiting, gives up its newest place.
    const q = ask(gate, 'Q');
    const r = ask(gate, 'R');
    await settle();
    expect(q.refused).toBeNull();
    expect(r.refused).toBeNull();
    expect(waiting[1]!.refused?.reason).toBe('queue-full');
    expect(gate.tenantStats('F')).toEqual({ inUse: 1, queued: 1 });
    // Now each waits one: a second of Q's would only take a place from another tenant as short; refused.
    const q2 = ask(gate, 'Q');
    await settle();
    expect(q2.refused?.reason).toBe('queue-full');
    expect(gate.stats()).toEqual({
      inUse: 1,
      queued: 3,
      refused: { 'queue-full': 2, 'tenant-queue-full': 1, 'client-gone': 0 },
    });
    // F's holder leaves: all three hold none, so the one waiting longest, F's, goes.
    holder.release!();
    await settle();
    expect([waiting[0], q, r].map((w) => w!.release !== null)).toEqual([true, false, false]);
  });

  it('gives up the place of a waiter whose signal aborts, and admits the next instead', async () => {
    const gate = new AdmissionGate({ capacity: 1, perTenant: 1, maxQueued: 5, maxQueuedPerTenant: 5 });
    const holder = ask(gate, 'F');
    const client = new AbortController();
    const leaving = ask(gate, 'F', client.signal);
    const staying = ask(gate, 'F');
    await settle();
    client.abort();
    await settle();
    expect(leaving.refused?.reason).toBe('client-gone');
    expect(gate.stats()).toMatchObject({ inUse: 1, queued: 1 });
    holder.release!();
    await settle();
    expect(staying.release).not.toBeNull();
    expect(leaving.release).toBeNull();
    // A release called twice frees one slot, not two.
    staying.release!();
    staying.release!();
    expect(gate.stats()).toMatchObject({ inUse: 0, queued: 0 });
  });

  it('forgets tenants with nothing held or waiting', async () => {
    const gate = new AdmissionGate({ capacity: 2, perTenant: 1, maxQueued: 0, maxQueuedPerTenant: 0 });
    for (let i = 0; i < 1000; i++) (await gate.acquire(`tenant-${i}`))();
    expect(gate.tenantStats('tenant-7')).toEqual({ inUse: 0, queued: 0 });
    expect(gate.stats()).toMatchObject({ inUse: 0, queued: 0 });
  });
});

/** A real HTTP server whose one route runs its work through the gate, as the router does. */
async function gatedServer(gate: AdmissionGate, work: (req: express.Request) => Promise<string>) {
  const app = express();
  app.get('/work', async (req, res) => {
    try {
      const body = await gate.run(typeof req.query.tenant === 'string' ? req.query.tenant : null, res, () => work(req));
      res.json({ body });
    } catch (error) {
      if (!(error instanceof NotAdmitted)) throw error;
      res.status(error.status).type('application/problem+json').json(error.body);
    }
  });
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('the gate around a request', () => {
  it('releases when the work throws, refuses with Retry-After past the bound, and gives up the place of a client that disconnects while waiting', async () => {
    const gate = new AdmissionGate({ capacity: 1, perTenant: 1, maxQueued: 1, maxQueuedPerTenant: 1 });
    let unblock!: () => void;
    const blocked = new Promise<void>((resolve) => (unblock = resolve));
    const server = await gatedServer(gate, async (req) => {
      if (req.query.fail) throw new Error('boom');
      if (req.query.block) await blocked;
      return 'done';
    });
    try {
      // Work that throws still gives its slot back.
      expect((await fetch(`${server.url}/work?tenant=A&fail=1`)).status).toBe(500);
      expect(gate.stats()).toMatchObject({ inUse: 0, queued: 0 });

      // A holds the one slot; a waiter's client gives up (its place is freed); then the queue is full.
      const holding = fetch(`${server.url}/work?tenant=A&block=1`);
      await until(() => gate.stats().inUse === 1);
      const leaving = new AbortController();
      const gone = fetch(`${server.url}/work?tenant=B`, { signal: leaving.signal }).catch((error: Error) => error.name);
      await until(() => gate.stats().queued === 1);
      leaving.abort();
      expect(await gone).toBe('AbortError');
      await until(() => gate.stats().queued === 0);
      expect(gate.stats().refused['client-gone']).toBe(1);

      const waiting = fetch(`${server.url}/work?tenant=C`);
      await until(() => gate.stats().queued === 1);
      const refused = await fetch(`${server.url}/work`);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe(String(RETRY_AFTER_SECONDS));
      expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await refused.json()).toMatchObject({ type: 'https://hearth.dev/problems/overloaded', status: 503 });
      expect(gate.stats().refused['queue-full']).toBe(1);

      unblock();
      expect((await holding).status).toBe(200);
      expect((await waiting).status).toBe(200);
      expect(gate.stats()).toMatchObject({ inUse: 0, queued: 0 });
    } finally {
      unblock();
      await server.close();
    }
  });

  it('counts the public operations under one key of their own', async () => {
    const gate = new AdmissionGate({ capacity: 2, perTenant: 1, maxQueued: 0, maxQueuedPerTenant: 0 });
    const release = await gate.acquire(PUBLIC_KEY);
    const server = await gatedServer(gate, async () => 'done');
    try {
      expect((await fetch(`${server.url}/work`)).status).toBe(503);
      expect((await fetch(`${server.url}/work?tenant=A`)).status).toBe(200);
    } finally {
      release();
      await server.close();
    }
  });
});

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  if (!condition()) throw new Error('the condition never held');
}

describe('the limits as settings', () => {
  it('defaults to a pool of 10, a third of it per tenant, 1000 waiting and as large a part of those per tenant; PGlite is one connection', () => {
    const config = loadConfig({ NODE_ENV: 'test' });
    expect(config).toMatchObject({
      dbPoolMax: 10,
      tenantMaxConcurrency: 3,
      maxQueuedRequests: 1000,
      statementTimeoutMs: 30_000,
      idleInTransactionTimeoutMs: 60_000,
      shutdownTimeoutMs: 10_000,
    });
    expect(admissionLimits(config, false)).toEqual({
      capacity: 10,
      perTenant: 3,
      maxQueued: 1000,
      maxQueuedPerTenant: 300,
    });
    expect(admissionLimits(config, true)).toEqual({
      capacity: 1,
      perTenant: 1,
      maxQueued: 1000,
      maxQueuedPerTenant: 1000,
    });
    expect(loadConfig({ NODE_ENV: 'test', HEARTH_DB_POOL_MAX: '1' }).tenantMaxConcurrency).toBe(1);
    expect(loadConfig({ NODE_ENV: 'test', HEARTH_DB_POOL_MAX: '25' }).tenantMaxConcurrency).toBe(8);
  });

  it.each([
    [{ HEARTH_DB_POOL_MAX: '0' }, /HEARTH_DB_POOL_MAX must be a whole number from 1/],
    [{ HEARTH_DB_POOL_MAX: 'ten' }, /HEARTH_DB_POOL_MAX/],
    [{ HEARTH_STATEMENT_TIMEOUT: '-1' }, /HEARTH_STATEMENT_TIMEOUT must be a whole number from 0/],
    [{ HEARTH_MAX_QUEUED_REQUESTS: '1.5' }, /HEARTH_MAX_QUEUED_REQUESTS/],
    [
      { HEARTH_IDLE_IN_TRANSACTION_TIMEOUT: 'a minute' },
      /HEARTH_IDLE_IN_TRANSACTION_TIMEOUT must be a whole number from 0/,
    ],
    [{ HEARTH_TENANT_MAX_CONCURRENCY: '0' }, /HEARTH_TENANT_MAX_CONCURRENCY must be a whole number from 1/],
    [
      { HEARTH_DB_POOL_MAX: '4', HEARTH_TENANT_MAX_CONCURRENCY: '5' },
      /HEARTH_TENANT_MAX_CONCURRENCY \(5\) cannot exceed HEARTH_DB_POOL_MAX \(4\)/,
    ],
    [{ HEARTH_SHUTDOWN_TIMEOUT: '500' }, /HEARTH_SHUTDOWN_TIMEOUT must be a whole number from 1000/],
  ])('refuses %j at start-up, naming the setting', (env, message) => {
    expect(() => loadConfig({ NODE_ENV: 'test', ...env })).toThrow(ConfigError);
    expect(() => loadConfig({ NODE_ENV: 'test', ...env })).toThrow(message);
  });
});
