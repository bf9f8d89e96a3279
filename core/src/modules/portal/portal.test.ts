import { ownerRows, startWorld, TEST_PASSWORD, type TenantFixture, type World } from '../../../../test/support/harness';
import { daysFromToday, makeApprovedHousehold, makeMember, step } from '../../../../test/support/fixtures/carers';
import { currentTotp } from '../../auth/totp';
import {
  inviteAndLogIn,
  leaveHousehold,
  makeCarer,
  makeDailyLog,
  type Carer,
} from '../../../../test/support/fixtures/portal';
import { runJobs } from '../../../../test/support/fixtures/payments';
import { applyScope } from '../../db/tenantTransaction';

let world: World;
let ukCarer: Carer;
let usCarer: Carer;
let otherUkCarer: Carer;
beforeAll(async () => {
  world = await startWorld();
  ukCarer = await makeCarer({ world, tenant: world.a });
  otherUkCarer = await makeCarer({ world, tenant: world.a });
  usCarer = await makeCarer({ world, tenant: world.b });
}, 300_000);
afterAll(async () => {
  await world?.close();
});

const asCarer = (carer: Carer, operationId: string, options: Record<string, unknown> = {}) =>
  world.call(operationId, { token: carer.token, ...options });

async function overlay(tenant: TenantFixture, portal: Record<string, unknown>) {
  const r = await world.call('createOverlay', {
    token: tenant.adminToken,
    body: { effectiveFrom: daysFromToday(-400), description: 'Portal settings', changes: { portal } },
  });
  expect(r.status).toBe(201);
}

describe('a carer is a principal of kind carer, bound to one household', () => {
  it('logs in through the invitation and is shown as a carer of their household', async () => {
    const me = await asCarer(ukCarer, 'getCurrentPrincipal');
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({
      kind: 'carer',
      householdId: ukCarer.householdId,
      memberId: ukCarer.memberId,
      permissions: [],
    });
  });

  it('is refused every staff operation, even when a role with those permissions is granted', async () => {
    expect((await asCarer(ukCarer, 'listPlacements')).status).toBe(403);
    const granted = await world.call('updateUser', {
      token: world.a.adminToken,
      params: { userId: ukCarer.userId },
      headers: {
        'if-match': (
          await world.call('getUser', { token: world.a.adminToken, params: { userId: ukCarer.userId } })
        ).headers.get('etag')!,
      },
      body: { roles: ['tenant_admin'] },
    });
    expect(granted.status).toBe(200);
    for (const operationId of ['listPlacements', 'listChildren', 'listCarerHouseholds', 'listUsers']) {
      const r = await asCarer(ukCarer, operationId);
      expect({ operationId, status: r.status, type: r.body.type }).toEqual({
        operationId,
        status: 403,
        type: 'https://hearth.dev/problems/portal-staff-only',
      });
    }
  });

  it('staff are refused the portal operations', async () => {
    const r = await world.call('getPortalHousehold', { token: world.a.adminToken });
    expect(r.status).toBe(403);
    expect(r.body.type).toBe('https://hearth.dev/problems/portal-carers-only');
  });

  it('gives each adult their own login, never a second one for the same member', async () => {
    const again = await world.call('inviteCarerToPortal', {
      token: world.a.adminToken,
      params: { householdId: ukCarer.householdId, memberId: ukCarer.memberId },
      body: { email: 'second-login@tenant-a.test' },
    });
    expect(again.status).toBe(409);
    const child = await makeMember({ world, tenant: world.a }, ukCarer.householdId, {
      name: 'A child of the household',
      dateOfBirth: daysFromToday(-365 * 10),
      role: 'household_member',
    });
    const young = await world.call('inviteCarerToPortal', {
      token: world.a.adminToken,
      params: { householdId: ukCarer.householdId, memberId: child.id },
      body: { email: 'too-young@tenant-a.test' },
    });
    expect(young.status).toBe(422);
    expect(young.body.errors[0].pointer).toBe('/path/memberId');
  });
});

