import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { auditSettingsFromEnv, ConfigError, loadConfig } from '../core/src/config';
import { openDatabase, type Database } from '../core/src/db/database';
import { runMigrations } from '../core/src/db/migrate';
import { applyScope, inTenantTransaction } from '../core/src/db/tenantTransaction';
import { bootstrapTenant } from '../core/src/demo/seed';
import { newId } from '../core/src/ids';
import { getJob } from '../core/src/jobs/queue';
import { runDueJobs } from '../core/src/jobs/worker';
import {
  AUDIT_CHECKPOINT_JOB,
  auditCheckpointJob,
  scheduleAuditCheckpoints,
  takeCheckpoint,
} from '../core/src/modules/audit/checkpointJob';
import type { AuditCheckpoint } from '../core/src/modules/audit/checkpointSinks';
import { checkpointStore, signCheckpoint } from '../core/src/modules/audit/checkpoints';
import {
  canonicalJson,
  GENESIS_HASH,
  keyedEventHash,
  unkeyedEventHash,
  type ChainedFields,
} from '../core/src/modules/audit/hashChain';
import { auditKeys, useAuditKeys } from '../core/src/modules/audit/keys';
import { appendAuditEvent, rowToFields, type AuditActor, type AuditRow } from '../core/src/modules/audit/service';
import { verifyAuditChain, type ChainVerdict } from '../core/src/modules/audit/verify';
import { provisionTenant } from '../core/src/modules/tenants/provision';
import { loadPacks } from '../core/src/packs/registry';
import { startServer } from '../core/src/server';
import { migrations } from '../migrations';
import { fileCheckpointSink } from '../plugins/audit-checkpoint-files/fileSink';
import { adminUrl, urlFor } from './support/databases';
import { startWorld, TEST_PASSWORD, type World } from './support/harness';

/**
 * The audit trail against the database's owner (issue 17): someone who can read and rewrite every
 * row, switch triggers off and play the application role. Each scenario works on a tenant of its
 * own, so a tampered chain is never put back. What must hold:
 * - a hash only the configured chain key makes (HMAC), so recomputed or forged events fail;
 * - a head the application role cannot touch, moved only by the append function, which stamps the
 *   time and checks the position;
 * - signed checkpoints kept outside the database, so cutting the newest events off (head and all)
 *   fails against the last one, and a forged checkpoint fails its signature.
 */

let world: World;
beforeAll(async () => {
  world = await startWorld();
}, 180_000);
afterAll(async () => {
  await world?.close();
});

const SYSTEM: AuditActor = { actorType: 'system', actorId: null, ip: null, userAgent: null, requestId: null };
let tenantCounter = 0;

interface ScenarioTenant {
  id: string;
  slug: string;
  email: string;
}

/** A tenant with a chain of its own: its creation event plus `events` more. */
async function freshTenant(events = 5): Promise<ScenarioTenant> {
  const slug = `tamper-${++tenantCounter}`;
  const email = `admin@${slug}.test`;
  const { tenant } = await bootstrapTenant(world.db, world.server.packs, {
    kind: 'service',
    name: `Tamper ${tenantCounter}`,
    slug,
    packId: 'uk',
    currency: 'GBP',
    timeZone: 'Europe/London',
    firstAdmin: { email, displayName: 'Admin', password: TEST_PASSWORD },
  });
  await appendEvents(tenant.id, events);
  return { id: tenant.id, slug, email };
}

async function appendEvents(tenantId: string, n: number): Promise<void> {
  await inTenantTransaction(world.db, { tenantId }, async (trx) => {
    for (let i = 0; i < n; i++)
      await appendAuditEvent(trx, tenantId, SYSTEM, {
        action: 'test.event',
        entityType: 'test',
        entityId: String(i),
        after: { i },
      });
  });
}

function store() {
  return checkpointStore(world.server.services);
}

async function verify(tenantId: string): Promise<ChainVerdict> {
  return inTenantTransaction(world.db, { tenantId }, (trx) => verifyAuditChain(trx, tenantId, store()));
}

async function checkpoint(tenantId: string): Promise<AuditCheckpoint> {
  const taken = await inTenantTransaction(world.db, { tenantId }, (trx) => takeCheckpoint(trx, tenantId, store()));
  return taken!.checkpoint;
}

async function events(tenantId: string): Promise<AuditRow[]> {
  return (
    (await world.db.raw('SELECT * FROM audit_events WHERE tenant_id = ? ORDER BY seq', [tenantId])) as {
      rows: AuditRow[];
    }
  ).rows;
}

async function head(
  tenantId: string,
): Promise<{ last_seq: number; last_hash: string; keyed_from_seq: number } | undefined> {
  return (
    (await world.db.raw('SELECT last_seq, last_hash, keyed_from_seq FROM audit_chain_heads WHERE tenant_id = ?', [
      tenantId,
    ])) as { rows: Array<{ last_seq: number; last_hash: string; keyed_from_seq: number }> }
  ).rows[0];
}

/** As the owner (a superuser) with triggers off: how a tamperer gets past the append-only triggers. */
async function asOwner(work: (trx: Knex.Transaction) => Promise<unknown>): Promise<void> {
  await world.db.transaction(async (trx) => {
    await trx.raw('SET LOCAL session_replication_role = replica');
    await work(trx);
  });
}

/** As the application role, scoped to a tenant, exactly as a request runs. */
async function asApp<T>(tenantId: string, work: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  return inTenantTransaction(world.db, { tenantId }, work);
}

function failure(verdict: ChainVerdict) {
  return { valid: verdict.valid, reason: verdict.firstBrokenLink?.reason ?? null };
}

// ---------------------------------------------------------------------------------------------

