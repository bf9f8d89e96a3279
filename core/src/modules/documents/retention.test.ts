import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadPacks, DEFAULT_PACK_ROOTS } from '../../packs/registry';
import type { RetentionRule } from '../../packs/types';
import { todayIn } from '../../time';
import { scheduleDailyJobs } from '../../jobs/runner';
import { ownerRows, startWorld, type TenantFixture, type World } from '../../../../test/support/harness';
import { unique } from '../../../../test/support/fixtureKit';
import { makeHousehold } from '../../../../test/support/fixtures/carers';
import { runAt, runJobs } from '../../../../test/support/fixtures/payments';
import { jobHandlers } from '../../jobs/handlers';
import { runDueJobs } from '../../jobs/worker';
import { dueUnder, monthsAfterNotEarly, standingFor } from './retentionRules';

/** The smallest PDF a reader opens: enough for the type to be told from its bytes. */
const PDF = Buffer.from(
  '%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n',
);

let world: World;
/** A second administrator of A: approves what A's first one asks for. */
let approver: { id: string; token: string };
let caseworker: { id: string; token: string };
beforeAll(async () => {
  world = await startWorld();
  approver = await world.addUser(world.a, ['tenant_admin']);
  caseworker = await world.addUser(world.a, ['caseworker']);
  // Migrating a fresh embedded database on a loaded machine takes longer than one test may.
}, 300_000);
afterAll(async () => {
  await world?.close();
}, 120_000);

async function child(tenant: TenantFixture, dateOfBirth: string): Promise<string> {
  const r = await world.call('createChild', {
    token: tenant.adminToken,
    body: { givenName: unique('Kept'), familyName: 'Record', dateOfBirth, sex: 'female' },
  });
  expect(r.status).toBe(201);
  return r.body.id as string;
}

/** A household whose approval ended on the day given (as a deregistration records it), or never. */
async function household(tenant: TenantFixture, approvalEndedOn: string | null): Promise<string> {
  const { id } = await makeHousehold({ world, tenant });
  if (approvalEndedOn)
    await ownerRows(world.db, tenant.id, 'UPDATE carer_households SET approval_ended_on = ? WHERE id = ?', [
      approvalEndedOn,
      id,
    ]);
  return id;
}

async function upload(
  tenant: TenantFixture,
  subjectType: string,
  subjectId: string,
  category: string,
  title = 'Kept document',
): Promise<{ id: string; version: number }> {
  const r = await world.call('uploadDocument', {
    token: tenant.adminToken,
    multipart: {
      fields: { subjectType, subjectId, category, title },
      file: { filename: `${title}.pdf`, bytes: PDF, type: 'application/pdf' },
    },
  });
  expect(r.status).toBe(201);
  return { id: r.body.id as string, version: r.body.version as number };
}

interface DueItem {
  documentId: string;
  rule: { key: string; source: string; startEvent: string };
  eventOn: string;
  dueOn: string;
  held: boolean;
  holdIds: string[];
}

async function dueOn(asOf: string, tenant: TenantFixture = world.a, token = tenant.adminToken): Promise<DueItem[]> {
  const found: DueItem[] = [];
  let cursor: string | undefined;
  do {
    const r = await world.call('listRetentionDue', {
      token,
      query: { asOf, limit: 200, ...(cursor ? { cursor } : {}) },
    });
    expect(r.status).toBe(200);
    expect(r.body.asOf).toBe(asOf);
    found.push(...(r.body.data as DueItem[]));
    cursor = r.body.nextCursor ?? undefined;
  } while (cursor);
  return found;
}

const listed = (items: DueItem[], id: string) => items.find((d) => d.documentId === id);

/** Every object the filesystem store holds. */
function storedObjects(): string[] {
  const root = world.config.documents.target;
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }) : []) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else found.push(path.relative(root, full).split(path.sep).join('/'));
    }
  };
  walk(root);
  return found;
}

async function versionRows(documentId: string) {
  return ownerRows<{ number: number; object_key: string | null; sha256: string }>(
    world.db,
    world.a.id,
    'SELECT number, object_key, sha256 FROM document_versions WHERE document_id = ? ORDER BY number',
    [documentId],
  );
}

async function request(documentIds: string[], token = world.a.adminToken) {
  return world.call('createDestructionRequest', { token, body: { documentIds, note: 'Past retention' } });
}