describe('my household', () => {
  it("shows the household's members, approval and supervising worker, in the pack's words", async () => {
    const r = await asCarer(ukCarer, 'getPortalHousehold');
    expect(r.status).toBe(200);
    expect(r.body.id).toBe(ukCarer.householdId);
    expect(r.body.members.map((m: { id: string }) => m.id)).toContain(ukCarer.memberId);
    expect(r.body.approval.approvedOn).toBe(daysFromToday(-30));
    expect(r.body.approval.terms).toMatchObject({ maxChildren: 4 });
    expect(r.body.supervisingWorker).toMatchObject({ id: world.a.adminId });
    const uk = await asCarer(ukCarer, 'getPortalOverview');
    expect(uk.body.terms).toMatchObject({
      carer: 'foster carer',
      supervisingWorker: 'supervising social worker',
      remittance: 'remittance advice',
    });
    const us = await asCarer(usCarer, 'getPortalOverview');
    expect(us.body.terms).toMatchObject({
      carer: 'resource parent',
      supervisingWorker: 'licensing worker',
      remittance: 'provider statement',
    });
  });

  it('turns a change request into a task for the supervising worker, never a change to the record', async () => {
    const before = await asCarer(ukCarer, 'getPortalHousehold');
    const r = await asCarer(ukCarer, 'requestHouseholdChange', {
      body: { field: 'address', proposedValue: '2 New Road, Leeds', note: 'We moved on Saturday' },
    });
    expect(r.status).toBe(201);
    expect(r.body.status).toBe('open');
    const task = await world.call('getTask', { token: world.a.adminToken, params: { taskId: r.body.taskId } });
    expect(task.status).toBe(200);
    expect(task.body.ownerId).toBe(world.a.adminId);
    const after = await asCarer(ukCarer, 'getPortalHousehold');
    expect(after.body.address).toBe(before.body.address);
    const mine = await asCarer(ukCarer, 'listPortalChangeRequests');
    expect(mine.body.data.map((c: { id: string }) => c.id)).toContain(r.body.id);
    const theirs = await asCarer(otherUkCarer, 'listPortalChangeRequests');
    expect(theirs.body.data.map((c: { id: string }) => c.id)).not.toContain(r.body.id);
  });
});

describe('my placements', () => {
  it('lists my placements only, and shows the child only through the fields the tenant shares', async () => {
    const list = await asCarer(ukCarer, 'listPortalPlacements');
    expect(list.status).toBe(200);
    expect(list.body.data.map((p: { id: string }) => p.id)).toEqual([ukCarer.placementId]);
    expect(list.body.data[0]).toMatchObject({ current: true, childId: ukCarer.childId, respite: false });

    const one = await asCarer(ukCarer, 'getPortalPlacement', { params: { placementId: ukCarer.placementId } });
    expect(one.status).toBe(200);
    // The UK pack shares the given name, date of birth, language, religion and disabilities, not the family name or ethnicity.
    expect(Object.keys(one.body.child).sort()).toEqual(
      ['dateOfBirth', 'disabilities', 'givenName', 'interpreterNeeded', 'language', 'preferredName', 'religion'].sort(),
    );
    expect(one.body.child.familyName).toBeUndefined();
    expect(one.body.contacts.supervisingWorker).toMatchObject({ id: world.a.adminId });

    const audited = await ownerRows<{ after: { reads: Array<{ childId: string; group: string; fields: string[] }> } }>(
      world.db,
      world.a.id,
      `SELECT after FROM audit_events WHERE action = 'portal.children_accessed' AND entity_id = ? AND actor_id = ? ORDER BY seq DESC LIMIT 1`,
      [ukCarer.placementId, ukCarer.userId],
    );
    expect(audited[0]!.after.reads).toEqual([
      expect.objectContaining({
        childId: ukCarer.childId,
        group: 'profile',
        fields: expect.arrayContaining(['givenName', 'religion']),
      }),
    ]);
  });

  it("answers 404 for another household's placement, in the same tenant or another", async () => {
    for (const [carer, placementId] of [
      [ukCarer, otherUkCarer.placementId],
      [ukCarer, usCarer.placementId],
      [usCarer, ukCarer.placementId],
    ] as const) {
      const r = await asCarer(carer, 'getPortalPlacement', { params: { placementId } });
      expect(r.status).toBe(404);
      expect(r.text).not.toContain(placementId === otherUkCarer.placementId ? otherUkCarer.childId : 'never');
    }
  });

  it('a respite carer sees the child only during the respite dates; the home keeps its access', async () => {
    const ctx = { world, tenant: world.a };
    const respiteHome = await makeApprovedHousehold(ctx, {
      approvedOn: daysFromToday(-30),
      terms: { maxChildren: 3, ageMin: 0, ageMax: 17, placementKinds: ['respite', 'short_term'] },
    });
    const member = await makeMember(ctx, respiteHome.id, { name: 'Respite carer' });
    const respiteCarer = await inviteAndLogIn(ctx, respiteHome.id, member.id);
    const future = await world.call('createRespitePlacement', {
      token: world.a.adminToken,
      params: { placementId: ukCarer.placementId },
      body: { householdId: respiteHome.id, startDate: daysFromToday(3), endDate: daysFromToday(5) },
    });
    expect(future.status).toBe(201);
    const token = respiteCarer.token;
    const one = await world.call('getPortalPlacement', { token, params: { placementId: future.body.id } });
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ respite: true, current: false, child: null });
    expect(one.body.contacts.childsWorker).toBeNull();
    // Not yet a day the child is with the respite carer: nothing may be written about them.
    const log = await world.call('createPortalDailyLog', {
      token,
      body: { childId: ukCarer.childId, occurredOn: daysFromToday(-1), title: 'x', body: 'y' },
    });
    expect(log.status).toBe(422);
    // The home keeps its placement, its child and its access while the respite is booked.
    const home = await asCarer(ukCarer, 'getPortalPlacement', { params: { placementId: ukCarer.placementId } });
    expect(home.body.current).toBe(true);
    expect(home.body.child).not.toBeNull();
  });
});

