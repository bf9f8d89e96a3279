import type { ContractOperation } from '../core/src/http/contract';
import { allOperations } from '../core/src/modules';
import { testContract, type HttpResponse } from './support/contractClient';
import { daysFromToday, makeApprovedHousehold, makeMember } from './support/fixtures/carers';
import {
  inviteAndLogIn,
  leaveHousehold,
  makeCarer,
  makeDailyLog,
  seedPortal,
  theCarer,
  type Carer,
} from './support/fixtures/portal';
import { requestFor, type OperationRequest } from './support/fixtures';
import { ownerRows, startWorld, type World } from './support/harness';

/**
 * The carer portal's isolation matrix, driven by the contract like the tenant isolation matrix:
 * every operation under /v1/portal is sent by the carer it was built for (it answers as its fixture
 * says), then, unchanged but for the credential, by four others:
 *
 * - a carer of another household of the same tenant, and a carer of another tenant: a request naming
 *   the household's record by id is not found (404); a write naming the household's child is refused
 *   (422); anything else acts on the caller's own household;
 * - a former member of the household (they left it today): refused at once (401), whatever the request;
 * - a respite carer of the same child, outside the respite dates: as another household (the respite
 *   booking tells them who is coming, so the child's id and name are theirs to see, and nothing more).
 *
 * No answer to anyone else may hold an identifier of the household's (its id, members, logins,
 * placement, logs, change requests, claims, the child's id and name), and nothing of the household's
 * changes. A new portal operation joins the matrix by itself and fails until its fixture exists.
 */

const portalOps = testContract().operations.filter((o) => o.path === '/v1/portal' || o.path.startsWith('/v1/portal/'));

type Persona = 'other household' | 'other tenant' | 'former member' | 'respite carer outside the dates';
const PERSONAS: Persona[] = ['other household', 'other tenant', 'former member', 'respite carer outside the dates'];

let world: World;
let own: Carer;
const tokens = new Map<Persona, string>();
const requests = new Map<string, OperationRequest>();
let ownIdentifiers: string[] = [];
let childIdentifiers: string[] = [];
let snapshotBefore: string[] = [];
const counts = { requests: 0, leaks: 0 };

/** Every row of the household's that a portal write could touch, as the owner sees it. */
async function householdRows(): Promise<string[]> {
  const rows: string[] = [];
  for (const table of ['carer_daily_logs', 'household_change_requests', 'claims', 'placements', 'carer_households']) {
    const column = table === 'carer_households' ? 'id' : 'household_id';
    const found = await ownerRows(
      world.db,
      world.a.id,
      `SELECT * FROM ${table} WHERE tenant_id = ? AND ${column} = ?`,
      [world.a.id, own.householdId],
    );
    rows.push(...found.map((r) => `${table}:${JSON.stringify(r)}`));
  }
  return rows.sort();
}

async function identifiersOfHousehold(): Promise<{ household: string[]; child: string[] }> {
  const ids = async (sql: string) =>
    (await ownerRows<{ v: string }>(world.db, world.a.id, sql, [world.a.id, own.householdId])).map((r) => r.v);
  const household = [
    own.householdId,
    own.userId,
    own.email,
    ...(await ids(`SELECT id::text AS v FROM carer_household_members WHERE tenant_id = ? AND household_id = ?`)),
    ...(await ids(`SELECT user_id::text AS v FROM carer_logins WHERE tenant_id = ? AND household_id = ?`)),
    ...(await ids(
      `SELECT id::text AS v FROM placements WHERE tenant_id = ? AND household_id = ? AND respite_of IS NULL`,
    )),
    ...(await ids(`SELECT id::text AS v FROM carer_daily_logs WHERE tenant_id = ? AND household_id = ?`)),
    ...(await ids(`SELECT id::text AS v FROM household_change_requests WHERE tenant_id = ? AND household_id = ?`)),
    ...(await ids(`SELECT id::text AS v FROM claims WHERE tenant_id = ? AND household_id = ?`)),
    ...(await ids(`SELECT name AS v FROM carer_households WHERE tenant_id = ? AND id = ?`)),
  ];
  const child = [
    own.childId,
    ...(
      await ownerRows<{ given_name: string }>(
        world.db,
        world.a.id,
        `SELECT given_name FROM children WHERE tenant_id = ? AND id = ?`,
        [world.a.id, own.childId],
      )
    ).map((r) => r.given_name),
  ];
  return { household: [...new Set(household)], child };
}

/** The household's identifiers in an answer to someone else; an echo of what the request itself sent (a 404's `instance`) is not a leak. */
function leaksIn(response: HttpResponse, persona: Persona, sent: OperationRequest): string[] {
  const forbidden =
    persona === 'respite carer outside the dates' ? ownIdentifiers : [...ownIdentifiers, ...childIdentifiers];
  const echoed = JSON.stringify([sent.params ?? {}, sent.query ?? {}, sent.body ?? null]);
  return forbidden.filter((id) => response.text.includes(id) && !echoed.includes(id));
}

const RUN_DOCUMENTS = ['getPortalRemittanceAdvice', 'getPortalPaymentStatement'];

