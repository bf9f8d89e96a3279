import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../config';
import { inTenantTransaction } from '../../db/tenantTransaction';
import { jobHandlers } from '../../jobs/handlers';
import { runDueJobs } from '../../jobs/worker';
import { ownerRows, startWorld, TEST_PASSWORD, type World } from '../../../../test/support/harness';
import { startSmtpServer, type TestSmtpServer } from '../../../../test/support/smtp';
import { makeChildInCare } from '../../../../test/support/fixtures/tasks';
import { notificationChannels } from './openChannels';
import { queueNotification, type NotificationInput } from './outbox';

/** A provider shaped like GOV.UK Notify on a loopback port: it keeps one message per idempotency key, as Notify does per reference. */
async function startSmsProvider() {
  const requests: Array<{ authorization: string | undefined; key: string | undefined; body: Record<string, string> }> =
    [];
  const byKey = new Map<string, string>();
  let failNext = 0;
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const body = JSON.parse(raw) as Record<string, string>;
      const key = req.headers['idempotency-key'] as string | undefined;
      requests.push({ authorization: req.headers.authorization, key, body });
      if (failNext > 0) {
        failNext--;
        res.writeHead(503).end('{"errors":[{"error":"Unavailable"}]}');
        return;
      }
      if (!byKey.has(key!)) byKey.set(key!, `sms-${byKey.size + 1}`);
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id: byKey.get(key!) }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v2/notifications/sms`,
    requests,
    /** What the phones received: one message per key. */
    messages: () => [...byKey.keys()],
    failNext: (n: number) => (failNext = n),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let world: World;
let smtp: TestSmtpServer;
let sms: Awaited<ReturnType<typeof startSmsProvider>>;

beforeAll(async () => {
  smtp = await startSmtpServer();
  sms = await startSmsProvider();
  const notifications = loadConfig({
    NODE_ENV: 'test',
    HEARTH_EMAIL_CHANNEL: 'smtp',
    HEARTH_EMAIL_TARGET: smtp.url,
    HEARTH_EMAIL_FROM: 'Hearth <no-reply@hearth.test>',
    HEARTH_SMS_CHANNEL: 'sms-http',
    HEARTH_SMS_TARGET: sms.url,
    HEARTH_SMS_CREDENTIAL: 'provider-key',
    HEARTH_APP_URL: 'https://app.hearth.test',
    HEARTH_NOTIFICATION_MAX_ATTEMPTS: '3',
  }).notifications;
  world = await startWorld({ notifications });
});

afterAll(async () => {
  await world?.close();
  await smtp?.close();
  await sms?.close();
});

const runJobs = (options: { abandon?: AbortSignal } = {}) =>
  runDueJobs(world.db, {
    handlers: jobHandlers(),
    services: world.server.services,
    backoffMs: () => 0,
    abandon: options.abandon,
    signal: options.abandon,
  });

async function notify(input: NotificationInput, tenantId = world.a.id): Promise<string[]> {
  return inTenantTransaction(world.db, { tenantId }, (trx) => queueNotification({ trx, tenantId }, input));
}

async function message(id: string) {
  const res = await world.call('getMessage', { token: world.a.adminToken, params: { messageId: id } });
  expect(res.status).toBe(200);
  const body = res.body as {
    message: { status: string; attempts: number };
    deliveryAttempts: Array<{ outcome: string | null }>;
  };
  return { ...body.message, deliveryAttempts: body.deliveryAttempts };
}

const tokenOf = (text: string) => /#tenant=[^&]+&token=(pw_[A-Za-z0-9_-]+)/.exec(text)?.[1];

describe('a password reset by email, end to end', () => {
  it('sends the link to the SMTP server; its token sets a new password, which then logs in', async () => {
    const user = await world.addUser(world.a, ['caseworker'], 'reset-me@tenant-a.test');
    const before = smtp.received.length;
    const asked = await world.call('requestPasswordReset', { body: { tenant: world.a.slug, email: user.email } });
    expect(asked.status).toBe(202);
    expect(await runJobs()).toBeGreaterThanOrEqual(1);
    const [mail] = (await smtp.waitFor(before + 1)).slice(before);
    expect(mail!.to).toEqual([user.email]);
    expect(mail!.from).toContain('no-reply@hearth.test');
    expect(mail!.subject).toBe('Reset your Tenant tenant-a password');
    expect(mail!.text).toContain('https://app.hearth.test/reset-password#tenant=tenant-a&token=');
    const token = tokenOf(mail!.text)!;
    const confirmed = await world.call('confirmPasswordReset', {
      body: { token, newPassword: 'a brand new passphrase 42' },
    });
    expect(confirmed.status).toBe(204);
    expect((await world.login(world.a.slug, user.email, 'a brand new passphrase 42')).status).toBe(200);
    expect((await world.login(world.a.slug, user.email, TEST_PASSWORD)).status).toBe(401);

    // The log has it sent, once, with its attempt, and never shows the link.
    const log = await world.call('listMessages', {
      token: world.a.adminToken,
      query: { recipient: user.email.toUpperCase(), event: 'auth.password_reset' },
    });
    expect(log.body.data).toHaveLength(1);
    expect(log.body.data[0]).toMatchObject({ status: 'sent', channel: 'email', attempts: 1, critical: true });
    expect(log.text).not.toContain(token);
    const detail = await message(log.body.data[0].id as string);
    expect(detail.deliveryAttempts).toMatchObject([{ outcome: 'sent' }]);
  });

  it('completes an invitation the same way: mail, link, password, log-in', async () => {
    const before = smtp.received.length;
    const email = 'invited@tenant-a.test';
    const created = await world.call('createUser', {
      token: world.a.adminToken,
      body: { email, displayName: 'Invited Person', roles: ['caseworker'] },
    });
    expect(created.status).toBe(201);
    await runJobs();
    const [mail] = (await smtp.waitFor(before + 1)).slice(before);
    expect(mail!.subject).toBe('You are invited to Tenant tenant-a');
    expect(mail!.text).toContain('Hello Invited Person,');
    expect(mail!.text).toContain('https://app.hearth.test/set-password#tenant=tenant-a&token=');
    const confirmed = await world.call('confirmPasswordReset', {
      body: { token: tokenOf(mail!.text)!, newPassword: 'my first passphrase 7' },
    });
    expect(confirmed.status).toBe(204);
    expect((await world.login(world.a.slug, email, 'my first passphrase 7')).status).toBe(200);
  });
});

describe('the in-app inbox', () => {
  it("lists a person's own messages once delivered, marks them read, and hides them from everyone else", async () => {
    const me = await world.addUser(world.a, ['caseworker']);
    const other = await world.addUser(world.a, ['caseworker']);
    const [id = ''] = await notify({
      event: 'tasks.assigned',
      occurrence: 'task-1',
      recipients: [{ userId: me.id, name: 'Me' }],
      data: { dueDate: '2027-01-05' },
      link: '/tasks/1',
    });
    expect((await world.call('listInbox', { token: me.token })).body.data).toEqual([]);
    await runJobs();
    const inbox = await world.call('listInbox', { token: me.token, query: { unread: true } });
    expect(inbox.body.data).toMatchObject([
      {
        id,
        event: 'tasks.assigned',
        subject: 'Task assigned to you',
        body: 'A task due on 2027-01-05 was assigned to you.',
        readAt: null,
      },
    ]);
    expect((await world.call('listInbox', { token: other.token })).body.data).toEqual([]);
    expect((await world.call('markInboxMessageRead', { token: other.token, params: { messageId: id } })).status).toBe(
      404,
    );
    const read = await world.call('markInboxMessageRead', { token: me.token, params: { messageId: id } });
    expect(read.status).toBe(200);
    expect(read.body.readAt).toEqual(expect.any(String));
    expect((await world.call('listInbox', { token: me.token, query: { unread: true } })).body.data).toEqual([]);
    // Written twice for the same occurrence, the event is one message.
    expect(
      await notify({ event: 'tasks.assigned', occurrence: 'task-1', recipients: [{ userId: me.id }], data: {} }),
    ).toEqual([]);
  });
});

describe('a task reassigned', () => {
  it("tells its new owner in their inbox and by email, the message filed under the task's child", async () => {
    const task = await makeChildInCare({ world, tenant: world.a });
    const owner = await world.addUser(world.a, ['caseworker']);
    const before = smtp.received.length;
    const moved = await world.call('reassignTask', {
      token: world.a.adminToken,
      params: { taskId: task.taskId },
      headers: { 'if-match': `"${task.version}"` },
      body: { ownerId: owner.id },
    });
    expect(moved.status).toBe(200);
    await runJobs();
    const inbox = await world.call('listInbox', { token: owner.token });
    expect(inbox.body.data).toMatchObject([{ event: 'tasks.assigned', subject: 'Task assigned to you' }]);
    const log = await world.call('listMessages', { token: world.a.adminToken, query: { childId: task.childId } });
    expect(log.body.data.map((m: { channel: string }) => m.channel).sort()).toEqual(['email', 'inapp']);
    const mails = smtp.received.slice(before).filter((m) => m.to.includes(owner.email));
    expect(mails.map((m) => m.subject)).toEqual(['A task was assigned to you']);
    // No child's name travels: the email names the task by link and reference only.
    expect(mails[0]!.text).toContain(`https://app.hearth.test/tasks/${task.taskId}`);
    expect(mails[0]!.text).not.toMatch(/Fixture|Child/);
  });
});

