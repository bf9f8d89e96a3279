import type { Knex } from 'knex';
import { keyedEventHash, type ChainedFields } from '../core/src/modules/audit/hashChain';
import { auditKeys } from '../core/src/modules/audit/keys';
import { rowToFields, type AuditRow } from '../core/src/modules/audit/service';
import { operation, testContract, type HttpResponse } from './support/contractClient';
import { makeChild, requestFor, validChild, type OperationRequest } from './support/fixtures';
import { startWorld, type TenantFixture, type World } from './support/harness';

/**
 * The audit trail's promises, checked against the real database behind the API's back:
 * every write leaves exactly one event (and a refused write leaves none), nobody can change or
 * remove an event, the hash chain names the first link that was tampered with, and the trail
 * can be searched, paged and exported by those allowed to read it, and by no one else.
 */

// Every non-GET operation, except those the contract marks `x-hearth-writes: false` (computations
// such as a rate evaluation); those are held to writing nothing at all, below.
const writes = testContract().operations.filter((o) => o.tenancy !== 'system' && o.writes);
const computations = testContract().operations.filter((o) => o.tenancy !== 'system' && o.method !== 'get' && !o.writes);

/**
 * Public operations have no credential, so who the event names is a decision per operation
 * (core/src/modules/auth/routes.ts): log-in and refresh prove a user's credential and record that
 * user; the others act for nobody in particular. A new public write must be added here on purpose.
 */
const PUBLIC_ACTOR: Record<string, 'user' | 'anonymous'> = {
  login: 'user',
  refreshToken: 'user',
  logout: 'anonymous',
  requestPasswordReset: 'anonymous',
  confirmPasswordReset: 'anonymous',
};

let world: World;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world?.close();
});

// ---------------------------------------------------------------------------------------------
// Owner-side helpers. The owner is a superuser, so these queries see every tenant's rows.

async function rows<T>(sql: string, bindings: unknown[] = []): Promise<T[]> {
  return ((await world.db.raw(sql, bindings as never[])) as { rows: T[] }).rows;
}

async function auditCount(): Promise<number> {
  return (await rows<{ n: number }>('SELECT count(*)::int AS n FROM audit_events'))[0]!.n;
}

/** Each tenant's newest sequence number, so the events a request adds can be told from the rest. */
async function chainHeads(): Promise<Record<string, number>> {
  const heads: Record<string, number> = {};
  for (const r of await rows<{ tenant_id: string; seq: number }>(
    'SELECT tenant_id, max(seq)::int AS seq FROM audit_events GROUP BY tenant_id',
  ))
    heads[r.tenant_id] = r.seq;
  return heads;
}

async function eventsSince(heads: Record<string, number>): Promise<AuditRow[]> {
  return rows<AuditRow>(
    `SELECT * FROM audit_events e WHERE e.seq > coalesce((?::jsonb ->> e.tenant_id::text)::bigint, 0) ORDER BY tenant_id, seq`,
    [JSON.stringify(heads)],
  );
}

async function tenantEvents(tenantId: string): Promise<AuditRow[]> {
  return rows<AuditRow>('SELECT * FROM audit_events WHERE tenant_id = ? ORDER BY seq', [tenantId]);
}

/**
 * A fingerprint of the whole database: for every table, its row count and a hash of every row's
 * content, plus the newest audit sequence number. Counting rows alone would miss an UPDATE.
 */