function expectedFor(op: ContractOperation, request: OperationRequest, persona: Persona): number {
  if (persona === 'former member') return 401;
  // A payment run is the tenant's, not the household's: the fixture's run paid every household in
  // care in its period (the other household, and the respite carer's stay), so a carer of the same
  // tenant gets their own document of it (the leak check still holds: nothing of this household's).
  if (RUN_DOCUMENTS.includes(op.operationId) && persona !== 'other tenant') return request.expect;
  if (op.parameters.some((p) => p.in === 'path')) return 404;
  // The fixture's body names the household's child: not a child placed with anyone else.
  if (op.operationId === 'createPortalDailyLog') return 422;
  return request.expect;
}

beforeAll(async () => {
  world = await startWorld();
  const a = { world, tenant: world.a };
  const b = { world, tenant: world.b };
  own = await theCarer(a);
  await seedPortal(a);
  await seedPortal(b);

  const other = await makeCarer(a);
  await makeDailyLog(a, other);
  tokens.set('other household', other.token);
  tokens.set('other tenant', (await theCarer(b)).token);

  // A second adult of the household, who leaves it today.
  const leaver = await makeMember(a, own.householdId, { name: 'Leaving adult' });
  const former = await inviteAndLogIn(a, own.householdId, leaver.id);
  await leaveHousehold(a, own.householdId, leaver.id);
  tokens.set('former member', former.token);

  // A respite carer booked for the household's child next week.
  const respiteHome = await makeApprovedHousehold(a, {
    approvedOn: daysFromToday(-30),
    terms: { maxChildren: 3, ageMin: 0, ageMax: 17, placementKinds: ['respite', 'short_term'] },
  });
  const respiteMember = await makeMember(a, respiteHome.id, { name: 'Respite adult' });
  const respite = await inviteAndLogIn(a, respiteHome.id, respiteMember.id);
  const booked = await world.call('createRespitePlacement', {
    token: world.a.adminToken,
    params: { placementId: own.placementId },
    body: { householdId: respiteHome.id, startDate: daysFromToday(7), endDate: daysFromToday(9) },
  });
  expect(booked.status).toBe(201);
  tokens.set('respite carer outside the dates', respite.token);

  for (const op of portalOps) requests.set(op.operationId, await requestFor(op.operationId, a));
  const identifiers = await identifiersOfHousehold();
  ownIdentifiers = identifiers.household;
  childIdentifiers = identifiers.child;
  snapshotBefore = await householdRows();
}, 600_000);

afterAll(async () => {
  await world?.close();
  // The figures the note quotes.
  if (counts.requests)
    process.stdout.write(`portal isolation matrix: ${counts.requests} requests, ${counts.leaks} leaks\n`);
});

describe('the portal surface', () => {
  it('holds every carer operation, and only carers reach it', () => {
    expect(portalOps.length).toBeGreaterThanOrEqual(10);
    const operations = allOperations();
    for (const op of testContract().operations.filter((o) => o.tenancy !== 'system')) {
      const access = operations[op.operationId]!.access;
      const portal = portalOps.includes(op);
      expect({ operationId: op.operationId, carersOnly: 'carer' in access }).toEqual({
        operationId: op.operationId,
        carersOnly: portal,
      });
    }
  });
});

describe.each(portalOps.map((op) => [op.operationId, op] as const))('%s', (operationId, op) => {
  it('answers its own carer as the fixture says', async () => {
    const request = requests.get(operationId)!;
    const response = await world.call(operationId, request);
    counts.requests++;
    expect({ status: response.status, body: response.status === request.expect ? 'ok' : response.text }).toEqual({
      status: request.expect,
      body: 'ok',
    });
  });

  it.each(PERSONAS)('answers %s exactly, and shows them nothing of the household', async (persona) => {
    const request = requests.get(operationId)!;
    const before = op.method === 'get' ? [] : await householdRows();
    const response = await world.call(operationId, { ...request, token: tokens.get(persona)! });
    counts.requests++;
    // Nothing of the household's changes at anyone else's request.
    if (op.method !== 'get') expect(await householdRows()).toEqual(before);
    const status = expectedFor(op, request, persona);
    expect({ status: response.status, body: response.status === status ? 'ok' : response.text }).toEqual({
      status,
      body: 'ok',
    });
    const leaks = leaksIn(response, persona, request);
    counts.leaks += leaks.length;
    expect({ leaks }).toEqual({ leaks: [] });
  });
});

describe('(control) the leak check sees the household in its own answers', () => {
  it('finds the placement, the child and the household in what its own carer reads', async () => {
    const list = await world.call('listPortalPlacements', { token: own.token });
    expect(list.text).toContain(own.placementId);
    expect(list.text).toContain(own.childId);
    const household = await world.call('getPortalHousehold', { token: own.token });
    expect(household.text).toContain(own.householdId);
  });
});

describe("the household's rows after everyone else's attempts", () => {
  it('are as they were, but for what its own carer wrote', async () => {
    const after = await householdRows();
    // A row gone is only one the own carer changed (a draft claim updated, submitted or withdrawn):
    // each persona's request is checked to change nothing above, so nothing is ever deleted.
    const key = (row: string) =>
      `${row.slice(0, row.indexOf(':'))}:${(JSON.parse(row.slice(row.indexOf(':') + 1)) as { id: string }).id}`;
    const afterKeys = new Set(after.map(key));
    const removed = snapshotBefore.filter((r) => !after.includes(r) && !afterKeys.has(key(r)));
    expect(removed).toEqual([]);
    // Only the own carer's writes added rows: each added row names the own carer or the household.
    const added = after.filter((r) => !snapshotBefore.includes(r));
    for (const row of added) expect(row.includes(own.userId) || row.includes(own.householdId)).toBe(true);
  });
});
