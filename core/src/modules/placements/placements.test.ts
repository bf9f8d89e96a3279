import { ownerRows, startWorld, type TenantFixture, type World } from '../../../../test/support/harness';
import { makeApprovedHousehold } from '../../../../test/support/fixtures/carers';
import { placementAgreementData } from '../../../../test/support/fixtures/placements';

let world: World;
beforeAll(async () => {
  world = await startWorld();
}, 120_000);
afterAll(async () => {
  await world?.close();
});

let serial = 0;
async function child(
  tenant: TenantFixture,
  dateOfBirth = '2014-06-01',
  extra: Record<string, unknown> = {},
): Promise<string> {
  const r = await world.call('createChild', {
    token: tenant.adminToken,
    body: {
      givenName: `Placed${++serial}`,
      familyName: 'Child',
      dateOfBirth,
      sex: tenant === world.a ? 'female' : 'female',
      ...extra,
    },
  });
  expect(r.status).toBe(201);
  return r.body.id as string;
}

type Terms = { maxChildren?: number; ageMin?: number; ageMax?: number; placementKinds?: string[] };
async function household(
  tenant: TenantFixture,
  options: { terms?: Terms; skills?: string[]; location?: { lat: number; lon: number }; region?: string } = {},
): Promise<{ id: string; approvedOn: string }> {
  const { id } = await makeApprovedHousehold(
    { world, tenant },
    {
      ...options,
      terms: {
        maxChildren: 2,
        ageMin: 0,
        ageMax: 17,
        placementKinds: ['short_term', 'long_term', 'emergency'],
        ...options.terms,
      },
    },
  );
  const read = await world.call('getCarerHousehold', { token: tenant.adminToken, params: { householdId: id } });
  expect(read.status).toBe(200);
  return { id, approvedOn: read.body.approvedOn as string };
}

/** A foster placement type of each tenant's list: a placement needs one. */
const fosterType = (tenant: TenantFixture) => (tenant === world.a ? 'U6' : 'foster_family_non_relative');

async function place(tenant: TenantFixture, childId: string, body: Record<string, unknown>, token = tenant.adminToken) {
  return world.call('createPlacement', {
    token,
    params: { childId },
    body: { placementType: fosterType(tenant), ...body },
  });
}

async function events(tenant: TenantFixture, sourceId: string) {
  return ownerRows<{
    name: string;
    subject_type: string;
    subject_id: string;
    occurred_on: string;
    facts: Record<string, unknown>;
    status: string;
  }>(
    world.db,
    tenant.id,
    `SELECT name, subject_type, subject_id, occurred_on::text AS occurred_on, facts, status FROM case_events WHERE tenant_id = ? AND source_id = ? ORDER BY recorded_at, id`,
    [tenant.id, sourceId],
  );
}

async function settings(tenant: TenantFixture, approvalRequired: boolean) {
  const read = await world.call('getPlacementSettings', { token: tenant.adminToken });
  const r = await world.call('updatePlacementSettings', {
    token: tenant.adminToken,
    body: { approvalRequired },
    headers: { 'if-match': read.headers.get('etag')! },
  });
  expect(r.status).toBe(200);
  return r.body;
}

// London, and two points about 5 km and 40 km from it.
const LONDON = { lat: 51.5074, lon: -0.1278 };
const NEAR = { lat: 51.55, lon: -0.1 };
const FAR = { lat: 51.8, lon: 0.3 };

