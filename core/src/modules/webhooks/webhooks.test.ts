import { deliverNotificationJob } from '../notifications/delivery';
import { NOTIFICATION_DELIVERY_JOB } from '../notifications/outbox';
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Webhook } from 'standardwebhooks';
import { adminUrl } from '../../../../test/support/databases';
import { ownerRows, startWorld, type World } from '../../../../test/support/harness';
import { repoRoot } from '../../config';
import { runDueJobs } from '../../jobs/worker';
import { isPublicAddress } from './addresses';
import { webhookDeliveryJob } from './delivery';
import { WEBHOOK_DELIVERY_JOB } from './settings';

/**
 * Webhooks end to end: a receiver on loopback (a real HTTP server in this process) verifies every
 * delivery with the Standard Webhooks reference library; the job queue runs the deliveries.
 */

let world: World;
const savedEnv = { ...process.env };

beforeAll(async () => {
  world = await startWorld();
}, 120_000);
afterAll(async () => {
  await world?.close();
});
beforeEach(() => {
  process.env.HEARTH_WEBHOOKS_ALLOW_PRIVATE = '1';
  process.env.HEARTH_WEBHOOKS_RETRY_BASE_MS = '0';
  delete process.env.HEARTH_WEBHOOKS_MAX_ATTEMPTS;
  delete process.env.HEARTH_WEBHOOKS_DISABLE_AFTER_MS;
});
afterEach(async () => {
  for (const key of Object.keys(process.env)) if (key.startsWith('HEARTH_WEBHOOKS_')) delete process.env[key];
  Object.assign(process.env, savedEnv);
  // Each test's endpoints stop here, so the next test's writes fan out to its own alone.
  for (const tenant of [world.a, world.b])
    await ownerRows(world.db, tenant.id, `UPDATE webhook_endpoints SET enabled = false WHERE tenant_id = ?`, [
      tenant.id,
    ]);
});

interface Received {
  headers: Record<string, string>;
  body: string;
}

type Answer = number | { status: number; headers?: Record<string, string> } | 'hold';

/** A receiver on a loopback port; `answer` decides each request's reply by its number (0-based). */
async function receiver(answer: (n: number) => Answer = () => 200) {
  const received: Received[] = [];
  const held: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const n = received.length;
      received.push({
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
        body: Buffer.concat(chunks).toString('utf8'),
      });
      const a = answer(n);
      if (a === 'hold') return void held.push(res);
      const { status, headers } = typeof a === 'number' ? { status: a, headers: {} } : a;
      res.writeHead(status, headers).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    held,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of held) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const runDeliveries = (options: { lockMs?: number } = {}) =>
  runDueJobs(world.db, {
    handlers: { [WEBHOOK_DELIVERY_JOB]: webhookDeliveryJob },
    services: world.server.services,
    backoffMs: () => 0,
    lockMs: options.lockMs,
  });

/** Runs deliveries until none is due (retries with no backoff come due at once). */
async function drain(): Promise<void> {
  for (let i = 0; i < 50; i++) if ((await runDeliveries()) === 0) return;
  throw new Error('deliveries kept coming');
}

async function createEndpoint(url: string, eventTypes: string[] = ['child.created']) {
  const r = await world.call('createWebhookEndpoint', { token: world.a.adminToken, body: { url, eventTypes } });
  expect(r.status).toBe(201);
  return r.body as { id: string; secret: string; version: number };
}

async function createChild(givenName = 'Zebedee') {
  const r = await world.call('createChild', {
    token: world.a.adminToken,
    body: { givenName, familyName: 'Quill', dateOfBirth: '2016-05-06', sex: 'male', ethnicity: 'WBRI' },
  });
  expect(r.status).toBe(201);
  return r.body as { id: string; version: number };
}

async function deliveriesOf(endpointId: string) {
  const r = await world.call('listWebhookDeliveries', { token: world.a.adminToken, params: { endpointId } });
  expect(r.status).toBe(200);
  return r.body.data as Array<{ id: string; eventId: string; status: string; attempts: number }>;
}

