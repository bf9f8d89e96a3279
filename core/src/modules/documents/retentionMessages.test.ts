import { newId } from '../../ids';
import { scheduleDailyJobs } from '../../jobs/runner';
import { todayIn } from '../../time';
import { ownerRows, startWorld, type World } from '../../../../test/support/harness';
import { unique } from '../../../../test/support/fixtureKit';
import { makeHousehold } from '../../../../test/support/fixtures/carers';
import { runJobs } from '../../../../test/support/fixtures/payments';

let world: World;
/** A second administrator of A (a UK tenant): approves what A's first one asks for. */
let approver: { id: string; token: string };
beforeAll(async () => {
  world = await startWorld();
  approver = await world.addUser(world.a, ['tenant_admin']);
}, 300_000);
afterAll(async () => {
  await world?.close();
}, 120_000);

async function child(dateOfBirth: string): Promise<string> {
  const r = await world.call('createChild', {
    token: world.a.adminToken,
    body: { givenName: unique('Told'), familyName: 'Record', dateOfBirth, sex: 'male' },
  });
  expect(r.status).toBe(201);
  return r.body.id as string;
}

interface Links {
  child_id?: string;
  household_id?: string;
}

/**
 * A message of the log as delivery leaves it: sent, with its wording and address. Written as the
 * owner because the events that write messages today cannot be backdated to a child born in 1950;
 * what retention reads of it (its status, its links) is exactly what the outbox writes.
 */
async function message(links: Links, event = 'placement.started'): Promise<string> {
  const id = newId();
  await ownerRows(
    world.db,
    world.a.id,
    `INSERT INTO outbound_messages (tenant_id, id, channel, recipient, template, event, payload, status, subject, body,
                                    child_id, household_id, sent_at)
     VALUES (?, ?, 'email', 'carer.secret@example.test', ?, ?, ?::jsonb, 'sent', 'Secret subject', 'Secret body', ?, ?, now())`,
    [
      world.a.id,
      id,
      event,
      event,
      JSON.stringify({ link: 'https://secret.example.test/token' }),
      links.child_id ?? null,
      links.household_id ?? null,
    ],
  );
  return id;
}

interface DueMessage {
  messageId: string;
  rule: { key: string };
  eventOn: string;
  dueOn: string;
  held: boolean;
  holdIds: string[];
}

async function dueOn(asOf: string, token = world.a.adminToken): Promise<DueMessage[]> {
  const found: DueMessage[] = [];
  let cursor: string | undefined;
  do {
    const r = await world.call('listRetentionDueMessages', {
      token,
      query: { asOf, limit: 200, ...(cursor ? { cursor } : {}) },
    });
    expect(r.status).toBe(200);
    found.push(...(r.body.data as DueMessage[]));
    cursor = r.body.nextCursor ?? undefined;
  } while (cursor);
  return found;
}

const listed = (items: DueMessage[], id: string) => items.find((d) => d.messageId === id);

async function request(messageIds: string[], token = world.a.adminToken) {
  return world.call('createDestructionRequest', { token, body: { messageIds, note: 'Past retention' } });
}

async function row(id: string) {
  const [found] = await ownerRows<Record<string, unknown>>(
    world.db,
    world.a.id,
    'SELECT * FROM outbound_messages WHERE id = ?',
    [id],
  );
  return found!;
}

test("a child's message is due at the 75th birthday, destroyed after a second person approves, and leaves a tombstone", async () => {
  const childId = await child('1950-03-10');
  const id = await message({ child_id: childId });

  expect(listed(await dueOn('2025-03-09'), id)).toBeUndefined();
  expect(listed(await dueOn('2025-03-10'), id)).toMatchObject({
    rule: { key: 'child-case-record' },
    eventOn: '2025-03-10',
    dueOn: '2025-03-10',
    held: false,
    holdIds: [],
  });

  const asked = await request([id]);
  expect(asked.status).toBe(201);
  expect(asked.body).toMatchObject({
    status: 'pending',
    items: [],
    messageItems: [{ messageId: id, ruleKey: 'child-case-record', dueOn: '2025-03-10', outcome: null }],
  });
  const requestId = asked.body.id as string;

  const own = await world.call('approveDestructionRequest', {
    token: world.a.adminToken,
    params: { requestId },
    body: {},
  });
  expect(own.status).toBe(403);
  const approved = await world.call('approveDestructionRequest', {
    token: approver.token,
    params: { requestId },
    body: { note: 'Checked' },
  });
  expect(approved.status).toBe(202);
  // Nothing goes until the job runs.
  expect((await row(id)).subject).toBe('Secret subject');
  await runJobs(world);

  const after = await row(id);
  expect(after).toMatchObject({
    subject: null,
    body: null,
    recipient: '',
    payload: {},
    status: 'sent',
    event: 'placement.started',
    child_id: childId,
  });
  expect(after.destroyed_at).not.toBeNull();
  const logged = await world.call('getMessage', { token: world.a.adminToken, params: { messageId: id } });
  expect(logged.status).toBe(200);
  expect(logged.body.message).toMatchObject({ id, recipient: '', subject: null, childId });
  expect(logged.body.message.destroyedAt).toEqual(expect.any(String));

  const done = await world.call('getDestructionRequest', { token: world.a.adminToken, params: { requestId } });
  expect(done.body).toMatchObject({ status: 'done', messageItems: [{ messageId: id, outcome: 'destroyed' }] });

  const tombstones = await world.call('listMessageTombstones', {
    token: world.a.adminToken,
    query: { messageId: id },
  });
  expect(tombstones.status).toBe(200);
  expect(tombstones.body.data).toEqual([
    expect.objectContaining({
      messageId: id,
      event: 'placement.started',
      channel: 'email',
      childId,
      ruleKey: 'child-case-record',
      startEvent: 'child_75th_birthday',
      eventOn: '2025-03-10',
      dueOn: '2025-03-10',
      requestId,
      requestedBy: world.a.adminId,
      approvedBy: approver.id,
    }),
  ]);
  const stored = await ownerRows(
    world.db,
    world.a.id,
    'SELECT * FROM retention_message_tombstones WHERE message_id = ?',
    [id],
  );
  const text = JSON.stringify([tombstones.body, stored, after]);
  for (const secret of ['Secret', 'carer.secret', 'secret.example']) expect(text).not.toContain(secret);

  const audit = await ownerRows<{ action: string }>(
    world.db,
    world.a.id,
    `SELECT action FROM audit_events WHERE entity_id IN (?, ?) ORDER BY seq`,
    [id, requestId],
  );
  expect(audit.map((a) => a.action)).toEqual([
    'retention.destruction_requested',
    'retention.destruction_approved',
    'notification.destroyed',
    'retention.destruction_done',
  ]);
  expect(listed(await dueOn('2026-01-01'), id)).toBeUndefined();
  const again = await request([id], approver.token);
  expect(again.status).toBe(422);
  expect(again.body.errors).toEqual([{ pointer: '/body/messageIds/0', message: 'is already destroyed' }]);
});