describe('delivery', () => {
  it('retries a refusal for now with backoff, recording each attempt, and dead-letters it after the last', async () => {
    smtp.refuse('busy@elsewhere.test', 'temporary');
    const [id] = await notify({
      event: 'payments.remittance_ready',
      occurrence: 'run-1:hh-1',
      recipients: [{ email: 'busy@elsewhere.test' }],
      data: { paymentDate: '2026-12-04' },
    });
    await runJobs();
    const dead = await message(id!);
    expect(dead).toMatchObject({ status: 'dead', attempts: 3 });
    expect(dead.deliveryAttempts.map((a) => a.outcome)).toEqual(['failed', 'failed', 'failed']);
  });

  it('does not retry a recipient refused for good: bounced after one attempt', async () => {
    smtp.refuse('nobody@elsewhere.test', 'permanent');
    const [id] = await notify({
      event: 'payments.remittance_ready',
      occurrence: 'run-1:hh-2',
      recipients: [{ email: 'nobody@elsewhere.test' }],
      data: { paymentDate: '2026-12-04' },
    });
    await runJobs();
    expect(await message(id!)).toMatchObject({ status: 'bounced', attempts: 1 });
  });

  it('sends again, under the same Message-ID, when the worker is cut after the send and before recording it', async () => {
    const before = smtp.received.length;
    const [id] = await notify({
      event: 'payments.remittance_ready',
      occurrence: 'run-2:hh-1',
      recipients: [{ email: 'carer@household.test' }],
      data: { paymentDate: '2026-12-11' },
    });
    const channel = notificationChannels(world.server.services).email.connection;
    const send = channel.send.bind(channel);
    const cut = new AbortController();
    // The worker sends, then dies before its outcome is written: the send resolves, nothing after it runs.
    channel.send = async (m) => {
      await send(m);
      cut.abort();
      return new Promise(() => undefined);
    };
    try {
      await runJobs({ abandon: cut.signal });
    } finally {
      channel.send = send;
    }
    expect(await message(id!)).toMatchObject({ status: 'sending', attempts: 1 });
    await runJobs();
    const after = await message(id!);
    expect(after).toMatchObject({ status: 'sent', attempts: 2 });
    expect(after.deliveryAttempts.map((a) => a.outcome)).toEqual([null, 'sent']);
    const copies = (await smtp.waitFor(before + 2)).slice(before);
    expect(copies).toHaveLength(2);
    expect(new Set(copies.map((m) => m.messageId))).toEqual(new Set([`<${id}@hearth>`]));
    expect(smtp.distinct().filter((m) => m.messageId === `<${id}@hearth>`)).toHaveLength(1);
  });
});