describe('the database owner cannot rewrite the trail unseen', () => {
  it('verifies an untouched chain of keyed events', async () => {
    const t = await freshTenant(3);
    const rows = await events(t.id);
    // Every event is keyed with the configured key; nothing is hashed with plain SHA-256 any more.
    expect(rows.map((r) => r.key_id)).toEqual(rows.map(() => auditKeys().chainKey.id));
    expect(await verify(t.id)).toEqual({ valid: true, eventsChecked: 4, firstBrokenLink: null, checkpoint: null });
  });

  it('fails when the newest events are deleted together with the head (head_missing)', async () => {
    const t = await freshTenant(5);
    const all = await events(t.id);
    await asOwner(async (trx) => {
      await trx.raw('DELETE FROM audit_events WHERE tenant_id = ? AND seq > ?', [t.id, all.length - 2]);
      await trx.raw('DELETE FROM audit_chain_heads WHERE tenant_id = ?', [t.id]);
    });
    expect(await verify(t.id)).toEqual({
      valid: false,
      eventsChecked: all.length - 2,
      firstBrokenLink: { seq: all.length - 2, eventId: all[all.length - 3]!.id, reason: 'head_missing' },
      checkpoint: null,
    });
  });

  it('fails against the last checkpoint when the newest events are deleted and the head rewritten to match (behind_checkpoint)', async () => {
    const t = await freshTenant(5);
    const taken = await checkpoint(t.id);
    const all = await events(t.id);
    expect(taken.seq).toBe(all.length);
    const keep = all[all.length - 3]!;
    await asOwner(async (trx) => {
      await trx.raw('DELETE FROM audit_events WHERE tenant_id = ? AND seq > ?', [t.id, keep.seq]);
      await trx.raw('UPDATE audit_chain_heads SET last_seq = ?, last_hash = ? WHERE tenant_id = ?', [
        keep.seq,
        keep.hash,
        t.id,
      ]);
    });
    const verdict = await verify(t.id);
    expect(verdict).toEqual({
      valid: false,
      eventsChecked: keep.seq,
      firstBrokenLink: { seq: taken.seq, eventId: null, reason: 'behind_checkpoint' },
      checkpoint: {
        seq: taken.seq,
        hash: taken.hash,
        keyedFromSeq: 1,
        takenAt: taken.takenAt,
        keyId: auditKeys().signingKey.id,
      },
    });
  });

  it('fails against the last checkpoint when every event and the head are deleted', async () => {
    const t = await freshTenant(2);
    const taken = await checkpoint(t.id);
    await asOwner(async (trx) => {
      await trx.raw('DELETE FROM audit_events WHERE tenant_id = ?', [t.id]);
      await trx.raw('DELETE FROM audit_chain_heads WHERE tenant_id = ?', [t.id]);
    });
    expect(failure(await verify(t.id))).toEqual({ valid: false, reason: 'behind_checkpoint' });
    expect((await verify(t.id)).firstBrokenLink).toEqual({
      seq: taken.seq,
      eventId: null,
      reason: 'behind_checkpoint',
    });
  });

  /** Rewrites the chain from `fromSeq` on as a tamperer without the key would: plain SHA-256, the head to match. */
  async function recomputeUnkeyed(
    tenantId: string,
    fromSeq: number,
    alter: (fields: ChainedFields) => ChainedFields,
    options: { keyIdStays?: boolean } = {},
  ): Promise<void> {
    const all = await events(tenantId);
    let prevHash = all.find((e) => e.seq === fromSeq - 1)?.hash ?? GENESIS_HASH;
    await asOwner(async (trx) => {
      for (const row of all.filter((e) => e.seq >= fromSeq)) {
        const fields = alter({ ...rowToFields(row), prevHash, keyId: null });
        const hash = unkeyedEventHash(fields);
        await trx.raw(
          'UPDATE audit_events SET action = ?, prev_hash = ?, hash = ?, key_id = ? WHERE tenant_id = ? AND seq = ?',
          [fields.action, prevHash, hash, options.keyIdStays ? row.key_id : null, tenantId, row.seq],
        );
        prevHash = hash;
      }
      await trx.raw('UPDATE audit_chain_heads SET last_hash = ? WHERE tenant_id = ?', [prevHash, tenantId]);
    });
  }

  it('fails on a chain recomputed with unkeyed SHA-256 (unkeyed_event)', async () => {
    const t = await freshTenant(4);
    await recomputeUnkeyed(t.id, 3, (f) => (f.seq === 3 ? { ...f, action: 'test.nothing_happened' } : f));
    expect(await verify(t.id)).toMatchObject({
      valid: false,
      eventsChecked: 2,
      firstBrokenLink: { seq: 3, reason: 'unkeyed_event' },
    });
  });

  it('fails on SHA-256 passed off under the chain key’s id (hash_mismatch)', async () => {
    const t = await freshTenant(4);
    await recomputeUnkeyed(t.id, 3, (f) => f, { keyIdStays: true });
    expect(await verify(t.id)).toMatchObject({
      valid: false,
      eventsChecked: 2,
      firstBrokenLink: { seq: 3, reason: 'hash_mismatch' },
    });
  });

  it('fails on unkeyed events after keyed ones, even with the boundary moved in the database', async () => {
    const t = await freshTenant(4);
    await asOwner((trx) => trx.raw('UPDATE audit_chain_heads SET keyed_from_seq = 1000 WHERE tenant_id = ?', [t.id]));
    await recomputeUnkeyed(t.id, 4, (f) => f);
    expect(await verify(t.id)).toMatchObject({ valid: false, firstBrokenLink: { seq: 4, reason: 'unkeyed_event' } });
  });

  it('fails when the boundary moved away from the one the checkpoint signed (boundary_moved)', async () => {
    const t = await freshTenant(2);
    await checkpoint(t.id);
    await asOwner((trx) => trx.raw('UPDATE audit_chain_heads SET keyed_from_seq = 1000 WHERE tenant_id = ?', [t.id]));
    expect(await verify(t.id)).toMatchObject({
      valid: false,
      firstBrokenLink: { seq: 1000, eventId: null, reason: 'boundary_moved' },
    });
  });

  it('fails on an event inserted past the head (head_mismatch)', async () => {
    const t = await freshTenant(2);
    const last = (await events(t.id)).pop()!;
    const fields: ChainedFields = {
      ...rowToFields(last),
      id: newId(),
      seq: last.seq + 1,
      prevHash: last.hash,
      action: 'test.slipped_in',
    };
    await asOwner((trx) =>
      trx.raw(
        `INSERT INTO audit_events (tenant_id, id, seq, occurred_at, actor_type, action, entity_type, after, prev_hash, hash, key_id) VALUES (?, ?, ?, now(), 'system', ?, 'test', ?::jsonb, ?, ?, ?)`,
        [
          t.id,
          fields.id,
          fields.seq,
          fields.action,
          canonicalJson(last.after),
          fields.prevHash,
          '0'.repeat(64),
          last.key_id,
        ],
      ),
    );
    expect(await verify(t.id)).toMatchObject({
      valid: false,
      firstBrokenLink: { seq: last.seq + 1, eventId: fields.id, reason: 'head_mismatch' },
    });
  });

  it('refuses DELETE, TRUNCATE and a head moved back or re-based to the owner, while triggers are on', async () => {
    const t = await freshTenant(1);
    for (const [statement, refusal] of [
      ['DELETE FROM audit_chain_heads WHERE tenant_id = ?', /moves forward one event at a time: DELETE refused/],
      [
        'UPDATE audit_chain_heads SET last_seq = last_seq - 1 WHERE tenant_id = ?',
        /moves forward one event at a time: UPDATE refused/,
      ],
      [
        'UPDATE audit_chain_heads SET keyed_from_seq = 1000 WHERE tenant_id = ?',
        /moves forward one event at a time: UPDATE refused/,
      ],
    ] as const) {
      await expect(world.db.raw(statement, [t.id])).rejects.toThrow(refusal);
    }
    await expect(world.db.raw('TRUNCATE audit_chain_heads')).rejects.toThrow(
      /audit_chain_heads is append-only: TRUNCATE refused/,
    );
    expect(await verify(t.id)).toMatchObject({ valid: true });
  });
});

