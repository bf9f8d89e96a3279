import type { ContractOperation } from '../core/src/http/contract';
import { PERMISSIONS } from '../core/src/access/permissions';
import { testContract, type HttpResponse } from './support/contractClient';
import { moduleSeeds, requestFor, type OperationRequest } from './support/fixtures';
import { ok, type FixtureContext } from './support/fixtureKit';
import { ownerRows, startWorld, type World } from './support/harness';
import { claimBody } from './support/fixtures/claims';
import { runAt, runJobs } from './support/fixtures/payments';
import { approvalDay, householdWithRoom } from './support/fixtures/placements';

/**
 * Restricted records, proved over the whole contract as the isolation matrix proves tenancy.
 *
 * Tenant A is seeded by every module and A's valid request for every operation is built by the
 * shared fixtures. Then every child of A is restricted to A's first administrator, so that every
 * record about a child is restricted data. A second administrator of A, holding every tenant
 * permission but named on no restriction (the "excluded user"), sends A's requests, and so does an
 * API key holding every permission (a key is named on no restriction, ever):
 *
 * - a request whose path names restricted data is answered 404, as if it did not exist;
 * - a write that names restricted data anywhere (query or body) writes nothing;
 * - every other request answers as it would for the named administrator;
 * - no answer (body or headers) carries an identifier of restricted data: an id of a row of the
 *   child's case data, or a restricted child's name. Money about a child (payment lines, claims,
 *   ledger entries, invoices) stays visible so that runs and books add up, with the child and the
 *   placement withheld, so their ids count as leaks there too;
 * - afterwards, every restricted row is exactly as it was.
 *
 * The tables that refer to a child are found from the catalogue and must each be classified below,
 * so a new table joins the matrix by itself, and fails here until someone says which kind it is.
 */

const routed = testContract().operations.filter((o) => o.tenancy !== 'system');

/**
 * Every table with a column that points at a child, a placement, a subject, a task or a daily log. `case`: its
 * rows are the child's record, invisible to an excluded user. `money`: its rows are the service's
 * money about a child, visible with the reference to the child and placement withheld.
 */
const CHILD_TABLES: Record<string, 'case' | 'money'> = {
  carer_daily_logs: 'case',
  daily_log_documents: 'case',
  case_events: 'case',
  household_change_requests: 'case',
  child_access_grants: 'case',
  child_alerts: 'case',
  child_care_episodes: 'case',
  child_case_records: 'case',
  child_family_members: 'case',
  child_identifiers: 'case',
  child_key_contacts: 'case',
  child_legal_statuses: 'case',
  child_name_tokens: 'case',
  child_occasions: 'case',
  documents: 'case',
  events: 'case',
  evidence_packs: 'case',
  form_submissions: 'case',
  matching_requests: 'case',
  placement_commissions: 'case',
  placement_contact_sessions: 'case',
  placement_levels_of_care: 'case',
  placement_visits: 'case',
  placement_workflow_steps: 'case',
  placements: 'case',
  retention_destruction_items: 'case',
  retention_destruction_messages: 'case',
  retention_message_tombstones: 'case',
  retention_legal_holds: 'case',
  retention_tombstones: 'case',
  task_reminders: 'case',
  outbound_messages: 'case',
  tasks: 'case',
  claim_lines: 'money',
  invoice_draft_lines: 'money',
  invoice_lines: 'money',
  invoice_nights: 'money',
  ledger_entries: 'money',
  payment_adjustments: 'money',
  payment_disputes: 'money',
  payment_lines: 'money',
  payment_run_issues: 'money',
};

/** Columns that make a table refer to a child's record. */
const REFERRING_COLUMNS = ['child_id', 'placement_id', 'subject_id', 'task_id', 'line_id', 'log_id'];

/**
 * A's requests whose answer for the excluded user differs from the fixture's, with the reason.
 * Everything not listed answers exactly as the fixture says.
 */