describe('daily logs', () => {
  it('are written about a child in my care, read back by their author, never edited, corrected by a new log', async () => {
    const first = await makeDailyLog({ world, tenant: world.a }, ukCarer);
    const correction = await asCarer(ukCarer, 'createPortalDailyLog', {
      body: {
        childId: ukCarer.childId,
        occurredOn: daysFromToday(-1),
        title: 'School day (corrected)',
        body: 'Went to school; missed lunch.',
        correctsLogId: first.id,
      },
    });
    expect(correction.status).toBe(201);
    const read = await asCarer(ukCarer, 'getPortalDailyLog', { params: { logId: first.id } });
    expect(read.body).toMatchObject({
      title: 'School day',
      correctedBy: [correction.body.id],
      authorId: ukCarer.userId,
    });
    const staff = await world.call('listChildDailyLogs', {
      token: world.a.adminToken,
      params: { childId: ukCarer.childId },
    });
    expect(staff.body.data.map((l: { id: string }) => l.id)).toEqual(
      expect.arrayContaining([first.id, correction.body.id]),
    );
    const seen = await world.call('markDailyLogSeen', {
      token: world.a.adminToken,
      params: { childId: ukCarer.childId, logId: first.id },
    });
    expect(seen.status).toBe(200);
    expect(seen.body.seenBy).toBe(world.a.adminId);
    // The database refuses any other change to a log, whoever asks.
    await expect(
      world.db.transaction(async (trx) => {
        await applyScope(trx, { tenantId: world.a.id });
        await trx.raw(`UPDATE carer_daily_logs SET body = 'rewritten' WHERE id = ?`, [first.id]);
      }),
    ).rejects.toThrow(/permission denied/);
  });

  it('are refused about a child not placed with me, on a future day, and as a correction of another child', async () => {
    const other = await asCarer(ukCarer, 'createPortalDailyLog', {
      body: { childId: otherUkCarer.childId, occurredOn: daysFromToday(-1), title: 'x', body: 'y' },
    });
    expect(other.status).toBe(422);
    expect(other.body.errors[0].pointer).toBe('/body/childId');
    const future = await asCarer(ukCarer, 'createPortalDailyLog', {
      body: { childId: ukCarer.childId, occurredOn: daysFromToday(2), title: 'x', body: 'y' },
    });
    expect(future.status).toBe(422);
    expect(future.body.errors[0].pointer).toBe('/body/occurredOn');
    const theirLog = await makeDailyLog({ world, tenant: world.a }, otherUkCarer);
    const read = await asCarer(ukCarer, 'getPortalDailyLog', { params: { logId: theirLog.id } });
    expect(read.status).toBe(404);
  });
});