describe('a UK child matched, placed, moved and ended', () => {
  it('ranks, excludes with reasons, places, moves in one step and ends with a reason', async () => {
    const near = await household(world.a, { skills: ['teenagers', 'autism'], location: NEAR, region: 'london' });
    const far = await household(world.a, { skills: ['teenagers'], location: FAR, region: 'rest_of_england' });
    const young = await household(world.a, { skills: ['autism'], location: NEAR, terms: { ageMin: 0, ageMax: 5 } });
    const day = near.approvedOn;
    const childId = await child(world.a, '2014-06-01');

    const request = await world.call('createMatchingRequest', {
      token: world.a.adminToken,
      params: { childId },
      body: {
        placementKind: 'long_term',
        wantedFrom: day,
        requiredSkills: ['autism'],
        location: LONDON,
        maxDistanceKm: 60,
        preferredRegion: 'london',
      },
    });
    expect(request.status).toBe(201);
    expect(request.body).toMatchObject({ childId, status: 'open', childCount: 1 });

    const shortlist = await world.call('getMatchingShortlist', {
      token: world.a.adminToken,
      params: { matchingRequestId: request.body.id },
      query: { includeExcluded: true, limit: 200 },
    });
    expect(shortlist.status).toBe(200);
    const ids = shortlist.body.candidates.map((c: { householdId: string }) => c.householdId);
    expect(ids).toContain(near.id);
    expect(ids).toContain(far.id);
    expect(ids.indexOf(near.id)).toBeLessThan(ids.indexOf(far.id));
    const nearC = shortlist.body.candidates.find((c: { householdId: string }) => c.householdId === near.id);
    const farC = shortlist.body.candidates.find((c: { householdId: string }) => c.householdId === far.id);
    expect(nearC.score).toBeGreaterThan(farC.score);
    expect(nearC.skillsMatched).toEqual(['autism']);
    expect(farC.skillsMissing).toEqual(['autism']);
    expect(nearC.distanceKm).toBeLessThan(10);
    expect(farC.distanceKm).toBeGreaterThan(30);
    expect(nearC.reasons.map((r: { code: string }) => r.code)).toEqual(
      expect.arrayContaining([
        'approved',
        'compliant',
        'age_range',
        'placement_kind',
        'vacancies',
        'distance',
        'skills',
        'region',
      ]),
    );
    expect(nearC.reasons.find((r: { code: string }) => r.code === 'vacancies').detail).toMatch(/has 2 vacancies/);
    expect(ids).not.toContain(young.id);
    const excluded = shortlist.body.excluded.find((e: { householdId: string }) => e.householdId === young.id);
    expect(excluded.reasons).toEqual([
      expect.objectContaining({
        code: 'age_range',
        met: false,
        detail: expect.stringMatching(/ages 0-5; the child is 12/),
      }),
    ]);
    expect(shortlist.body.excludedByReason.age_range).toBeGreaterThanOrEqual(1);
    expect(shortlist.body.childAge).toBe(12);

    // Placed with the household ranked first.
    const placed = await place(world.a, childId, {
      householdId: near.id,
      kind: 'long_term',
      placementType: 'U4',
      startDate: day,
      matchingRequestId: request.body.id,
    });
    expect(placed.status).toBe(201);
    expect(placed.body).toMatchObject({
      status: 'active',
      longTerm: true,
      workflowState: null,
      householdId: near.id,
      startDate: day,
    });
    expect(await events(world.a, placed.body.id)).toEqual([
      {
        name: 'placement.started',
        subject_type: 'placement',
        subject_id: placed.body.id,
        occurred_on: day,
        facts: { longTerm: true },
        status: 'current',
      },
    ]);
    const matched = await world.call('getMatchingRequest', {
      token: world.a.adminToken,
      params: { matchingRequestId: request.body.id },
    });
    expect(matched.body.status).toBe('matched');

    // A second main placement for the same child on the same nights is refused, naming the field.
    const overlap = await place(world.a, childId, { householdId: far.id, kind: 'long_term', startDate: day });
    expect(overlap.status).toBe(409);
    expect(overlap.body.errors[0].pointer).toBe('/body/startDate');

    // A move to a household whose terms do not cover the kind fails whole: the current placement is untouched.
    const wrongKind = await world.call('movePlacement', {
      token: world.a.adminToken,
      params: { placementId: placed.body.id },
      body: {
        moveDate: day,
        reasons: [{ list: 'reason_place_change', code: 'CARPL' }],
        householdId: far.id,
        kind: 'respite',
      },
    });
    expect(wrongKind.status).toBe(422);
    expect(wrongKind.body.errors[0].pointer).toBe('/body/kind');
    expect(
      (await world.call('getPlacement', { token: world.a.adminToken, params: { placementId: placed.body.id } })).body
        .status,
    ).toBe('active');
    expect((await events(world.a, placed.body.id)).map((e) => e.name)).toEqual(['placement.started']);

    // Moved: the old placement ends and the new one starts, in one request.
    const moved = await world.call('movePlacement', {
      token: world.a.adminToken,
      params: { placementId: placed.body.id },
      body: {
        moveDate: day,
        reasons: [{ list: 'reason_place_change', code: 'CARPL' }],
        outcome: 'planned',
        householdId: far.id,
        longTerm: true,
      },
    });
    expect(moved.status).toBe(200);
    expect(moved.body.ended).toMatchObject({
      id: placed.body.id,
      status: 'ended',
      endDate: day,
      endReasons: [{ list: 'reason_place_change', code: 'CARPL' }],
      movedTo: moved.body.started.id,
    });
    expect(moved.body.started).toMatchObject({ status: 'active', householdId: far.id, startDate: day, childId });
    expect((await events(world.a, placed.body.id)).map((e) => e.name)).toEqual([
      'placement.started',
      'placement.ended',
    ]);
    expect((await events(world.a, moved.body.started.id)).map((e) => e.name)).toEqual(['placement.started']);
    const audit = await ownerRows<{ action: string; request_id: string }>(
      world.db,
      world.a.id,
      `SELECT action, request_id FROM audit_events WHERE tenant_id = ? AND entity_id = ? AND action = 'placement.moved'`,
      [world.a.id, placed.body.id],
    );
    expect(audit).toHaveLength(1);

    // Ended with reasons from the tenant's lists; a code from outside them is refused naming it.
    const badReason = await world.call('endPlacement', {
      token: world.a.adminToken,
      params: { placementId: moved.body.started.id },
      body: { endDate: day, reasons: [{ list: 'discharge_reason', code: 'reunification' }], outcome: 'planned' },
    });
    expect(badReason.status).toBe(422);
    expect(badReason.body.errors[0].pointer).toBe('/body/reasons/0/list');
    const ended = await world.call('endPlacement', {
      token: world.a.adminToken,
      params: { placementId: moved.body.started.id },
      body: {
        endDate: day,
        reasons: [
          { list: 'reason_place_change', code: 'CARPL' },
          { list: 'episode_end_reason', code: 'E11' },
        ],
        outcome: 'planned',
        notes: 'Adopted',
      },
    });
    expect(ended.status).toBe(200);
    expect(ended.body).toMatchObject({ status: 'ended', endDate: day, endOutcome: 'planned' });
    const endedEvents = await events(world.a, moved.body.started.id);
    expect(endedEvents.map((e) => [e.name, e.occurred_on])).toEqual([
      ['placement.started', day],
      ['placement.ended', day],
    ]);
    const again = await world.call('endPlacement', {
      token: world.a.adminToken,
      params: { placementId: moved.body.started.id },
      body: { endDate: day, reasons: [{ list: 'reason_place_change', code: 'CARPL' }], outcome: 'planned' },
    });
    expect(again.status).toBe(409);

    // Lists by child, household and status.
    const byChild = await world.call('listPlacements', { token: world.a.adminToken, query: { childId } });
    expect(byChild.body.data.map((p: { id: string }) => p.id).sort()).toEqual(
      [placed.body.id, moved.body.started.id].sort(),
    );
    const byHousehold = await world.call('listPlacements', {
      token: world.a.adminToken,
      query: { householdId: far.id, status: 'ended' },
    });
    expect(byHousehold.body.data.map((p: { id: string }) => p.id)).toEqual([moved.body.started.id]);
  }, 120_000);

  it('corrects the placement.started event when the start date is corrected', async () => {
    const h = await household(world.a);
    const childId = await child(world.a);
    const placed = await place(world.a, childId, { householdId: h.id, kind: 'short_term', startDate: h.approvedOn });
    const tooEarly = await world.call('updatePlacement', {
      token: world.a.adminToken,
      params: { placementId: placed.body.id },
      body: { startDate: '2000-01-01' },
      headers: { 'if-match': '"1"' },
    });
    expect(tooEarly.status).toBe(422);
    const stale = await world.call('updatePlacement', {
      token: world.a.adminToken,
      params: { placementId: placed.body.id },
      body: { longTerm: true },
      headers: { 'if-match': '"9"' },
    });
    expect(stale.status).toBe(412);
    const changed = await world.call('updatePlacement', {
      token: world.a.adminToken,
      params: { placementId: placed.body.id },
      body: { longTerm: true, plannedEndDate: '2031-01-01' },
      headers: { 'if-match': '"1"' },
    });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ longTerm: true, plannedEndDate: '2031-01-01', version: 2 });
    const rows = await events(world.a, placed.body.id);
    expect(rows.map((e) => [e.status, e.facts])).toEqual([
      ['superseded', { longTerm: false }],
      ['current', { longTerm: true }],
    ]);
    const next = new Date(`${h.approvedOn}T00:00:00Z`);
    next.setUTCDate(next.getUTCDate() + 1);
    const corrected = next.toISOString().slice(0, 10);
    const moved = await world.call('updatePlacement', {
      token: world.a.adminToken,
      params: { placementId: placed.body.id },
      body: { startDate: corrected },
      headers: { 'if-match': '"2"' },
    });
    expect(moved.status).toBe(200);
    const after = await events(world.a, placed.body.id);
    expect(after.filter((e) => e.status === 'current').map((e) => [e.name, e.occurred_on])).toEqual([
      ['placement.started', corrected],
    ]);
    expect(after).toHaveLength(3);
  }, 60_000);
});