const EXPECTED_FOR_EXCLUDED: Record<string, { status: number; why: string }> = {
  markInboxMessageRead: {
    status: 404,
    why: "an inbox is its owner's: another person's message is not found, whoever asks",
  },
  updateMyNotificationPreferences: {
    status: 412,
    why: "preferences are the caller's own: the administrator's ETag is not the excluded user's version",
  },
  recordCarerPanelRecommendation: {
    status: 403,
    why: "only the panel's chair and members record its recommendation, and the excluded user sits on no panel",
  },
  approveDestructionRequest: {
    status: 409,
    why: "the request's document belongs to a restricted child the approver cannot see, and no one approves destroying what they cannot see",
  },
};

let world: World;
let money: MoneyAboutAChild;
let excludedToken: string;
let everythingKey: string;
let tables: Record<string, string[]> = {};
/** Ids of restricted rows, restricted children's names, and the ids of the children and placements money refers to. */
let restrictedIdentifiers: string[] = [];
/** Strings the excluded user stored through a successful write (an echo of its own input is not a leak). */
const writtenByExcluded = new Set<string>();

async function tablesReferringToChildren(): Promise<Record<string, string[]>> {
  const rows = await ownerRows<{ table: string; column: string }>(
    world.db,
    world.a.id,
    `SELECT c.table_name AS table, c.column_name AS column
       FROM information_schema.columns c
       JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
      WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' AND c.column_name = ANY(?)
      ORDER BY 1, 2`,
    [REFERRING_COLUMNS],
  );
  const out: Record<string, string[]> = {};
  for (const r of rows) out[r.table] = [...(out[r.table] ?? []), r.column];
  return out;
}

/** A's rows of a case table that are restricted data: all of them, since every child of A is restricted, save subjects that are not children or placements. */
function restrictedRowsSql(table: string, columns: string[]): string {
  // A document is the child's whatever record it is kept against (a case record, a claim line, a placement).
  if (table === 'documents') return `SELECT * FROM documents WHERE tenant_id = ? AND child_id IS NOT NULL`;
  if (columns.includes('subject_type'))
    return `SELECT * FROM ${table} WHERE tenant_id = ? AND subject_type IN ('child', 'placement')`;
  // Messages about no child (password resets, remittances) are not the child's record.
  if (table === 'outbound_messages')
    return `SELECT * FROM outbound_messages WHERE tenant_id = ? AND (child_id IS NOT NULL OR placement_id IS NOT NULL)`;
  // A change request is about the household (its task's subject), never a child.
  if (table === 'household_change_requests')
    return `SELECT r.* FROM household_change_requests r JOIN tasks t ON t.tenant_id = r.tenant_id AND t.id = r.task_id WHERE r.tenant_id = ? AND t.subject_type IN ('child', 'placement')`;
  if (table === 'task_reminders')
    return `SELECT r.* FROM task_reminders r JOIN tasks t ON t.tenant_id = r.tenant_id AND t.id = r.task_id WHERE r.tenant_id = ? AND t.subject_type IN ('child', 'placement')`;
  return `SELECT * FROM ${table} WHERE tenant_id = ?`;
}

async function snapshotRestricted(
  tables: Record<string, string[]>,
): Promise<{ snapshot: Record<string, string[]>; rows: Array<Record<string, unknown>> }> {
  const snapshot: Record<string, string[]> = {};
  const all: Array<Record<string, unknown>> = [];
  for (const table of ['children', ...Object.keys(tables).filter((t) => CHILD_TABLES[t] === 'case')]) {
    const columns = table === 'children' ? [] : tables[table]!;
    const withSubject = columns.includes('subject_id') ? [...columns, 'subject_type'] : columns;
    const rows = await ownerRows(world.db, world.a.id, restrictedRowsSql(table, withSubject), [world.a.id]);
    snapshot[table] = rows.map((r) => JSON.stringify(r)).sort();
    all.push(...rows.map((r) => ({ ...r, _table: table })));
  }
  return { snapshot, rows: all };
}