describe('messages', () => {
  it("a claim decision reaches the household's carers in their inbox, which the portal reads", async () => {
    const claim = await world.call('createClaim', {
      token: world.a.adminToken,
      params: { householdId: ukCarer.householdId },
      body: {
        description: 'Bus fares',
        lines: [{ kind: 'expense', date: daysFromToday(-3), category: 'travel', description: 'Bus', amount: 420 }],
      },
    });
    expect(claim.status).toBe(201);
    expect(
      (await world.call('submitClaim', { token: world.a.adminToken, params: { claimId: claim.body.id }, body: {} }))
        .status,
    ).toBe(200);
    const finance = await world.addUser(world.a, ['finance_officer']);
    const decided = await world.call('rejectClaim', {
      token: finance.token,
      params: { claimId: claim.body.id },
      body: { reasons: 'No receipt.' },
    });
    expect(decided.status).toBe(200);
    // The outbox's delivery jobs run (the in-app channel delivers to the inbox).
    await runJobs(world);
    const inbox = await asCarer(ukCarer, 'listInbox');
    expect(inbox.status).toBe(200);
    const message = (inbox.body.data as Array<{ event: string; reference: string | null }>).find(
      (m) => m.event === 'claims.decided',
    );
    expect(message).toBeDefined();
    // Another household's carer hears nothing of it.
    const theirs = await asCarer(otherUkCarer, 'listInbox');
    expect((theirs.body.data as Array<{ event: string }>).some((m) => m.event === 'claims.decided')).toBe(false);
  });
});

describe('tenant policy', () => {
  it('a feature turned off answers 403 with its own problem type; shared fields follow the overlay', async () => {
    await overlay(world.b, {
      features: { logs: false },
      childFields: ['givenName', 'familyName'],
      outOfHoursPhone: '+1 555 0100',
    });
    const off = await asCarer(usCarer, 'listPortalDailyLogs');
    expect(off.status).toBe(403);
    expect(off.body.type).toBe('https://hearth.dev/problems/portal-feature-off');
    const one = await asCarer(usCarer, 'getPortalPlacement', { params: { placementId: usCarer.placementId } });
    expect(Object.keys(one.body.child).sort()).toEqual(['familyName', 'givenName']);
    expect(one.body.contacts.outOfHoursPhone).toBe('+1 555 0100');
    const config = await world.call('getEffectiveConfiguration', { token: world.b.adminToken });
    expect(config.body.portal.features.logs).toMatchObject({ value: false, layer: expect.stringMatching(/^overlay:/) });
    await overlay(world.b, { features: { logs: true } });
    expect((await asCarer(usCarer, 'listPortalDailyLogs')).status).toBe(200);
  });
});

