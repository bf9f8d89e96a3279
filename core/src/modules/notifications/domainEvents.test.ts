import { loadConfig } from '../../config';
import { inTenantTransaction } from '../../db/tenantTransaction';
import { jobHandlers } from '../../jobs/handlers';
import { enqueue } from '../../jobs/queue';
import { runDueJobs } from '../../jobs/worker';
import { loadPacks } from '../../packs/registry';
import { ownerRows, startWorld, type TenantFixture, type World } from '../../../../test/support/harness';
import { startSmtpServer, type ReceivedMail, type TestSmtpServer } from '../../../../test/support/smtp';
import { ok, unique, type FixtureContext } from '../../../../test/support/fixtureKit';
import {
  daysFromToday,
  makeCheck,
  makeHousehold,
  makeMember,
  makePanelItem,
} from '../../../../test/support/fixtures/carers';
import { makeSubmittedClaim } from '../../../../test/support/fixtures/claims';
import { runPayingClaim } from '../../../../test/support/fixtures/payments';
import { CHECK_EXPIRY_JOB, checkExpiryKey } from '../carers/checkExpiry';
import { todayIn } from '../../time';
import { NOTIFICATION_EVENTS } from './catalogue';
import { renderMessage } from './render';

let world: World;
let smtp: TestSmtpServer;

beforeAll(async () => {
  smtp = await startSmtpServer();
  const notifications = loadConfig({
    NODE_ENV: 'test',
    HEARTH_EMAIL_CHANNEL: 'smtp',
    HEARTH_EMAIL_TARGET: smtp.url,
    HEARTH_EMAIL_FROM: 'Hearth <no-reply@hearth.test>',
    HEARTH_APP_URL: 'https://app.hearth.test',
  }).notifications;
  world = await startWorld({ notifications });
});

afterAll(async () => {
  await world?.close();
  await smtp?.close();
});

const runJobs = () =>
  runDueJobs(world.db, { handlers: jobHandlers(), services: world.server.services, backoffMs: () => 0 });

const ctxOf = (tenant: TenantFixture): FixtureContext => ({ world, tenant });

/** The mail that arrived for an address since `from` (an index into smtp.received). */
function mailTo(address: string, from = 0): ReceivedMail[] {
  return smtp.received.slice(from).filter((m) => m.to.includes(address.toLowerCase()));
}

async function messagesOf(tenantId: string, event: string, where = 'TRUE', bindings: unknown[] = []) {
  return ownerRows<{
    channel: string;
    recipient: string;
    status: string;
    subject: string | null;
    body: string | null;
    template_version: string | null;
    household_id: string | null;
    child_id: string | null;
    claim_id: string | null;
    payment_run_id: string | null;
    critical: boolean;
  }>(
    world.db,
    tenantId,
    `SELECT channel, recipient, status, subject, body, template_version, household_id, child_id, claim_id,
            payment_run_id, critical
       FROM outbound_messages WHERE tenant_id = ? AND event = ? AND ${where} ORDER BY channel, recipient`,
    [tenantId, event, ...bindings],
  );
}

/** Gives a household its own address (carers have no logins: this is how they hear). */
async function giveEmail(tenant: TenantFixture, householdId: string, email: string): Promise<void> {
  const read = await world.call('getCarerHousehold', { token: tenant.adminToken, params: { householdId } });
  await ok(
    await world.call('updateCarerHousehold', {
      token: tenant.adminToken,
      params: { householdId },
      headers: { 'if-match': `"${read.body.version}"` },
      body: { email },
    }),
    200,
    'updateCarerHousehold',
  );
}

describe('a household has an address of its own', () => {
  it('is kept, shown, and refused when it is not an email', async () => {
    const h = await makeHousehold(ctxOf(world.a));
    await giveEmail(world.a, h.id, 'the-smiths@example.test');
    const read = await world.call('getCarerHousehold', { token: world.a.adminToken, params: { householdId: h.id } });
    expect(read.body.email).toBe('the-smiths@example.test');
    const bad = await world.call('updateCarerHousehold', {
      token: world.a.adminToken,
      params: { householdId: h.id },
      headers: { 'if-match': `"${read.body.version}"` },
      body: { email: 'not an email' },
    });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('/body/email');
  });
});