describe('capacity', () => {
  it('refuses a placement when the household is full, and counts respite', async () => {
    const h = await household(world.a, { terms: { maxChildren: 1, placementKinds: ['short_term', 'respite'] } });
    const first = await place(world.a, await child(world.a), {
      householdId: h.id,
      kind: 'short_term',
      startDate: h.approvedOn,
    });
    expect(first.status).toBe(201);
    const second = await place(world.a, await child(world.a), {
      householdId: h.id,
      kind: 'short_term',
      startDate: h.approvedOn,
    });
    expect(second.status).toBe(409);
    expect(second.body.errors[0]).toMatchObject({
      pointer: '/body/householdId',
      message: expect.stringMatching(/no vacancy/),
    });

    const vacancies = await world.call('listVacancies', {
      token: world.a.adminToken,
      query: { asOf: h.approvedOn, limit: 200 },
    });
    expect(vacancies.status).toBe(200);
    expect(vacancies.body.data.map((v: { householdId: string }) => v.householdId)).not.toContain(h.id);

    // Respite elsewhere: the main placement stays open and the respite household's place is taken.
    const main = await household(world.a);
    const respiteAt = await household(world.a, { terms: { maxChildren: 1, placementKinds: ['respite'] } });
    const placed = await place(world.a, await child(world.a), {
      householdId: main.id,
      kind: 'short_term',
      startDate: main.approvedOn,
    });
    const end = new Date(`${main.approvedOn}T00:00:00Z`);
    end.setUTCDate(end.getUTCDate() + 3);
    const returnDay = end.toISOString().slice(0, 10);
    const before = await world.call('listVacancies', {
      token: world.a.adminToken,
      query: { asOf: main.approvedOn, limit: 200 },
    });
    expect(before.body.data.find((v: { householdId: string }) => v.householdId === respiteAt.id)).toMatchObject({
      vacancies: 1,
      placed: 0,
    });
    const respite = await world.call('createRespitePlacement', {
      token: world.a.adminToken,
      params: { placementId: placed.body.id },
      body: { householdId: respiteAt.id, startDate: main.approvedOn, endDate: returnDay },
    });
    expect(respite.status).toBe(201);
    expect(respite.body).toMatchObject({
      kind: 'respite',
      respiteOf: placed.body.id,
      status: 'active',
      plannedEndDate: returnDay,
    });
    expect(
      (await world.call('getPlacement', { token: world.a.adminToken, params: { placementId: placed.body.id } })).body
        .status,
    ).toBe('active');
    const after = await world.call('listVacancies', {
      token: world.a.adminToken,
      query: { asOf: main.approvedOn, limit: 200 },
    });
    expect(after.body.data.map((v: { householdId: string }) => v.householdId)).not.toContain(respiteAt.id);
    const onReturn = await world.call('listVacancies', {
      token: world.a.adminToken,
      query: { asOf: returnDay, limit: 200 },
    });
    expect(onReturn.body.data.find((v: { householdId: string }) => v.householdId === respiteAt.id)).toMatchObject({
      vacancies: 1,
    });
    // Another child cannot take the respite household's only place on those nights.
    const sibling = await place(world.a, await child(world.a), {
      householdId: main.id,
      kind: 'short_term',
      startDate: main.approvedOn,
    });
    const blocked = await world.call('createRespitePlacement', {
      token: world.a.adminToken,
      params: { placementId: sibling.body.id },
      body: { householdId: respiteAt.id, startDate: main.approvedOn, endDate: returnDay },
    });
    expect(blocked.status).toBe(409);
    expect(blocked.body.errors[0].pointer).toBe('/body/householdId');
  }, 120_000);

  it('gives the last place to exactly one of two concurrent placements', async () => {
    const h = await household(world.a, { terms: { maxChildren: 1 } });
    const [c1, c2, c3] = [await child(world.a), await child(world.a), await child(world.a)];
    const results = await Promise.all(
      [c1, c2, c3].map((c) => place(world.a, c, { householdId: h.id, kind: 'short_term', startDate: h.approvedOn })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409]);
    const rows = await ownerRows<{ n: number }>(
      world.db,
      world.a.id,
      `SELECT count(*)::int AS n FROM placements WHERE tenant_id = ? AND household_id = ? AND status <> 'cancelled'`,
      [world.a.id, h.id],
    );
    expect(rows[0]!.n).toBe(1);
  }, 60_000);
});

