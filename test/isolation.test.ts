import type { Knex } from 'knex';
import { hashToken, parseOpaqueToken } from '../core/src/auth/tokens';
import type { ContractOperation } from '../core/src/http/contract';
import { testContract, type HttpResponse } from './support/contractClient';
import {
  makeApiKey,
  makeChild,
  makeLookupValue,
  makeRole,
  makeSession,
  moduleSeeds,
  requestFor,
  validAnnualReview,
  validChild,
  type OperationRequest,
} from './support/fixtures';
import { ownerRows, startWorld, TEST_PASSWORD, type TenantFixture, type World } from './support/harness';
import { theCarer } from './support/fixtures/portal';

/**
 * Tenant isolation, proved three ways:
 *
 * 1. The matrix: for every operation in the contract, tenant A's valid request (built by the shared
 *    fixtures) is sent by tenant B instead. B must be refused A's records (404), refused platform
 *    administration (403), served only B's own data, and never shown an identifier of A's.
 *    The list of operations comes from the contract, so a new operation joins the matrix by itself
 *    and fails here until its fixture exists and its classification is clear.
 * 2. Nothing of A changes: every row of A's in every tenant-scoped table is read (as the owner)
 *    after A's fixtures are built and again after all of B's attempts, and the two must be equal.
 * 3. The SQL fence: as the application role, RLS shows nothing without a tenant, only B with B's
 *    tenant, and refuses to write A's rows; and the role cannot switch RLS off.
 *
 * The file's tests run in order: the matrix first, then the comparison of A's rows, then the fence.
 */

const routed = testContract().operations.filter((o) => o.tenancy !== 'system');

/**
 * Path parameters that name something every tenant has under the same name (the key of a standard
 * option list, a notification event and channel), not a record of A's. An operation whose only path parameters are these is not
 * "A's record by id": B's request lands on B's own list and must succeed there, showing B's values
 * only. Any other path parameter (childId, userId, roleId, apiKeyId, code, tenantId...) is taken as
 * the id of one of A's records, so a new operation is held to 404 unless it is added here.
 */
const SHARED_PATH_PARAMS = new Set(['listKey', 'event', 'channel']);

/**
 * The one operation of B's own whose answer cannot be the fixture's: A's body is a TOTP code worked
 * out from the pending secret of A's user. B's user has no enrolment under way, so nothing may be
 * confirmed; a 204 would mean B's request completed something it had not started.
 */
const EXPECTED_FOR_B: Record<string, { status: number }> = {
  // A's body names A's child: not a child placed with B's carer, so nothing is written.
  createPortalDailyLog: { status: 422 },
  confirmTotpEnrolment: { status: 409 },
  // A's request names a UK form and A's user as its subject: B's pack (the USA baseline) has no such
  // form, and the subject is not B's, so nothing may be stored; the form is looked up first.
  submitForm: { status: 404 },
  // The USA baseline sets no rates (each state does): B's evaluation is refused, not computed from A's pack.
  evaluateRate: { status: 422 },
  // A's configuration document names A's pack (uk); B is on another, so the import is refused whole.
  importConfiguration: { status: 422 },
  // A's body names A's carer household: not a household of B's, so nothing is rendered or packed.
  generateDocument: { status: 422 },
  createEvidencePack: { status: 422 },
  // B has its own active pay schedule (seeded), and one tenant has one active schedule at a time.
  createPaySchedule: { status: 409 },
  // A's body names A's carer household: not a household of B's, so nothing is proposed.
  proposePaymentAdjustment: { status: 422 },
  // A's upload names A's child as the record it is kept against: not a child of B's, so nothing is stored.
  uploadDocument: { status: 422 },
  // A's bodies name A's document or A's child: not B's, so nothing is asked for or held.
  createDestructionRequest: { status: 422 },
  createLegalHold: { status: 422 },
};

/** Opaque tokens that carry their tenant in clear: `rt_<tenant id, 32 hex>_<secret>` (core/src/auth/tokens.ts). */
type OpaqueKind = 'rt' | 'pw';