describe('claims.decided', () => {
  it('tells who submitted the claim and the household, by email and in-app, with a reference only', async () => {
    const ctx = ctxOf(world.a);
    const claim = await makeSubmittedClaim(ctx);
    const read = await world.call('getClaim', { token: world.a.adminToken, params: { claimId: claim.id } });
    const householdId = read.body.householdId as string;
    await giveEmail(world.a, householdId, 'claimant-household@example.test');
    const before = smtp.received.length;
    await ok(
      await world.call('rejectClaim', {
        token: world.a.adminToken,
        params: { claimId: claim.id },
        body: { reasons: 'No receipt for the uniform.' },
      }),
      200,
      'rejectClaim',
    );
    await runJobs();
    const messages = await messagesOf(world.a.id, 'claims.decided', 'claim_id = ?', [claim.id]);
    const submitter = read.body.submittedBy as string;
    expect(messages.map((m) => [m.channel, m.recipient, m.status])).toEqual(
      expect.arrayContaining([
        ['email', 'claimant-household@example.test', 'sent'],
        ['inapp', submitter, 'delivered'],
      ]),
    );
    expect(messages).toHaveLength(3);
    const [mail] = mailTo('claimant-household@example.test', before);
    expect(mail!.subject).toBe('Your claim was rejected');
    expect(mail!.text).toContain(`https://app.hearth.test/claims/${claim.id}`);
    // Why it was refused stays in Hearth: the message carries a link and a reference only.
    expect(mail!.text).not.toContain('uniform');
  });
});

describe('payments.run_finalised and payments.remittance_ready', () => {
  it('tells finance the run is final and each paid household with an address that its remittance is ready', async () => {
    const ctx = ctxOf(world.a);
    // The claimant household is the one the run pays: give it an address before the run is finalised.
    const claim = await makeSubmittedClaim(ctx);
    const householdId = (await world.call('getClaim', { token: world.a.adminToken, params: { claimId: claim.id } }))
      .body.householdId as string;
    await giveEmail(world.a, householdId, 'paid-household@example.test');
    const before = smtp.received.length;
    const { runId } = await runPayingClaim(ctx, 'finalised');
    await runJobs();
    const run = (await world.call('getPaymentRun', { token: world.a.adminToken, params: { runId } })).body;

    const finance = await messagesOf(world.a.id, 'payments.run_finalised', 'payment_run_id = ?', [runId]);
    // In-app by default, to who calculated (the finance officer) and who approved and finalised (the admin).
    expect(finance.map((m) => m.channel)).toEqual(['inapp', 'inapp']);
    expect(finance.map((m) => m.recipient)).toEqual(expect.arrayContaining([world.a.adminId]));
    expect(finance.every((m) => m.status === 'delivered')).toBe(true);
    expect(finance[0]!.subject).toBe(`Payment run ${run.reference} finalised`);

    const remittances = await messagesOf(world.a.id, 'payments.remittance_ready', 'payment_run_id = ?', [runId]);
    expect(remittances).toEqual([
      expect.objectContaining({
        channel: 'email',
        recipient: 'paid-household@example.test',
        status: 'sent',
        household_id: householdId,
      }),
    ]);
    // The household also heard its claim was approved; the remittance is the other message.
    const mail = mailTo('paid-household@example.test', before).find((m) => m.subject.includes('remittance'));
    expect(mail!.subject).toBe('Your remittance advice from Tenant tenant-a is ready');
    expect(mail!.text).toContain(`/payment-runs/${runId}/households/${householdId}/remittance`);
  });

  it('writes thousands of households in a few statements, each its own message even where two share an address', async () => {
    const households = 2500;
    const { written, statements } = await inTenantTransaction(world.db, { tenantId: world.b.id }, async (trx) => {
      const ids = await trx.raw(
        `INSERT INTO carer_households (tenant_id, id, name, email, workflow_key, approval_state)
         SELECT ?, gen_random_uuid(), 'Bulk ' || g, 'bulk-' || (g % 2000) || '@example.test', 'x', 'approved'
           FROM generate_series(1, ?) g RETURNING id`,
        [world.b.id, households],
      );
      const { queueNotification } = await import('./outbox');
      let count = 0;
      trx.on('query', () => count++);
      const result = await queueNotification(
        { trx, tenantId: world.b.id },
        {
          event: 'payments.remittance_ready',
          occurrence: 'bulk-run',
          recipients: (ids.rows as Array<{ id: string }>).map((r, i) => ({
            email: `bulk-${(i + 1) % 2000}@example.test`,
            occurrence: `bulk-run:${r.id}`,
            records: { householdId: r.id },
          })),
          data: { paymentDate: '2026-12-04' },
        },
      );
      // Thrown so the transaction rolls back: the bulk households are not the other tests' business.
      throw Object.assign(new Error('roll back'), { result: { written: result.length, statements: count } });
    }).catch((e: { result?: { written: number; statements: number } }) => {
      if (!e.result) throw e;
      return e.result;
    });
    expect(written).toBe(households);
    // Settings, preferences, overrides, then an insert of messages and of jobs per thousand.
    expect(statements).toBeGreaterThan(2);
    expect(statements).toBeLessThanOrEqual(4 + 2 * Math.ceil(households / 1000));
  });
});