describe('the placement type, which a placement is paid by', () => {
  const reason = [{ list: 'reason_place_change', code: 'CARPL' }];

  it('is required to place a child, an emergency placement too, and can be corrected but not removed', async () => {
    const h = await household(world.a);
    const childId = await child(world.a);
    const body = { householdId: h.id, kind: 'emergency', startDate: h.approvedOn };
    const without = await world.call('createPlacement', { token: world.a.adminToken, params: { childId }, body });
    expect(without.status).toBe(400);
    expect(without.body.errors).toEqual([
      expect.objectContaining({ pointer: '/body/placementType', message: 'is required' }),
    ]);
    const asNull = await world.call('createPlacement', {
      token: world.a.adminToken,
      params: { childId },
      body: { ...body, placementType: null },
    });
    expect(asNull.status).toBe(400);
    expect(asNull.body.errors.map((e: { pointer: string }) => e.pointer)).toContain('/body/placementType');
    expect((await world.call('listPlacements', { token: world.a.adminToken, query: { childId } })).body.data).toEqual(
      [],
    );

    const placed = await world.call('createPlacement', {
      token: world.a.adminToken,
      params: { childId },
      body: { ...body, placementType: 'U6' },
    });
    expect(placed.status).toBe(201);
    expect(placed.body).toMatchObject({ kind: 'emergency', placementType: 'U6' });
    const removed = await world.call('updatePlacement', {
      token: world.a.adminToken,
      params: { placementId: placed.body.id },
      body: { placementType: null },
      headers: { 'if-match': '"1"' },
    });
    expect(removed.status).toBe(400);
    expect(removed.body.errors.map((e: { pointer: string }) => e.pointer)).toContain('/body/placementType');
    const corrected = await world.call('updatePlacement', {
      token: world.a.adminToken,
      params: { placementId: placed.body.id },
      body: { placementType: 'U4' },
      headers: { 'if-match': '"1"' },
    });
    expect(corrected.status).toBe(200);
    expect(corrected.body.placementType).toBe('U4');
  }, 60_000);

  it('is taken from the placement a move or a respite stay follows, and refused by name when that placement has none', async () => {
    const from = await household(world.a);
    const to = await household(world.a);
    const respiteAt = await household(world.a, { terms: { placementKinds: ['respite'] } });
    const day = from.approvedOn;

    const typed = await place(world.a, await child(world.a), {
      householdId: from.id,
      kind: 'short_term',
      placementType: 'U3',
      startDate: day,
    });
    const moved = await world.call('movePlacement', {
      token: world.a.adminToken,
      params: { placementId: typed.body.id },
      body: { moveDate: day, reasons: reason, householdId: to.id },
    });
    expect(moved.status).toBe(200);
    expect(moved.body.started.placementType).toBe('U3');

    // A placement made before the type was required (written here behind the API's back) has none to hand on.
    const legacy = await place(world.a, await child(world.a), {
      householdId: from.id,
      kind: 'short_term',
      startDate: day,
    });
    await ownerRows(
      world.db,
      world.a.id,
      'UPDATE placements SET placement_type = NULL WHERE tenant_id = ? AND id = ?',
      [world.a.id, legacy.body.id],
    );
    const respiteEnd = new Date(`${day}T00:00:00Z`);
    respiteEnd.setUTCDate(respiteEnd.getUTCDate() + 2);
    const respiteBody = { householdId: respiteAt.id, startDate: day, endDate: respiteEnd.toISOString().slice(0, 10) };
    const untypedRespite = await world.call('createRespitePlacement', {
      token: world.a.adminToken,
      params: { placementId: legacy.body.id },
      body: respiteBody,
    });
    expect(untypedRespite.status).toBe(422);
    expect(untypedRespite.body.errors).toEqual([
      { pointer: '/body/placementType', message: expect.stringMatching(/^is required: .*the main placement has none/) },
    ]);
    const respite = await world.call('createRespitePlacement', {
      token: world.a.adminToken,
      params: { placementId: legacy.body.id },
      body: { ...respiteBody, placementType: 'T3' },
    });
    expect(respite.status).toBe(201);
    expect(respite.body.placementType).toBe('T3');

    const untypedMove = await world.call('movePlacement', {
      token: world.a.adminToken,
      params: { placementId: legacy.body.id },
      body: { moveDate: day, reasons: reason, householdId: to.id },
    });
    expect(untypedMove.status).toBe(422);
    expect(untypedMove.body.errors).toEqual([
      {
        pointer: '/body/placementType',
        message: expect.stringMatching(/^is required: .*the placement it follows has none/),
      },
    ]);
    // Refused whole: the placement still runs, nothing ended.
    expect(
      (await world.call('getPlacement', { token: world.a.adminToken, params: { placementId: legacy.body.id } })).body,
    ).toMatchObject({ status: 'active', endDate: null });
    const typedMove = await world.call('movePlacement', {
      token: world.a.adminToken,
      params: { placementId: legacy.body.id },
      body: { moveDate: day, reasons: reason, householdId: to.id, placementType: 'U6' },
    });
    expect(typedMove.status).toBe(200);
    expect(typedMove.body.started.placementType).toBe('U6');
  }, 120_000);
});