function identifiersIn(rows: Array<Record<string, unknown>>): string[] {
  const ids = new Set<string>();
  for (const row of rows) {
    if (typeof row.id === 'string') ids.add(row.id);
    if (typeof row.child_id === 'string') ids.add(row.child_id);
    if (typeof row.placement_id === 'string') ids.add(row.placement_id);
    if (row._table === 'children') {
      // Names made unique by the fixtures ("Fixture…", "Identified…"); a surname shared by every fixture ("Child") would match words, not children.
      for (const name of [row.given_name, row.preferred_name])
        if (typeof name === 'string' && name.length >= 8) ids.add(name);
    }
  }
  return [...ids];
}

function stringLeaves(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(stringLeaves);
  if (value && typeof value === 'object') return Object.values(value).flatMap(stringLeaves);
  return [];
}

const mentionsRestricted = (s: string) => restrictedIdentifiers.some((id) => s.includes(id));

/** Restricted identifiers in a response, after blanking what the caller itself sent or stored. */
function leaks(response: HttpResponse, sent: unknown): string[] {
  let text = response.text;
  response.headers.forEach((value, name) => {
    text += `\n${name}: ${value}`;
  });
  const echoes = [...stringLeaves(sent).filter(mentionsRestricted), ...writtenByExcluded].sort(
    (x, y) => y.length - x.length,
  );
  for (const echo of echoes) text = text.split(echo).join('\u0000');
  return restrictedIdentifiers.filter((id) => text.includes(id));
}

function expectStatus(response: HttpResponse, status: number | ((s: number) => boolean), label: string): void {
  const good = typeof status === 'number' ? response.status === status : status(response.status);
  expect({ status: response.status, body: good ? 'as expected' : response.text }).toEqual({
    status: good ? response.status : label,
    body: 'as expected',
  });
}

function expectNoLeak(response: HttpResponse, sent: unknown): void {
  expect({ leaksOfRestrictedData: leaks(response, sent) }).toEqual({ leaksOfRestrictedData: [] });
}

const pathMentions = (request: OperationRequest) => Object.values(request.params ?? {}).some(mentionsRestricted);
const inputMentions = (request: OperationRequest) =>
  [...stringLeaves(request.query ?? {}), ...stringLeaves(request.body ?? null)].some(mentionsRestricted);

/**
 * Every child of A restricted to A's first administrator, written as the owner with versions as they
 * were, so a fixture's If-Match still holds for anyone allowed to act on it; then what is restricted
 * now, as rows and as identifiers.
 */
async function restrictEveryChild(): Promise<Record<string, string[]>> {
  await world.db.transaction(async (trx) => {
    await trx.raw(`SELECT set_config('app.tenant_id', ?, true)`, [world.a.id]);
    await trx.raw(`UPDATE children SET restricted = true WHERE tenant_id = ? AND NOT restricted`, [world.a.id]);
    await trx.raw(
      `INSERT INTO child_access_grants (tenant_id, child_id, user_id) SELECT tenant_id, id, ? FROM children WHERE tenant_id = ? ON CONFLICT DO NOTHING`,
      [world.a.adminId, world.a.id],
    );
  });
  const { snapshot, rows } = await snapshotRestricted(tables);
  restrictedIdentifiers = identifiersIn(rows);
  return snapshot;
}

/** Restricted rows that a request changed or removed, and rows about a restricted child it added. */
function changedRows(
  before: Record<string, string[]>,
  after: Record<string, string[]>,
): Record<string, { gone: string[]; came: string[] }> {
  const changed: Record<string, { gone: string[]; came: string[] }> = {};
  for (const table of Object.keys(before)) {
    const was = new Set(before[table]);
    const is = after[table] ?? [];
    const gone = before[table]!.filter((r) => !is.includes(r));
    const came = is.filter((r) => !was.has(r) && mentionsRestricted(r));
    if (gone.length || came.length) changed[table] = { gone, came };
  }
  return changed;
}

