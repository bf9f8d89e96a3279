import crypto from 'node:crypto';
import fs from 'node:fs';
import { loadConfig } from '../../config';
import { DEMO_PASSWORD } from '../../demo/seed';
import { startServer, type RunningServer } from '../../server';
import { call, type CallOptions } from '../../../../test/support/contractClient';
import { freshDatabase, type TestDatabase } from '../../../../test/support/databases';
import { failCommitOfDocumentTitled, settledKeys, storedKeys } from '../../../../test/support/failAtCommit';
import { ownerRows, TEST_PASSWORD, type TenantFixture } from '../../../../test/support/harness';
import { documentStore } from './openStore';

/**
 * Generated documents, on the demo tenants' records (approved households with their terms and
 * reviews, placements, a calculated payment run), through the contract: every template the record
 * feeds renders in both packs, is kept with its template's key, layer and version, and the same
 * record renders to the same bytes.
 */

let database: TestDatabase;
let server: RunningServer;
const demo: Record<'uk' | 'usa', TenantFixture> = {} as never;

const sha256 = (bytes: Buffer) => crypto.createHash('sha256').update(bytes).digest('hex');

async function tokenFor(tenant: string, email: string, password: string): Promise<string> {
  const response = await call(server.url, 'login', { body: { tenant, email, password } });
  if (response.status !== 200) throw new Error(`log-in of ${email} failed: ${response.status} ${response.text}`);
  return response.body.accessToken as string;
}

let users = 0;
/** The few helpers of the shared harness this suite needs, on a server that seeded the demo tenants. */
const world = {
  call: (operationId: string, options?: CallOptions) => call(server.url, operationId, options),
  get db() {
    return database.db;
  },
  get server() {
    return server;
  },
  addUser: async (tenant: TenantFixture, roles: string[]) => {
    const email = `generate${++users}@${tenant.slug}.test`;
    const created = await call(server.url, 'createUser', {
      token: tenant.adminToken,
      body: { email, displayName: email, roles, password: TEST_PASSWORD },
    });
    if (created.status !== 201) throw new Error(`createUser failed: ${created.status} ${created.text}`);
    return { id: created.body.id as string, token: await tokenFor(tenant.slug, email, TEST_PASSWORD) };
  },
};

beforeAll(async () => {
  database = await freshDatabase();
  server = await startServer(
    loadConfig(
      { NODE_ENV: 'test' },
      { databaseUrl: database.url, embeddedDataDir: null, port: 0, seedDemoTenants: true, logLevel: 'silent' },
    ),
    database.url ? {} : { db: database.db },
  );
  for (const [key, slug] of [
    ['uk', 'demo-uk'],
    ['usa', 'demo-usa'],
  ] as const) {
    const rows = (await database.db.raw(`SELECT id FROM hearth_tenant_by_slug(?)`, [slug])) as {
      rows: Array<{ id: string }>;
    };
    const email = `admin@${slug}.example`;
    const adminToken = await tokenFor(slug, email, DEMO_PASSWORD);
    demo[key] = { id: rows.rows[0]!.id, slug, adminId: '', adminEmail: email, adminToken };
  }
}, 300_000);
afterAll(async () => {
  const stored = server?.services.config.documents.target;
  await server?.close();
  await database?.drop();
  if (stored) fs.rmSync(stored, { recursive: true, force: true });
});

async function one<T>(tenant: TenantFixture, sql: string): Promise<T> {
  const rows = await ownerRows<T>(world.db, tenant.id, sql);
  if (!rows[0]) throw new Error(`no demo row for: ${sql}`);
  return rows[0];
}

/** A household approved on terms that has held at least one review since. */
const reviewedHousehold = (t: TenantFixture) =>
  one<{ id: string }>(
    t,
    `SELECT h.id FROM carer_households h
      WHERE h.tenant_id = '${t.id}' AND h.approved_state IS NOT NULL
        AND EXISTS (SELECT 1 FROM carer_approval_terms a WHERE a.tenant_id = h.tenant_id AND a.household_id = h.id)
        AND (SELECT count(*) FROM carer_approval_steps s
              WHERE s.tenant_id = h.tenant_id AND s.household_id = h.id AND s.to_state = h.approved_state) >= 2
      ORDER BY h.id LIMIT 1`,
  );

async function generate(token: string, body: Record<string, unknown>) {
  return world.call('generateDocument', { token, body });
}

async function content(token: string, documentId: string, version?: number): Promise<Buffer> {
  const got = version
    ? await world.call('downloadDocumentVersion', {
        token,
        params: { documentId, versionNumber: String(version) },
      })
    : await world.call('downloadDocument', { token, params: { documentId } });
  expect(got.status).toBe(200);
  return got.bytes;
}