// ---------------------------------------------------------------------------------------------

describe('the application role appends only through hearth_append_audit_event', () => {
  const appendCall = `SELECT * FROM hearth_append_audit_event(?, ?, ?, ?, ?, 'system', NULL, 'test.forged', 'test', NULL, NULL, '{"forged": true}'::jsonb, NULL, NULL, NULL, ?, ?)`;

  it('is refused UPDATE, INSERT and DELETE on the head, and INSERT on the events: permission denied', async () => {
    const t = await freshTenant(1);
    const h = (await head(t.id))!;
    for (const statement of [
      [
        `UPDATE audit_chain_heads SET last_seq = last_seq + 1, last_hash = ? WHERE tenant_id = ?`,
        ['f'.repeat(64), t.id],
      ],
      [`INSERT INTO audit_chain_heads (tenant_id, last_seq, last_hash) VALUES (?, 0, ?)`, [t.id, GENESIS_HASH]],
      [`DELETE FROM audit_chain_heads WHERE tenant_id = ?`, [t.id]],
      [
        `INSERT INTO audit_events (tenant_id, id, seq, occurred_at, actor_type, action, entity_type, prev_hash, hash, key_id) VALUES (?, ?, ?, now() - interval '1 year', 'system', 'test.backdated', 'test', ?, ?, ?)`,
        [t.id, newId(), h.last_seq + 1, h.last_hash, 'a'.repeat(64), auditKeys().chainKey.id],
      ],
    ] as const) {
      await expect(
        asApp(t.id, async (trx) => {
          // The role sees its tenant's head, so the refusal is about the privilege, not an empty table.
          expect(
            ((await trx.raw('SELECT count(*)::int AS n FROM audit_chain_heads')) as { rows: Array<{ n: number }> })
              .rows[0]!.n,
          ).toBe(1);
          await trx.raw(statement[0], [...statement[1]]);
        }),
      ).rejects.toThrow(/permission denied/);
    }
    expect(await head(t.id)).toEqual(h);
    expect(await verify(t.id)).toMatchObject({ valid: true });
  });

  it('refuses a back-dated (or forward-dated) time, writing nothing', async () => {
    const t = await freshTenant(1);
    const h = (await head(t.id))!;
    for (const offset of ["now() - interval '1 hour'", "now() - interval '5 seconds'", "now() + interval '1 hour'"]) {
      const answer = await asApp(t.id, async (trx) => {
        const at = ((await trx.raw(`SELECT (${offset})::text AS at`)) as { rows: Array<{ at: string }> }).rows[0]!.at;
        return (
          (await trx.raw(appendCall, [
            t.id,
            newId(),
            h.last_seq + 1,
            h.last_hash,
            at,
            auditKeys().chainKey.id,
            'b'.repeat(64),
          ])) as { rows: Array<{ outcome: string }> }
        ).rows[0];
      });
      expect({ offset, outcome: answer!.outcome }).toEqual({ offset, outcome: 'clock' });
    }
    expect(await head(t.id)).toEqual(h);
    expect(await events(t.id)).toHaveLength(h.last_seq);
  });

  it('refuses a wrong seq or prev_hash, or a time before the event it would follow, saying where the head is', async () => {
    const t = await freshTenant(1);
    const h = (await head(t.id))!;
    const cases: Array<[string, number, string]> = [
      ['a seq that skips one', h.last_seq + 2, h.last_hash],
      ['a seq already taken', h.last_seq, h.last_hash],
      ['another prev_hash', h.last_seq + 1, 'c'.repeat(64)],
    ];
    const propose = (seq: number, prevHash: string) =>
      asApp(
        t.id,
        async (trx) =>
          (
            (await trx.raw(appendCall, [
              t.id,
              newId(),
              seq,
              prevHash,
              new Date().toISOString(),
              auditKeys().chainKey.id,
              'd'.repeat(64),
            ])) as { rows: Array<{ outcome: string; head_seq: number; head_hash: string }> }
          ).rows[0]!,
      );
    for (const [label, seq, prevHash] of cases) {
      const answer = await propose(seq, prevHash);
      expect({ label, outcome: answer.outcome, headSeq: Number(answer.head_seq), headHash: answer.head_hash }).toEqual({
        label,
        outcome: 'stale',
        headSeq: h.last_seq,
        headHash: h.last_hash,
      });
    }
    // The last event a second ahead (the owner's doing, for the test): now is before it, and refused.
    await asOwner((trx) =>
      trx.raw(
        `UPDATE audit_chain_heads SET last_occurred_at = clock_timestamp() + interval '1 second' WHERE tenant_id = ?`,
        [t.id],
      ),
    );
    expect((await propose(h.last_seq + 1, h.last_hash)).outcome).toBe('stale');
    expect(await head(t.id)).toEqual(h);
    expect(await events(t.id)).toHaveLength(h.last_seq);
    // Hearth itself, told so, stamps its event no earlier than the last (its clock has milliseconds, the head microseconds).
    await appendEvents(t.id, 1);
    const [previous, appended] = (await events(t.id)).slice(-2);
    expect(new Date(appended!.occurred_at).getTime()).toBeGreaterThan(new Date(previous!.occurred_at).getTime());
    expect(await verify(t.id)).toMatchObject({ valid: true });
  });

  it('refuses another tenant’s chain, and an event without its key id', async () => {
    const t = await freshTenant(1);
    const other = await freshTenant(1);
    const h = (await head(other.id))!;
    await expect(
      asApp(t.id, (trx) =>
        trx.raw(appendCall, [
          other.id,
          newId(),
          h.last_seq + 1,
          h.last_hash,
          new Date().toISOString(),
          auditKeys().chainKey.id,
          'e'.repeat(64),
        ]),
      ),
    ).rejects.toThrow(/is not the tenant in scope/);
    const own = (await head(t.id))!;
    await expect(
      asApp(t.id, (trx) =>
        trx.raw(appendCall, [
          t.id,
          newId(),
          own.last_seq + 1,
          own.last_hash,
          new Date().toISOString(),
          null,
          'e'.repeat(64),
        ]),
      ),
    ).rejects.toThrow(/needs its chain key id/);
    expect(await head(other.id)).toEqual(h);
  });

  it('takes what the application role says the hash is (it cannot check an HMAC), and verification catches a wrong one', async () => {
    const t = await freshTenant(1);
    const h = (await head(t.id))!;
    const answer = await asApp(
      t.id,
      async (trx) =>
        (
          (await trx.raw(appendCall, [
            t.id,
            newId(),
            h.last_seq + 1,
            h.last_hash,
            new Date().toISOString(),
            auditKeys().chainKey.id,
            'f'.repeat(64),
          ])) as { rows: Array<{ outcome: string }> }
        ).rows[0],
    );
    expect(answer!.outcome).toBe('appended');
    expect(await verify(t.id)).toMatchObject({
      valid: false,
      firstBrokenLink: { seq: h.last_seq + 1, reason: 'hash_mismatch' },
    });
  });

  it('appends in one round trip once it knows the head, and catches up in one more when another process moved it', async () => {
    const t = await freshTenant(1);
    await asApp(t.id, async (trx) => {
      const queries: string[] = [];
      trx.on('query', (q: { sql: string }) => queries.push(q.sql));
      await appendAuditEvent(trx, t.id, SYSTEM, { action: 'test.one', entityType: 'test' });
      expect(queries).toHaveLength(1);
      expect(queries[0]).toMatch(/hearth_append_audit_event/);
    });
    // Another process appends: this one's idea of the head is now stale.
    const h = (await head(t.id))!;
    const fields: ChainedFields = {
      tenantId: t.id,
      id: newId(),
      seq: h.last_seq + 1,
      occurredAt: new Date().toISOString(),
      actorType: 'system',
      actorId: null,
      action: 'test.elsewhere',
      entityType: 'test',
      entityId: null,
      before: null,
      after: null,
      ip: null,
      userAgent: null,
      requestId: null,
      prevHash: h.last_hash,
      keyId: auditKeys().chainKey.id,
    };
    await asApp(t.id, (trx) =>
      trx.raw(
        `SELECT * FROM hearth_append_audit_event(?, ?, ?, ?, ?, 'system', NULL, 'test.elsewhere', 'test', NULL, NULL, NULL, NULL, NULL, NULL, ?, ?)`,
        [
          t.id,
          fields.id,
          fields.seq,
          fields.prevHash,
          fields.occurredAt,
          fields.keyId,
          keyedEventHash(fields, auditKeys().chainKey),
        ],
      ),
    );
    await asApp(t.id, async (trx) => {
      const queries: string[] = [];
      trx.on('query', (q: { sql: string }) => queries.push(q.sql));
      await appendAuditEvent(trx, t.id, SYSTEM, { action: 'test.two', entityType: 'test' });
      expect(queries).toHaveLength(2);
    });
    expect((await events(t.id)).map((e) => e.action).slice(-3)).toEqual(['test.one', 'test.elsewhere', 'test.two']);
    expect(await verify(t.id)).toMatchObject({ valid: true, eventsChecked: h.last_seq + 2 });
  });

  // On PGlite the database's clock is this process's (WebAssembly reads the host's), so there is no skew to make.
  (adminUrl() ? it : it.skip)(
    'stamps the database’s time even when this process’s clock is a minute fast',
    async () => {
      const t = await freshTenant(1);
      const realNow = Date.now.bind(Date);
      const fast = jest.spyOn(Date, 'now').mockImplementation(() => realNow() + 60_000);
      try {
        await appendEvents(t.id, 2);
      } finally {
        fast.mockRestore();
      }
      const newest = (await events(t.id)).slice(-2);
      const dbNow = ((await world.db.raw('SELECT clock_timestamp() AS now')) as { rows: Array<{ now: Date }> }).rows[0]!
        .now;
      for (const e of newest)
        expect(Math.abs(new Date(dbNow).getTime() - new Date(e.occurred_at).getTime())).toBeLessThan(10_000);
      expect(await verify(t.id)).toMatchObject({ valid: true });
    },
  );

  it('keeps one gapless chain under concurrent appends', async () => {
    const t = await freshTenant(0);
    await Promise.all([0, 1, 2].map(() => appendEvents(t.id, 5)));
    const seqs = (await events(t.id)).map((e) => Number(e.seq));
    expect(seqs).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    expect(await verify(t.id)).toMatchObject({ valid: true, eventsChecked: 16 });
  });
});