let world: World;
/** Tenant A's valid request for each operation, built before B does anything. */
const requestsOfA = new Map<string, OperationRequest>();
const buildFailures = new Map<string, unknown>();
let tenantTables: string[] = [];
let snapshotBefore: Snapshot;
/** Everything that would betray A in a response: ids, slug, codes A made. */
let identifiersOfA: string[] = [];
/**
 * Strings B stored itself that contain one of A's identifiers, so B may read them back: A's fixture
 * bodies carry A's slug in free text (an email `new…@tenant-a.test`, the name "Tenant tenant-a"),
 * and B sending them makes them B's data. Only bodies of B's successful writes land here.
 */
const writtenByB = new Set<string>();

type Snapshot = Record<string, string[]>;

async function must(response: HttpResponse, status: number, what: string): Promise<HttpResponse> {
  if (response.status !== status) throw new Error(`set-up (${what}) answered ${response.status}: ${response.text}`);
  return response;
}

/** Gives a tenant a row in every tenant-scoped table, so the fence's "sees nothing" cannot pass on empty tables. */
async function seed(tenant: TenantFixture): Promise<void> {
  const ctx = { world, tenant };
  for (const seedModule of moduleSeeds) await seedModule(ctx);
  await makeChild(ctx);
  await makeRole(ctx);
  await makeApiKey(ctx);
  await makeLookupValue(ctx);
  // A retried create leaves an idempotency key.
  await must(
    await world.call('createChild', {
      token: tenant.adminToken,
      body: validChild,
      headers: { 'idempotency-key': `seed-${tenant.slug}` },
    }),
    201,
    'createChild',
  );
  // A restricted record leaves an access grant.
  const restricted = await makeChild(ctx);
  await must(
    await world.call('setChildRestriction', {
      token: tenant.adminToken,
      params: { childId: restricted.id },
      body: { restricted: true, allowedUserIds: [tenant.adminId] },
      headers: { 'if-match': `"${restricted.version}"` },
    }),
    200,
    'setChildRestriction',
  );
  // An invited user leaves a password token and an outbound message.
  await must(
    await world.call('createUser', {
      token: tenant.adminToken,
      body: { email: `invitee@${tenant.slug}.test`, displayName: 'Invitee', roles: ['caseworker'] },
    }),
    201,
    'createUser',
  );
  // A child with an identifier (kept sealed, with a keyed digest).
  await must(
    await world.call('createChild', {
      token: tenant.adminToken,
      body: {
        ...validChild,
        givenName: `Identified ${tenant.slug}`,
        identifiers: [
          tenant === world.a ? { kind: 'nhs_number', value: '943 476 5919' } : { kind: 'state_id', value: 'CA-12345' },
        ],
      },
    }),
    201,
    'createChild',
  );
  // A configuration overlay, and a form submission on a form of the tenant's own pack.
  await must(
    await world.call('createOverlay', {
      token: tenant.adminToken,
      body: {
        effectiveFrom: '2031-01-01',
        description: `seed ${tenant.slug}`,
        changes: { terminology: { child: `child of ${tenant.slug}` } },
      },
    }),
    201,
    'createOverlay',
  );
  if (tenant === world.a) {
    await must(
      await world.call('submitForm', {
        token: tenant.adminToken,
        body: {
          formKey: 'carer-annual-review',
          formVersion: 1,
          subjectType: 'user',
          subjectId: tenant.adminId,
          data: validAnnualReview,
        },
      }),
      201,
      'submitForm',
    );
  } else {
    // B's pack (the USA baseline) has only long forms; the fence check needs a row, not a form journey,
    // so the owner writes one directly.
    await world.db.raw(
      `INSERT INTO form_submissions (tenant_id, id, form_key, form_version, layer, subject_type, subject_id, data) VALUES (?, gen_random_uuid(), 'home-study', 1, 'pack:usa', 'user', ?, '{}')`,
      [tenant.id, tenant.adminId],
    );
  }
}

/** Every table of schema public with a tenant_id column, found rather than listed, so a new table is covered. */
async function discoverTenantTables(): Promise<string[]> {
  const result = (await world.db.raw(
    `SELECT c.table_name AS name
       FROM information_schema.columns c
       JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
      WHERE c.table_schema = 'public' AND c.column_name = 'tenant_id' AND t.table_type = 'BASE TABLE'
      ORDER BY c.table_name`,
  )) as { rows: Array<{ name: string }> };
  return result.rows.map((r) => r.name);
}

/**
 * All of A's rows, as the owner sees them. Audit events, chain heads and idempotency keys are
 * included too: A's fixtures are all built before the first snapshot, so between the two snapshots
 * only B acts, and even A's audit trail must not move.
 */