describe('placement approval required by the tenant', () => {
  it('keeps a placement proposed until the pack workflow approves and starts it', async () => {
    await settings(world.a, true);
    try {
      const h = await household(world.a);
      const childId = await child(world.a);
      const caseworker = await world.addUser(world.a, ['caseworker']);
      const officer = await world.addUser(world.a, ['placement_officer']);
      const proposed = await place(
        world.a,
        childId,
        { householdId: h.id, kind: 'short_term', startDate: h.approvedOn },
        officer.token,
      );
      expect(proposed.status).toBe(201);
      expect(proposed.body).toMatchObject({
        status: 'proposed',
        workflowKey: 'placement-approval',
        workflowState: 'proposed',
      });
      expect(await events(world.a, proposed.body.id)).toEqual([]);
      const id = proposed.body.id as string;

      const early = await world.call('transitionPlacement', {
        token: world.a.adminToken,
        params: { placementId: id },
        body: { transition: 'start' },
      });
      expect(early.status).toBe(422);
      expect(early.body.errors[0].pointer).toBe('/body/transition');
      const noDecision = await world.call('transitionPlacement', {
        token: world.a.adminToken,
        params: { placementId: id },
        body: { transition: 'approve' },
      });
      expect(noDecision.status).toBe(409);
      expect(noDecision.body.blockers.map((b: { kind: string }) => b.kind)).toEqual(['evidence']);
      const notAllowed = await world.call('transitionPlacement', {
        token: caseworker.token,
        params: { placementId: id },
        body: { transition: 'approve', evidence: [{ kind: 'decision', key: 'placement_decision' }] },
      });
      expect(notAllowed.status).toBe(403);

      const flow = await world.call('getPlacementWorkflow', { token: world.a.adminToken, params: { placementId: id } });
      expect(flow.status).toBe(200);
      expect(flow.body.available.find((v: { transition: string }) => v.transition === 'approve')).toMatchObject({
        allowed: false,
      });

      const approved = await world.call('transitionPlacement', {
        token: world.a.adminToken,
        params: { placementId: id },
        body: {
          transition: 'approve',
          evidence: [{ kind: 'decision', key: 'placement_decision', note: 'Best match for the child' }],
        },
      });
      expect(approved.status).toBe(200);
      expect(approved.body).toMatchObject({ status: 'approved', workflowState: 'manager_approved' });

      // Starting needs the signed placement agreement (a submission of the pack's form).
      const noAgreement = await world.call('transitionPlacement', {
        token: world.a.adminToken,
        params: { placementId: id },
        body: { transition: 'start' },
      });
      expect(noAgreement.status).toBe(409);
      expect(noAgreement.body.detail).toMatch(/placement-agreement/);
      const submission = await world.call('submitForm', {
        token: world.a.adminToken,
        body: {
          formKey: 'placement-agreement',
          formVersion: 1,
          subjectType: 'child',
          subjectId: childId,
          data: placementAgreementData('uk', h.approvedOn),
        },
      });
      expect(submission.status).toBe(201);
      const other = await world.call('submitForm', {
        token: world.a.adminToken,
        body: {
          formKey: 'placement-agreement',
          formVersion: 1,
          subjectType: 'child',
          subjectId: await child(world.a),
          data: placementAgreementData('uk', h.approvedOn),
        },
      });
      const wrongChild = await world.call('setPlacementAgreement', {
        token: world.a.adminToken,
        params: { placementId: id },
        body: { submissionId: other.body.id },
        headers: { 'if-match': `"${approved.body.version}"` },
      });
      expect(wrongChild.status).toBe(422);
      const linked = await world.call('setPlacementAgreement', {
        token: world.a.adminToken,
        params: { placementId: id },
        body: { submissionId: submission.body.id },
        headers: { 'if-match': `"${approved.body.version}"` },
      });
      expect(linked.status).toBe(200);
      expect(linked.body.agreementSubmissionId).toBe(submission.body.id);

      const started = await world.call('transitionPlacement', {
        token: officer.token,
        params: { placementId: id },
        body: { transition: 'start' },
      });
      expect(started.status).toBe(200);
      expect(started.body).toMatchObject({ status: 'active', workflowState: 'started' });
      expect((await events(world.a, id)).map((e) => [e.name, e.occurred_on])).toEqual([
        ['placement.started', h.approvedOn],
      ]);
      const history = await world.call('getPlacementWorkflow', {
        token: world.a.adminToken,
        params: { placementId: id },
      });
      expect(history.body.history.map((s: { transition: string }) => s.transition)).toEqual(['approve', 'start']);

      // Ending goes through /end, which also moves the workflow to its ended state.
      const viaStep = await world.call('transitionPlacement', {
        token: world.a.adminToken,
        params: { placementId: id },
        body: { transition: 'end' },
      });
      expect(viaStep.status).toBe(409);
      const ended = await world.call('endPlacement', {
        token: world.a.adminToken,
        params: { placementId: id },
        body: {
          endDate: h.approvedOn,
          reasons: [{ list: 'reason_place_change', code: 'CARPL' }],
          outcome: 'unplanned',
        },
      });
      expect(ended.status).toBe(200);
      expect(ended.body).toMatchObject({ status: 'ended', workflowState: 'ended' });
    } finally {
      await settings(world.a, false);
    }
  }, 120_000);
});