describe('generating a document from a pack template', () => {
  test.each(['uk', 'usa'] as const)(
    '%s: an approval letter as PDF, kept with its template; rendered again, the same bytes',
    async (pack) => {
      const t = demo[pack];
      const household = await reviewedHousehold(t);
      const body = { template: 'approval-letter', subjectType: 'household', subjectId: household.id, format: 'pdf' };
      const first = await generate(t.adminToken, body);
      expect(first.status).toBe(201);
      expect(first.body).toMatchObject({
        subjectType: 'household',
        subjectId: household.id,
        householdId: household.id,
        category: 'decision_letter',
        currentVersion: {
          number: 1,
          mediaType: 'application/pdf',
          source: 'generated',
          template: { key: 'approval-letter', layer: `pack:${pack === 'uk' ? 'uk' : 'usa'}` },
        },
      });
      const packVersion = world.server.services.packs.get(pack)!.manifest.version;
      expect(first.body.currentVersion.template.version).toBe(packVersion);
      const bytes = await content(t.adminToken, first.body.id);
      expect(bytes.subarray(0, 5).toString()).toBe('%PDF-');
      expect(sha256(bytes)).toBe(first.body.currentVersion.sha256);
      // The PDF is dated by the decision, not by the clock.
      const created = /\(D:(\d{8})/.exec(bytes.toString('latin1'))?.[1];
      const approval = await one<{ on: string }>(
        t,
        `SELECT to_char(effective_from, 'YYYYMMDD') AS on FROM carer_approval_terms WHERE household_id = '${household.id}'
          ORDER BY effective_from DESC LIMIT 1`,
      );
      expect(created).toBe(approval.on);

      // Again, as a new version of the same document: the same bytes.
      const again = await generate(t.adminToken, { ...body, documentId: first.body.id });
      expect(again.status).toBe(201);
      expect(again.body.id).toBe(first.body.id);
      expect(again.body.currentVersion.number).toBe(2);
      expect(again.body.currentVersion.sha256).toBe(first.body.currentVersion.sha256);
      expect(sha256(await content(t.adminToken, first.body.id, 2))).toBe(sha256(bytes));
    },
  );

  test.each(['uk', 'usa'] as const)(
    '%s: a review report and a placement agreement render from their records as HTML',
    async (pack) => {
      const t = demo[pack];
      const household = await reviewedHousehold(t);
      const report = await generate(t.adminToken, {
        template: 'review-report',
        subjectType: 'household',
        subjectId: household.id,
        format: 'html',
      });
      expect(report.status).toBe(201);
      expect(report.body).toMatchObject({ category: 'review_report', currentVersion: { mediaType: 'text/html' } });
      const html = (await content(t.adminToken, report.body.id)).toString('utf8');
      const name = await one<{ name: string }>(t, `SELECT name FROM carer_households WHERE id = '${household.id}'`);
      expect(html).toMatch(/<h1>/);
      expect(html).toContain('Approval continues');

      const placement = await one<{ id: string; given_name: string }>(
        t,
        `SELECT p.id, c.given_name FROM placements p JOIN children c ON c.tenant_id = p.tenant_id AND c.id = p.child_id
          WHERE p.tenant_id = '${t.id}' AND NOT c.restricted ORDER BY p.id LIMIT 1`,
      );
      const agreement = await generate(t.adminToken, {
        template: 'placement-agreement',
        subjectType: 'placement',
        subjectId: placement.id,
        format: 'html',
        title: 'Agreement',
      });
      expect(agreement.status).toBe(201);
      expect(agreement.body).toMatchObject({ title: 'Agreement', category: 'placement_agreement' });
      expect(agreement.body.childId).not.toBeNull();
      expect((await content(t.adminToken, agreement.body.id)).toString('utf8')).toContain(placement.given_name);
      expect(name.name.length).toBeGreaterThan(0);
    },
  );

  test("uk: a household's statement for a calculated run, either way round, the same bytes", async () => {
    const t = demo.uk;
    const line = await one<{ run_id: string; household_id: string }>(
      t,
      `SELECT l.run_id, l.household_id FROM payment_lines l JOIN payment_runs r ON r.tenant_id = l.tenant_id AND r.id = l.run_id
        WHERE l.tenant_id = '${t.id}' AND l.calculation = r.calculation_number ORDER BY l.run_id, l.household_id LIMIT 1`,
    );
    const byHousehold = await generate(t.adminToken, {
      template: 'carer-statement',
      subjectType: 'household',
      subjectId: line.household_id,
      paymentRunId: line.run_id,
      format: 'pdf',
    });
    expect(byHousehold.status).toBe(201);
    expect(byHousehold.body.currentVersion.template).toMatchObject({ key: 'carer-statement', layer: 'pack:uk' });
    const byRun = await generate(t.adminToken, {
      template: 'carer-statement',
      subjectType: 'payment_run',
      subjectId: line.run_id,
      householdId: line.household_id,
      format: 'pdf',
    });
    expect(byRun.status).toBe(201);
    expect(byRun.body.subjectType).toBe('payment_run');
    expect(byRun.body.currentVersion.sha256).toBe(byHousehold.body.currentVersion.sha256);
    const missing = await generate(t.adminToken, {
      template: 'carer-statement',
      subjectType: 'household',
      subjectId: line.household_id,
      format: 'pdf',
    });
    expect(missing.status).toBe(422);
    expect(JSON.stringify(missing.body)).toContain('/body/paymentRunId');
  });

  test('bad requests name the field and leave nothing; the write is audited', async () => {
    const t = demo.uk;
    const household = await reviewedHousehold(t);
    const count = async () =>
      Number(
        (await one<{ n: string }>(t, `SELECT count(*) AS n FROM document_versions WHERE tenant_id = '${t.id}'`)).n,
      );
    const before = await count();
    const unknown = await generate(t.adminToken, {
      template: 'no-such-template',
      subjectType: 'household',
      subjectId: household.id,
      format: 'html',
    });
    expect(unknown.status).toBe(422);
    expect(JSON.stringify(unknown.body)).toContain('/body/template');
    const wrongKind = await generate(t.adminToken, {
      template: 'placement-agreement',
      subjectType: 'household',
      subjectId: household.id,
      format: 'html',
    });
    expect(wrongKind.status).toBe(422);
    expect(JSON.stringify(wrongKind.body)).toContain('/body/subjectType');
    const elsewhere = await generate(demo.usa.adminToken, {
      template: 'approval-letter',
      subjectType: 'household',
      subjectId: household.id,
      format: 'html',
    });
    expect(elsewhere.status).toBe(422);
    expect(JSON.stringify(elsewhere.body)).toContain('/body/subjectId');
    const badCategory = await generate(t.adminToken, {
      template: 'approval-letter',
      subjectType: 'household',
      subjectId: household.id,
      format: 'html',
      category: 'not_a_category',
    });
    expect(badCategory.status).toBe(422);
    expect(await count()).toBe(before);

    const made = await generate(t.adminToken, {
      template: 'approval-letter',
      subjectType: 'household',
      subjectId: household.id,
      format: 'html',
    });
    expect(made.status).toBe(201);
    const events = await ownerRows<{ action: string }>(
      world.db,
      t.id,
      `SELECT action FROM audit_events WHERE entity_type = 'document' AND entity_id = ?`,
      [made.body.id],
    );
    expect(events.map((e) => e.action)).toEqual(['document.uploaded']);
  });

  test('the bytes of a document whose transaction fails leave the store: a refused row, a refused COMMIT', async () => {
    const t = demo.uk;
    const household = await reviewedHousehold(t);
    const body = { template: 'approval-letter', subjectType: 'household', subjectId: household.id, format: 'html' };
    const store = documentStore(world.server.services);
    const before = await storedKeys(store, t.id);
    // Refused after the bytes were stored: the category is checked with the rows.
    const refused = await generate(t.adminToken, { ...body, category: 'not_a_category' });
    expect(refused.status).toBe(422);
    expect(await settledKeys(store, t.id, before)).toEqual(before);

    // Refused at COMMIT, once the rows and the audit event were written.
    const title = 'Approval letter refused at commit';
    const release = await failCommitOfDocumentTitled(world.db, title);
    try {
      const failed = await generate(t.adminToken, { ...body, title });
      expect(failed.status).toBe(503);
    } finally {
      await release();
    }
    expect(await settledKeys(store, t.id, before)).toEqual(before);
    const rows = await ownerRows(world.db, t.id, `SELECT id FROM documents WHERE title = ?`, [title]);
    expect(rows).toHaveLength(0);

    // The same request, committed, keeps its object: the store is watched where it would show.
    const kept = await generate(t.adminToken, { ...body, title });
    expect(kept.status).toBe(201);
    const after = await storedKeys(store, t.id);
    expect(after.size).toBe(before.size + 1);
  });

  test("a restricted child's placement agreement cannot be made by whoever cannot see the child", async () => {
    const t = demo.uk;
    const placement = await one<{ id: string; child_id: string }>(
      t,
      `SELECT p.id, p.child_id FROM placements p JOIN children c ON c.tenant_id = p.tenant_id AND c.id = p.child_id
        WHERE p.tenant_id = '${t.id}' AND NOT c.restricted ORDER BY p.id DESC LIMIT 1`,
    );
    const caseworker = await world.addUser(t, ['caseworker']);
    const body = { template: 'placement-agreement', subjectType: 'placement', subjectId: placement.id, format: 'html' };
    const adminId = (
      await one<{ id: string }>(t, `SELECT id FROM users WHERE tenant_id = '${t.id}' AND email = '${t.adminEmail}'`)
    ).id;
    const restriction = await world.call('getChildRestriction', {
      token: t.adminToken,
      params: { childId: placement.child_id },
    });
    const set = await world.call('setChildRestriction', {
      token: t.adminToken,
      params: { childId: placement.child_id },
      headers: { 'if-match': restriction.headers.get('etag')! },
      body: { restricted: true, allowedUserIds: [adminId] },
    });
    expect(set.status).toBe(200);
    const hidden = await generate(caseworker.token, body);
    expect(hidden.status).toBe(422);
    expect(JSON.stringify(hidden.body)).toContain('/body/subjectId');
    // Exactly as a placement of another tenant is refused.
    const foreign = await generate(demo.usa.adminToken, body);
    expect(foreign.status).toBe(hidden.status);
    expect((await generate(t.adminToken, body)).status).toBe(201);
  });
});