/**
 * Money about a child (the module seeds' placements have no placement type, so no run pays them): a
 * placement paid by a finalised run (payment lines, ledger entries), and a claim line naming the child.
 */
interface MoneyAboutAChild {
  childId: string;
  householdId: string;
  runId: string;
  claimId: string;
}

async function seedMoneyAboutAChild(ctx: FixtureContext): Promise<MoneyAboutAChild> {
  const householdId = await householdWithRoom(ctx);
  const startDate = await approvalDay(ctx, householdId);
  const child = await ok(
    await world.call('createChild', {
      token: ctx.tenant.adminToken,
      body: { givenName: 'Paidfor', familyName: 'Child', dateOfBirth: '2014-02-03', sex: 'male' },
    }),
    201,
    'createChild',
  );
  await ok(
    await world.call('createPlacement', {
      token: ctx.tenant.adminToken,
      params: { childId: child.body.id },
      body: { householdId, kind: 'long_term', startDate, placementType: 'U4' },
    }),
    201,
    'createPlacement',
  );
  const body = claimBody();
  // Dated the day the household was approved (and the child placed): a claim is paid only for costs while a household is approved.
  const claim = await ok(
    await world.call('createClaim', {
      token: ctx.tenant.adminToken,
      params: { householdId },
      body: { ...body, lines: body.lines.map((l) => ({ ...l, date: startDate, childId: child.body.id })) },
    }),
    201,
    'createClaim',
  );
  await ok(
    await world.call('submitClaim', { token: ctx.tenant.adminToken, params: { claimId: claim.body.id }, body: {} }),
    200,
    'submitClaim',
  );
  const run = await runAt(ctx, 'finalised');
  await runJobs(world);
  return { childId: child.body.id, householdId, runId: run.id, claimId: claim.body.id };
}

beforeAll(async () => {
  world = await startWorld();
  const ctx = { world, tenant: world.a };
  for (const seedModule of moduleSeeds) await seedModule(ctx);
  money = await seedMoneyAboutAChild(ctx);
  tables = await tablesReferringToChildren();
  excludedToken = (await world.addUser(world.a, ['tenant_admin'])).token;
  const key = await world.call('createApiKey', {
    token: world.a.adminToken,
    body: { name: 'every permission', permissions: Object.keys(PERMISSIONS).filter((p) => p !== 'tenants:manage') },
  });
  if (key.status !== 201) throw new Error(`createApiKey: ${key.status} ${key.text}`);
  everythingKey = key.body.secret as string;
}, 240_000);

afterAll(async () => {
  await world?.close();
});

describe('the tables that refer to a child', () => {
  it('are each classified as case data or money', () => {
    expect(Object.keys(tables).filter((t) => !CHILD_TABLES[t])).toEqual([]);
    expect(Object.keys(CHILD_TABLES).filter((t) => !tables[t])).toEqual([]);
  });

  it('hold restricted rows in the tables that matter most once every child is restricted, so the matrix below tests something', async () => {
    const restricted = await restrictEveryChild();
    const empty = [
      'children',
      'tasks',
      'placements',
      'child_care_episodes',
      'child_case_records',
      'matching_requests',
      'placement_levels_of_care',
      'placement_visits',
      'case_events',
    ].filter((t) => !restricted[t]?.length);
    expect(empty).toEqual([]);
    expect(restrictedIdentifiers.length).toBeGreaterThan(40);
    // And money that names a restricted child, in each place money is kept.
    const money: Record<string, number> = {};
    for (const table of ['payment_lines', 'ledger_entries', 'claim_lines', 'invoice_lines']) {
      money[table] = (
        await ownerRows<{ n: number }>(
          world.db,
          world.a.id,
          `SELECT count(*)::int AS n FROM ${table} WHERE tenant_id = ? AND child_id IS NOT NULL`,
          [world.a.id],
        )
      )[0]!.n;
    }
    expect(Object.entries(money).filter(([, n]) => n === 0)).toEqual([]);
  });
});