async function snapshotOfA(): Promise<{ snapshot: Snapshot; rows: Array<Record<string, unknown>> }> {
  const snapshot: Snapshot = {};
  const all: Array<Record<string, unknown>> = [];
  for (const table of tenantTables) {
    const rows = await ownerRows(world.db, world.a.id, 'SELECT * FROM ?? WHERE tenant_id = ?', [table, world.a.id]);
    snapshot[table] = rows.map((r) => JSON.stringify(r)).sort();
    all.push(...rows.map((r) => ({ ...r, _table: table })));
  }
  const tenantRow = await ownerRows(world.db, world.a.id, 'SELECT * FROM tenants WHERE id = ?', [world.a.id]);
  snapshot.tenants = tenantRow.map((r) => JSON.stringify(r));
  return { snapshot, rows: all };
}

/** Per table, the rows of A's that went away or appeared (a changed row shows as both): empty when nothing changed. */
function differences(before: Snapshot, after: Snapshot): Record<string, { before: string[]; after: string[] }> {
  const out: Record<string, { before: string[]; after: string[] }> = {};
  for (const table of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const was = before[table] ?? [];
    const is = after[table] ?? [];
    const gone = was.filter((row) => !is.includes(row));
    const came = is.filter((row) => !was.includes(row));
    if (gone.length || came.length) out[table] = { before: gone, after: came };
  }
  return out;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

/** A's tenant id (as a uuid and as it appears inside tokens), its slug, every uuid in its rows, and the option codes A added. */
function identifiersIn(rows: Array<Record<string, unknown>>): string[] {
  const ids = new Set<string>([world.a.id, world.a.id.replace(/-/g, ''), world.a.slug]);
  for (const row of rows) {
    for (const match of JSON.stringify(row).match(UUID) ?? []) ids.add(match.toLowerCase());
    // Default codes come from the packs and may be shared; codes A added are A's own.
    if (row._table === 'lookup_values' && row.source === 'tenant') ids.add(String(row.code));
  }
  return [...ids];
}

function stringLeaves(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(stringLeaves);
  if (value && typeof value === 'object') return Object.values(value).flatMap(stringLeaves);
  return [];
}

const mentionsA = (s: string) => identifiersOfA.some((id) => s.includes(id));

/**
 * A's identifiers in a response (body and headers). What B itself sent (A's id in the path of a
 * refused request) or stored earlier is blanked out first: an echo of B's own input is not a leak,
 * anything else of A's is.
 */
function leaksOfA(response: HttpResponse, sent: unknown): string[] {
  let text = response.text;
  response.headers.forEach((value, name) => {
    text += `\n${name}: ${value}`;
  });
  const echoes = [...stringLeaves(sent).filter(mentionsA), ...writtenByB].sort((x, y) => y.length - x.length);
  for (const echo of echoes) text = text.split(echo).join('\u0000');
  return identifiersOfA.filter((id) => text.includes(id));
}

function expectStatus(response: HttpResponse, status: number): void {
  // The body is shown only when the status is wrong, so a failure says what the server answered.
  expect({ status: response.status, body: response.status === status ? 'as expected' : response.text }).toEqual({
    status,
    body: 'as expected',
  });
}

function expectNoLeak(response: HttpResponse, sent: unknown): void {
  expect({ leaksOfTenantA: leaksOfA(response, sent) }).toEqual({ leaksOfTenantA: [] });
}

/**
 * B's credential in place of A's. The fixtures of operations on the caller's own account
 * (changePassword, TOTP enrolment) use a fresh user's session rather than the admin's, so the admin
 * stays usable; B's side does the same, with a fresh user of B. Everything else goes as B's admin,
 * who holds every tenant permission in B.
 */
async function credentialOfB(op: ContractOperation, request: OperationRequest): Promise<string> {
  // A carer portal request goes as B's own carer: the portal admits carers only.
  if (request.as === 'carer') return (await theCarer({ world, tenant: world.b })).token;
  if (op.tenancy === 'tenant' && request.as === 'custom')
    return (await makeSession({ world, tenant: world.b })).accessToken;
  return world.b.adminToken;
}

/** A's refresh or password token with B's tenant id put in its tenant part. */
function retargeted(kind: OpaqueKind, token: string, to: TenantFixture): string {
  const forged = token.replace(new RegExp(`^${kind}_[0-9a-f]{32}_`), `${kind}_${to.id.replace(/-/g, '')}_`);
  // Well formed and naming B, so the 401 below means "no such token in B", not "malformed".
  expect(parseOpaqueToken(kind, token)?.tenantId).toBe(world.a.id);
  expect(parseOpaqueToken(kind, forged)?.tenantId).toBe(to.id);
  return forged;
}

async function refreshTokenOfA(token: string) {
  return ownerRows<{ used_at: unknown; revoked_at: unknown }>(
    world.db,
    world.a.id,
    'SELECT used_at, revoked_at FROM refresh_tokens WHERE tenant_id = ? AND token_hash = ?',
    [world.a.id, hashToken(token)],
  );
}

/**
 * Public operations carry no credential, so "as B" means their cross-tenant form: A's secret or
 * account named together with B (or the reverse). Each must answer as if nothing matched, and
 * leave A's side untouched.
 */
const PUBLIC_CROSS_TENANT: Record<string, { form: string; check: (request: OperationRequest) => Promise<void> }> = {
  login: {
    form: "A's slug with B's admin email and password, and B's slug with A's: 401",
    check: async () => {
      for (const body of [
        { tenant: world.a.slug, email: world.b.adminEmail, password: TEST_PASSWORD },
        { tenant: world.b.slug, email: world.a.adminEmail, password: TEST_PASSWORD },
      ]) {
        const response = await world.call('login', { body });
        expectStatus(response, 401);
        expectNoLeak(response, body);
      }
    },
  },
  refreshToken: {
    form: "A's refresh token with B's tenant id in it: 401, and A's token neither used nor revoked",
    check: async (request) => {
      const original = (request.body as { refreshToken: string }).refreshToken;
      const body = { refreshToken: retargeted('rt', original, world.b) };
      const response = await world.call('refreshToken', { body });
      expectStatus(response, 401);
      expectNoLeak(response, body);
      expect(await refreshTokenOfA(original)).toEqual([{ used_at: null, revoked_at: null }]);
    },
  },
  logout: {
    // Log-out answers 204 to any token so that it cannot be used to test tokens; what matters is A's session.
    form: "A's refresh token with B's tenant id in it: 204, and A's session not revoked",
    check: async (request) => {
      const original = (request.body as { refreshToken: string }).refreshToken;
      const body = { refreshToken: retargeted('rt', original, world.b) };
      const response = await world.call('logout', { body });
      expectStatus(response, 204);
      expect(await refreshTokenOfA(original)).toEqual([{ used_at: null, revoked_at: null }]);
    },
  },
  confirmPasswordReset: {
    form: "A's reset token with B's tenant id in it: 401, and A's token unused",
    check: async (request) => {
      const original = (request.body as { token: string; newPassword: string }).token;
      const body = { ...(request.body as object), token: retargeted('pw', original, world.b) };
      const response = await world.call('confirmPasswordReset', { body });
      expectStatus(response, 401);
      expectNoLeak(response, body);
      const rows = await ownerRows(
        world.db,
        world.a.id,
        'SELECT used_at FROM password_tokens WHERE tenant_id = ? AND token_hash = ?',
        [world.a.id, hashToken(original)],
      );
      expect(rows).toEqual([{ used_at: null }]);
    },
  },
  requestPasswordReset: {
    form: "B's slug with the email of A's user: 202, and no message for that email in either tenant",
    check: async (request) => {
      const { email } = request.body as { tenant: string; email: string };
      const body = { tenant: world.b.slug, email };
      const response = await world.call('requestPasswordReset', { body });
      expectStatus(response, 202);
      const messages = async (tenant: TenantFixture) =>
        (
          await ownerRows<{ n: number }>(
            world.db,
            tenant.id,
            'SELECT count(*)::int AS n FROM outbound_messages WHERE tenant_id = ? AND lower(recipient) = lower(?)',
            [tenant.id, email],
          )
        )[0]!.n;
      expect({ inA: await messages(world.a), inB: await messages(world.b) }).toEqual({ inA: 0, inB: 0 });
    },
  },
};

type Classification =
  | { kind: 'platform' | 'foreign-id' | 'own-data' | 'public'; expectation: string }
  | { kind: 'unhandled'; expectation: string; reason: string };

function classify(op: ContractOperation): Classification {
  const pathParams = op.parameters.filter((p) => p.in === 'path').map((p) => p.name);
  switch (op.tenancy) {
    case 'platform':
      return { kind: 'platform', expectation: "403 for B's admin: platform administration is not B's" };
    case 'tenant':
      if (pathParams.some((p) => !SHARED_PATH_PARAMS.has(p)))
        return { kind: 'foreign-id', expectation: "404 for B: the path names A's record" };
      return { kind: 'own-data', expectation: "answers B from B's own data, naming nothing of A" };
    case 'public': {
      const cross = PUBLIC_CROSS_TENANT[op.operationId];
      if (cross) return { kind: 'public', expectation: cross.form };
      return {
        kind: 'unhandled',
        expectation: 'has a cross-tenant form',
        reason: `${op.operationId} is public: add its cross-tenant form to PUBLIC_CROSS_TENANT in test/isolation.test.ts`,
      };
    }
    default:
      return {
        kind: 'unhandled',
        expectation: 'is classified',
        reason: `${op.operationId} has x-hearth-tenancy "${String(op.tenancy)}", which test/isolation.test.ts does not know how to test`,
      };
  }
}

/** The ETag of B's own copy of a singleton (e.g. B's settings), read through the GET on the same path. */
async function etagOfB(op: ContractOperation, token: string): Promise<string> {
  const reader = routed.find((o) => o.path === op.path && o.method === 'get');
  if (!reader)
    throw new Error(
      `${op.operationId} needs If-Match and names no record: add a way to read B's own ETag for it in test/isolation.test.ts`,
    );
  const response = await world.call(reader.operationId, { token });
  const etag = response.headers.get('etag');
  if (response.status !== 200 || !etag)
    throw new Error(`${reader.operationId} as B answered ${response.status} without an ETag: ${response.text}`);
  return etag;
}

beforeAll(async () => {
  world = await startWorld();
  tenantTables = await discoverTenantTables();
  await seed(world.a);
  await seed(world.b);
  // A's side is finished before B acts: every fixture is built now, then A's rows are photographed.
  for (const op of routed) {
    try {
      requestsOfA.set(op.operationId, await requestFor(op.operationId, { world, tenant: world.a }));
    } catch (error) {
      buildFailures.set(op.operationId, error);
    }
  }
  const { snapshot, rows } = await snapshotOfA();
  snapshotBefore = snapshot;
  identifiersOfA = identifiersIn(rows);
  // Every module's seed and a fixture per operation, for two tenants: minutes on a loaded machine.
}, 600_000);

afterAll(async () => {
  await world?.close();
});

describe("tenant B sending tenant A's requests", () => {
  it.each(routed.map((op) => ({ operationId: op.operationId, op, ...classify(op) })))(
    '$operationId: $expectation',
    async ({ operationId, op, ...classification }) => {
      if (classification.kind === 'unhandled') throw new Error(classification.reason);
      if (buildFailures.has(operationId)) throw buildFailures.get(operationId);
      const request = requestsOfA.get(operationId)!;

      if (classification.kind === 'public') {
        await PUBLIC_CROSS_TENANT[operationId]!.check(request);
        return;
      }
      if (request.as === 'none')
        throw new Error(
          `${operationId} is ${op.tenancy}-scoped but its fixture sends no credential: test/isolation.test.ts cannot tell whose request it is`,
        );

      // A's request as it stands, with B's credential in place of A's.
      const asB: OperationRequest = { ...request, token: await credentialOfB(op, request), apiKey: undefined };

      if (classification.kind === 'platform') {
        const response = await world.call(operationId, asB);
        expectStatus(response, 403);
        expectNoLeak(response, asB);
        return;
      }

      if (classification.kind === 'foreign-id') {
        // A's If-Match, body and ids go unchanged: the record must not be found before anything else is weighed.
        const response = await world.call(operationId, asB);
        expectStatus(response, 404);
        expectNoLeak(response, asB);
        return;
      }

      // own-data: the request names no record of A's, so B's request acts on B.
      if (op.requiresIfMatch) {
        // A's If-Match holds the version of A's copy of this singleton; B's request must carry B's
        // own, or it would only prove the version check, not where the write went.
        asB.headers = { ...asB.headers, 'if-match': await etagOfB(op, asB.token!) };
      }
      const response = await world.call(operationId, asB);
      expectStatus(response, EXPECTED_FOR_B[operationId]?.status ?? request.expect);
      expectNoLeak(response, asB);
      // A list must show B's own entries: an empty page would pass the leak check without proving anything.
      const data = (response.body as { data?: unknown } | undefined)?.data;
      if (Array.isArray(data)) expect(data.length).toBeGreaterThan(0);
      if (op.method !== 'get' && response.status < 300)
        for (const s of stringLeaves(asB.body).filter(mentionsA)) writtenByB.add(s);
    },
  );
});

describe("tenant A's data after B's attempts", () => {
  it('is exactly as it was, row for row, in every tenant-scoped table and in tenants', async () => {
    const { snapshot } = await snapshotOfA();
    expect(Object.keys(snapshot).sort()).toEqual([...tenantTables, 'tenants'].sort());
    expect(differences(snapshotBefore, snapshot)).toEqual({});
  });

  it("(control) the leak check does see A in A's own answers, so its silence above means something", async () => {
    // Run after the comparison: A's own reads of its restricted record append to A's audit trail.
    const me = await world.call('getCurrentPrincipal', { token: world.a.adminToken });
    const children = await world.call('listChildren', { token: world.a.adminToken });
    expect(leaksOfA(me, {})).toEqual(expect.arrayContaining([world.a.id, world.a.slug]));
    const childIds = (children.body as { data: Array<{ id: string }> }).data.map((c) => c.id);
    expect(childIds.length).toBeGreaterThan(0);
    expect(leaksOfA(children, {})).toEqual(expect.arrayContaining(childIds));
    // And nothing of B's is mistaken for A's.
    expect(identifiersOfA).not.toContain(world.b.id);
    expect(identifiersOfA.filter((id) => id.includes(world.b.slug))).toEqual([]);
  });
});

const ROLLBACK = new Error('rolled back on purpose');

/**
 * Runs work as the application role in a transaction that is always rolled back. tenantId: the
 * app.tenant_id to set; undefined leaves it unset (as a request's transaction starts).
 */
async function asApp<T>(tenantId: string | undefined, work: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  let result: T | undefined;
  try {
    await world.db.transaction(async (trx) => {
      await trx.raw('SET LOCAL ROLE hearth_app');
      if (tenantId !== undefined) await trx.raw(`SELECT set_config('app.tenant_id', ?, true)`, [tenantId]);
      const role = (await trx.raw('SELECT current_user AS role')) as { rows: Array<{ role: string }> };
      expect(role.rows[0]!.role).toBe('hearth_app');
      result = await work(trx);
      throw ROLLBACK;
    });
  } catch (error) {
    if (error !== ROLLBACK) throw error;
  }
  return result as T;
}

async function rowsOf<T>(trx: Knex.Transaction, sql: string, bindings: unknown[] = []): Promise<T[]> {
  return ((await trx.raw(sql, bindings as never[])) as { rows: T[] }).rows;
}

async function ownerCount(tenant: TenantFixture, table: string): Promise<number> {
  return (
    await ownerRows<{ n: number }>(world.db, tenant.id, 'SELECT count(*)::int AS n FROM ?? WHERE tenant_id = ?', [
      table,
      tenant.id,
    ])
  )[0]!.n;
}

describe('the SQL fence', () => {
  it('finds the tenant-scoped tables from the catalogue', () => {
    // Guards the discovery itself: if the query found nothing, every check below would pass vacuously.
    expect(tenantTables).toEqual(expect.arrayContaining(['children', 'users', 'roles', 'audit_events']));
  });

  it('has hearth_app neither superuser nor BYPASSRLS', async () => {
    const result = (await world.db.raw(`SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'hearth_app'`)) as {
      rows: Array<{ rolsuper: boolean; rolbypassrls: boolean }>;
    };
    expect(result.rows).toEqual([{ rolsuper: false, rolbypassrls: false }]);
  });

  it('has RLS enabled and forced on every tenant-scoped table and on tenants', async () => {
    const result = (await world.db.raw(
      `SELECT c.relname AS table, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relname = ANY(?)`,
      [[...tenantTables, 'tenants']],
    )) as { rows: Array<{ table: string; enabled: boolean; forced: boolean }> };
    expect(result.rows.map((r) => r.table).sort()).toEqual([...tenantTables, 'tenants'].sort());
    expect(result.rows.filter((r) => !r.enabled || !r.forced).map((r) => r.table)).toEqual([]);
  });

  it('holds rows of both A and B in every tenant-scoped table, as the owner sees them', async () => {
    // Without rows the "sees nothing" checks below would prove nothing. A new table shows up here
    // until the seed at the top of this file gives both tenants a row in it.
    const empty: string[] = [];
    for (const table of tenantTables) {
      for (const tenant of [world.a, world.b])
        if ((await ownerCount(tenant, table)) === 0) empty.push(`${table} (${tenant.slug})`);
    }
    expect(empty).toEqual([]);
  });

  it.each([
    ['not set', undefined],
    ["set to ''", ''],
  ])(
    'shows hearth_app no row of any tenant-scoped table, nor any tenant, with app.tenant_id %s',
    async (_label, tenantId) => {
      const seen = await asApp(tenantId, async (trx) => {
        // A pooled connection must not carry a tenant over from an earlier transaction.
        const setting = await rowsOf<{ value: string | null }>(
          trx,
          `SELECT current_setting('app.tenant_id', true) AS value`,
        );
        expect(['', null]).toContain(setting[0]!.value);
        const counts: Record<string, number> = {};
        for (const table of [...tenantTables, 'tenants'])
          counts[table] = (await rowsOf<{ n: number }>(trx, 'SELECT count(*)::int AS n FROM ??', [table]))[0]!.n;
        return counts;
      });
      expect(Object.entries(seen).filter(([, n]) => n !== 0)).toEqual([]);
      expect(Object.keys(seen).sort()).toEqual([...tenantTables, 'tenants'].sort());
    },
  );

  it("shows hearth_app, as B, none of A's children, and only B in tenants", async () => {
    const [childOfA] = await ownerRows<{ id: string }>(
      world.db,
      world.a.id,
      'SELECT id FROM children WHERE tenant_id = ? LIMIT 1',
      [world.a.id],
    );
    const [childOfB] = await ownerRows<{ id: string }>(
      world.db,
      world.b.id,
      'SELECT id FROM children WHERE tenant_id = ? LIMIT 1',
      [world.b.id],
    );
    const seen = await asApp(world.b.id, async (trx) => ({
      childOfA: await rowsOf(trx, 'SELECT id FROM children WHERE id = ?', [childOfA!.id]),
      childOfAByTenant: await rowsOf(trx, 'SELECT id FROM children WHERE tenant_id = ? AND id = ?', [
        world.a.id,
        childOfA!.id,
      ]),
      updatedOfA: await rowsOf(trx, `UPDATE children SET given_name = 'Taken' WHERE id = ? RETURNING id`, [
        childOfA!.id,
      ]),
      // Control: the same query finds B's own child, so the empty answers above are RLS at work.
      childOfB: await rowsOf<{ id: string }>(trx, 'SELECT id FROM children WHERE id = ?', [childOfB!.id]),
      tenants: await rowsOf<{ id: string }>(trx, 'SELECT id FROM tenants ORDER BY id'),
    }));
    expect(seen).toEqual({
      childOfA: [],
      childOfAByTenant: [],
      updatedOfA: [],
      childOfB: [{ id: childOfB!.id }],
      tenants: [{ id: world.b.id }],
    });
  });

  it("refuses hearth_app, as B, a child written with A's tenant_id (WITH CHECK)", async () => {
    const insert = `INSERT INTO children (tenant_id, id, given_name, family_name, date_of_birth, sex, status)
                    VALUES (?, gen_random_uuid(), 'Forged', 'Row', '2016-01-01', 'female', 'referred') RETURNING tenant_id`;
    // Control: the same statement for B's own tenant goes in (and is rolled back), so the refusal is RLS's.
    const own = await asApp(world.b.id, (trx) => rowsOf<{ tenant_id: string }>(trx, insert, [world.b.id]));
    expect(own).toEqual([{ tenant_id: world.b.id }]);
    let refusal: unknown = null;
    await asApp(world.b.id, async (trx) => {
      refusal = await trx.raw(insert, [world.a.id]).then(
        () => null,
        (error: unknown) => error,
      );
    });
    expect(refusal).not.toBeNull();
    const { code, message } = refusal as { code?: string; message?: string };
    expect({ code, rls: /row-level security/.test(message ?? '') }).toEqual({ code: '42501', rls: true });
  });
});