// ---------------------------------------------------------------------------------------------

describe('signed checkpoints, kept outside the database', () => {
  it('are taken on demand through the API, verify with the public key alone, and are named by the verdict', async () => {
    const t = await freshTenant(2);
    const token = await world.token(t.slug, t.email);
    const taken = await world.call('createAuditCheckpoint', { token });
    expect(taken.status).toBe(201);
    const body = taken.body as AuditCheckpoint;
    expect(body).toMatchObject({
      version: 1,
      tenantId: t.id,
      seq: 4,
      hash: (await events(t.id))[3]!.hash,
      keyedFromSeq: 1,
      keyId: auditKeys().signingKey.id,
    });
    // As an operator would check it, with the contract's description and the public key only.
    const { signature, ...signed } = body;
    const message = Buffer.from(
      `hearth audit checkpoint\n${JSON.stringify(Object.fromEntries(Object.entries(signed).sort(([a], [b]) => (a < b ? -1 : 1))))}`,
    );
    expect(crypto.verify(null, message, auditKeys().signingKey.publicKey, Buffer.from(signature, 'base64'))).toBe(true);
    // The sink has it, under the folder the configuration names.
    expect(fs.readdirSync(path.join(world.config.audit.checkpointTarget, t.id))).toEqual(['00000000000000000004.json']);
    // The event recording it follows the head it signs.
    expect((await events(t.id)).pop()).toMatchObject({
      seq: 5,
      action: 'audit.checkpoint_taken',
      entity_type: 'audit_checkpoint',
      entity_id: '4',
    });
    const verdict = await world.call('verifyAuditChain', { token });
    expect(verdict.body).toEqual({
      valid: true,
      eventsChecked: 5,
      firstBrokenLink: null,
      checkpoint: { seq: 4, hash: body.hash, keyedFromSeq: 1, takenAt: body.takenAt, keyId: body.keyId },
    });
  });

  it('refuse to sign a chain cut back behind the last checkpoint (409, and nothing written)', async () => {
    const t = await freshTenant(3);
    const token = await world.token(t.slug, t.email);
    const taken = await checkpoint(t.id);
    const keep = (await events(t.id))[1]!;
    await asOwner(async (trx) => {
      await trx.raw('DELETE FROM audit_events WHERE tenant_id = ? AND seq > ?', [t.id, keep.seq]);
      await trx.raw('UPDATE audit_chain_heads SET last_seq = ?, last_hash = ? WHERE tenant_id = ?', [
        keep.seq,
        keep.hash,
        t.id,
      ]);
    });
    const refused = await world.call('createAuditCheckpoint', { token });
    expect({ status: refused.status, link: refused.body.firstBrokenLink }).toEqual({
      status: 409,
      link: { seq: taken.seq, eventId: null, reason: 'behind_checkpoint' },
    });
    expect((await world.call('verifyAuditChain', { token })).body).toMatchObject({
      valid: false,
      firstBrokenLink: { reason: 'behind_checkpoint' },
    });
    expect(fs.readdirSync(path.join(world.config.audit.checkpointTarget, t.id))).toEqual([
      `${String(taken.seq).padStart(20, '0')}.json`,
    ]);
  });

  it('fail verification when the latest checkpoint’s signature does not verify (checkpoint_invalid)', async () => {
    const t = await freshTenant(2);
    const real = await checkpoint(t.id);
    await appendEvents(t.id, 2);
    const h = (await head(t.id))!;
    // A checkpoint claiming the current head, its signature altered.
    const forged = signCheckpoint({ tenantId: t.id, seq: h.last_seq, hash: h.last_hash, keyedFromSeq: 1 }, auditKeys());
    const signature = Buffer.from(forged.signature, 'base64');
    signature[0] = signature[0]! ^ 1;
    await store().write({ ...forged, signature: signature.toString('base64') });
    expect(await verify(t.id)).toEqual({
      valid: false,
      eventsChecked: 0,
      firstBrokenLink: { seq: h.last_seq, eventId: null, reason: 'checkpoint_invalid' },
      checkpoint: null,
    });
    expect(real.seq).toBeLessThan(h.last_seq);
  });

  it('fail verification when the latest checkpoint is signed by a key this configuration does not trust', async () => {
    const t = await freshTenant(2);
    const h = (await head(t.id))!;
    const stranger = auditSettingsFromEnv({
      NODE_ENV: 'development',
      HEARTH_AUDIT_SIGNING_KEY: crypto.randomBytes(32).toString('base64'),
    });
    await store().write(
      signCheckpoint({ tenantId: t.id, seq: h.last_seq, hash: h.last_hash, keyedFromSeq: 1 }, stranger),
    );
    expect(failure(await verify(t.id))).toEqual({ valid: false, reason: 'checkpoint_invalid' });
  });

  it('fail verification when the checkpoint signed another event at its seq (forked_from_checkpoint)', async () => {
    const t = await freshTenant(3);
    const h = (await head(t.id))!;
    // Signed with the real key: a checkpoint of another chain (a restored database of another lineage, say).
    await store().write(signCheckpoint({ tenantId: t.id, seq: 2, hash: 'a'.repeat(64), keyedFromSeq: 1 }, auditKeys()));
    expect(await verify(t.id)).toMatchObject({
      valid: false,
      eventsChecked: 1,
      firstBrokenLink: { seq: 2, reason: 'forked_from_checkpoint' },
    });
    expect(h.last_seq).toBe(4);
  });

  it('fail verification when the sink cannot give the latest back (checkpoint_unreadable)', async () => {
    const t = await freshTenant(1);
    await checkpoint(t.id);
    fs.writeFileSync(path.join(world.config.audit.checkpointTarget, t.id, `${'9'.repeat(20)}.json`), '{ not json');
    expect(await verify(t.id)).toEqual({
      valid: false,
      eventsChecked: 0,
      firstBrokenLink: { seq: 0, eventId: null, reason: 'checkpoint_unreadable' },
      checkpoint: null,
    });
  });

  it('are taken for every tenant by the durable job, once a period, and never over a broken chain', async () => {
    const broken = await freshTenant(3);
    const brokenFirst = await checkpoint(broken.id);
    await appendEvents(broken.id, 1);
    // After its checkpoint, an event of the broken tenant is altered.
    await asOwner((trx) =>
      trx.raw(`UPDATE audit_events SET action = 'test.altered' WHERE tenant_id = ? AND seq = ?`, [
        broken.id,
        brokenFirst.seq + 1,
      ]),
    );
    const everyMs = 60 * 60 * 1000;
    const at = new Date();
    const healthy = await freshTenant(1);
    const tenantIds = ((await world.db.raw('SELECT id FROM tenants')) as { rows: Array<{ id: string }> }).rows.map(
      (r) => r.id,
    );
    expect(await scheduleAuditCheckpoints(world.db, everyMs, at)).toBe(tenantIds.length);
    expect(await scheduleAuditCheckpoints(world.db, everyMs, at)).toBe(0);
    const handlers = { [AUDIT_CHECKPOINT_JOB]: auditCheckpointJob };
    expect(await runDueJobs(world.db, { handlers, services: world.server.services })).toBe(tenantIds.length);

    // (Tenants tampered with by the tests above fail theirs, as they should.)
    for (const tenantId of [world.platform.id, world.a.id, world.b.id, healthy.id]) {
      const h = (await head(tenantId))!;
      const latest = await store().latest(tenantId);
      expect({ tenantId, seq: latest?.seq, hash: latest?.hash }).toEqual({
        tenantId,
        seq: h.last_seq,
        hash: h.last_hash,
      });
    }
    expect((await store().latest(broken.id))!.seq).toBe(brokenFirst.seq);
    const job = (
      (await world.db.raw(`SELECT tenant_id, id FROM jobs WHERE kind = ? AND tenant_id = ?`, [
        AUDIT_CHECKPOINT_JOB,
        broken.id,
      ])) as { rows: Array<{ tenant_id: string; id: string }> }
    ).rows[0]!;
    const stored = await world.db.transaction(async (trx) => {
      await trx.raw(`SELECT set_config('app.tenant_id', ?, true)`, [broken.id]);
      return getJob(trx, broken.id, job.id);
    });
    expect(stored!.error).toMatch(/hash_mismatch at seq/);
  });
});