function classify(op: ContractOperation): string {
  if (op.tenancy === 'platform') return '403: platform administration';
  if (op.tenancy === 'public') return 'public: nothing of a restricted child in the answer';
  return 'tenant: as the named administrator, less the restricted data';
}

/**
 * Each operation on its own: A's request is built as the administrator, every child (including any
 * the fixture just made) is restricted, then the excluded user sends it (and, for reads, the API key).
 */
describe("a user named on no restriction, sending the named administrator's requests", () => {
  it.each(routed.map((op) => ({ operationId: op.operationId, op, expectation: classify(op) })))(
    '$operationId: $expectation',
    async ({ operationId, op }) => {
      const request = await requestFor(operationId, { world, tenant: world.a });
      const before = await restrictEveryChild();
      if (request.as === 'carer') {
        // The carer portal is fenced by the carer's household, not by restrictions (the carer a child
        // lives with knows the child; test/portal.test.ts proves that fence). Staff, the excluded user
        // among them, are refused the portal whole, and nothing of the restricted child changes.
        const response = await world.call(operationId, { ...request, token: excludedToken });
        expectStatus(response, 403, '403: the carer portal admits carers only');
        expectNoLeak(response, request);
        expect(changedRows(before, (await snapshotRestricted(tables)).snapshot)).toEqual({});
        return;
      }
      const own = request.as === 'none' || request.as === 'custom';
      const sent: OperationRequest = own ? request : { ...request, token: excludedToken, apiKey: undefined };

      if (op.tenancy === 'platform') {
        const response = await world.call(operationId, { ...sent, token: excludedToken });
        expectStatus(response, 403, '403');
        expectNoLeak(response, sent);
        return;
      }

      const response = await world.call(operationId, sent);
      const expected = EXPECTED_FOR_EXCLUDED[operationId]?.status ?? request.expect;
      if (pathMentions(request)) {
        expectStatus(response, 404, '404: the path names restricted data');
      } else if (inputMentions(request) && op.method !== 'get') {
        expectStatus(response, (s) => s >= 400 && s < 500, '4xx: the input names restricted data');
      } else if (!inputMentions(request)) {
        expectStatus(response, expected, String(expected));
      }
      expectNoLeak(response, sent);
      if (op.method !== 'get') {
        expect(changedRows(before, (await snapshotRestricted(tables)).snapshot)).toEqual({});
        if (response.status < 300) for (const s of stringLeaves(sent.body)) if (s.length >= 8) writtenByExcluded.add(s);
      } else if (op.tenancy === 'tenant' && !own) {
        // The same read with an API key that holds every permission.
        const keyed: OperationRequest = { ...request, token: undefined, apiKey: everythingKey };
        const byKey = await world.call(operationId, keyed);
        if (pathMentions(request))
          expectStatus(byKey, (s) => s === 404 || s === 403, '404 (or 403 where only a person may call)');
        expectNoLeak(byKey, keyed);
      }
    },
  );
});

/**
 * The matrix's fixtures pay no child (their placements have no placement type), so money about a
 * restricted child is read here, from the run, claim and journal seeded for it.
 */