describe('SMS through the HTTP provider plugin', () => {
  it('sends a safeguarding alert to the allocated worker with the key and bearer; a cut worker is one message at the phone', async () => {
    const worker = await world.addUser(world.a, ['caseworker']);
    const prefs = await world.call('getMyNotificationPreferences', { token: worker.token });
    expect(
      (
        await world.call('updateMyNotificationPreferences', {
          token: worker.token,
          headers: { 'If-Match': prefs.headers.get('etag')! },
          body: { smsNumber: '+447700900123' },
        })
      ).status,
    ).toBe(200);
    const [emailId, smsId] = await notify({
      event: 'children.safeguarding_alert',
      occurrence: 'alert-1',
      recipients: [{ userId: worker.id, email: worker.email }],
      reference: 'alert-1',
    });
    expect(emailId && smsId).toBeTruthy();
    const channel = notificationChannels(world.server.services).sms!.connection;
    const send = channel.send.bind(channel);
    const cut = new AbortController();
    channel.send = async (m) => {
      const result = await send(m);
      cut.abort();
      await new Promise(() => undefined);
      return result;
    };
    try {
      await runJobs({ abandon: cut.signal });
    } finally {
      channel.send = send;
    }
    await runJobs();
    const smsRequests = sms.requests.filter((r) => r.body.phone_number === '+447700900123');
    expect(smsRequests.length).toBe(2);
    expect(new Set(smsRequests.map((r) => r.key)).size).toBe(1);
    expect(smsRequests[0]).toMatchObject({
      authorization: 'Bearer provider-key',
      body: { reference: smsRequests[0]!.key },
    });
    expect(smsRequests[0]!.body.body).toBe(
      'Tenant tenant-a: a safeguarding alert was raised on a case you hold. Ref alert-1. Open Hearth to see it.',
    );
    expect(sms.messages().filter((k) => k === smsRequests[0]!.key)).toHaveLength(1);
    const log = await world.call('listMessages', { token: world.a.adminToken, query: { userId: worker.id } });
    expect(log.body.data.map((m: { channel: string; status: string }) => `${m.channel}:${m.status}`).sort()).toEqual([
      'email:sent',
      'inapp:delivered',
      'sms:sent',
    ]);
  });

  it("holds a non-critical SMS until the quiet hours end, in the tenant's time zone", async () => {
    const worker = await world.addUser(world.a, ['caseworker']);
    const prefs = await world.call('getMyNotificationPreferences', { token: worker.token });
    await world.call('updateMyNotificationPreferences', {
      token: worker.token,
      headers: { 'If-Match': prefs.headers.get('etag')! },
      body: { smsNumber: '+447700900456' },
    });
    const settings = await world.call('getNotificationSettings', { token: world.a.adminToken });
    const london = new Intl.DateTimeFormat('en-GB', {
      timeZone: 'Europe/London',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    const now = london.format(new Date());
    const later = london.format(new Date(Date.now() + 2 * 60 * 60 * 1000));
    const updated = await world.call('updateNotificationSettings', {
      token: world.a.adminToken,
      headers: { 'If-Match': settings.headers.get('etag')! },
      body: {
        events: { 'tasks.overdue': { enabled: true, channels: ['sms'] } },
        quietHours: { start: now, end: later },
      },
    });
    expect(updated.status).toBe(200);
    const [id] = await notify({
      event: 'tasks.overdue',
      occurrence: 'reminder-q',
      recipients: [{ userId: worker.id, email: worker.email }],
      data: { dueDate: '2026-12-01' },
    });
    const held = await world.call('getMessage', { token: world.a.adminToken, params: { messageId: id! } });
    expect(held.body.message.channel).toBe('sms');
    const wait = new Date(held.body.message.notBefore as string).getTime() - Date.now();
    expect(wait).toBeGreaterThan(110 * 60 * 1000);
    expect(wait).toBeLessThanOrEqual(120 * 60 * 1000);
    await runJobs();
    expect((await message(id!)).status).toBe('queued');
    expect(sms.requests.some((r) => r.body.phone_number === '+447700900456')).toBe(false);
  });
});

describe('quiet hours at a retry', () => {
  const london = new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Europe/London',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  });
  const inMinutes = (minutes: number) => london.format(new Date(Date.now() + minutes * 60_000));

  /** A caseworker with an SMS number, and the tenant sending tasks.overdue by SMS with these quiet hours. */
  async function smsWorker(phone: string, quietHours: { start: string; end: string }) {
    const worker = await world.addUser(world.a, ['caseworker']);
    const prefs = await world.call('getMyNotificationPreferences', { token: worker.token });
    await world.call('updateMyNotificationPreferences', {
      token: worker.token,
      headers: { 'If-Match': prefs.headers.get('etag')! },
      body: { smsNumber: phone },
    });
    await setQuietHours(quietHours);
    return worker;
  }

  async function setQuietHours(quietHours: { start: string; end: string }) {
    const settings = await world.call('getNotificationSettings', { token: world.a.adminToken });
    const updated = await world.call('updateNotificationSettings', {
      token: world.a.adminToken,
      headers: { 'If-Match': settings.headers.get('etag')! },
      body: { events: { 'tasks.overdue': { enabled: true, channels: ['sms'] } }, quietHours },
    });
    expect(updated.status).toBe(200);
  }

  const job = async (messageId: string) =>
    (await world.db('jobs').where({ tenant_id: world.a.id, unique_key: messageId }).first()) as {
      status: string;
      attempts: number;
      run_after: Date;
    };
  const minutesFromNow = (at: Date | string) => (new Date(at).getTime() - Date.now()) / 60_000;
  const sentTo = (phone: string) => sms.requests.filter((r) => r.body.phone_number === phone).length;

  it("puts a retry that would fall inside them off to their end, in the tenant's time zone", async () => {
    // Quiet from an hour from now for two hours: the first try is not held, a retry 90 minutes on would be.
    const worker = await smsWorker('+447700900601', { start: inMinutes(60), end: inMinutes(180) });
    const [id] = await notify({
      event: 'tasks.overdue',
      occurrence: 'reminder-retry-quiet',
      recipients: [{ userId: worker.id, email: worker.email }],
      data: { dueDate: '2026-12-01' },
    });
    expect((await message(id!)).status).toBe('queued');
    sms.failNext(1);
    await runDueJobs(world.db, {
      handlers: jobHandlers(),
      services: world.server.services,
      backoffMs: () => 90 * 60_000,
    });
    expect(sentTo('+447700900601')).toBe(1);
    const after = await world.call('getMessage', { token: world.a.adminToken, params: { messageId: id! } });
    expect(after.body.message).toMatchObject({ status: 'queued', attempts: 1 });
    // Not 90 minutes on (inside the quiet hours) but at their end, three hours on.
    const notBefore = minutesFromNow(after.body.message.notBefore as string);
    expect(notBefore).toBeGreaterThan(170);
    expect(notBefore).toBeLessThanOrEqual(180);
    const retry = await job(id!);
    expect(retry.status).toBe('queued');
    expect(Math.abs(minutesFromNow(retry.run_after) - notBefore)).toBeLessThan(0.1);
  });

  it('does not send a retry claimed inside them (set since it was queued): it waits for their end, the attempt not counted', async () => {
    const worker = await smsWorker('+447700900602', { start: inMinutes(60), end: inMinutes(180) });
    const [id] = await notify({
      event: 'tasks.overdue',
      occurrence: 'reminder-retry-claimed-quiet',
      recipients: [{ userId: worker.id, email: worker.email }],
      data: { dueDate: '2026-12-01' },
    });
    sms.failNext(1);
    await runDueJobs(world.db, { handlers: jobHandlers(), services: world.server.services, backoffMs: () => 60_000 });
    expect(sentTo('+447700900602')).toBe(1);
    // The retry, a minute on, is outside the quiet hours; then its time comes, and the tenant's quiet hours start now.
    expect(await message(id!)).toMatchObject({ status: 'queued', attempts: 1 });
    const due = await job(id!);
    expect(minutesFromNow(due.run_after)).toBeGreaterThan(0.5);
    expect(minutesFromNow(due.run_after)).toBeLessThanOrEqual(1);
    await world.db('jobs').where({ tenant_id: world.a.id, unique_key: id! }).update({ run_after: world.db.fn.now() });
    await setQuietHours({ start: inMinutes(0), end: inMinutes(120) });
    await runJobs();
    expect(sentTo('+447700900602')).toBe(1);
    const held = await world.call('getMessage', { token: world.a.adminToken, params: { messageId: id! } });
    expect(held.body.message).toMatchObject({ status: 'queued', attempts: 1 });
    expect(held.body.deliveryAttempts).toHaveLength(1);
    const notBefore = minutesFromNow(held.body.message.notBefore as string);
    expect(notBefore).toBeGreaterThan(110);
    expect(notBefore).toBeLessThanOrEqual(120);
    const later = await job(id!);
    expect(later).toMatchObject({ status: 'queued', attempts: due.attempts });
    expect(Math.abs(minutesFromNow(later.run_after) - notBefore)).toBeLessThan(0.1);
    // Their end comes: it is sent.
    await world.db('jobs').where({ tenant_id: world.a.id, unique_key: id! }).update({ run_after: world.db.fn.now() });
    await setQuietHours({ start: inMinutes(240), end: inMinutes(300) });
    await runJobs();
    expect(sentTo('+447700900602')).toBe(2);
    expect(await message(id!)).toMatchObject({ status: 'sent', attempts: 2 });
  });
});

describe('policies and preferences', () => {
  it('lets a person opt out of an event that is not critical, and refuses opting out of a critical one', async () => {
    const person = await world.addUser(world.a, ['caseworker']);
    const prefs = await world.call('getMyNotificationPreferences', { token: person.token });
    const refused = await world.call('updateMyNotificationPreferences', {
      token: person.token,
      headers: { 'If-Match': prefs.headers.get('etag')! },
      body: { optedOut: [{ event: 'auth.password_reset', channel: 'email' }] },
    });
    expect(refused.status).toBe(422);
    expect(refused.body.errors).toEqual([
      { pointer: '/body/optedOut/0/event', message: 'is a critical event, which cannot be opted out of' },
    ]);
    const saved = await world.call('updateMyNotificationPreferences', {
      token: person.token,
      headers: { 'If-Match': prefs.headers.get('etag')! },
      body: { optedOut: [{ event: 'claims.decided', channel: 'email' }] },
    });
    expect(saved.status).toBe(200);
    const written = await notify({
      event: 'claims.decided',
      occurrence: 'claim-9',
      recipients: [{ userId: person.id, email: person.email }],
      data: { decision: 'approved' },
    });
    const rows = await ownerRows<{ channel: string }>(
      world.db,
      world.a.id,
      'SELECT channel FROM outbound_messages WHERE tenant_id = ? AND id = ANY(?)',
      [world.a.id, written],
    );
    expect(rows.map((r) => r.channel)).toEqual(['inapp']);
  });

  it('refuses turning off a critical event and a channel the pack has no wording for, naming each field', async () => {
    const settings = await world.call('getNotificationSettings', { token: world.a.adminToken });
    const refused = await world.call('updateNotificationSettings', {
      token: world.a.adminToken,
      headers: { 'If-Match': settings.headers.get('etag')! },
      body: {
        events: {
          'auth.password_reset': { enabled: false, channels: ['email'] },
          'claims.decided': { enabled: true, channels: ['sms'] },
        },
      },
    });
    expect(refused.status).toBe(422);
    expect(refused.body.errors.map((e: { pointer: string }) => e.pointer)).toEqual([
      '/body/events/auth.password_reset/enabled',
      '/body/events/claims.decided/channels/0',
    ]);
    const stale = await world.call('updateNotificationSettings', {
      token: world.a.adminToken,
      headers: { 'If-Match': '"999"' },
      body: { quietHours: null },
    });
    expect(stale.status).toBe(412);
  });
});

describe('the communication log', () => {
  it('lists messages by record, and hides those about a restricted child from whoever cannot see the child', async () => {
    const child = await world.call('createChild', {
      token: world.a.adminToken,
      body: { givenName: 'Logged', familyName: 'Child', dateOfBirth: '2015-03-02', sex: 'female' },
    });
    expect(child.status).toBe(201);
    const childId = child.body.id as string;
    const [id] = await notify({
      event: 'carers.check_expiring',
      occurrence: 'check-child',
      recipients: [{ email: 'worker@tenant-a.test' }],
      data: { expiresOn: '2027-01-01' },
      records: { childId },
    });
    const outsider = await world.addUser(world.a, ['supervisor']);
    const byChild = await world.call('listMessages', { token: outsider.token, query: { childId } });
    expect(byChild.body.data.map((m: { id: string }) => m.id)).toEqual([id]);
    const restricted = await world.call('setChildRestriction', {
      token: world.a.adminToken,
      params: { childId },
      headers: { 'If-Match': child.headers.get('etag')! },
      body: { restricted: true, allowedUserIds: [world.a.adminId] },
    });
    expect(restricted.status).toBe(200);
    expect((await world.call('listMessages', { token: outsider.token, query: { childId } })).body.data).toEqual([]);
    expect((await world.call('getMessage', { token: outsider.token, params: { messageId: id! } })).status).toBe(404);
    expect((await world.call('getMessage', { token: world.a.adminToken, params: { messageId: id! } })).status).toBe(
      200,
    );
    // Another tenant does not see it at all.
    expect((await world.call('getMessage', { token: world.b.adminToken, params: { messageId: id! } })).status).toBe(
      404,
    );
  });
});