describe('visits and contact', () => {
  it('records visits with their events and supervised contact sessions', async () => {
    const h = await household(world.a);
    const placed = await place(world.a, await child(world.a), {
      householdId: h.id,
      kind: 'short_term',
      startDate: h.approvedOn,
    });
    const visit = await world.call('createPlacementVisit', {
      token: world.a.adminToken,
      params: { placementId: placed.body.id },
      body: { kind: 'child_visit', visitDate: h.approvedOn, childSeen: true, childSeenAlone: true },
    });
    expect(visit.status).toBe(201);
    expect(visit.body).toMatchObject({ kind: 'child_visit', visitedBy: world.a.adminId });
    expect(await events(world.a, visit.body.id)).toEqual([
      expect.objectContaining({
        name: 'placement.visit_held',
        subject_type: 'placement',
        subject_id: placed.body.id,
        occurred_on: h.approvedOn,
      }),
    ]);
    const unannounced = await world.call('createPlacementVisit', {
      token: world.a.adminToken,
      params: { placementId: placed.body.id },
      body: { kind: 'unannounced_visit', visitDate: h.approvedOn },
    });
    expect(unannounced.status).toBe(201);
    expect(await events(world.a, unannounced.body.id)).toEqual([
      expect.objectContaining({
        name: 'carer.unannounced_visit_held',
        subject_type: 'carer_household',
        subject_id: h.id,
      }),
    ]);
    const supervising = await world.call('createPlacementVisit', {
      token: world.a.adminToken,
      params: { placementId: placed.body.id },
      body: { kind: 'supervising_visit', visitDate: h.approvedOn },
    });
    expect(await events(world.a, supervising.body.id)).toEqual([]);
    const future = await world.call('createPlacementVisit', {
      token: world.a.adminToken,
      params: { placementId: placed.body.id },
      body: { kind: 'child_visit', visitDate: '2999-01-01' },
    });
    expect(future.status).toBe(422);
    expect(future.body.errors[0].pointer).toBe('/body/visitDate');
    const list = await world.call('listPlacementVisits', {
      token: world.a.adminToken,
      params: { placementId: placed.body.id },
      query: { limit: 2 },
    });
    expect(list.body.data).toHaveLength(2);
    const rest = await world.call('listPlacementVisits', {
      token: world.a.adminToken,
      params: { placementId: placed.body.id },
      query: { limit: 2, cursor: list.body.nextCursor },
    });
    expect([...list.body.data, ...rest.body.data].map((v: { id: string }) => v.id).sort()).toEqual(
      [visit.body.id, unannounced.body.id, supervising.body.id].sort(),
    );

    const session = await world.call('createPlacementContactSession', {
      token: world.a.adminToken,
      params: { placementId: placed.body.id },
      body: {
        withWhom: 'Mother',
        relationship: 'mother',
        supervisorId: world.a.adminId,
        venue: 'Family centre',
        scheduledStart: '2030-03-01T10:00:00Z',
        scheduledEnd: '2030-03-01T11:00:00Z',
      },
    });
    expect(session.status).toBe(201);
    expect(session.body).toMatchObject({ status: 'scheduled', attendance: null });
    const noAttendance = await world.call('updatePlacementContactSession', {
      token: world.a.adminToken,
      params: { placementId: placed.body.id, contactSessionId: session.body.id },
      body: { status: 'held' },
      headers: { 'if-match': '"1"' },
    });
    expect(noAttendance.status).toBe(422);
    expect(noAttendance.body.errors[0].pointer).toBe('/body/attendance');
    const held = await world.call('updatePlacementContactSession', {
      token: world.a.adminToken,
      params: { placementId: placed.body.id, contactSessionId: session.body.id },
      body: { status: 'held', attendance: 'child_did_not_attend', notes: 'Child unwell' },
      headers: { 'if-match': '"1"' },
    });
    expect(held.status).toBe(200);
    expect(held.body).toMatchObject({ status: 'held', attendance: 'child_did_not_attend', version: 2 });
  }, 60_000);

  it('hides the placements of a restricted child from users not named on it', async () => {
    const h = await household(world.a);
    const childId = await child(world.a);
    const placed = await place(world.a, childId, { householdId: h.id, kind: 'short_term', startDate: h.approvedOn });
    const version = (await world.call('getChild', { token: world.a.adminToken, params: { childId } })).body.version;
    const restrict = await world.call('setChildRestriction', {
      token: world.a.adminToken,
      params: { childId },
      body: { restricted: true, allowedUserIds: [world.a.adminId] },
      headers: { 'if-match': `"${version}"` },
    });
    expect(restrict.status).toBe(200);
    const officer = await world.addUser(world.a, ['placement_officer']);
    expect(
      (await world.call('getPlacement', { token: officer.token, params: { placementId: placed.body.id } })).status,
    ).toBe(404);
    expect((await world.call('listPlacements', { token: officer.token, query: { childId } })).body.data).toEqual([]);
    expect(
      (await world.call('getPlacement', { token: world.a.adminToken, params: { placementId: placed.body.id } })).status,
    ).toBe(200);
  }, 60_000);
});