describe('carers.panel_date_set', () => {
  it('tells the household its panel date when it is put on the agenda, in the pack’s words', async () => {
    const before = smtp.received.length;
    for (const tenant of [world.a, world.b]) {
      const h = await makeHousehold(ctxOf(tenant));
      const address = `panel-${tenant.slug}@example.test`;
      await giveEmail(tenant, h.id, address);
      const { panelId } = await makePanelItem(ctxOf(tenant), h.id);
      await runJobs();
      const [message] = await messagesOf(tenant.id, 'carers.panel_date_set', 'household_id = ?', [h.id]);
      expect(message).toMatchObject({ channel: 'email', recipient: address, status: 'sent' });
      const [mail] = mailTo(address, before);
      expect(mail!.text).toContain(`/carer-panels/${panelId}`);
      expect(mail!.subject).toBe(
        tenant === world.a
          ? `Your fostering panel date is ${daysFromToday(-3)}`
          : `Your licensing / approval review date is ${daysFromToday(-3)}`,
      );
    }
  });

  it('writes nothing for a household without an address', async () => {
    const h = await makeHousehold(ctxOf(world.a));
    await makePanelItem(ctxOf(world.a), h.id);
    expect(await messagesOf(world.a.id, 'carers.panel_date_set', 'household_id = ?', [h.id])).toEqual([]);
  });
});

describe('carers.check_expiring', () => {
  it('tells the supervising worker at 60 and 30 days, once each, and not about a check being renewed', async () => {
    const worker = await world.addUser(world.a, ['caseworker'], 'supervising-worker@tenant-a.test');
    const h = await makeHousehold(ctxOf(world.a));
    const read = await world.call('getCarerHousehold', { token: world.a.adminToken, params: { householdId: h.id } });
    await ok(
      await world.call('updateCarerHousehold', {
        token: world.a.adminToken,
        params: { householdId: h.id },
        headers: { 'if-match': `"${read.body.version}"` },
        body: { supervisingWorkerId: worker.id },
      }),
      200,
      'updateCarerHousehold',
    );
    const member = await makeMember(ctxOf(world.a), h.id);
    const soon = await makeCheck(ctxOf(world.a), h.id, {
      checkType: 'dbs_enhanced',
      memberId: member.id,
      expiresOn: daysFromToday(45),
    });
    // A medical expiring soon whose renewal is already asked for: not reminded.
    await makeCheck(ctxOf(world.a), h.id, { checkType: 'medical', memberId: member.id, expiresOn: daysFromToday(20) });
    await makeCheck(ctxOf(world.a), h.id, {
      checkType: 'medical',
      memberId: member.id,
      status: 'requested',
      completedOn: undefined,
      expiresOn: undefined,
    });
    // Far off: nothing yet.
    await makeCheck(ctxOf(world.a), h.id, { checkType: 'personal_reference', memberId: member.id });

    const today = todayIn('Europe/London');
    const runFor = async (date: string) => {
      await enqueue(world.db, {
        tenantId: world.a.id,
        kind: CHECK_EXPIRY_JOB,
        uniqueKey: checkExpiryKey(date),
        payload: { date },
      });
      await runJobs();
    };
    const before = smtp.received.length;
    await runFor(today);
    await runFor(today); // the same day again: its unique key runs it once
    const first = await messagesOf(world.a.id, 'carers.check_expiring', 'household_id = ?', [h.id]);
    expect(first.map((m) => [m.channel, m.recipient, m.status])).toEqual([
      ['email', worker.email, 'sent'],
      ['inapp', worker.id, 'delivered'],
    ]);
    const [mail] = mailTo(worker.email, before);
    expect(mail!.subject).toBe(`A fostering household's check expires on ${daysFromToday(45)}`);
    expect(mail!.text).toContain('as its supervising social worker');
    expect(mail!.text).toContain(`/carer-households/${h.id}`);

    // Twenty days on the check is inside 30 days' notice: a second reminder, and only one.
    const later = daysFromToday(20);
    await runFor(later);
    await inTenantTransaction(world.db, { tenantId: world.a.id }, async (trx) => {
      const { notifyExpiringChecks } = await import('../carers/checkExpiry');
      expect((await notifyExpiringChecks({ trx, tenantId: world.a.id }, { date: later })).messages).toBe(0);
    });
    const all = await messagesOf(world.a.id, 'carers.check_expiring', 'household_id = ?', [h.id]);
    expect(all).toHaveLength(4);
    expect(soon.id).toBeTruthy();
    const audits = await ownerRows<{ n: number }>(
      world.db,
      world.a.id,
      `SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = ? AND action = 'carer_checks.expiry_notified'`,
      [world.a.id],
    );
    expect(audits[0]!.n).toBe(2);
  });
});