// ---------------------------------------------------------------------------------------------

describe('the files checkpoint sink', () => {
  let folder: string;
  beforeAll(() => {
    folder = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-sink-test-'));
  });
  afterAll(() => {
    fs.rmSync(folder, { recursive: true, force: true });
  });

  const tenantId = '01900000-0000-7000-8000-000000000001';
  const sample = (seq: number, hash = 'a'.repeat(64)): AuditCheckpoint => ({
    version: 1,
    tenantId,
    seq,
    hash,
    keyedFromSeq: 1,
    takenAt: new Date().toISOString(),
    keyId: '0123456789abcdef',
    signature: 'c2ln',
  });

  it('writes checkpoints and reads back the one with the highest seq', async () => {
    const sink = fileCheckpointSink.open(folder);
    expect(await sink.latest(tenantId)).toBeNull();
    for (const seq of [9, 10, 2]) await sink.write(sample(seq));
    expect(await sink.latest(tenantId)).toMatchObject({ tenantId, seq: 10 });
    expect(fs.readdirSync(path.join(folder, tenantId)).sort()).toEqual([
      '00000000000000000002.json',
      '00000000000000000009.json',
      '00000000000000000010.json',
    ]);
  });

  it('keeps the first checkpoint of a seq, and leaves no temporary files', async () => {
    const sink = fileCheckpointSink.open(folder);
    await sink.write(sample(20, 'b'.repeat(64)));
    await sink.write(sample(20, 'c'.repeat(64)));
    expect(await sink.latest(tenantId)).toMatchObject({ seq: 20, hash: 'b'.repeat(64) });
    expect(fs.readdirSync(path.join(folder, tenantId)).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('refuses a tenant id that is not one (it names a folder), and a relative target', async () => {
    const sink = fileCheckpointSink.open(folder);
    await expect(sink.latest('../../etc')).rejects.toThrow(/is not a tenant id/);
    await expect(sink.write({ ...sample(1), tenantId: '../x' })).rejects.toThrow(/is not a tenant id/);
    expect(() => fileCheckpointSink.open('relative/folder')).toThrow(/needs an absolute folder/);
  });
});

// ---------------------------------------------------------------------------------------------

describe('configuration', () => {
  const production = {
    NODE_ENV: 'production',
    HEARTH_JWT_SECRET: 'x'.repeat(32),
    HEARTH_DATA_KEY: Buffer.alloc(32, 1).toString('base64'),
  };

  it('requires the chain key, the signing key and the checkpoint target in production', () => {
    expect(() => loadConfig(production)).toThrow(new ConfigError('HEARTH_AUDIT_KEY is required in production'));
    const withKey = { ...production, HEARTH_AUDIT_KEY: Buffer.alloc(32, 2).toString('base64') };
    expect(() => loadConfig(withKey)).toThrow(new ConfigError('HEARTH_AUDIT_SIGNING_KEY is required in production'));
    const withSigning = { ...withKey, HEARTH_AUDIT_SIGNING_KEY: Buffer.alloc(32, 3).toString('base64') };
    expect(() => loadConfig(withSigning)).toThrow(
      new ConfigError('HEARTH_AUDIT_CHECKPOINT_TARGET is required in production'),
    );
    const settings = loadConfig({
      ...withSigning,
      HEARTH_AUDIT_CHECKPOINT_TARGET: '/srv/checkpoints',
      HEARTH_AUDIT_CHECKPOINT_EVERY: '15',
      // Production names where documents and email go too (documentSettingsFromEnv, the notification settings).
      HEARTH_DOCUMENT_STORAGE_TARGET: '/srv/documents',
      HEARTH_EMAIL_CHANNEL: 'smtp',
      HEARTH_EMAIL_TARGET: 'smtp://mail.example:587',
    }).audit;
    expect(settings).toMatchObject({
      checkpointSink: 'files',
      checkpointTarget: '/srv/checkpoints',
      checkpointEveryMs: 15 * 60 * 1000,
    });
    expect(settings.chainKey.secret).toEqual(Buffer.alloc(32, 2));
  });

  it('refuses a key that is not 32 bytes of base64, and a period out of range', () => {
    expect(() => auditSettingsFromEnv({ HEARTH_AUDIT_KEY: Buffer.alloc(16).toString('base64') })).toThrow(
      /HEARTH_AUDIT_KEY must be 32 bytes, base64-encoded/,
    );
    expect(() => auditSettingsFromEnv({ HEARTH_AUDIT_SIGNING_KEY: 'not base64 at all!' })).toThrow(
      /HEARTH_AUDIT_SIGNING_KEY must be 32 bytes/,
    );
    expect(() => auditSettingsFromEnv({ HEARTH_AUDIT_CHECKPOINT_EVERY: '0' })).toThrow(
      /HEARTH_AUDIT_CHECKPOINT_EVERY must be a whole number from 1 to 1440/,
    );
  });

  it('gives fixed development keys outside production, named by ids that do not reveal them', () => {
    const a = auditSettingsFromEnv({ NODE_ENV: 'development' });
    const b = auditSettingsFromEnv({ NODE_ENV: 'development' });
    expect({ chain: a.chainKey.id, signing: a.signingKey.id }).toEqual({
      chain: b.chainKey.id,
      signing: b.signingKey.id,
    });
    expect(a.chainKey.id).toMatch(/^[0-9a-f]{16}$/);
    expect(a.chainKey.secret.toString('hex')).not.toContain(a.chainKey.id);
    const given = auditSettingsFromEnv({ HEARTH_AUDIT_KEY: Buffer.alloc(32, 9).toString('base64') });
    expect(given.chainKey.id).not.toBe(a.chainKey.id);
  });

  it('still verifies events hashed with a retired key, and names a key it does not hold (unknown_key)', async () => {
    const t = await freshTenant(2);
    const original = auditKeys();
    const rotated = auditSettingsFromEnv({
      NODE_ENV: 'test',
      HEARTH_AUDIT_KEY: crypto.randomBytes(32).toString('base64'),
      HEARTH_AUDIT_RETIRED_KEYS: original.chainKey.secret.toString('base64'),
    });
    const forgotten = auditSettingsFromEnv({
      NODE_ENV: 'test',
      HEARTH_AUDIT_KEY: rotated.chainKey.secret.toString('base64'),
    });
    try {
      useAuditKeys(rotated);
      await appendEvents(t.id, 1);
      const keyIds = (await events(t.id)).map((e) => e.key_id);
      expect(new Set(keyIds)).toEqual(new Set([original.chainKey.id, rotated.chainKey.id]));
      expect(await verify(t.id)).toMatchObject({ valid: true, eventsChecked: 4 });
      useAuditKeys(forgotten);
      expect(await verify(t.id)).toMatchObject({ valid: false, firstBrokenLink: { seq: 1, reason: 'unknown_key' } });
    } finally {
      useAuditKeys(original);
    }
  });

  it('stops start-up when the checkpoint sink is not one a plugin registered', async () => {
    const config = loadConfig(
      { NODE_ENV: 'test', HEARTH_AUDIT_CHECKPOINT_SINK: 'tape' },
      { databaseUrl: undefined, embeddedDataDir: null, port: 0, seedDemoTenants: false, logLevel: 'silent' },
    );
    try {
      await expect(startServer(config)).rejects.toThrow(
        /HEARTH_AUDIT_CHECKPOINT_SINK is "tape", which no plugin registered \(registered: files\)/,
      );
    } finally {
      useAuditKeys(world.config.audit);
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('a chain that began before chains were keyed', () => {
  const BEFORE = '20261202_0024_ledger_statement_checks';
  let db: Database;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    if (adminUrl()) {
      const name = `hearth_audit_boundary_${Date.now().toString(36)}`;
      const admin = knexFactory({ client: 'pg', connection: adminUrl()!, pool: { min: 0, max: 1 } });
      await admin.raw(`CREATE DATABASE ${name}`);
      await admin.destroy();
      db = openDatabase({ url: urlFor(name), embeddedDataDir: null, poolMax: 2 });
      drop = async () => {
        await db.destroy();
        const again = knexFactory({ client: 'pg', connection: adminUrl()!, pool: { min: 0, max: 1 } });
        await again.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await again.destroy();
      };
    } else {
      db = openDatabase({ url: undefined, embeddedDataDir: null });
      drop = () => db.destroy();
    }
  });
  afterAll(async () => {
    await drop?.();
  });

  /** An append as the code before migration 0025 made it: plain SHA-256, head and event written by the application role. */
  async function legacyAppend(trx: Knex.Transaction, tenantId: string, i: number): Promise<void> {
    await trx.raw(
      `INSERT INTO audit_chain_heads (tenant_id, last_seq, last_hash) VALUES (?, 0, ?) ON CONFLICT (tenant_id) DO NOTHING`,
      [tenantId, GENESIS_HASH],
    );
    const h = (await trx('audit_chain_heads').where({ tenant_id: tenantId }).forUpdate().first()) as {
      last_seq: number;
      last_hash: string;
    };
    const fields: ChainedFields = {
      tenantId,
      id: newId(),
      seq: Number(h.last_seq) + 1,
      occurredAt: new Date().toISOString(),
      actorType: 'system',
      actorId: null,
      action: 'legacy.event',
      entityType: 'test',
      entityId: String(i),
      before: null,
      after: { i, note: 'from before' },
      ip: null,
      userAgent: null,
      requestId: null,
      prevHash: h.last_hash,
      keyId: null,
    };
    await trx('audit_events').insert({
      tenant_id: tenantId,
      id: fields.id,
      seq: fields.seq,
      occurred_at: fields.occurredAt,
      actor_type: 'system',
      action: fields.action,
      entity_type: fields.entityType,
      entity_id: fields.entityId,
      after: canonicalJson(fields.after),
      prev_hash: fields.prevHash,
      hash: unkeyedEventHash(fields),
    });
    await trx('audit_chain_heads')
      .where({ tenant_id: tenantId })
      .update({ last_seq: fields.seq, last_hash: unkeyedEventHash(fields) });
  }

  it('keeps its unkeyed events verifiable, keys every later one, and refuses unkeyed events past the boundary', async () => {
    const upTo = migrations.findIndex((m) => m.name === BEFORE) + 1;
    expect(migrations[upTo]?.name).toBe('20261207_0025_audit_keyed_chain');
    await db.raw(
      'CREATE TABLE knex_migrations (id serial PRIMARY KEY, name varchar(255), batch integer, migration_time timestamptz)',
    );
    await db.raw('CREATE TABLE knex_migrations_lock (index serial PRIMARY KEY, is_locked integer)');
    await db('knex_migrations_lock').insert({ is_locked: 0 });
    for (const migration of migrations.slice(0, upTo)) {
      await db.transaction((trx) => migration.up(trx));
      await db('knex_migrations').insert({ name: migration.name, batch: 1, migration_time: new Date() });
    }
    const tenantId = await db.transaction(async (trx) => {
      await applyScope(trx, { tenantId: null, platform: true });
      const { tenant } = await provisionTenant(trx, loadPacks(), {
        kind: 'service',
        name: 'Older',
        slug: 'older',
        packId: 'uk',
        currency: 'GBP',
        timeZone: 'Europe/London',
        firstAdmin: { email: 'a@older.test', displayName: 'A', password: 'a long enough password' },
      });
      for (let i = 0; i < 3; i++) await legacyAppend(trx, tenant.id, i);
      return tenant.id;
    });

    expect(await runMigrations(db)).toEqual(migrations.slice(upTo).map((m) => m.name));
    const inTenant = <T>(work: (trx: Knex.Transaction) => Promise<T>) => inTenantTransaction(db, { tenantId }, work);
    expect(await inTenant((trx) => trx('audit_chain_heads').first('last_seq', 'keyed_from_seq'))).toEqual({
      last_seq: 3,
      keyed_from_seq: 4,
    });
    expect(await inTenant((trx) => verifyAuditChain(trx, tenantId, null))).toEqual({
      valid: true,
      eventsChecked: 3,
      firstBrokenLink: null,
      checkpoint: null,
    });

    await inTenant((trx) => appendAuditEvent(trx, tenantId, SYSTEM, { action: 'test.after', entityType: 'test' }));
    const rows = (await inTenant((trx) =>
      trx('audit_events').where({ tenant_id: tenantId }).orderBy('seq'),
    )) as AuditRow[];
    expect(rows.map((r) => [Number(r.seq), r.key_id])).toEqual([
      [1, null],
      [2, null],
      [3, null],
      [4, auditKeys().chainKey.id],
    ]);
    expect(await inTenant((trx) => verifyAuditChain(trx, tenantId, null))).toMatchObject({
      valid: true,
      eventsChecked: 4,
    });

    // The old scheme is still checked below the boundary...
    await db.transaction(async (trx) => {
      await trx.raw('SET LOCAL session_replication_role = replica');
      await trx.raw(`UPDATE audit_events SET action = 'legacy.altered' WHERE tenant_id = ? AND seq = 2`, [tenantId]);
    });
    expect(await inTenant((trx) => verifyAuditChain(trx, tenantId, null))).toMatchObject({
      valid: false,
      firstBrokenLink: { seq: 2, reason: 'hash_mismatch' },
    });
    await db.transaction(async (trx) => {
      await trx.raw('SET LOCAL session_replication_role = replica');
      await trx.raw(`UPDATE audit_events SET action = 'legacy.event' WHERE tenant_id = ? AND seq = 2`, [tenantId]);
    });
    // ...and refused from it on: a new event in the old scheme, as the owner could write it, fails.
    const last = rows[3]!;
    const forged: ChainedFields = {
      ...rowToFields(last),
      id: newId(),
      seq: 5,
      prevHash: last.hash,
      keyId: null,
      action: 'test.forged',
    };
    await db.transaction(async (trx) => {
      await trx.raw('SET LOCAL session_replication_role = replica');
      await trx.raw(
        `INSERT INTO audit_events (tenant_id, id, seq, occurred_at, actor_type, action, entity_type, prev_hash, hash) VALUES (?, ?, 5, ?, 'system', ?, 'test', ?, ?)`,
        [
          tenantId,
          forged.id,
          forged.occurredAt,
          forged.action,
          forged.prevHash,
          unkeyedEventHash({ ...forged, entityId: null, after: null }),
        ],
      );
      await trx.raw('UPDATE audit_chain_heads SET last_seq = 5, last_hash = ? WHERE tenant_id = ?', [
        unkeyedEventHash({ ...forged, entityId: null, after: null }),
        tenantId,
      ]);
    });
    expect(await inTenant((trx) => verifyAuditChain(trx, tenantId, null))).toMatchObject({
      valid: false,
      eventsChecked: 4,
      firstBrokenLink: { seq: 5, reason: 'unkeyed_event' },
    });
  });
});