describe('the USA tenant', () => {
  it('ends a placement with its own discharge reasons and refuses the UK lists', async () => {
    const s = await world.call('getPlacementSettings', { token: world.b.adminToken });
    expect(s.body).toMatchObject({ approvalRequired: false, endReasonLists: ['discharge_reason'] });
    const h = await household(world.b, { terms: { placementKinds: ['short_term'] } });
    const childId = await child(world.b, '2012-01-01');
    const placed = await place(world.b, childId, {
      householdId: h.id,
      kind: 'short_term',
      placementType: 'foster_family_non_relative',
      startDate: h.approvedOn,
    });
    expect(placed.status).toBe(201);
    const ukCode = await place(world.b, await child(world.b), {
      householdId: h.id,
      kind: 'short_term',
      placementType: 'U4',
      startDate: h.approvedOn,
    });
    expect(ukCode.status).toBe(422);
    expect(ukCode.body.errors[0].pointer).toBe('/body/placementType');
    const uk = await world.call('endPlacement', {
      token: world.b.adminToken,
      params: { placementId: placed.body.id },
      body: { endDate: h.approvedOn, reasons: [{ list: 'reason_place_change', code: 'CARPL' }], outcome: 'planned' },
    });
    expect(uk.status).toBe(422);
    expect(uk.body.errors[0].pointer).toBe('/body/reasons/0/list');
    const ended = await world.call('endPlacement', {
      token: world.b.adminToken,
      params: { placementId: placed.body.id },
      body: {
        endDate: h.approvedOn,
        reasons: [{ list: 'discharge_reason', code: 'reunification' }],
        outcome: 'planned',
      },
    });
    expect(ended.status).toBe(200);
    expect((await events(world.b, placed.body.id)).map((e) => e.name)).toEqual([
      'placement.started',
      'placement.ended',
    ]);
    // Tenant A's placement lists do not show B's.
    const inA = await world.call('listPlacements', { token: world.a.adminToken, query: { childId } });
    expect(inA.body.data).toEqual([]);
    expect(
      (await world.call('getPlacement', { token: world.a.adminToken, params: { placementId: placed.body.id } })).status,
    ).toBe(404);
  }, 120_000);
});