const CHILD = { givenName: 'Zephyrine', familyName: 'Quillfeather' };

describe('children.safeguarding_alert', () => {
  it('tells the allocated worker at once, on every channel, however they chose, with no word of the child', async () => {
    const worker = await world.addUser(world.a, ['caseworker'], 'allocated-worker@tenant-a.test');
    // The worker may not opt out of it, and the tenant may not turn it off.
    const prefs = await world.call('getMyNotificationPreferences', { token: worker.token });
    const optOut = await world.call('updateMyNotificationPreferences', {
      token: worker.token,
      headers: { 'if-match': prefs.headers.get('etag')! },
      body: { optedOut: [{ event: 'children.safeguarding_alert', channel: 'email' }] },
    });
    expect(optOut.status).toBe(422);
    const child = await ok(
      await world.call('createChild', {
        token: world.a.adminToken,
        body: { ...CHILD, dateOfBirth: '2014-02-03', sex: 'female', allocatedWorkerId: worker.id },
      }),
      201,
      'createChild',
    );
    const before = smtp.received.length;
    const record = await ok(
      await world.call('createChildCaseRecord', {
        token: world.a.adminToken,
        params: { childId: child.body.id },
        body: {
          kind: 'safeguarding_incident',
          occurredOn: daysFromToday(0),
          summary: `${CHILD.givenName} disclosed an incident`,
          details: { category: 'disclosure', severity: 'high', description: `${CHILD.givenName} ${CHILD.familyName}` },
        },
      }),
      201,
      'createChildCaseRecord',
    );
    // A case note is not a safeguarding concern.
    await ok(
      await world.call('createChildCaseRecord', {
        token: world.a.adminToken,
        params: { childId: child.body.id },
        body: { kind: 'note', occurredOn: daysFromToday(0), details: { text: 'Settled well.' } },
      }),
      201,
      'createChildCaseRecord',
    );
    await runJobs();
    const messages = await messagesOf(world.a.id, 'children.safeguarding_alert', 'child_id = ?', [child.body.id]);
    expect(messages.map((m) => [m.channel, m.recipient, m.status, m.critical])).toEqual([
      ['email', worker.email, 'sent', true],
      ['inapp', worker.id, 'delivered', true],
    ]);
    const [mail] = mailTo(worker.email, before);
    expect(mail!.subject).toBe('Safeguarding alert on a case you hold');
    expect(mail!.text).toContain(`/children/${child.body.id}/records/${record.body.id}`);
  });

  it('raises one for a missing episode too', async () => {
    const child = await ok(
      await world.call('createChild', {
        token: world.a.adminToken,
        body: {
          ...CHILD,
          givenName: unique('Missing'),
          dateOfBirth: '2013-02-03',
          sex: 'male',
          allocatedWorkerId: world.a.adminId,
        },
      }),
      201,
      'createChild',
    );
    await ok(
      await world.call('createChildCaseRecord', {
        token: world.a.adminToken,
        params: { childId: child.body.id },
        body: {
          kind: 'missing_episode',
          occurredOn: daysFromToday(0),
          details: { startedAt: new Date().toISOString(), reportedToPolice: true },
        },
      }),
      201,
      'createChildCaseRecord',
    );
    const messages = await messagesOf(world.a.id, 'children.safeguarding_alert', 'child_id = ?', [child.body.id]);
    expect(messages.map((m) => m.recipient)).toEqual([world.a.adminEmail, world.a.adminId]);
  });
});