async function deliveryDetail(deliveryId: string) {
  const r = await world.call('getWebhookDelivery', { token: world.a.adminToken, params: { deliveryId } });
  expect(r.status).toBe(200);
  return r.body as {
    status: string;
    attempts: number;
    eventId: string;
    attemptLog: Array<{
      attempt: number;
      trigger: string;
      outcome: string;
      responseCode: number | null;
      error: string;
    }>;
  };
}

describe('the event feed', () => {
  it('publishes thin events in the write transaction and pages them by a stable cursor', async () => {
    // Catch up with everything so far, page by page.
    let cursor: string | undefined;
    for (;;) {
      const page = await world.call('listEvents', {
        token: world.a.adminToken,
        query: { limit: 200, ...(cursor ? { after: cursor } : {}) },
      });
      expect(page.status).toBe(200);
      cursor = page.body.cursor ?? undefined;
      if (!page.body.hasMore) break;
    }

    const child = await createChild('Peregrine');
    const later = await world.call('listEvents', {
      token: world.a.adminToken,
      query: { ...(cursor ? { after: cursor } : {}) },
    });
    expect(later.body.data).toEqual([
      {
        id: expect.any(String),
        type: 'child.created',
        occurredAt: expect.any(String),
        tenantId: world.a.id,
        subject: { type: 'child', id: child.id, path: `/v1/children/${child.id}` },
        data: { status: 'referred' },
      },
    ]);
    expect(JSON.stringify(later.body)).not.toMatch(/Peregrine|Quill|2016-05-06/);
    // An empty page keeps the cursor, so polling with it misses nothing.
    const again = await world.call('listEvents', { token: world.a.adminToken, query: { after: later.body.cursor } });
    expect(again.body).toEqual({ data: [], cursor: later.body.cursor, hasMore: false });
    // The event is the audit event's: same id, and it rolls back with its write.
    const [audit] = await ownerRows<{ action: string }>(
      world.db,
      world.a.id,
      'SELECT action FROM audit_events WHERE tenant_id = ? AND id = ?',
      [world.a.id, later.body.data[0].id],
    );
    expect(audit!.action).toBe('child.created');

    const typed = await world.call('listEvents', {
      token: world.a.adminToken,
      query: { ...(cursor ? { after: cursor } : {}), types: 'placement.started' },
    });
    expect(typed.body.data).toEqual([]);
    // Another tenant's feed does not hold it.
    const b = await world.call('listEvents', { token: world.b.adminToken, query: { limit: 200 } });
    expect(JSON.stringify(b.body)).not.toContain(child.id);
    const bad = await world.call('listEvents', { token: world.a.adminToken, query: { after: 'bm90LWEtY3Vyc29y' } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('/query/after');
  });

  it("keeps a restricted child's events from API keys, unnamed users and every endpoint", async () => {
    const hook = await receiver();
    try {
      const endpoint = await createEndpoint(hook.url, ['child.created', 'child.updated', 'child.restriction_changed']);
      const child = await createChild('Restricta');
      const set = await world.call('setChildRestriction', {
        token: world.a.adminToken,
        params: { childId: child.id },
        body: { restricted: true, allowedUserIds: [world.a.adminId] },
        headers: { 'if-match': `"${child.version}"` },
      });
      expect(set.status).toBe(200);
      const updated = await world.call('updateChild', {
        token: world.a.adminToken,
        params: { childId: child.id },
        body: { preferredName: 'R' },
        headers: { 'if-match': set.headers.get('etag')! },
      });
      expect(updated.status).toBe(200);

      const key = await world.call('createApiKey', {
        token: world.a.adminToken,
        body: { name: 'feed reader', permissions: ['events:read'] },
      });
      const other = await world.addUser(world.a, ['tenant_admin']);
      const all = async (auth: { token?: string; apiKey?: string }) => {
        const r = await world.call('listEvents', {
          ...auth,
          query: { limit: 200, types: 'child.created,child.updated' },
        });
        expect(r.status).toBe(200);
        let body = r.body;
        const data = [...body.data];
        while (body.hasMore) {
          body = (
            await world.call('listEvents', {
              ...auth,
              query: { limit: 200, types: 'child.created,child.updated', after: body.cursor },
            })
          ).body;
          data.push(...body.data);
        }
        return JSON.stringify(data);
      };
      expect(await all({ token: world.a.adminToken })).toContain(child.id);
      expect(await all({ apiKey: key.body.secret })).not.toContain(child.id);
      expect(await all({ token: other.token })).not.toContain(child.id);

      // The creation's delivery was written before the restriction and is withheld at its attempt;
      // the events after it got no delivery at all.
      await drain();
      expect(hook.received).toEqual([]);
      const deliveries = await deliveriesOf(endpoint.id);
      expect(deliveries.map((d) => d.status)).toEqual(['withheld']);
      const delivery = deliveries[0];
      // The delivery of a restricted child's event is out of sight for an unnamed administrator, too.
      const hidden = await world.call('getWebhookDelivery', {
        token: other.token,
        params: { deliveryId: delivery!.id },
      });
      expect(hidden.status).toBe(404);
    } finally {
      await hook.close();
    }
  });
});

describe('webhook deliveries', () => {
  it('signs per Standard Webhooks, records each attempt, and keeps the secret out of every read', async () => {
    const hook = await receiver();
    try {
      const endpoint = await createEndpoint(hook.url);
      expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
      const child = await createChild();
      await drain();
      expect(hook.received).toHaveLength(1);
      const got = hook.received[0]!;
      const verified = new Webhook(endpoint.secret).verify(got.body, got.headers) as Record<string, unknown>;
      expect(verified).toMatchObject({ type: 'child.created', subject: { type: 'child', id: child.id } });
      expect(got.headers['webhook-id']).toBe(verified.id);
      expect(got.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
      expect(() => new Webhook(endpoint.secret).verify(got.body + ' ', got.headers)).toThrow();

      const [delivery] = await deliveriesOf(endpoint.id);
      const detail = await deliveryDetail(delivery!.id);
      expect(detail).toMatchObject({ status: 'succeeded', attempts: 1, eventId: verified.id });
      expect(detail.attemptLog).toEqual([
        expect.objectContaining({
          attempt: 1,
          trigger: 'automatic',
          outcome: 'succeeded',
          responseCode: 200,
          error: null,
        }),
      ]);
      const read = await world.call('getWebhookEndpoint', {
        token: world.a.adminToken,
        params: { endpointId: endpoint.id },
      });
      expect(JSON.stringify(read.body)).not.toContain(endpoint.secret.slice(6, 20));
      const [stored] = await ownerRows<{ secret_sealed: string }>(
        world.db,
        world.a.id,
        'SELECT secret_sealed FROM webhook_endpoints WHERE id = ?',
        [endpoint.id],
      );
      expect(stored!.secret_sealed).not.toContain(endpoint.secret.slice(6, 20));
    } finally {
      await hook.close();
    }
  });

  it('retries a failing delivery under the same webhook-id, dead-letters it, and replays what failed since T', async () => {
    process.env.HEARTH_WEBHOOKS_MAX_ATTEMPTS = '3';
    let healthy = false;
    const hook = await receiver(() => (healthy ? 204 : 503));
    try {
      const endpoint = await createEndpoint(hook.url);
      const before = new Date(Date.now() - 1000).toISOString();
      await createChild('Retry');
      await drain();
      expect(hook.received).toHaveLength(3);
      expect(new Set(hook.received.map((r) => r.headers['webhook-id'])).size).toBe(1);
      const [delivery] = await deliveriesOf(endpoint.id);
      const dead = await deliveryDetail(delivery!.id);
      expect(dead).toMatchObject({ status: 'failed', attempts: 3 });
      expect(dead.attemptLog.map((a) => [a.attempt, a.outcome, a.responseCode])).toEqual([
        [1, 'failed', 503],
        [2, 'failed', 503],
        [3, 'failed', 503],
      ]);
      expect(dead.attemptLog[0]!.error).toBe('the receiver answered 503');

      healthy = true;
      const nothingSince = await world.call('replayWebhookDeliveries', {
        token: world.a.adminToken,
        params: { endpointId: endpoint.id },
        body: { since: new Date(Date.now() + 60_000).toISOString() },
      });
      expect(nothingSince.body).toEqual({ queued: 0 });
      const bulk = await world.call('replayWebhookDeliveries', {
        token: world.a.adminToken,
        params: { endpointId: endpoint.id },
        body: { since: before },
      });
      expect(bulk.status).toBe(202);
      expect(bulk.body).toEqual({ queued: 1 });
      await drain();
      expect(hook.received).toHaveLength(4);
      expect(hook.received[3]!.headers['webhook-id']).toBe(hook.received[0]!.headers['webhook-id']);
      const replayed = await deliveryDetail(delivery!.id);
      expect(replayed).toMatchObject({ status: 'succeeded', attempts: 4 });
      expect(replayed.attemptLog[3]).toMatchObject({
        attempt: 4,
        trigger: 'replay',
        outcome: 'succeeded',
        responseCode: 204,
      });

      // One delivery again, by hand; a pending one is refused as already queued.
      const one = await world.call('replayWebhookDelivery', {
        token: world.a.adminToken,
        params: { deliveryId: delivery!.id },
      });
      expect(one.status).toBe(202);
      expect(one.body).toMatchObject({ status: 'pending' });
      const twice = await world.call('replayWebhookDelivery', {
        token: world.a.adminToken,
        params: { deliveryId: delivery!.id },
      });
      expect(twice.status).toBe(409);
      await drain();
      expect(hook.received).toHaveLength(5);
      expect((await deliveryDetail(delivery!.id)).attempts).toBe(5);
    } finally {
      await hook.close();
    }
  });

  it('disables an endpoint that has failed for the configured time and records the notice in the audit trail', async () => {
    process.env.HEARTH_WEBHOOKS_DISABLE_AFTER_MS = '0';
    const hook = await receiver(() => 500);
    try {
      const endpoint = await createEndpoint(hook.url);
      await createChild('Dis');
      await drain();
      expect(hook.received).toHaveLength(1);
      const read = await world.call('getWebhookEndpoint', {
        token: world.a.adminToken,
        params: { endpointId: endpoint.id },
      });
      expect(read.body).toMatchObject({ enabled: false, disabledReason: expect.stringContaining('failed since') });
      const audits = await ownerRows<{ action: string; actor_type: string }>(
        world.db,
        world.a.id,
        `SELECT action, actor_type FROM audit_events WHERE tenant_id = ? AND entity_id = ? AND action = 'webhook_endpoint.disabled'`,
        [world.a.id, endpoint.id],
      );
      expect(audits).toEqual([{ action: 'webhook_endpoint.disabled', actor_type: 'system' }]);
      // The administrators are told through the notifications outbox, written with the disabling.
      await runDueJobs(world.db, {
        handlers: { [NOTIFICATION_DELIVERY_JOB]: deliverNotificationJob },
        services: world.server.services,
        backoffMs: () => 0,
      });
      const told = await ownerRows<{ channel: string; recipient: string; status: string; subject: string }>(
        world.db,
        world.a.id,
        `SELECT channel, recipient, status, subject FROM outbound_messages
          WHERE tenant_id = ? AND event = 'webhook_endpoint.disabled' AND payload->>'link' = ? ORDER BY channel`,
        [world.a.id, `/webhook-endpoints/${endpoint.id}`],
      );
      // Everyone who manages webhooks (the admin, and any other so entitled) hears by email and in-app.
      expect(told).toEqual(
        expect.arrayContaining([
          {
            channel: 'email',
            recipient: world.a.adminEmail,
            status: 'delivered',
            subject: 'A webhook endpoint of Tenant tenant-a was turned off',
          },
          { channel: 'inapp', recipient: world.a.adminId, status: 'delivered', subject: 'Webhook endpoint turned off' },
        ]),
      );
      const managers = await ownerRows<{ id: string }>(
        world.db,
        world.a.id,
        `SELECT DISTINCT u.id FROM users u JOIN user_roles ur ON ur.tenant_id = u.tenant_id AND ur.user_id = u.id
           JOIN roles r ON r.tenant_id = ur.tenant_id AND r.id = ur.role_id
          WHERE u.tenant_id = ? AND u.status = 'active' AND 'webhooks:manage' = ANY (r.permissions)`,
        [world.a.id],
      );
      expect(
        told
          .filter((m) => m.channel === 'inapp')
          .map((m) => m.recipient)
          .sort(),
      ).toEqual(managers.map((m) => m.id).sort());
      // A disabled endpoint gets no new deliveries, and replay to it is refused until it is enabled.
      await createChild('Dis2');
      expect(await deliveriesOf(endpoint.id)).toHaveLength(1);
      const refused = await world.call('replayWebhookDeliveries', {
        token: world.a.adminToken,
        params: { endpointId: endpoint.id },
        body: { since: new Date(0).toISOString() },
      });
      expect(refused.status).toBe(409);
      const enabled = await world.call('updateWebhookEndpoint', {
        token: world.a.adminToken,
        params: { endpointId: endpoint.id },
        body: { enabled: true },
        headers: { 'if-match': `"${read.body.version}"` },
      });
      expect(enabled.body).toMatchObject({ enabled: true, disabledReason: null, failingSince: null });
    } finally {
      await hook.close();
    }
  });

  it('signs with both secrets during a rotation overlap, and with the new one alone after', async () => {
    const hook = await receiver();
    try {
      const endpoint = await createEndpoint(hook.url);
      const rotated = await world.call('rotateWebhookSecret', {
        token: world.a.adminToken,
        params: { endpointId: endpoint.id },
        body: { overlapHours: 24 },
      });
      expect(rotated.status).toBe(200);
      const fresh = rotated.body.secret as string;
      expect(fresh).not.toBe(endpoint.secret);
      expect(rotated.body.previousSecretExpiresAt).not.toBeNull();
      await createChild('Rot');
      await drain();
      const during = hook.received[0]!;
      expect(during.headers['webhook-signature']!.split(' ')).toHaveLength(2);
      expect(() => new Webhook(endpoint.secret).verify(during.body, during.headers)).not.toThrow();
      expect(() => new Webhook(fresh).verify(during.body, during.headers)).not.toThrow();

      const retired = await world.call('rotateWebhookSecret', {
        token: world.a.adminToken,
        params: { endpointId: endpoint.id },
        body: { overlapHours: 0 },
      });
      const newest = retired.body.secret as string;
      await createChild('Rot2');
      await drain();
      const after = hook.received[1]!;
      expect(after.headers['webhook-signature']!.split(' ')).toHaveLength(1);
      expect(() => new Webhook(newest).verify(after.body, after.headers)).not.toThrow();
      expect(() => new Webhook(fresh).verify(after.body, after.headers)).toThrow();
    } finally {
      await hook.close();
    }
  });

  it('loses and doubles nothing when a worker stalls mid-delivery and another takes the job over', async () => {
    const hook = await receiver((n) => (n === 0 ? 'hold' : 200));
    try {
      const endpoint = await createEndpoint(hook.url);
      await createChild('Stall');
      // The first worker sends, and its receiver never answers: as good as dead once its lock runs out.
      const stalled = runDeliveries({ lockMs: 300 });
      while (hook.held.length === 0) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 400));
      expect(await runDeliveries()).toBe(1);
      expect(hook.received).toHaveLength(2);
      // The stalled worker wakes at last: its outcome is not recorded over the one already there.
      hook.held[0]!.writeHead(200).end();
      await stalled;
      await drain();
      const [delivery] = await deliveriesOf(endpoint.id);
      const detail = await deliveryDetail(delivery!.id);
      expect(detail).toMatchObject({ status: 'succeeded', attempts: 1 });
      expect(detail.attemptLog).toHaveLength(1);
      // At least once: the same webhook-id both times, the receiver's key for dropping the duplicate.
      expect(hook.received[0]!.headers['webhook-id']).toBe(hook.received[1]!.headers['webhook-id']);
      const jobs = await ownerRows<{ n: number }>(
        world.db,
        world.a.id,
        `SELECT count(*)::int AS n FROM jobs WHERE tenant_id = ? AND kind = ? AND payload->>'deliveryId' = ?`,
        [world.a.id, WEBHOOK_DELIVERY_JOB, delivery!.id],
      );
      expect(jobs[0]!.n).toBe(1);
    } finally {
      await hook.close();
    }
  });
});

/** PGlite lives inside this process: a worker of its own, to be killed, needs a database server. */
const onServer = adminUrl() ? it : it.skip;

describe('a worker killed mid-delivery', () => {
  onServer(
    'is as good as never having claimed the job: the delivery is sent again, under the same webhook-id, and recorded once',
    async () => {
      const hook = await receiver((n) => (n === 0 ? 'hold' : 200));
      try {
        const endpoint = await createEndpoint(hook.url);
        await createChild('Killed');
        const worker = spawn(
          process.execPath,
          [
            '-r',
            path.join(repoRoot, 'test', 'support', 'registerTs.js'),
            path.join(repoRoot, 'test', 'support', 'webhookWorker.ts'),
          ],
          {
            cwd: repoRoot,
            env: {
              PATH: process.env.PATH ?? '',
              NODE_ENV: 'test',
              DATABASE_URL: world.config.databaseUrl!,
              HEARTH_WEBHOOKS_ALLOW_PRIVATE: '1',
              WORKER_LOCK_MS: '500',
            },
            stdio: ['ignore', 'pipe', 'inherit'],
          },
        );
        const exited = new Promise((resolve) => worker.once('exit', resolve));
        // Killed once the receiver has the request: sent, never recorded.
        for (let i = 0; hook.held.length === 0; i++) {
          if (i > 600) throw new Error('the worker process never delivered');
          await new Promise((r) => setTimeout(r, 50));
        }
        worker.kill('SIGKILL');
        await exited;
        const [delivery] = await deliveriesOf(endpoint.id);
        expect(delivery).toMatchObject({ status: 'pending', attempts: 0 });
        const [job] = await ownerRows<{ status: string }>(
          world.db,
          world.a.id,
          `SELECT status FROM jobs WHERE tenant_id = ? AND kind = ? AND payload->>'deliveryId' = ?`,
          [world.a.id, WEBHOOK_DELIVERY_JOB, delivery!.id],
        );
        expect(job!.status).toBe('running');

        // Its lock runs out; another worker takes the job over.
        await new Promise((r) => setTimeout(r, 600));
        await drain();
        expect(hook.received).toHaveLength(2);
        expect(hook.received[1]!.headers['webhook-id']).toBe(hook.received[0]!.headers['webhook-id']);
        const detail = await deliveryDetail(delivery!.id);
        expect(detail).toMatchObject({ status: 'succeeded', attempts: 1 });
        expect(detail.attemptLog).toHaveLength(1);
        const jobs = await ownerRows<{ status: string; attempts: number }>(
          world.db,
          world.a.id,
          `SELECT status, attempts FROM jobs WHERE tenant_id = ? AND kind = ? AND payload->>'deliveryId' = ?`,
          [world.a.id, WEBHOOK_DELIVERY_JOB, delivery!.id],
        );
        expect(jobs).toEqual([{ status: 'succeeded', attempts: 2 }]);
      } finally {
        await hook.close();
      }
    },
  );
});

describe('where webhooks may go', () => {
  it('knows private, loopback, link-local and mapped addresses from public ones', () => {
    for (const address of ['127.0.0.1', '10.1.2.3', '172.20.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1'])
      expect([address, isPublicAddress(address)]).toEqual([address, false]);
    for (const address of ['::1', '::', 'fd00::1', 'fe80::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', '64:ff9b::a00:1'])
      expect([address, isPublicAddress(address)]).toEqual([address, false]);
    for (const address of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111'])
      expect([address, isPublicAddress(address)]).toEqual([address, true]);
  });

  it('refuses private and loopback URLs unless the operator allows them, at creation and at every attempt', async () => {
    delete process.env.HEARTH_WEBHOOKS_ALLOW_PRIVATE;
    for (const url of ['http://127.0.0.1:9/x', 'https://localhost/x', 'https://[::1]/x', 'https://169.254.169.254/x']) {
      const r = await world.call('createWebhookEndpoint', {
        token: world.a.adminToken,
        body: { url, eventTypes: ['child.created'] },
      });
      expect([url, r.status]).toEqual([url, 422]);
      expect(JSON.stringify(r.body)).toContain('/body/url');
    }
    const unknownType = await world.call('createWebhookEndpoint', {
      token: world.a.adminToken,
      body: { url: 'https://8.8.8.8/x', eventTypes: ['child.eaten'] },
    });
    expect(unknownType.status).toBe(422);
    expect(JSON.stringify(unknownType.body)).toContain('/body/eventTypes/0');

    // Made while the operator allowed it, then the setting is gone: the attempt is refused, nothing sent.
    const hook = await receiver();
    try {
      process.env.HEARTH_WEBHOOKS_ALLOW_PRIVATE = '1';
      const endpoint = await createEndpoint(hook.url);
      delete process.env.HEARTH_WEBHOOKS_ALLOW_PRIVATE;
      process.env.HEARTH_WEBHOOKS_MAX_ATTEMPTS = '1';
      await createChild('Ssrf');
      await drain();
      expect(hook.received).toHaveLength(0);
      const [delivery] = await deliveriesOf(endpoint.id);
      const detail = await deliveryDetail(delivery!.id);
      expect(detail.status).toBe('failed');
      expect(detail.attemptLog[0]!.error).toMatch(/^refused: 127\.0\.0\.1 is a private or reserved address/);
    } finally {
      await hook.close();
    }
  });

  it('does not follow a redirect', async () => {
    process.env.HEARTH_WEBHOOKS_MAX_ATTEMPTS = '1';
    const hook = await receiver(() => ({ status: 302, headers: { location: 'http://169.254.169.254/latest' } }));
    try {
      const endpoint = await createEndpoint(hook.url);
      await createChild('Redirect');
      await drain();
      expect(hook.received).toHaveLength(1);
      const [delivery] = await deliveriesOf(endpoint.id);
      const detail = await deliveryDetail(delivery!.id);
      expect(detail.attemptLog[0]).toMatchObject({ outcome: 'failed', responseCode: 302 });
      expect(detail.attemptLog[0]!.error).toContain('not followed');
    } finally {
      await hook.close();
    }
  });

  it('gives up on a receiver slower than the timeout', async () => {
    process.env.HEARTH_WEBHOOKS_MAX_ATTEMPTS = '1';
    process.env.HEARTH_WEBHOOKS_TIMEOUT_MS = '300';
    const hook = await receiver(() => 'hold');
    try {
      const endpoint = await createEndpoint(hook.url);
      await createChild('Slow');
      await drain();
      const [delivery] = await deliveriesOf(endpoint.id);
      const detail = await deliveryDetail(delivery!.id);
      expect(detail.attemptLog[0]).toMatchObject({
        outcome: 'failed',
        responseCode: null,
        error: 'timed out after 300 ms',
      });
    } finally {
      await hook.close();
    }
  });
});