describe('the shortlist at scale', () => {
  /** The SQL statements the server runs while a function runs (the server shares this process). */
  async function statementsDuring(work: () => Promise<unknown>): Promise<string[]> {
    const seen: string[] = [];
    // A list of ids is one statement however long it is: its placeholders are folded to one.
    const listen = (q: { sql: string }) =>
      seen.push(
        q.sql
          .replace(/in \((\$\d+(, )?)+\)/g, 'in ($n…)')
          .replace(/\s+/g, ' ')
          .slice(0, 160),
      );
    world.server.db.on('query', listen);
    try {
      await work();
    } finally {
      world.server.db.removeListener('query', listen);
    }
    return seen;
  }

  /**
   * 2,000 approved households and 1,500 children placed among them. Walking 2,000 households
   * through approval by the API would take minutes, so one approved household (and its members,
   * checks and terms) is copied in SQL as the owner, column for column; the placements are real rows.
   */
  it('ranks 2,000 households with the same statements as a handful', async () => {
    const tenant = world.a;
    const template = await household(tenant, {
      skills: ['teenagers', 'autism'],
      location: NEAR,
      terms: { maxChildren: 3, placementKinds: ['short_term', 'long_term'] },
    });
    const templateChild = await child(tenant, '2013-03-03');
    const childId = await child(tenant, '2013-03-03');
    const request = await world.call('createMatchingRequest', {
      token: tenant.adminToken,
      params: { childId },
      body: {
        placementKind: 'long_term',
        wantedFrom: template.approvedOn,
        requiredSkills: ['autism'],
        location: LONDON,
        maxDistanceKm: 80,
        language: 'en',
      },
    });
    expect(request.status).toBe(201);
    const shortlist = () =>
      world.http('GET', `/v1/matching-requests/${request.body.id as string}/shortlist`, { token: tenant.adminToken });
    const small = await shortlist();
    const smallStatements = await statementsDuring(shortlist);

    const clone = (table: string, select: string, from: string, bindings: unknown[]) =>
      ownerRows(
        world.db,
        tenant.id,
        `INSERT INTO ${table} SELECT (jsonb_populate_record(NULL::${table}, ${select})).* FROM ${from}`,
        bindings,
      );
    const newHousehold = `md5(?::text || g)::uuid`;
    await clone(
      'carer_households',
      `to_jsonb(h) || jsonb_build_object('id', ${newHousehold}, 'name', 'Scale ' || g, 'latitude', 51 + (g % 100) / 100.0, 'longitude', -1 + (g % 70) / 50.0)`,
      `carer_households h, generate_series(1, 1999) g WHERE h.tenant_id = ? AND h.id = ?`,
      ['h', tenant.id, template.id],
    );
    await clone(
      'carer_household_members',
      `to_jsonb(m) || jsonb_build_object('id', md5(m.id::text || g)::uuid, 'household_id', ${newHousehold})`,
      `carer_household_members m, generate_series(1, 1999) g WHERE m.tenant_id = ? AND m.household_id = ?`,
      ['h', tenant.id, template.id],
    );
    await clone(
      'carer_checks',
      `to_jsonb(c) || jsonb_build_object('id', md5(c.id::text || g)::uuid, 'household_id', ${newHousehold}, 'member_id', CASE WHEN c.member_id IS NULL THEN NULL ELSE md5(c.member_id::text || g)::uuid END)`,
      `carer_checks c, generate_series(1, 1999) g WHERE c.tenant_id = ? AND c.household_id = ?`,
      ['h', tenant.id, template.id],
    );
    await clone(
      'carer_approval_terms',
      `to_jsonb(t) || jsonb_build_object('id', md5(t.id::text || g)::uuid, 'household_id', ${newHousehold})`,
      `carer_approval_terms t, generate_series(1, 1999) g WHERE t.tenant_id = ? AND t.household_id = ?`,
      ['h', tenant.id, template.id],
    );
    await clone(
      'children',
      `to_jsonb(c) || jsonb_build_object('id', md5('c' || g)::uuid, 'given_name', 'Scale' || g)`,
      `children c, generate_series(1, 1500) g WHERE c.tenant_id = ? AND c.id = ?`,
      [tenant.id, templateChild],
    );
    await ownerRows(
      world.db,
      tenant.id,
      `INSERT INTO placements (tenant_id, id, child_id, household_id, kind, placement_type, status, start_date, long_term)
       SELECT ?, md5('p' || g)::uuid, md5('c' || g)::uuid, md5('h' || (1 + g % 1999))::uuid, 'short_term', 'U6', 'active', ?::date - (g % 30), false FROM generate_series(1, 1500) g`,
      [tenant.id, template.approvedOn],
    );

    // Set-based: 2,000 households cost the same statements as the handful before, and the
    // occupancy of all of them is one statement on placements.
    const checked = await world.call('getMatchingShortlist', {
      token: tenant.adminToken,
      params: { matchingRequestId: request.body.id },
    });
    expect(checked.status).toBe(200);
    const bigStatements = await statementsDuring(shortlist);
    expect(bigStatements).toEqual(smallStatements);
    expect(bigStatements.filter((sql) => /from placements/i.test(sql))).toHaveLength(1);
    expect(small.body.considered).toBeLessThan(checked.body.considered);
    expect(checked.body.considered).toBeGreaterThanOrEqual(2000);
    expect(checked.body.candidates).toHaveLength(50);
    // Households with one or two of their three places taken still fit, their vacancies counted.
    expect(checked.body.candidates.filter((c: { vacancies: number }) => c.vacancies < 3).length).toBeGreaterThan(0);

    // Its speed is measured by bench/domainLists.js on the large synthetic service, not here.
    expect((await shortlist()).body).toEqual(checked.body);
  }, 180_000);
});