describe('no email about a child carries its name', () => {
  it('scans every email this suite sent, and every pack template rendered with a named child in its data', async () => {
    // The safeguarding alert about the named child is among them.
    expect(smtp.received.some((m) => m.subject === 'Safeguarding alert on a case you hold')).toBe(true);
    expect(smtp.received.length).toBeGreaterThan(5);
    for (const mail of smtp.received) {
      for (const name of [CHILD.givenName, CHILD.familyName]) {
        expect(mail.subject).not.toContain(name);
        expect(mail.text).not.toContain(name);
        expect(mail.parsed.html || '').not.toContain(name);
      }
    }
    // The wording itself: no template reaches for a child's details even where the data held them.
    const packs = loadPacks();
    for (const packId of ['uk', 'usa']) {
      const pack = packs.resolve(packId);
      for (const event of Object.keys(NOTIFICATION_EVENTS)) {
        const item = pack.points.notifications.get(event);
        expect(item).toBeDefined();
        for (const medium of Object.keys(item!.value.channels) as Array<'email' | 'sms' | 'inapp'>) {
          const named = { givenName: CHILD.givenName, familyName: CHILD.familyName, name: CHILD.givenName };
          const rendered = renderMessage(pack, event, medium, {
            ...(item!.value.sampleData as Record<string, unknown>),
            child: named,
            ...named,
          });
          for (const part of [rendered.subject ?? '', rendered.text, rendered.html ?? ''])
            expect(part).not.toContain(CHILD.givenName);
        }
      }
    }
  });
});