describe('the rules', () => {
  const rule = (key: string, years: number, startEvent: RetentionRule['startEvent'] = 'approval_ended') =>
    ({
      key,
      name: key,
      documents: { subjectTypes: ['household'] },
      startEvent,
      period: { years },
      source: 'cited',
    }) as RetentionRule;

  test('a period never ends a day early: 29 February runs out on 1 March in a common year', () => {
    expect(monthsAfterNotEarly('2016-02-29', 120)).toBe('2026-03-01');
    expect(monthsAfterNotEarly('2016-02-29', 96)).toBe('2024-02-29');
    expect(monthsAfterNotEarly('2015-03-10', 120)).toBe('2025-03-10');
    // The 75th birthday of a child born on 29 February 2000 is 1 March 2075.
    expect(standingFor(rule('c', 0, 'child_75th_birthday'), '2000-02-29')).toMatchObject({
      eventOn: '2075-03-01',
      dueOn: '2075-03-01',
    });
  });

  test('no rule is never due; under several, the one that runs out last decides, and one not started holds it', () => {
    const document = {
      id: 'x',
      subjectType: 'household' as const,
      subjectId: 'y',
      childId: null,
      householdId: 'y',
      category: 'other',
      title: 't',
    };
    expect(dueUnder({ document, rules: [] }, '2999-01-01')).toBeNull();
    const both = {
      document,
      rules: [standingFor(rule('ten', 10), '2000-01-01'), standingFor(rule('three', 3), '2000-01-01')],
    };
    expect(dueUnder(both, '2009-12-31')).toBeNull();
    expect(dueUnder(both, '2010-01-01')).toMatchObject({ rule: { key: 'ten' }, dueOn: '2010-01-01' });
    const notStarted = {
      document,
      rules: [standingFor(rule('three', 3), '2000-01-01'), standingFor(rule('p', 1), null)],
    };
    expect(dueUnder(notStarted, '2999-01-01')).toBeNull();
  });

  test('England and the USA baseline carry cited rules; a state pack replaces a rule by its key', () => {
    const packs = loadPacks();
    const uk = packs.resolve('uk').points.retention;
    expect(uk.get('carer-case-record')?.value).toMatchObject({
      startEvent: 'approval_ended',
      period: { years: 10 },
      source: expect.stringContaining('SI 2011/581), regulation 32(1)'),
    });
    expect(uk.get('child-case-record')?.value).toMatchObject({
      startEvent: 'child_75th_birthday',
      source: expect.stringContaining('SI 2010/959), regulation 50'),
    });
    const ca = packs.resolve('usa/ca').points.retention;
    expect(ca.get('federal-award-payment-runs')).toMatchObject({
      layer: 'usa',
      value: {
        startEvent: 'payment_run_finalised',
        period: { years: 3 },
        source: expect.stringContaining('45 CFR 75.361'),
      },
    });

    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-retention-pack-'));
    try {
      const state = path.join(root, 'usa-x', 'states', 'zz');
      fs.mkdirSync(state, { recursive: true });
      fs.writeFileSync(path.join(root, 'usa-x', 'README'), 'a state only');
      fs.writeFileSync(
        path.join(state, 'pack.json'),
        JSON.stringify({
          id: 'usa/zz',
          version: '1.0.0',
          name: 'A test state',
          jurisdiction: 'US-ZZ',
          currency: 'USD',
          defaultTimeZone: 'America/Chicago',
          extends: 'usa',
          retention: 'retention.json',
        }),
      );
      const rules = {
        rules: [
          { ...ca.get('federal-award-claims')!.value, period: { years: 5 }, source: 'A test state statute, s. 1' },
        ],
      };
      fs.writeFileSync(path.join(state, 'retention.json'), JSON.stringify(rules));
      const zz = loadPacks([...DEFAULT_PACK_ROOTS, root]).resolve('usa/zz').points.retention;
      expect(zz.get('federal-award-claims')).toMatchObject({ layer: 'usa/zz', value: { period: { years: 5 } } });
      expect(zz.get('federal-award-payment-runs')).toMatchObject({ layer: 'usa', value: { period: { years: 3 } } });

      // A category the pack's list lacks is a start-up error naming the rule.
      const bad = { rules: [{ ...rules.rules[0], documents: { categories: ['no_such_category'] } }] };
      fs.writeFileSync(path.join(state, 'retention.json'), JSON.stringify(bad));
      expect(() => loadPacks([...DEFAULT_PACK_ROOTS, root])).toThrow(
        /rules\/0\/documents\/categories\/0.*no_such_category/,
      );
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('the dry run', () => {
  test("England: a carer's documents fall due 10 years after approval ended, and not a day before", async () => {
    const ended = await household(world.a, '2015-03-10');
    const leap = await household(world.a, '2016-02-29');
    const approved = await household(world.a, null);
    const doc = await upload(world.a, 'household', ended, 'dbs_certificate');
    const leapDoc = await upload(world.a, 'household', leap, 'reference');
    const current = await upload(world.a, 'household', approved, 'reference');

    expect(listed(await dueOn('2025-03-09'), doc.id)).toBeUndefined();
    const due = listed(await dueOn('2025-03-10'), doc.id);
    expect(due).toMatchObject({
      rule: { key: 'carer-case-record', startEvent: 'approval_ended' },
      eventOn: '2015-03-10',
      dueOn: '2025-03-10',
      held: false,
      holdIds: [],
    });
    expect(due!.rule.source).toContain('regulation 32(1)');
    expect(listed(await dueOn('2026-02-28'), leapDoc.id)).toBeUndefined();
    expect(listed(await dueOn('2026-03-01'), leapDoc.id)).toMatchObject({ dueOn: '2026-03-01' });
    // A household still approved has no end to count from: never due.
    expect(listed(await dueOn('2199-01-01'), current.id)).toBeUndefined();
  });

  test("England: a child's case record documents fall due on the 75th birthday", async () => {
    const id = await child(world.a, '1950-06-15');
    const plan = await upload(world.a, 'child', id, 'care_plan');
    expect(listed(await dueOn('2025-06-14'), plan.id)).toBeUndefined();
    expect(listed(await dueOn('2025-06-15'), plan.id)).toMatchObject({
      rule: { key: 'child-case-record', startEvent: 'child_75th_birthday' },
      eventOn: '2025-06-15',
      dueOn: '2025-06-15',
    });
    // A child's documents are fenced like the child: a caseworker without documents:retention is refused.
    const refused = await world.call('listRetentionDue', { token: caseworker.token, query: { asOf: '2025-06-15' } });
    expect(refused.status).toBe(403);
  });

  test('the USA defaults: payment run documents 3 years after the run was finalised (the tenant’s date); carer records have no federal rule', async () => {
    const run = await runAt({ world, tenant: world.b }, 'finalised');
    const evidence = await upload(world.b, 'payment_run', run.id, 'statement');
    const ended = await household(world.b, '2001-01-01');
    const homeStudy = await upload(world.b, 'household', ended, 'home_study');
    const finalisedOn = todayIn('America/Los_Angeles');
    const threeYears = monthsAfterNotEarly(finalisedOn, 36);
    const dayBefore = new Date(Date.parse(`${threeYears}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
    expect(listed(await dueOn(dayBefore, world.b), evidence.id)).toBeUndefined();
    expect(listed(await dueOn(threeYears, world.b), evidence.id)).toMatchObject({
      rule: { key: 'federal-award-payment-runs', startEvent: 'payment_run_finalised' },
      eventOn: finalisedOn,
      dueOn: threeYears,
    });
    expect(listed(await dueOn('2199-01-01', world.b), homeStudy.id)).toBeUndefined();
    // Tenant A sees none of B's, and B none of A's.
    expect(listed(await dueOn(threeYears, world.a), evidence.id)).toBeUndefined();
  });
});

describe('destruction', () => {
  test('asked for, refused to the one who asked, approved by another: bytes gone, hashes kept, a tombstone with no title, audited', async () => {
    const id = await child(world.a, '1940-01-20');
    const doc = await upload(world.a, 'child', id, 'care_plan', 'Secret plan title');
    const second = await world.call('uploadDocumentVersion', {
      token: world.a.adminToken,
      params: { documentId: doc.id },
      multipart: {
        fields: {},
        file: { filename: 'second-name.pdf', bytes: Buffer.concat([PDF, Buffer.from('%2\n')]) },
      },
    });
    expect(second.status).toBe(201);
    const before = await versionRows(doc.id);
    expect(before).toHaveLength(2);
    const keys = before.map((v) => v.object_key!);
    for (const key of keys) expect(storedObjects()).toContain(key);

    const asked = await request([doc.id]);
    expect(asked.status).toBe(201);
    expect(asked.body).toMatchObject({
      status: 'pending',
      requestedBy: world.a.adminId,
      items: [
        { documentId: doc.id, ruleKey: 'child-case-record', eventOn: '2015-01-20', dueOn: '2015-01-20', outcome: null },
      ],
    });
    const requestId = asked.body.id as string;

    const own = await world.call('approveDestructionRequest', {
      token: world.a.adminToken,
      params: { requestId },
      body: {},
    });
    expect(own.status).toBe(403);
    expect(own.body.detail).toContain('Separation of duties');

    const approved = await world.call('approveDestructionRequest', {
      token: approver.token,
      params: { requestId },
      body: { note: 'Checked' },
    });
    expect(approved.status).toBe(202);
    expect(approved.body).toMatchObject({ status: 'approved', decidedBy: approver.id });
    // Approval enqueues the destruction; nothing is destroyed until the job runs.
    expect((await versionRows(doc.id)).every((v) => v.object_key)).toBe(true);
    await runJobs(world);

    for (const key of keys) expect(storedObjects()).not.toContain(key);
    const after = await versionRows(doc.id);
    expect(after).toEqual(before.map((v) => ({ ...v, object_key: null })));
    const got = await world.call('getDocument', { token: world.a.adminToken, params: { documentId: doc.id } });
    expect(got.status).toBe(200);
    expect(got.body.status).toBe('destroyed');
    const download = await world.call('downloadDocument', {
      token: world.a.adminToken,
      params: { documentId: doc.id },
    });
    expect(download.status).toBe(409);

    const done = await world.call('getDestructionRequest', { token: world.a.adminToken, params: { requestId } });
    expect(done.body).toMatchObject({ status: 'done', items: [{ documentId: doc.id, outcome: 'destroyed' }] });
    expect(done.body.completedAt).not.toBeNull();

    const tombstones = await world.call('listTombstones', { token: world.a.adminToken, query: { documentId: doc.id } });
    expect(tombstones.status).toBe(200);
    expect(tombstones.body.data).toEqual([
      expect.objectContaining({
        documentId: doc.id,
        subjectType: 'child',
        subjectId: id,
        category: 'care_plan',
        versionCount: 2,
        sha256s: before.map((v) => v.sha256),
        ruleKey: 'child-case-record',
        startEvent: 'child_75th_birthday',
        eventOn: '2015-01-20',
        dueOn: '2015-01-20',
        requestId,
        requestedBy: world.a.adminId,
        approvedBy: approver.id,
      }),
    ]);
    const stored = await ownerRows(world.db, world.a.id, 'SELECT * FROM retention_tombstones WHERE document_id = ?', [
      doc.id,
    ]);
    const text = JSON.stringify([tombstones.body, stored]);
    for (const secret of ['Secret plan title', 'second-name', '.pdf']) expect(text).not.toContain(secret);

    const audit = await ownerRows<{ action: string; entity_id: string }>(
      world.db,
      world.a.id,
      `SELECT action, entity_id FROM audit_events WHERE entity_id IN (?, ?) ORDER BY seq`,
      [doc.id, requestId],
    );
    expect(audit.map((a) => a.action)).toEqual([
      'document.uploaded',
      'document.version_uploaded',
      'retention.destruction_requested',
      'retention.destruction_approved',
      'document.destroyed',
      'retention.destruction_done',
    ]);
    // Asking again for a destroyed document names it.
    const again = await request([doc.id], approver.token);
    expect(again.status).toBe(422);
    expect(again.body.errors).toEqual([{ pointer: '/body/documentIds/0', message: 'is already destroyed' }]);
  });

  test('a legal hold blocks: listed but marked, refused when asked for, refused at approval, and kept even after approval; released, it goes', async () => {
    const id = await child(world.a, '1945-05-05');
    const doc = await upload(world.a, 'child', id, 'review_report');
    const other = await upload(world.a, 'child', id, 'health_assessment');

    const hold = await world.call('createLegalHold', {
      token: world.a.adminToken,
      body: { subjectType: 'child', subjectId: id, reason: 'Inquiry' },
    });
    expect(hold.status).toBe(201);
    expect(hold.body).toMatchObject({ subjectType: 'child', subjectId: id, childId: id, active: true });
    const due = await dueOn('2026-01-01');
    expect(listed(due, doc.id)).toMatchObject({ held: true, holdIds: [hold.body.id] });

    const refused = await request([doc.id]);
    expect(refused.status).toBe(422);
    expect(refused.body.errors[0]).toMatchObject({ pointer: '/body/documentIds/0' });
    expect(refused.body.errors[0].message).toContain('legal hold');

    const released = await world.call('releaseLegalHold', {
      token: world.a.adminToken,
      params: { holdId: hold.body.id },
      body: { reason: 'Inquiry closed' },
    });
    expect(released.status).toBe(200);
    expect(released.body).toMatchObject({
      active: false,
      releaseReason: 'Inquiry closed',
      releasedBy: world.a.adminId,
    });
    const twice = await world.call('releaseLegalHold', {
      token: world.a.adminToken,
      params: { holdId: hold.body.id },
      body: { reason: 'Again' },
    });
    expect(twice.status).toBe(409);
    const releaseAudit = await ownerRows<{ action: string; after: { releaseReason: string } }>(
      world.db,
      world.a.id,
      `SELECT action, after FROM audit_events WHERE entity_type = 'legal_hold' AND entity_id = ? ORDER BY seq`,
      [hold.body.id],
    );
    expect(releaseAudit.map((a) => a.action)).toEqual(['retention.hold_placed', 'retention.hold_released']);
    expect(releaseAudit[1]!.after.releaseReason).toBe('Inquiry closed');
    expect(listed(await dueOn('2026-01-01'), doc.id)).toMatchObject({ held: false, holdIds: [] });

    // A hold placed after asking refuses the approval, and nothing changes.
    const asked = await request([doc.id, other.id]);
    expect(asked.status).toBe(201);
    const onDoc = await world.call('createLegalHold', {
      token: world.a.adminToken,
      body: { documentId: doc.id, reason: 'Subject access request' },
    });
    expect(onDoc.status).toBe(201);
    const blocked = await world.call('approveDestructionRequest', {
      token: approver.token,
      params: { requestId: asked.body.id },
      body: {},
    });
    expect(blocked.status).toBe(409);
    expect(blocked.body.detail).toContain(doc.id);
    expect(
      (await world.call('getDestructionRequest', { token: approver.token, params: { requestId: asked.body.id } })).body
        .status,
    ).toBe('pending');
    await world.call('releaseLegalHold', {
      token: world.a.adminToken,
      params: { holdId: onDoc.body.id },
      body: { reason: 'Answered' },
    });

    // A hold placed between approval and the job keeps that document; the other goes.
    const approved = await world.call('approveDestructionRequest', {
      token: approver.token,
      params: { requestId: asked.body.id },
      body: {},
    });
    expect(approved.status).toBe(202);
    const late = await world.call('createLegalHold', {
      token: world.a.adminToken,
      body: { documentId: doc.id, reason: 'Litigation' },
    });
    expect(late.status).toBe(201);
    await runJobs(world);
    const result = await world.call('getDestructionRequest', {
      token: approver.token,
      params: { requestId: asked.body.id },
    });
    expect(result.body.status).toBe('done');
    expect(
      Object.fromEntries(
        result.body.items.map((i: { documentId: string; outcome: string }) => [i.documentId, i.outcome]),
      ),
    ).toEqual({
      [doc.id]: 'held',
      [other.id]: 'destroyed',
    });
    const kept = await versionRows(doc.id);
    expect(kept[0]!.object_key).not.toBeNull();
    expect(storedObjects()).toContain(kept[0]!.object_key);
    expect(
      (await world.call('getDocument', { token: world.a.adminToken, params: { documentId: doc.id } })).body.status,
    ).toBe('active');
  });

  test('a store that fails leaves the document as it was, never destroyed with bytes kept; the retry finishes', async () => {
    const id = await child(world.a, '1939-09-09');
    const doc = await upload(world.a, 'child', id, 'correspondence');
    const second = await world.call('uploadDocumentVersion', {
      token: world.a.adminToken,
      params: { documentId: doc.id },
      multipart: { fields: {}, file: { filename: 'reply.pdf', bytes: Buffer.concat([PDF, Buffer.from('%reply\n')]) } },
    });
    expect(second.status).toBe(201);
    const asked = await request([doc.id]);
    expect(
      (
        await world.call('approveDestructionRequest', {
          token: approver.token,
          params: { requestId: asked.body.id },
          body: {},
        })
      ).status,
    ).toBe(202);
    // The second version's object made a folder: the store's delete of it fails, as a store that is down would.
    const [first, last] = await versionRows(doc.id);
    const blocked = path.join(world.config.documents.target, ...last!.object_key!.split('/'));
    const bytes = fs.readFileSync(blocked);
    fs.rmSync(blocked);
    fs.mkdirSync(blocked);
    fs.writeFileSync(path.join(blocked, 'inside'), 'x');
    await runDueJobs(world.db, {
      handlers: jobHandlers(),
      services: world.server.services,
      backoffMs: () => 0,
      max: 1,
    });

    // The first version's bytes went, but nothing says destroyed: the document, its keys and its request are as they were.
    expect(storedObjects()).not.toContain(first!.object_key);
    expect((await versionRows(doc.id)).map((v) => v.object_key)).toEqual([first!.object_key, last!.object_key]);
    expect(
      (await world.call('getDocument', { token: world.a.adminToken, params: { documentId: doc.id } })).body.status,
    ).toBe('active');
    const waiting = await world.call('getDestructionRequest', {
      token: approver.token,
      params: { requestId: asked.body.id },
    });
    expect(waiting.body).toMatchObject({ status: 'approved', items: [{ outcome: null }] });
    expect(
      await ownerRows(world.db, world.a.id, 'SELECT 1 FROM retention_tombstones WHERE document_id = ?', [doc.id]),
    ).toEqual([]);

    fs.rmSync(blocked, { recursive: true });
    fs.writeFileSync(blocked, bytes);
    await runJobs(world);
    expect(storedObjects()).not.toContain(last!.object_key);
    expect((await versionRows(doc.id)).map((v) => v.object_key)).toEqual([null, null]);
    const done = await world.call('getDestructionRequest', {
      token: approver.token,
      params: { requestId: asked.body.id },
    });
    expect(done.body).toMatchObject({ status: 'done', items: [{ outcome: 'destroyed' }] });
  });

  test('a rejected request destroys nothing and cannot then be approved', async () => {
    const id = await child(world.a, '1930-02-02');
    const doc = await upload(world.a, 'child', id, 'statement');
    const asked = await request([doc.id]);
    const rejected = await world.call('rejectDestructionRequest', {
      token: approver.token,
      params: { requestId: asked.body.id },
      body: { reason: 'Needed for a court case' },
    });
    expect(rejected.status).toBe(200);
    expect(rejected.body).toMatchObject({ status: 'rejected', decisionNote: 'Needed for a court case' });
    const late = await world.call('approveDestructionRequest', {
      token: approver.token,
      params: { requestId: asked.body.id },
      body: {},
    });
    expect(late.status).toBe(409);
    expect((await versionRows(doc.id))[0]!.object_key).not.toBeNull();
    // Its document may be asked for again.
    expect((await request([doc.id])).status).toBe(201);
  });
});

describe('bad input and other tenants', () => {
  test('unknown, not due, uncovered and already-asked documents are named by their place; nothing is asked for', async () => {
    const young = await child(world.a, '2015-01-01');
    const notDue = await upload(world.a, 'child', young, 'care_plan');
    const stillApproved = await household(world.a, null);
    const notStarted = await upload(world.a, 'household', stillApproved, 'reference');
    const old = await child(world.a, '1935-03-03');
    const due = await upload(world.a, 'child', old, 'care_plan');
    const unknown = '01900000-0000-7000-8000-000000000000';
    const before = await ownerRows<{ n: number }>(
      world.db,
      world.a.id,
      'SELECT count(*)::int AS n FROM retention_destruction_requests',
    );

    const r = await request([due.id, unknown, notDue.id, notStarted.id]);
    expect(r.status).toBe(422);
    expect(r.body.errors).toEqual([
      { pointer: '/body/documentIds/1', message: 'is not a document of this tenant' },
      {
        pointer: '/body/documentIds/2',
        message: 'is not due for destruction until 2090-01-01 under the rule child-case-record',
      },
      {
        pointer: '/body/documentIds/3',
        message:
          'is not due for destruction: the rule carer-case-record counts from approval_ended, which has not happened',
      },
    ]);
    expect(
      await ownerRows(world.db, world.a.id, 'SELECT count(*)::int AS n FROM retention_destruction_requests'),
    ).toEqual(before);

    expect((await request([due.id])).status).toBe(201);
    const twice = await request([due.id], approver.token);
    expect(twice.status).toBe(422);
    expect(twice.body.errors[0].message).toMatch(/^is already in destruction request /);

    const both = await world.call('createLegalHold', {
      token: world.a.adminToken,
      body: { documentId: due.id, subjectType: 'child', subjectId: old, reason: 'x' },
    });
    expect(both.status).toBe(422);
    expect(both.body.errors[0].pointer).toBe('/body/documentId');
    const noRecord = await world.call('createLegalHold', {
      token: world.a.adminToken,
      body: { subjectType: 'household', subjectId: unknown, reason: 'x' },
    });
    expect(noRecord.status).toBe(422);
    expect(noRecord.body.errors[0].pointer).toBe('/body/subjectId');
    const badAsOf = await world.call('listRetentionDue', { token: world.a.adminToken, query: { asOf: '2025-02-30x' } });
    expect(badAsOf.status).toBe(400);
    expect(badAsOf.body.errors[0].pointer).toBe('/query/asOf');
    const missing = await world.call('getDestructionRequest', {
      token: world.a.adminToken,
      params: { requestId: unknown },
    });
    expect(missing.status).toBe(404);
  });

  test("another tenant reaches none of A's requests, holds, documents or tombstones", async () => {
    const id = await child(world.a, '1936-04-04');
    const doc = await upload(world.a, 'child', id, 'care_plan');
    const asked = await request([doc.id]);
    const hold = await world.call('createLegalHold', {
      token: world.a.adminToken,
      body: { subjectType: 'child', subjectId: id, reason: 'Held in A' },
    });
    const b = world.b.adminToken;
    expect((await world.call('getDestructionRequest', { token: b, params: { requestId: asked.body.id } })).status).toBe(
      404,
    );
    expect(
      (await world.call('approveDestructionRequest', { token: b, params: { requestId: asked.body.id }, body: {} }))
        .status,
    ).toBe(404);
    expect(
      (
        await world.call('rejectDestructionRequest', {
          token: b,
          params: { requestId: asked.body.id },
          body: { reason: 'x' },
        })
      ).status,
    ).toBe(404);
    expect(
      (await world.call('releaseLegalHold', { token: b, params: { holdId: hold.body.id }, body: { reason: 'x' } }))
        .status,
    ).toBe(404);
    const theirs = await world.call('createDestructionRequest', { token: b, body: { documentIds: [doc.id] } });
    expect(theirs.status).toBe(422);
    expect(theirs.body.errors[0]).toEqual({
      pointer: '/body/documentIds/0',
      message: 'is not a document of this tenant',
    });
    const theirHold = await world.call('createLegalHold', { token: b, body: { documentId: doc.id, reason: 'x' } });
    expect(theirHold.status).toBe(422);
    const lists = [
      await world.call('listDestructionRequests', { token: b }),
      await world.call('listLegalHolds', { token: b, query: { includeReleased: true } }),
      await world.call('listTombstones', { token: b }),
    ];
    for (const list of lists) {
      expect(list.status).toBe(200);
      expect(JSON.stringify(list.body)).not.toContain(world.a.id);
      expect(JSON.stringify(list.body)).not.toContain(doc.id);
    }
  });
});

describe('the daily job', () => {
  test('lists what fell due for each tenant and records it, audited, destroying nothing', async () => {
    const id = await child(world.a, '1938-08-08');
    const doc = await upload(world.a, 'child', id, 'care_plan');
    const active = async () =>
      (
        await ownerRows<{ n: number }>(
          world.db,
          world.a.id,
          `SELECT count(*)::int AS n FROM documents WHERE status = 'active'`,
        )
      )[0]!.n;
    const before = await active();
    await scheduleDailyJobs(world.db);
    await runJobs(world);
    const today = todayIn('Europe/London');
    const [list] = await ownerRows<{ id: string; due_count: number; document_ids: string[] }>(
      world.db,
      world.a.id,
      'SELECT id, due_count, document_ids FROM retention_due_lists WHERE as_of = ?',
      [today],
    );
    expect(list!.document_ids).toContain(doc.id);
    expect(list!.due_count).toBe(list!.document_ids.length);
    expect(list!.document_ids).toEqual((await dueOn(today)).map((d) => d.documentId));
    expect(await active()).toBe(before);
    const audit = await ownerRows<{ action: string }>(
      world.db,
      world.a.id,
      'SELECT action FROM audit_events WHERE entity_id = ?',
      [list!.id],
    );
    expect(audit.map((a) => a.action)).toEqual(['retention.due_listed']);
    // Scheduled again the same day, it lists nothing new.
    expect(await scheduleDailyJobs(world.db)).toBe(0);
  });
});