describe('the database fences a carer to their household', () => {
  it("as the portal's role, only the household's rows are visible and staff-only tables are empty", async () => {
    const seen = await world.db.transaction(async (trx) => {
      await applyScope(trx, {
        tenantId: world.a.id,
        portal: { householdId: ukCarer.householdId, userId: ukCarer.userId },
      });
      const count = async (sql: string) => Number(((await trx.raw(sql)) as { rows: Array<{ n: string }> }).rows[0]!.n);
      return {
        households: await count('SELECT count(*) AS n FROM carer_households'),
        otherPlacements: await count(
          `SELECT count(*) AS n FROM placements WHERE household_id <> '${ukCarer.householdId}'`,
        ),
        children: await count('SELECT count(DISTINCT id) AS n FROM children'),
        alerts: await count('SELECT count(*) AS n FROM child_alerts'),
        caseRecords: await count('SELECT count(*) AS n FROM child_case_records'),
        otherLogs: await count(
          `SELECT count(*) AS n FROM carer_daily_logs WHERE household_id <> '${ukCarer.householdId}'`,
        ),
        otherCarers: await count(`SELECT count(*) AS n FROM users WHERE kind = 'carer' AND id <> '${ukCarer.userId}'`),
      };
    });
    expect(seen.households).toBe(1);
    expect(seen.otherPlacements).toBe(0);
    expect(seen.children).toBe(1);
    expect(seen.alerts).toBe(0);
    expect(seen.caseRecords).toBe(0);
    expect(seen.otherLogs).toBe(0);
    expect(seen.otherCarers).toBe(0);
  });

  it('refuses a write to another household, whatever the code asks', async () => {
    await expect(
      world.db.transaction(async (trx) => {
        await applyScope(trx, {
          tenantId: world.a.id,
          portal: { householdId: ukCarer.householdId, userId: ukCarer.userId },
        });
        await trx.raw(
          `INSERT INTO carer_daily_logs (tenant_id, id, household_id, child_id, placement_id, author_id, occurred_on, title, body)
           VALUES (?, gen_random_uuid(), ?, ?, ?, ?, current_date, 't', 'b')`,
          [world.a.id, otherUkCarer.householdId, otherUkCarer.childId, otherUkCarer.placementId, ukCarer.userId],
        );
      }),
    ).rejects.toThrow(/row-level security/);
  });
});

describe('carers sign in as staff do', () => {
  it('enrol a TOTP authenticator, after which a log-in needs its code', async () => {
    const ctx = { world, tenant: world.a };
    const carer = await makeCarer(ctx);
    const setup = await asCarer(carer, 'startTotpEnrolment');
    expect(setup.status).toBe(201);
    const secret = setup.body.secret as string;
    expect((await asCarer(carer, 'confirmTotpEnrolment', { body: { code: currentTotp(secret) } })).status).toBe(204);
    const without = await world.login(world.a.slug, carer.email, TEST_PASSWORD);
    expect(without.status).toBe(401);
    expect(without.body.type).toBe('https://hearth.dev/problems/mfa-required');
    const withCode = await world.login(world.a.slug, carer.email, TEST_PASSWORD, currentTotp(secret, 1));
    expect(withCode.status).toBe(200);
    const me = await world.call('getCurrentPrincipal', { token: withCode.body.accessToken });
    expect(me.body).toMatchObject({ kind: 'carer', householdId: carer.householdId, mfaEnabled: true });
  });
});

describe('access ends at once', () => {
  it("when the household's approval is terminated", async () => {
    const ctx = { world, tenant: world.a };
    const carer = await makeCarer(ctx);
    expect((await asCarer(carer, 'getPortalHousehold')).status).toBe(200);
    await step(ctx, carer.householdId, 'deregister', {
      decision: { key: 'termination_decision', outcome: 'terminate', reasons: 'Qualifying determination upheld.' },
    });
    expect((await asCarer(carer, 'getPortalHousehold')).status).toBe(401);
    const login = await world.login(world.a.slug, carer.email, TEST_PASSWORD);
    expect(login.status).toBe(403);
    expect(login.body.type).toBe('https://hearth.dev/problems/portal-access-ended');
  });

  it('when the member leaves the household: the next request is refused, and so is a new log-in', async () => {
    const ctx = { world, tenant: world.a };
    const leaving = await makeCarer(ctx);
    expect((await asCarer(leaving, 'getPortalHousehold')).status).toBe(200);
    await leaveHousehold(ctx, leaving.householdId, leaving.memberId);
    expect((await asCarer(leaving, 'getPortalHousehold')).status).toBe(401);
    const login = await world.login(world.a.slug, leaving.email, TEST_PASSWORD);
    expect(login.status).toBe(403);
    expect(login.body.type).toBe('https://hearth.dev/problems/portal-access-ended');
    const logins = await world.call('listHouseholdPortalLogins', {
      token: world.a.adminToken,
      params: { householdId: leaving.householdId },
    });
    expect(logins.body.data[0]).toMatchObject({ active: false, inactiveReason: 'left_household' });
  });
});