describe('money about a restricted child, read by a user named on no restriction', () => {
  const asExcluded = (operationId: string, options: OperationRequest | Record<string, unknown> = {}) =>
    world.call(operationId, { ...options, token: excludedToken });
  const sum = (rows: Array<{ amount: number }>) => rows.reduce((s, r) => s + r.amount, 0);

  beforeAll(async () => {
    await restrictEveryChild();
  });

  it('keeps every line of the run, and its total, with the child and placement withheld', async () => {
    const run = await asExcluded('getPaymentRun', { params: { runId: money.runId } });
    const lines = await asExcluded('listPaymentRunLines', { params: { runId: money.runId }, query: { limit: 200 } });
    expectStatus(lines, 200, '200');
    expectNoLeak(lines, {});
    const data = lines.body.data as Array<{
      amount: number;
      childId: string | null;
      householdId: string;
      kind: string;
    }>;
    expect(sum(data)).toBe(run.body.total);
    expect(data.some((l) => l.householdId === money.householdId && l.kind === 'rate' && l.childId === null)).toBe(true);
    // (control) the administrator named on the child sees it on the same lines.
    const named = await world.call('listPaymentRunLines', {
      token: world.a.adminToken,
      params: { runId: money.runId },
      query: { limit: 200 },
    });
    expect((named.body.data as Array<{ childId: string | null }>).some((l) => l.childId === money.childId)).toBe(true);
  });

  it('finds no line when a filter names the restricted child', async () => {
    const lines = await asExcluded('listPaymentRunLines', {
      params: { runId: money.runId },
      query: { childId: money.childId },
    });
    expectStatus(lines, 200, '200');
    expect(lines.body.data).toEqual([]);
  });

  it("shows the household's statement and remittance with the child withheld", async () => {
    for (const operationId of ['getCarerStatement', 'getRemittanceAdvice']) {
      const response = await asExcluded(operationId, {
        params: { runId: money.runId, householdId: money.householdId },
        query: { format: 'html' },
      });
      expectStatus(response, 200, '200');
      expectNoLeak(response, {});
      if (operationId === 'getCarerStatement') expect(response.text).toContain('Restricted record');
    }
  });

  it("keeps the run's journal balanced, and its export, with the child withheld", async () => {
    const run = await asExcluded('getPaymentRun', { params: { runId: money.runId } });
    const journal = await asExcluded('getLedgerJournal', { params: { journalId: run.body.journalId } });
    expectStatus(journal, 200, '200');
    expectNoLeak(journal, {});
    const entries = journal.body.entries as Array<{ debit: number; credit: number }>;
    expect(entries.reduce((s, e) => s + e.debit - e.credit, 0)).toBe(0);
    for (const [operationId, options] of [
      ['createLedgerExport', { body: { format: 'generic', sourceType: 'payment_run', sourceId: money.runId } }],
      ['exportPaymentRun', { params: { runId: money.runId }, body: { format: 'generic' } }],
    ] as const) {
      const exported = await asExcluded(operationId, options);
      expectStatus(exported, 200, '200');
      expectNoLeak(exported, options);
    }
  });

  it('reports payments by child with the restricted children as one group, and the same total', async () => {
    const run = await asExcluded('getPaymentRun', { params: { runId: money.runId } });
    const query = { from: run.body.paymentDate, to: run.body.paymentDate, groupBy: 'child' };
    const report = await asExcluded('getPaymentsReport', { query });
    expectStatus(report, 200, '200');
    expectNoLeak(report, {});
    const named = await world.call('getPaymentsReport', { token: world.a.adminToken, query });
    expect(report.body.total).toBe(named.body.total);
    expect((report.body.groups as Array<{ key: string }>).map((g) => g.key)).toContain('restricted');
  });

  it('shows the claim with the child withheld from its line, and refuses a claim naming the child', async () => {
    const claim = await asExcluded('getClaim', { params: { claimId: money.claimId } });
    expectStatus(claim, 200, '200');
    expectNoLeak(claim, {});
    const body = claimBody();
    const request = {
      params: { householdId: money.householdId },
      body: { ...body, lines: body.lines.map((l) => ({ ...l, childId: money.childId })) },
    };
    const refused = await asExcluded('createClaim', request);
    expectStatus(refused, 422, '422');
    expectNoLeak(refused, request);
  });
});

describe('the restricted data', () => {
  it('(control) is seen by the administrator named on it, so the silence above means something', async () => {
    await restrictEveryChild();
    const tasks = await world.call('listTasks', { token: world.a.adminToken, query: { limit: 200 } });
    const children = await world.call('listChildren', { token: world.a.adminToken, query: { limit: 200 } });
    expect(leaks(tasks, {}).length).toBeGreaterThan(0);
    expect(leaks(children, {}).length).toBeGreaterThan(0);
  });
});