async function databaseFingerprint(): Promise<Record<string, string>> {
  const tables = (
    await rows<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`,
    )
  ).map((t) => t.table_name);
  const parts = tables.map(
    (t) =>
      `SELECT '${t}' AS name, count(*)::text || ':' || md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS print FROM "${t}" x`,
  );
  parts.push(`SELECT 'audit_events.max_seq' AS name, coalesce(max(seq)::text, '') AS print FROM audit_events`);
  const result = await rows<{ name: string; print: string }>(parts.join(' UNION ALL '));
  return Object.fromEntries(result.map((r) => [r.name, r.print]));
}

/** Runs statements as the owner with triggers off (superusers only): how a tamperer would get past the append-only trigger. */
async function withTriggersOff(work: (trx: Knex.Transaction) => Promise<void>): Promise<void> {
  await world.db.transaction(async (trx) => {
    await trx.raw('SET LOCAL session_replication_role = replica');
    await work(trx);
  });
}

async function verify(tenant: TenantFixture): Promise<HttpResponse> {
  const response = await world.call('verifyAuditChain', { token: tenant.adminToken });
  expectStatus(response, 200);
  return response;
}

/** Requires a status, showing the body when it is another (a bare status mismatch says too little). */
function expectStatus(response: HttpResponse, status: number): void {
  expect({
    status: response.status,
    body: response.status === status ? 'as expected' : response.text.slice(0, 400),
  }).toEqual({ status, body: 'as expected' });
}

// ---------------------------------------------------------------------------------------------

describe('every write route appends exactly one audit event', () => {
  it('finds the write operations in the contract', () => {
    // Guards the it.each below against silently running over nothing.
    expect(writes.length).toBeGreaterThanOrEqual(20);
  });

  it.each(writes.map((o) => [o.operationId]))('%s', async (operationId) => {
    const op = operation(operationId);
    const request: OperationRequest = await requestFor(operationId, { world, tenant: world.a });

    // Who the event must name, worked out before counting (reading the principal writes nothing).
    let expectedActor: { type: string; id: string | null } | 'the user it is about';
    const as = request.as ?? 'admin';
    if (as === 'admin') expectedActor = { type: 'user', id: world.a.adminId };
    else if (as === 'custom' || as === 'carer') {
      const me = await world.call('getCurrentPrincipal', { token: request.token });
      expect(me.status).toBe(200);
      expectedActor = { type: 'user', id: me.body.id as string };
    } else {
      const kind = PUBLIC_ACTOR[operationId];
      if (!kind) throw new Error(`${operationId} is a public write: decide in PUBLIC_ACTOR who its audit event names`);
      expectedActor =
        kind === 'anonymous'
          ? { type: 'anonymous', id: null }
          : operationId === 'login'
            ? { type: 'user', id: world.a.adminId }
            : 'the user it is about';
    }
    // Platform operations are the platform administrator's acts, on the platform's chain
    // (tenant creation too: core/src/modules/tenants/routes.ts switches back before auditing).
    const chainTenant = op.tenancy === 'platform' ? world.platform.id : world.a.id;
    const userAgent = `hearth-audit-test "${operationId}", v1`;

    // Counted after the fixture ran: its set-up requests write events of their own.
    const heads = await chainHeads();
    const countBefore = await auditCount();
    const startedAt = Date.now();
    const response = await world.call(operationId, {
      ...request,
      headers: { ...(request.headers ?? {}), 'user-agent': userAgent },
    });
    const finishedAt = Date.now();
    expectStatus(response, request.expect);
    if (request.expect >= 400) {
      // A fixture whose answer is a refusal (a signed link from a store that cannot sign): nothing
      // happened, so nothing is appended; the signed link's own audit is tested on S3.
      expect((await auditCount()) - countBefore).toBe(0);
      return;
    }

    expect((await auditCount()) - countBefore).toBe(1);
    const added = await eventsSince(heads);
    expect(added).toHaveLength(1);
    const event = added[0]!;

    expect(event.tenant_id).toBe(chainTenant);
    expect(event.action.trim()).not.toBe('');
    expect(event.entity_type.trim()).not.toBe('');
    const requestId = response.headers.get('x-request-id');
    expect(requestId).toBeTruthy();
    expect(event.request_id).toBe(requestId);
    if (expectedActor === 'the user it is about') {
      expect(event.actor_type).toBe('user');
      expect(event.entity_type).toBe('user');
      expect(event.actor_id).toBe(event.entity_id);
      expect(
        await rows('SELECT id FROM users WHERE tenant_id = ? AND id::text = ?', [world.a.id, event.actor_id]),
      ).toHaveLength(1);
    } else {
      expect({ actorType: event.actor_type, actorId: event.actor_id }).toEqual({
        actorType: expectedActor.type,
        actorId: expectedActor.id,
      });
    }
    expect(event.ip).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
    expect(event.user_agent).toBe(userAgent);
    const occurredAt = new Date(event.occurred_at).getTime();
    expect(occurredAt).toBeGreaterThanOrEqual(startedAt - 1000);
    expect(occurredAt).toBeLessThanOrEqual(finishedAt + 1000);

    // The event names what changed: the resource in the path, or the one just created.
    const idParams = Object.entries(request.params ?? {}).filter(([name]) => name.endsWith('Id'));
    if (idParams.length === 1) expect(event.entity_id).toBe(idParams[0]![1]);
    else if (response.status === 201 && typeof response.body?.id === 'string')
      expect(event.entity_id).toBe(response.body.id);

    // It extends its tenant's chain by one link.
    expect(event.seq).toBe((heads[chainTenant] ?? 0) + 1);
    const previous = await rows<{ hash: string }>('SELECT hash FROM audit_events WHERE tenant_id = ? AND seq = ?', [
      chainTenant,
      event.seq - 1,
    ]);
    expect(event.prev_hash).toBe(previous[0]?.hash ?? '0'.repeat(64));
  });
});

describe('operations that only compute', () => {
  it.each(computations.map((o) => [o.operationId]))(
    '%s appends no audit event and changes nothing',
    async (operationId) => {
      const request: OperationRequest = await requestFor(operationId, { world, tenant: world.a });
      const before = await auditCount();
      const response = await world.call(operationId, request);
      expectStatus(response, request.expect);
      expect((await auditCount()) - before).toBe(0);
    },
  );
});

describe('a write that fails writes nothing, audit event included', () => {
  async function expectNothingWritten(send: () => Promise<HttpResponse>, status: number): Promise<void> {
    const countBefore = await auditCount();
    const before = await databaseFingerprint();
    const response = await send();
    expectStatus(response, status);
    expect(await auditCount()).toBe(countBefore);
    expect(await databaseFingerprint()).toEqual(before);
  }

  it('the fingerprint notices a write (so the checks below can fail)', async () => {
    const before = await databaseFingerprint();
    await makeChild({ world, tenant: world.a });
    expect(await databaseFingerprint()).not.toEqual(before);
  });

  it('updateChild with a stale If-Match: 412', async () => {
    const child = await makeChild({ world, tenant: world.a });
    await expectNothingWritten(
      () =>
        world.call('updateChild', {
          token: world.a.adminToken,
          params: { childId: child.id },
          headers: { 'if-match': `"${child.version + 5}"` },
          body: { preferredName: 'Stale' },
        }),
      412,
    );
  });

  it('updateChild with a date of birth in the future: 422', async () => {
    const child = await makeChild({ world, tenant: world.a });
    await expectNothingWritten(
      () =>
        world.call('updateChild', {
          token: world.a.adminToken,
          params: { childId: child.id },
          headers: { 'if-match': `"${child.version}"` },
          body: { dateOfBirth: '2999-01-01' },
        }),
      422,
    );
  });

  it('createChild with a code that is not in the tenant’s list: 422', async () => {
    await expectNothingWritten(
      () => world.call('createChild', { token: world.a.adminToken, body: { ...validChild, sex: 'NOT_A_CODE' } }),
      422,
    );
  });

  it('createUser with an email already taken: 409', async () => {
    await expectNothingWritten(
      () =>
        world.call('createUser', {
          token: world.a.adminToken,
          body: { email: world.a.adminEmail, displayName: 'Twin', roles: ['caseworker'] },
        }),
      409,
    );
  });

  it('changePassword with the wrong current password: 422', async () => {
    await expectNothingWritten(
      () =>
        world.call('changePassword', {
          token: world.a.adminToken,
          body: { currentPassword: 'not my password at all', newPassword: 'a perfectly fine new one' },
        }),
      422,
    );
  });
});

describe('the trail is append-only, even for the owner', () => {
  it('refuses UPDATE, DELETE and TRUNCATE by the owner (a superuser) with the trigger', async () => {
    const before = await databaseFingerprint();
    expect(await auditCount()).toBeGreaterThan(0); // else a row trigger would have nothing to refuse
    for (const [statement, verb] of [
      [`UPDATE audit_events SET action = 'x'`, 'UPDATE'],
      ['DELETE FROM audit_events', 'DELETE'],
      ['TRUNCATE audit_events', 'TRUNCATE'],
    ] as const) {
      await expect(world.db.raw(statement)).rejects.toThrow(`audit_events is append-only: ${verb} refused`);
    }
    expect(await databaseFingerprint()).toEqual(before);
  });

  it('refuses UPDATE, DELETE and TRUNCATE to the application role: permission denied', async () => {
    const before = await databaseFingerprint();
    for (const statement of [
      `UPDATE audit_events SET action = 'x'`,
      'DELETE FROM audit_events',
      'TRUNCATE audit_events',
    ]) {
      const attempt = world.db.transaction(async (trx) => {
        await trx.raw('SET LOCAL ROLE hearth_app');
        await trx.raw(`SELECT set_config('app.tenant_id', ?, true)`, [world.a.id]);
        // The role sees its tenant's events, so a refusal is about the privilege, not an empty table.
        const visible = (
          (await trx.raw('SELECT count(*)::int AS n FROM audit_events')) as { rows: Array<{ n: number }> }
        ).rows[0]!.n;
        expect(visible).toBeGreaterThan(0);
        await trx.raw(statement);
      });
      await expect(attempt).rejects.toThrow(/permission denied/);
    }
    expect(await databaseFingerprint()).toEqual(before);
  });
});

describe('the hash chain names the first broken link', () => {
  let events: AuditRow[];
  let middle: AuditRow;
  let next: AuditRow;

  // A has a signed checkpoint (taken below) that every verdict names; B has none.
  const A_CHECKPOINT = expect.objectContaining({
    seq: expect.any(Number),
    hash: expect.stringMatching(/^[0-9a-f]{64}$/),
  });

  beforeAll(async () => {
    expectStatus(await world.call('createAuditCheckpoint', { token: world.a.adminToken }), 201);
    // Several fresh events in tenant A, so there is a middle to tamper with.
    for (let i = 0; i < 4; i++) await makeChild({ world, tenant: world.a });
    events = await tenantEvents(world.a.id);
    middle = events[Math.floor(events.length / 2)]!;
    next = events.find((e) => e.seq === middle.seq + 1)!;
  });

  it('verifies an untouched chain, counting every event', async () => {
    expect(events.length).toBeGreaterThanOrEqual(6);
    expect((await verify(world.a)).body).toEqual({
      valid: true,
      eventsChecked: (await tenantEvents(world.a.id)).length,
      firstBrokenLink: null,
      checkpoint: A_CHECKPOINT,
    });
    expect((await verify(world.b)).body).toEqual({
      valid: true,
      eventsChecked: (await tenantEvents(world.b.id)).length,
      firstBrokenLink: null,
      checkpoint: null,
    });
  });

  it('names an event whose action was altered (hash_mismatch), and only in that tenant', async () => {
    const n = (await tenantEvents(world.a.id)).length;
    await withTriggersOff((trx) =>
      trx.raw(`UPDATE audit_events SET action = 'child.nothing_to_see' WHERE tenant_id = ? AND seq = ?`, [
        world.a.id,
        middle.seq,
      ]),
    );
    try {
      expect((await verify(world.a)).body).toEqual({
        valid: false,
        eventsChecked: middle.seq - 1,
        firstBrokenLink: { seq: middle.seq, eventId: middle.id, reason: 'hash_mismatch' },
        checkpoint: A_CHECKPOINT,
      });
      expect((await verify(world.b)).body).toEqual({
        valid: true,
        eventsChecked: (await tenantEvents(world.b.id)).length,
        firstBrokenLink: null,
        checkpoint: null,
      });
    } finally {
      await withTriggersOff((trx) =>
        trx.raw('UPDATE audit_events SET action = ? WHERE tenant_id = ? AND seq = ?', [
          middle.action,
          world.a.id,
          middle.seq,
        ]),
      );
    }
    // Put back as it was, the chain verifies again: the check is about content, not about the write.
    expect((await verify(world.a)).body).toEqual({
      valid: true,
      eventsChecked: n,
      firstBrokenLink: null,
      checkpoint: A_CHECKPOINT,
    });
  });

  it('names an event whose recorded state (after) was altered (hash_mismatch)', async () => {
    const original = (
      await rows<{ after: string | null }>(
        'SELECT after::text AS after FROM audit_events WHERE tenant_id = ? AND seq = ?',
        [world.a.id, middle.seq],
      )
    )[0]!.after;
    await withTriggersOff((trx) =>
      trx.raw(
        `UPDATE audit_events SET after = coalesce(after, '{}'::jsonb) || '{"givenName": "Someone else"}'::jsonb WHERE tenant_id = ? AND seq = ?`,
        [world.a.id, middle.seq],
      ),
    );
    try {
      expect((await verify(world.a)).body).toEqual({
        valid: false,
        eventsChecked: middle.seq - 1,
        firstBrokenLink: { seq: middle.seq, eventId: middle.id, reason: 'hash_mismatch' },
        checkpoint: A_CHECKPOINT,
      });
    } finally {
      await withTriggersOff((trx) =>
        trx.raw('UPDATE audit_events SET after = ?::jsonb WHERE tenant_id = ? AND seq = ?', [
          original,
          world.a.id,
          middle.seq,
        ]),
      );
    }
    expect((await verify(world.a)).body).toMatchObject({ valid: true, firstBrokenLink: null });
  });

  it('names the next event when the altered one was re-hashed to match (previous_hash_mismatch)', async () => {
    // A tamperer who recomputes the altered event's own hash (here with the chain key itself, which
    // the database's owner does not have) is still caught by the next link.
    const row = (
      await rows<AuditRow>('SELECT * FROM audit_events WHERE tenant_id = ? AND seq = ?', [world.a.id, middle.seq])
    )[0]!;
    const fields: ChainedFields = { ...rowToFields(row), action: 'child.nothing_to_see' };
    await withTriggersOff((trx) =>
      trx.raw('UPDATE audit_events SET action = ?, hash = ? WHERE tenant_id = ? AND seq = ?', [
        fields.action,
        keyedEventHash(fields, auditKeys().chainKey),
        world.a.id,
        middle.seq,
      ]),
    );
    try {
      expect((await verify(world.a)).body).toEqual({
        valid: false,
        eventsChecked: middle.seq,
        firstBrokenLink: { seq: next.seq, eventId: next.id, reason: 'previous_hash_mismatch' },
        checkpoint: A_CHECKPOINT,
      });
    } finally {
      await withTriggersOff((trx) =>
        trx.raw('UPDATE audit_events SET action = ?, hash = ? WHERE tenant_id = ? AND seq = ?', [
          row.action,
          row.hash,
          world.a.id,
          middle.seq,
        ]),
      );
    }
    expect((await verify(world.a)).body).toMatchObject({ valid: true, firstBrokenLink: null });
  });

  it('names the event after a deleted one (sequence_gap)', async () => {
    const saved = (
      await rows<{ j: string }>(
        'SELECT row_to_json(e)::text AS j FROM audit_events e WHERE tenant_id = ? AND seq = ?',
        [world.a.id, middle.seq],
      )
    )[0]!.j;
    await withTriggersOff((trx) =>
      trx.raw('DELETE FROM audit_events WHERE tenant_id = ? AND seq = ?', [world.a.id, middle.seq]),
    );
    try {
      expect((await verify(world.a)).body).toEqual({
        valid: false,
        eventsChecked: middle.seq - 1,
        firstBrokenLink: { seq: next.seq, eventId: next.id, reason: 'sequence_gap' },
        checkpoint: A_CHECKPOINT,
      });
      expect((await verify(world.b)).body).toMatchObject({ valid: true, firstBrokenLink: null });
    } finally {
      // INSERT is not refused to the owner: the event goes back exactly as it was.
      await world.db.raw('INSERT INTO audit_events SELECT * FROM json_populate_record(NULL::audit_events, ?::json)', [
        saved,
      ]);
    }
    expect((await verify(world.a)).body).toMatchObject({ valid: true, firstBrokenLink: null });
  });

  it('does not call a chain valid when its newest event was deleted (the chain head remembers it)', async () => {
    // Deleting the tail leaves no gap between the remaining events; only audit_chain_heads, which
    // records the last sequence number and hash, can tell that the chain was cut short.
    const all = await tenantEvents(world.a.id);
    const last = all[all.length - 1]!;
    const saved = (
      await rows<{ j: string }>(
        'SELECT row_to_json(e)::text AS j FROM audit_events e WHERE tenant_id = ? AND seq = ?',
        [world.a.id, last.seq],
      )
    )[0]!.j;
    await withTriggersOff((trx) =>
      trx.raw('DELETE FROM audit_events WHERE tenant_id = ? AND seq = ?', [world.a.id, last.seq]),
    );
    try {
      const verdict = (await verify(world.a)).body;
      expect(verdict).toEqual({
        valid: false,
        eventsChecked: all.length - 1,
        firstBrokenLink: { seq: last.seq, eventId: null, reason: 'truncated' },
        checkpoint: A_CHECKPOINT,
      });
    } finally {
      await world.db.raw('INSERT INTO audit_events SELECT * FROM json_populate_record(NULL::audit_events, ?::json)', [
        saved,
      ]);
    }
    expect((await verify(world.a)).body).toEqual({
      valid: true,
      eventsChecked: all.length,
      firstBrokenLink: null,
      checkpoint: A_CHECKPOINT,
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Search and export.

/**
 * A strict RFC 4180 reader: fields split by commas, records by CRLF, quoted fields with "" for a
 * quote; a bare quote, a lone CR or LF outside quotes, or a ragged row is an error, not a guess.
 */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  if (text.length === 0) return records;
  let i = 0;
  let record: string[] = [];
  for (;;) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) throw new Error('CSV: unterminated quoted field');
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += text[i++];
      }
    } else {
      while (i < text.length && text[i] !== ',' && text[i] !== '\r' && text[i] !== '\n') {
        if (text[i] === '"') throw new Error(`CSV: a quote inside an unquoted field at ${i}`);
        field += text[i++];
      }
    }
    record.push(field);
    if (i >= text.length) {
      records.push(record);
      break;
    }
    if (text[i] === ',') {
      i++;
      continue;
    }
    if (text[i] === '\r' && text[i + 1] === '\n') {
      i += 2;
      records.push(record);
      record = [];
      if (i >= text.length) break;
      continue;
    }
    throw new Error(`CSV: unexpected ${JSON.stringify(text[i])} at ${i}`);
  }
  const width = records[0]!.length;
  records.forEach((r, n) => {
    if (r.length !== width) throw new Error(`CSV: record ${n} has ${r.length} fields, the header ${width}`);
  });
  return records;
}

describe('parseCsv (the test’s own reader)', () => {
  it('reads quoted fields and refuses what RFC 4180 does not allow', () => {
    expect(parseCsv('a,b\r\n"x ""y"", z",\r\n')).toEqual([
      ['a', 'b'],
      ['x "y", z', ''],
    ]);
    expect(() => parseCsv('a,b\r\nx"y,z\r\n')).toThrow(/quote/);
    expect(() => parseCsv('a,b\nx,y\n')).toThrow(/unexpected/);
    expect(() => parseCsv('a,b\r\nx\r\n')).toThrow(/fields/);
  });
});

describe('searching and exporting the trail', () => {
  let caseworker: { id: string; email: string; token: string };
  let child: { id: string; version: number };
  let windowFrom: string;
  let windowTo: string;
  let windowChildIds: string[];

  interface ApiEvent {
    id: string;
    seq: number;
    occurredAt: string;
    actorId: string | null;
    action: string;
    entityType: string;
    entityId: string | null;
  }

  /** Every event a listing returns, following nextCursor to the end. */
  async function listAll(
    token: string,
    query: Record<string, string | number>,
  ): Promise<{ events: ApiEvent[]; pages: ApiEvent[][] }> {
    const pages: ApiEvent[][] = [];
    let cursor: string | null = null;
    do {
      const response: HttpResponse = await world.call('listAuditEvents', {
        token,
        query: { ...query, ...(cursor ? { cursor } : {}) },
      });
      expectStatus(response, 200);
      pages.push(response.body.data as ApiEvent[]);
      cursor = response.body.nextCursor as string | null;
      expect(pages.length).toBeLessThan(500); // a cursor that never ends is a bug, not a long list
    } while (cursor);
    return { events: pages.flat(), pages };
  }

  const ids = (list: Array<{ id: string }>) => list.map((e) => e.id).sort();

  beforeAll(async () => {
    // A spread of events: by the admin and by a caseworker, about children and users.
    caseworker = await world.addUser(world.a, ['caseworker']);
    child = await makeChild({ world, tenant: world.a });
    const updated = await world.call('updateChild', {
      token: world.a.adminToken,
      params: { childId: child.id },
      headers: { 'if-match': `"${child.version}"` },
      body: { preferredName: 'Searchable' },
    });
    expectStatus(updated, 200);
    // Awkward text (quotes, commas) that the CSV must quote and give back intact.
    const awkward = await world.call('createChild', {
      token: caseworker.token,
      body: { ...validChild, givenName: 'Zoë "Ziggy", Jr', familyName: "O'Brien, Smith" },
    });
    expectStatus(awkward, 201);
    // A time window holding exactly three events, by the server's own clock (same process).
    await new Promise((r) => setTimeout(r, 15));
    windowFrom = new Date().toISOString();
    windowChildIds = [];
    for (let i = 0; i < 3; i++) windowChildIds.push((await makeChild({ world, tenant: world.a })).id);
    await new Promise((r) => setTimeout(r, 15));
    windowTo = new Date().toISOString();
    await makeChild({ world, tenant: world.a });
    // Something in tenant B, so "only this tenant" has something to leave out.
    await makeChild({ world, tenant: world.b });
  });

  it('pages through every event of the tenant, newest first, with no repeats', async () => {
    const truth = await tenantEvents(world.a.id);
    const { events, pages } = await listAll(world.a.adminToken, { limit: 3 });
    expect(pages.length).toBeGreaterThan(3);
    pages.slice(0, -1).forEach((page) => expect(page).toHaveLength(3));
    expect(pages[pages.length - 1]!.length).toBeGreaterThanOrEqual(1);
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    const seqs = events.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => y - x));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(ids(events)).toEqual(ids(truth));
    // Tenant B's events exist, and none of them leaks into A's list.
    const bIds = new Set((await tenantEvents(world.b.id)).map((e) => e.id));
    expect(bIds.size).toBeGreaterThan(0);
    expect(events.filter((e) => bIds.has(e.id))).toEqual([]);
  });

  it('filters by entityType, entityId, action and actorId, exactly as the rows say', async () => {
    const truth = await tenantEvents(world.a.id);
    const cases: Array<[Record<string, string>, (e: AuditRow) => boolean]> = [
      [{ entityType: 'child' }, (e) => e.entity_type === 'child'],
      [{ entityId: child.id }, (e) => e.entity_id === child.id],
      [{ action: 'child.updated' }, (e) => e.action === 'child.updated'],
      [{ actorId: caseworker.id }, (e) => e.actor_id === caseworker.id],
      [
        { entityType: 'child', actorId: caseworker.id },
        (e) => e.entity_type === 'child' && e.actor_id === caseworker.id,
      ],
    ];
    for (const [query, keep] of cases) {
      const expected = truth.filter(keep);
      // Each filter keeps something and leaves something out, or it proves nothing.
      expect({ query, kept: expected.length > 0, narrowed: expected.length < truth.length }).toEqual({
        query,
        kept: true,
        narrowed: true,
      });
      const { events } = await listAll(world.a.adminToken, { ...query, limit: 2 });
      expect({ query, ids: ids(events) }).toEqual({ query, ids: ids(expected) });
    }
    // The entity's own history, newest first: updated, then created.
    const history = (await listAll(world.a.adminToken, { entityId: child.id })).events.map((e) => e.action);
    expect(history).toEqual(['child.updated', 'child.created']);
    // A filter naming another tenant's user finds nothing here.
    expect((await listAll(world.a.adminToken, { actorId: world.b.adminId })).events).toEqual([]);
  });

  it('filters by time: from is inclusive, to is exclusive', async () => {
    const { events } = await listAll(world.a.adminToken, { from: windowFrom, to: windowTo });
    expect(events.map((e) => e.action)).toEqual(['child.created', 'child.created', 'child.created']);
    expect(events.map((e) => e.entityId).sort()).toEqual([...windowChildIds].sort());
    // The bounds themselves: an event's own instant is inside `from` and outside `to`.
    const first = events[events.length - 1]!;
    expect(
      (await listAll(world.a.adminToken, { from: first.occurredAt, to: windowTo })).events.map((e) => e.id),
    ).toContain(first.id);
    expect(
      (await listAll(world.a.adminToken, { from: windowFrom, to: first.occurredAt })).events.map((e) => e.id),
    ).not.toContain(first.id);
  });

  it('exports the tenant’s events as RFC 4180 CSV, one row per event, and only that tenant’s', async () => {
    const response = await world.call('exportAuditEvents', { token: world.a.adminToken });
    expectStatus(response, 200);
    expect(response.headers.get('content-type')).toMatch(/^text\/csv/);
    const truth = await tenantEvents(world.a.id);
    const [header, ...records] = parseCsv(response.text);
    expect(header).toEqual([
      'seq',
      'id',
      'occurredAt',
      'actorType',
      'actorId',
      'action',
      'entityType',
      'entityId',
      'ip',
      'userAgent',
      'requestId',
      'before',
      'after',
      'hash',
    ]);
    expect(records).toHaveLength(truth.length);
    const column = (name: string) => header!.indexOf(name);
    const byId = new Map(truth.map((e) => [e.id, e]));
    const seen = new Set<string>();
    for (const record of records) {
      const id = record[column('id')]!;
      const row = byId.get(id);
      expect({ id, inTenant: Boolean(row) }).toEqual({ id, inTenant: true });
      seen.add(id);
      expect({
        seq: Number(record[column('seq')]),
        action: record[column('action')],
        entityType: record[column('entityType')],
        entityId: record[column('entityId')],
        actorId: record[column('actorId')],
        userAgent: record[column('userAgent')],
        requestId: record[column('requestId')],
        hash: record[column('hash')],
        after: record[column('after')] ? JSON.parse(record[column('after')]!) : null,
        before: record[column('before')] ? JSON.parse(record[column('before')]!) : null,
      }).toEqual({
        seq: Number(row!.seq),
        action: row!.action,
        entityType: row!.entity_type,
        entityId: row!.entity_id ?? '',
        actorId: row!.actor_id ?? '',
        userAgent: row!.user_agent ?? '',
        requestId: row!.request_id ?? '',
        hash: row!.hash,
        after: row!.after ?? null,
        before: row!.before ?? null,
      });
    }
    expect(seen.size).toBe(truth.length);
    // The awkward name came back through the quoting intact.
    expect(
      records.some(
        (r) =>
          (JSON.parse(r[column('after')] || 'null') as { givenName?: string } | null)?.givenName === 'Zoë "Ziggy", Jr',
      ),
    ).toBe(true);
  });

  it('applies the same filters to the export', async () => {
    const response = await world.call('exportAuditEvents', {
      token: world.a.adminToken,
      query: { entityType: 'child', actorId: caseworker.id },
    });
    expectStatus(response, 200);
    const [header, ...records] = parseCsv(response.text);
    const expected = (await tenantEvents(world.a.id)).filter(
      (e) => e.entity_type === 'child' && e.actor_id === caseworker.id,
    );
    expect(expected.length).toBeGreaterThan(0);
    expect(records.map((r) => r[header!.indexOf('id')]).sort()).toEqual(ids(expected));
  });

  it('refuses the audit routes to a caseworker (no audit:read, no audit:checkpoint)', async () => {
    for (const operationId of ['listAuditEvents', 'exportAuditEvents', 'verifyAuditChain', 'createAuditCheckpoint']) {
      const response = await world.call(operationId, { token: caseworker.token });
      expect({ operationId, status: response.status, type: response.body?.type }).toEqual({
        operationId,
        status: 403,
        type: 'https://hearth.dev/problems/forbidden',
      });
    }
  });
});