describe("a tenant's own wording", () => {
  const path = { event: 'claims.decided', channel: 'email' };
  const put = (body: Record<string, unknown>, params: Record<string, string> = path, token = world.a.adminToken) =>
    world.call('overrideNotificationTemplate', { token, params, body });

  it('is checked before it is stored: it compiles, uses only what the event renders with, fits the channel', async () => {
    const base = { effectiveFrom: daysFromToday(0), description: 'Plainer words' };
    const unknownVariable = await put({
      ...base,
      subject: 'Claim {{decision}}',
      text: 'About {{child.name}}: {{link}}',
    });
    expect(unknownVariable.status).toBe(422);
    expect(unknownVariable.body.errors).toEqual([
      { pointer: '/body/text', message: 'uses {{child.name}}, which claims.decided does not render with' },
    ]);
    const broken = await put({ ...base, subject: 'Claim {{decision', text: 'x' });
    expect(broken.status).toBe(422);
    expect(broken.body.errors[0]).toMatchObject({
      pointer: '/body/subject',
      message: expect.stringContaining('does not compile'),
    });
    const noSubject = await put({ ...base, text: 'Your claim was {{decision}}.' });
    expect(noSubject.body.errors).toEqual([{ pointer: '/body/subject', message: 'is required for email' }]);
    const smsSubject = await put(
      { ...base, subject: 'x', text: '{{service.name}}: alert {{reference}}' },
      { event: 'children.safeguarding_alert', channel: 'sms' },
    );
    expect(smsSubject.body.errors).toEqual([{ pointer: '/body/subject', message: 'an SMS has no subject' }]);
    const noPackWording = await put(
      { ...base, subject: 'x', text: 'y' },
      { event: 'auth.password_reset', channel: 'inapp' },
    );
    expect(noPackWording.status).toBe(404);
    const unknownTerm = await put({ ...base, subject: 'x', text: '{{terms.notATerm}}' });
    expect(unknownTerm.body.errors[0].message).toContain('{{terms.notATerm}}');
    const caseworker = await world.addUser(world.a, ['caseworker']);
    expect((await put({ ...base, subject: 'x', text: 'y' }, path, caseworker.token)).status).toBe(403);
    expect(
      (await world.call('getNotificationTemplate', { token: world.a.adminToken, params: path })).body.overrides,
    ).toEqual([]);
  });

  it('is versioned and dated, audited, previewed, and what a real message is rendered from', async () => {
    const listed = await world.call('listNotificationTemplates', { token: world.a.adminToken });
    expect(listed.status).toBe(200);
    expect(listed.body.data).toContainEqual(
      expect.objectContaining({ ...path, layer: 'pack:uk', version: 1, effectiveFrom: null }),
    );
    const v1 = await put({
      effectiveFrom: daysFromToday(0),
      description: 'Plainer words',
      subject: '{{service.name}}: claim {{decision}}',
      text: 'Dear {{recipient.name}}, the {{terms.carerHousehold}} claim {{reference}} was {{decision}}. {{link}}',
    });
    expect(v1.status).toBe(201);
    expect(v1.body).toMatchObject({ version: 1, effectiveFrom: daysFromToday(0), createdBy: world.a.adminId });
    const v2 = await put({
      effectiveFrom: daysFromToday(30),
      description: 'Next month',
      subject: 'Later wording {{decision}}',
      text: 'Later {{link}}',
    });
    expect(v2.body.version).toBe(2);
    const audits = await ownerRows<{ entity_id: string }>(
      world.db,
      world.a.id,
      `SELECT entity_id FROM audit_events WHERE tenant_id = ? AND action = 'notification_template.overridden' ORDER BY seq`,
      [world.a.id],
    );
    expect(audits.map((a) => a.entity_id)).toEqual([v1.body.id, v2.body.id]);

    const detail = await world.call('getNotificationTemplate', { token: world.a.adminToken, params: path });
    expect(detail.body.effective).toMatchObject({ layer: 'tenant', version: 1 });
    expect(detail.body.overrides.map((o: { version: number }) => o.version)).toEqual([2, 1]);
    expect(detail.body.pack.subject).toBe('Your claim was {{decision}}');

    const preview = await world.call('previewNotificationTemplate', { token: world.a.adminToken, params: path });
    expect(preview.body).toMatchObject({
      subject: 'Tenant tenant-a: claim approved',
      templateVersion: 'tenant:claims.decided@1',
    });
    expect(preview.body.text).toContain('the fostering household claim claim-3c1d was approved');
    const draft = await world.call('previewNotificationTemplate', {
      token: world.a.adminToken,
      params: { event: 'payments.remittance_ready', channel: 'email' },
      body: { subject: 'Your {{terms.allowance}}', text: 'Paid on {{paymentDate}}' },
    });
    expect(draft.body).toMatchObject({
      subject: 'Your fostering allowance',
      text: 'Paid on 2026-12-04',
      templateVersion: 'draft',
    });
    // The other tenant's pack wording is untouched.
    const other = await world.call('previewNotificationTemplate', {
      token: world.b.adminToken,
      params: { event: 'payments.remittance_ready', channel: 'email' },
    });
    expect(other.body.subject).toBe('Your provider payment statement from Tenant tenant-b is ready');

    // A real decision is worded by the override in effect today, and the log says which.
    const claim = await makeSubmittedClaim(ctxOf(world.a));
    const householdId = (await world.call('getClaim', { token: world.a.adminToken, params: { claimId: claim.id } }))
      .body.householdId as string;
    await giveEmail(world.a, householdId, 'overridden@example.test');
    const before = smtp.received.length;
    await ok(
      await world.call('approveClaim', { token: world.a.adminToken, params: { claimId: claim.id }, body: {} }),
      200,
      'approveClaim',
    );
    await runJobs();
    const [mail] = mailTo('overridden@example.test', before);
    expect(mail!.subject).toBe('Tenant tenant-a: claim approved');
    expect(mail!.text).toContain(`the fostering household claim ${claim.id.slice(0, 8)} was approved`);
    const messages = await messagesOf(world.a.id, 'claims.decided', 'claim_id = ? AND channel = ?', [
      claim.id,
      'email',
    ]);
    expect(messages.map((m) => m.template_version)).toEqual(['tenant:claims.decided@1', 'tenant:claims.decided@1']);
    // In-app keeps the pack's wording: the override is for email only.
    const inapp = await messagesOf(world.a.id, 'claims.decided', 'claim_id = ? AND channel = ?', [claim.id, 'inapp']);
    expect(inapp[0]!.template_version).toBe('uk:claims.decided@1');
  });
});