test("a held record's messages are listed as held, refused, and kept when the hold comes after the approval", async () => {
  const childId = await child('1940-06-01');
  const id = await message({ child_id: childId });
  const later = await message({ child_id: childId }, 'placement.ended');

  const asked = await request([later]);
  expect(asked.status).toBe(201);
  const approved = await world.call('approveDestructionRequest', {
    token: approver.token,
    params: { requestId: asked.body.id },
    body: {},
  });
  expect(approved.status).toBe(202);

  const hold = await world.call('createLegalHold', {
    token: world.a.adminToken,
    body: { subjectType: 'child', subjectId: childId, reason: 'Inquiry' },
  });
  expect(hold.status).toBe(201);
  expect(listed(await dueOn('2026-01-01'), id)).toMatchObject({ held: true, holdIds: [hold.body.id] });
  const refused = await request([id]);
  expect(refused.status).toBe(422);
  expect(refused.body.errors).toEqual([
    { pointer: '/body/messageIds/0', message: `is under a legal hold (${hold.body.id})` },
  ]);

  await runJobs(world);
  expect(await row(later)).toMatchObject({ subject: 'Secret subject', recipient: 'carer.secret@example.test' });
  expect((await row(later)).destroyed_at).toBeNull();
  const done = await world.call('getDestructionRequest', {
    token: world.a.adminToken,
    params: { requestId: asked.body.id },
  });
  expect(done.body).toMatchObject({ status: 'done', messageItems: [{ messageId: later, outcome: 'held' }] });
  const tombstones = await world.call('listMessageTombstones', {
    token: world.a.adminToken,
    query: { messageId: later },
  });
  expect(tombstones.body.data).toEqual([]);
});

test("a household's message with no child is under the carer's case record, counted from the approval's end", async () => {
  const { id: householdId } = await makeHousehold({ world, tenant: world.a });
  const id = await message({ household_id: householdId }, 'household.panel_date');
  expect(listed(await dueOn('2999-01-01'), id)).toBeUndefined();
  await ownerRows(world.db, world.a.id, 'UPDATE carer_households SET approval_ended_on = ? WHERE id = ?', [
    '2012-04-30',
    householdId,
  ]);
  expect(listed(await dueOn('2022-04-29'), id)).toBeUndefined();
  expect(listed(await dueOn('2022-04-30'), id)).toMatchObject({
    rule: { key: 'carer-case-record' },
    eventOn: '2012-04-30',
    dueOn: '2022-04-30',
  });
});

test('a password reset is tied to no record, so it is never due and cannot be asked for', async () => {
  const id = await message({}, 'password_reset');
  expect(listed(await dueOn('2999-12-31'), id)).toBeUndefined();
  const refused = await request([id]);
  expect(refused.status).toBe(422);
  expect(refused.body.errors).toEqual([
    {
      pointer: '/body/messageIds/0',
      message: 'is tied to no record a retention rule of the pack holds, so it is never due for destruction',
    },
  ]);
  const empty = await world.call('createDestructionRequest', { token: world.a.adminToken, body: {} });
  expect(empty.status).toBe(422);
  expect((await row(id)).subject).toBe('Secret subject');
});

test("the daily due list names the day's due messages beside its documents, and clears nothing", async () => {
  const childId = await child('1939-09-09');
  const id = await message({ child_id: childId });
  const reset = await message({}, 'password_reset');
  await scheduleDailyJobs(world.db);
  await runJobs(world);
  const today = todayIn('Europe/London');
  const [list] = await ownerRows<{ message_ids: string[] }>(
    world.db,
    world.a.id,
    'SELECT message_ids FROM retention_due_lists WHERE as_of = ?',
    [today],
  );
  expect(list!.message_ids).toContain(id);
  expect(list!.message_ids).not.toContain(reset);
  expect(list!.message_ids).toEqual((await dueOn(today)).map((d) => d.messageId));
  expect((await row(id)).subject).toBe('Secret subject');
});
