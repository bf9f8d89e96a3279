import { ownerRows, startWorld, type TenantFixture, type World } from '../../../../test/support/harness';
import { uniqueChild } from '../../../../test/support/fixtureKit';

let world: World;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world?.close();
});

type EventRow = {
  id: string;
  name: string;
  occurred_on: string;
  status: string;
  superseded_by: string | null;
  source_id: string;
};

async function newChild(tenant: TenantFixture = world.a, token = tenant.adminToken): Promise<string> {
  const r = await world.call('createChild', { token, body: uniqueChild() });
  expect(r.status).toBe(201);
  return r.body.id as string;
}

async function events(tenant: TenantFixture, childId: string): Promise<EventRow[]> {
  return ownerRows<EventRow>(
    world.db,
    tenant.id,
    `SELECT id, name, occurred_on::text AS occurred_on, status, superseded_by, source_id FROM case_events WHERE subject_id = ? ORDER BY recorded_at, id`,
    [childId],
  );
}

async function childStatus(tenant: TenantFixture, childId: string): Promise<string> {
  return (await world.call('getChild', { token: tenant.adminToken, params: { childId } })).body.status as string;
}

const pointers = (body: { errors?: Array<{ pointer: string }> }) => (body.errors ?? []).map((e) => e.pointer).sort();

describe('legal statuses and care episodes', () => {
  it('records a legal status and an episode: the child enters care on the start date, and leaves when it ends', async () => {
    const childId = await newChild();
    const status = await world.call('createChildLegalStatus', {
      token: world.a.adminToken,
      params: { childId },
      body: { code: 'C2', startDate: '2025-03-01' },
    });
    expect(status.status).toBe(201);
    expect(status.body).toMatchObject({
      childId,
      code: 'C2',
      startDate: '2025-03-01',
      endDate: null,
      version: 1,
      deletedAt: null,
    });
    expect(status.headers.get('location')).toBe(`/v1/children/${childId}/legal-statuses/${status.body.id}`);

    const episode = await world.call('createChildCareEpisode', {
      token: world.a.adminToken,
      params: { childId },
      body: { startDate: '2025-03-01', startReason: 'S' },
    });
    expect(episode.status).toBe(201);
    expect(episode.body).toMatchObject({ startDate: '2025-03-01', endDate: null, startReason: 'S', endReason: null });
    expect(await childStatus(world.a, childId)).toBe('in_care');
    const entered = (await events(world.a, childId)).filter((e) => e.name === 'child.entered_care');
    expect(entered).toEqual([
      expect.objectContaining({ occurred_on: '2025-03-01', status: 'current', source_id: episode.body.id }),
    ]);

    const ended = await world.call('updateChildCareEpisode', {
      token: world.a.adminToken,
      params: { childId, careEpisodeId: episode.body.id },
      body: { endDate: '2025-09-30', endReason: 'E11' },
      headers: { 'if-match': '"1"' },
    });
    expect(ended.status).toBe(200);
    expect(await childStatus(world.a, childId)).toBe('left_care');
    expect((await events(world.a, childId)).filter((e) => e.name === 'child.left_care')).toEqual([
      expect.objectContaining({ occurred_on: '2025-09-30', status: 'current' }),
    ]);

    // Correcting the start date corrects the event: the old row is superseded by the new one.
    const moved = await world.call('updateChildCareEpisode', {
      token: world.a.adminToken,
      params: { childId, careEpisodeId: episode.body.id },
      body: { startDate: '2025-03-02' },
      headers: { 'if-match': '"2"' },
    });
    expect(moved.status).toBe(200);
    const starts = (await events(world.a, childId)).filter((e) => e.name === 'child.entered_care');
    expect(starts.map((e) => [e.occurred_on, e.status])).toEqual([
      ['2025-03-01', 'superseded'],
      ['2025-03-02', 'current'],
    ]);
    expect(starts[0]!.superseded_by).toBe(starts[1]!.id);
  });

  it('refuses overlapping statuses and episodes, naming the field, and writes nothing', async () => {
    const childId = await newChild();
    const first = await world.call('createChildLegalStatus', {
      token: world.a.adminToken,
      params: { childId },
      body: { code: 'C1', startDate: '2025-01-01', endDate: '2025-02-01' },
    });
    expect(first.status).toBe(201);
    const inside = await world.call('createChildLegalStatus', {
      token: world.a.adminToken,
      params: { childId },
      body: { code: 'C2', startDate: '2025-01-15' },
    });
    expect(inside.status).toBe(422);
    expect(pointers(inside.body)).toEqual(['/body/startDate']);
    const runsInto = await world.call('createChildLegalStatus', {
      token: world.a.adminToken,
      params: { childId },
      body: { code: 'C2', startDate: '2024-12-01', endDate: '2025-01-05' },
    });
    expect(runsInto.status).toBe(422);
    expect(pointers(runsInto.body)).toEqual(['/body/endDate']);
    // The day one ends the next may start.
    expect(
      (
        await world.call('createChildLegalStatus', {
          token: world.a.adminToken,
          params: { childId },
          body: { code: 'C2', startDate: '2025-02-01' },
        })
      ).status,
    ).toBe(201);

    const open = await world.call('createChildCareEpisode', {
      token: world.a.adminToken,
      params: { childId },
      body: { startDate: '2025-01-01' },
    });
    expect(open.status).toBe(201);
    const overlap = await world.call('createChildCareEpisode', {
      token: world.a.adminToken,
      params: { childId },
      body: { startDate: '2025-06-01' },
    });
    expect(overlap.status).toBe(422);
    expect(pointers(overlap.body)).toEqual(['/body/startDate']);
    const backwards = await world.call('updateChildCareEpisode', {
      token: world.a.adminToken,
      params: { childId, careEpisodeId: open.body.id },
      body: { endDate: '2024-12-01' },
      headers: { 'if-match': '"1"' },
    });
    expect(backwards.status).toBe(422);
    expect(pointers(backwards.body)).toEqual(['/body/endDate']);
    const rows = await ownerRows(world.db, world.a.id, 'SELECT id FROM child_care_episodes WHERE child_id = ?', [
      childId,
    ]);
    expect(rows).toHaveLength(1);
    expect((await events(world.a, childId)).map((e) => e.name)).toEqual(['child.entered_care']);
  });

  it('a new episode starting the day the last ended continues the period of care; withdrawing it restores the end', async () => {
    const childId = await newChild();
    const first = await world.call('createChildCareEpisode', {
      token: world.a.adminToken,
      params: { childId },
      body: { startDate: '2025-01-01', endDate: '2025-04-01', endReason: 'E11' },
    });
    expect(first.status).toBe(201);
    expect(await childStatus(world.a, childId)).toBe('left_care');
    const next = await world.call('createChildCareEpisode', {
      token: world.a.adminToken,
      params: { childId },
      body: { startDate: '2025-04-01', startReason: 'P' },
    });
    expect(next.status).toBe(201);
    expect(await childStatus(world.a, childId)).toBe('in_care');
    expect((await events(world.a, childId)).map((e) => [e.name, e.occurred_on, e.status])).toEqual([
      ['child.entered_care', '2025-01-01', 'current'],
      ['child.left_care', '2025-04-01', 'voided'],
    ]);
    const withdrawn = await world.call('deleteChildCareEpisode', {
      token: world.a.adminToken,
      params: { childId, careEpisodeId: next.body.id },
      headers: { 'if-match': '"1"' },
    });
    expect(withdrawn.status).toBe(200);
    expect(await childStatus(world.a, childId)).toBe('left_care');
    expect(
      (await events(world.a, childId)).filter((e) => e.status === 'current').map((e) => [e.name, e.occurred_on]),
    ).toEqual([
      ['child.entered_care', '2025-01-01'],
      ['child.left_care', '2025-04-01'],
    ]);
    // Restoring it would now overlap an episode recorded meanwhile: refused, nothing changes.
    const meanwhile = await world.call('createChildCareEpisode', {
      token: world.a.adminToken,
      params: { childId },
      body: { startDate: '2025-05-01' },
    });
    expect(meanwhile.status).toBe(201);
    const restore = await world.call('restoreChildCareEpisode', {
      token: world.a.adminToken,
      params: { childId, careEpisodeId: next.body.id },
    });
    expect(restore.status).toBe(409);
    const [row] = await ownerRows<{ deleted_at: Date | null }>(
      world.db,
      world.a.id,
      'SELECT deleted_at FROM child_care_episodes WHERE id = ?',
      [next.body.id],
    );
    expect(row!.deleted_at).not.toBeNull();
  });

  it('refuses codes outside the lists the pack declares, naming each field; the USA tenant uses its own lists', async () => {
    const childId = await newChild();
    const bad = await world.call('createChildCareEpisode', {
      token: world.a.adminToken,
      params: { childId },
      body: { startDate: '2025-01-01', startReason: 'neglect', endDate: '2025-02-01', endReason: 'reunification' },
    });
    expect(bad.status).toBe(422);
    expect(pointers(bad.body)).toEqual(['/body/endReason', '/body/startReason']);
    const badStatus = await world.call('createChildLegalStatus', {
      token: world.a.adminToken,
      params: { childId },
      body: { code: 'ZZ', startDate: '2025-01-01' },
    });
    expect(badStatus.status).toBe(422);
    expect(pointers(badStatus.body)).toEqual(['/body/code']);

    const usChild = await newChild(world.b);
    const ukCodes = await world.call('createChildCareEpisode', {
      token: world.b.adminToken,
      params: { childId: usChild },
      body: { startDate: '2025-01-01', startReason: 'S', endDate: '2025-02-01', endReason: 'E11' },
    });
    expect(ukCodes.status).toBe(422);
    expect(pointers(ukCodes.body)).toEqual(['/body/endReason', '/body/startReason']);
    const usCodes = await world.call('createChildCareEpisode', {
      token: world.b.adminToken,
      params: { childId: usChild },
      body: { startDate: '2025-01-01', startReason: 'neglect', endDate: '2025-02-01', endReason: 'reunification' },
    });
    expect(usCodes.status).toBe(201);
    // The USA pack declares no legal-status list: any code is accepted there.
    expect(
      (
        await world.call('createChildLegalStatus', {
          token: world.b.adminToken,
          params: { childId: usChild },
          body: { code: 'temporary_custody', startDate: '2025-01-01' },
        })
      ).status,
    ).toBe(201);
  });
});

const KINDS: Array<[string, Record<string, unknown>, Record<string, unknown>?]> = [
  ['note', { text: 'Settled in well.' }],
  ['contact_event', { supervised: true, withWhom: 'Mother', supervisedBy: 'Family time worker', durationMinutes: 90 }],
  ['assessment', { assessmentType: 'strengths_and_difficulties', outcome: 'Score 14' }],
  ['plan', { planType: 'care_plan', notes: 'Long-term fostering' }, { dueOn: '2025-09-01' }],
  ['review', { reviewType: 'looked_after_review', chairedBy: 'IRO', participationCode: 'PN1' }],
  [
    'safeguarding_incident',
    { category: 'online_harm', severity: 'high', reportedTo: ['LADO'], actionTaken: 'Device removed' },
  ],
  [
    'missing_episode',
    {
      startedAt: '2025-03-01T21:00:00.000Z',
      endedAt: '2025-03-02T08:00:00.000Z',
      reportedToPolice: true,
      missingType: 'M',
      returnInterviewOffered: true,
    },
  ],
  ['health_assessment', { type: 'initial', completedBy: 'Community paediatrician' }],
  ['immunisation', { vaccine: 'MMR', dose: 'second' }],
  ['education', { school: 'Hill Primary', yearGroup: 'Year 5', senSupport: true, ehcp: false }],
  ['pep_review', { attendees: ['Designated teacher', 'Virtual school'] }],
];

describe('dated case records', () => {
  it('creates and reads back a record of every kind, and lists them by kind and date', async () => {
    const childId = await newChild();
    const ids: string[] = [];
    for (const [i, [kind, details, extra]] of KINDS.entries()) {
      const occurredOn = `2025-03-${String(i + 1).padStart(2, '0')}`;
      const created = await world.call('createChildCaseRecord', {
        token: world.a.adminToken,
        params: { childId },
        body: { kind, occurredOn, details, summary: `A ${kind}`, ...(extra ?? {}) },
      });
      expect([kind, created.status]).toEqual([kind, 201]);
      const read = await world.call('getChildCaseRecord', {
        token: world.a.adminToken,
        params: { childId, recordId: created.body.id },
      });
      expect(read.status).toBe(200);
      expect(read.body).toMatchObject({ kind, occurredOn, details, recordedBy: world.a.adminId, ...(extra ?? {}) });
      expect(read.headers.get('etag')).toBe('"1"');
      ids.push(created.body.id);
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await world.call('listChildCaseRecords', {
        token: world.a.adminToken,
        params: { childId },
        query: { limit: 4, ...(cursor ? { cursor } : {}) },
      });
      expect(page.status).toBe(200);
      seen.push(...page.body.data.map((r: { id: string }) => r.id));
      cursor = page.body.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(ids);
    const reviews = await world.call('listChildCaseRecords', {
      token: world.a.adminToken,
      params: { childId },
      query: { kind: 'review' },
    });
    expect(reviews.body.data.map((r: { kind: string }) => r.kind)).toEqual(['review']);
    const ranged = await world.call('listChildCaseRecords', {
      token: world.a.adminToken,
      params: { childId },
      query: { from: '2025-03-02', to: '2025-03-03' },
    });
    expect(ranged.body.data.map((r: { kind: string }) => r.kind)).toEqual(['contact_event', 'assessment']);
    const names = (await events(world.a, childId)).map((e) => e.name).sort();
    expect(names).toEqual(['child.initial_health_assessment_held', 'child.pep_reviewed', 'child.review_held']);
  });

  it('a review emits child.review_held; a corrected date supersedes it; deleting voids it; restoring brings it back', async () => {
    const childId = await newChild();
    const review = await world.call('createChildCaseRecord', {
      token: world.a.adminToken,
      params: { childId },
      body: { kind: 'review', occurredOn: '2025-04-10', details: { reviewType: 'looked_after_review' } },
    });
    expect(review.status).toBe(201);
    const recordId = review.body.id as string;
    expect(await events(world.a, childId)).toEqual([
      expect.objectContaining({
        name: 'child.review_held',
        occurred_on: '2025-04-10',
        status: 'current',
        source_id: recordId,
      }),
    ]);

    const corrected = await world.call('updateChildCaseRecord', {
      token: world.a.adminToken,
      params: { childId, recordId },
      body: { kind: 'review', occurredOn: '2025-04-11' },
      headers: { 'if-match': '"1"' },
    });
    expect(corrected.status).toBe(200);
    expect(corrected.body).toMatchObject({
      occurredOn: '2025-04-11',
      version: 2,
      details: { reviewType: 'looked_after_review' },
    });
    let rows = await events(world.a, childId);
    expect(rows.map((e) => [e.occurred_on, e.status])).toEqual([
      ['2025-04-10', 'superseded'],
      ['2025-04-11', 'current'],
    ]);
    expect(rows[0]!.superseded_by).toBe(rows[1]!.id);

    const deleted = await world.call('deleteChildCaseRecord', {
      token: world.a.adminToken,
      params: { childId, recordId },
      headers: { 'if-match': '"2"' },
    });
    expect(deleted.status).toBe(200);
    expect(deleted.body.deletedBy).toBe(world.a.adminId);
    rows = await events(world.a, childId);
    expect(rows.map((e) => e.status)).toEqual(['superseded', 'voided']);
    expect(
      (await world.call('listChildCaseRecords', { token: world.a.adminToken, params: { childId } })).body.data,
    ).toHaveLength(0);
    const caseworker = await world.addUser(world.a, ['caseworker']);
    expect(
      (await world.call('getChildCaseRecord', { token: caseworker.token, params: { childId, recordId } })).status,
    ).toBe(404);
    expect(
      (
        await world.call('deleteChildCaseRecord', {
          token: world.a.adminToken,
          params: { childId, recordId },
          headers: { 'if-match': '"3"' },
        })
      ).status,
    ).toBe(409);

    const restored = await world.call('restoreChildCaseRecord', {
      token: world.a.adminToken,
      params: { childId, recordId },
    });
    expect(restored.status).toBe(200);
    expect(restored.body).toMatchObject({ deletedAt: null, deletedBy: null, version: 4, occurredOn: '2025-04-11' });
    expect(
      (await world.call('listChildCaseRecords', { token: world.a.adminToken, params: { childId } })).body.data.map(
        (r: { id: string }) => r.id,
      ),
    ).toEqual([recordId]);
    rows = await events(world.a, childId);
    expect(rows.map((e) => [e.occurred_on, e.status])).toEqual([
      ['2025-04-10', 'superseded'],
      ['2025-04-11', 'voided'],
      ['2025-04-11', 'current'],
    ]);
    // Its creation is an event on the child (naming the record); the rest name the record.
    const audit = await ownerRows<{ action: string }>(
      world.db,
      world.a.id,
      `SELECT action FROM audit_events WHERE entity_id = ? OR (entity_id = ? AND after->>'id' = ?) ORDER BY seq`,
      [recordId, childId, recordId],
    );
    expect(audit.map((a) => a.action)).toEqual([
      'child_case_record.created',
      'child_case_record.updated',
      'child_case_record.deleted',
      'child_case_record.restored',
    ]);
  });

  it('refuses bad codes, a missing plan review date, a changed kind and stale ETags, naming the field', async () => {
    const childId = await newChild();
    const badCodes = await world.call('createChildCaseRecord', {
      token: world.a.adminToken,
      params: { childId },
      body: {
        kind: 'missing_episode',
        occurredOn: '2025-03-01',
        details: {
          startedAt: '2025-03-01T21:00:00Z',
          endedAt: '2025-03-01T20:00:00Z',
          reportedToPolice: false,
          missingType: 'X9',
        },
      },
    });
    expect(badCodes.status).toBe(422);
    expect(pointers(badCodes.body)).toEqual(['/body/details/endedAt', '/body/details/missingType']);
    const participation = await world.call('createChildCaseRecord', {
      token: world.a.adminToken,
      params: { childId },
      body: { kind: 'review', occurredOn: '2025-03-01', details: { participationCode: 'nope' } },
    });
    expect(pointers(participation.body)).toEqual(['/body/details/participationCode']);
    const plan = await world.call('createChildCaseRecord', {
      token: world.a.adminToken,
      params: { childId },
      body: { kind: 'plan', occurredOn: '2025-03-01', details: {} },
    });
    expect(plan.status).toBe(422);
    expect(pointers(plan.body)).toEqual(['/body/dueOn']);
    const future = await world.call('createChildCaseRecord', {
      token: world.a.adminToken,
      params: { childId },
      body: { kind: 'note', occurredOn: '2999-01-01', details: { text: 'x' } },
    });
    expect(pointers(future.body)).toEqual(['/body/occurredOn']);
    const wrongShape = await world.call('createChildCaseRecord', {
      token: world.a.adminToken,
      params: { childId },
      body: { kind: 'note', occurredOn: '2025-03-01', details: { vaccine: 'MMR' } },
    });
    expect(wrongShape.status).toBe(400);
    expect(pointers(wrongShape.body)).toEqual(expect.arrayContaining(['/body/details/text']));
    const strangerFamily = await world.call('createChildCaseRecord', {
      token: world.a.adminToken,
      params: { childId },
      body: {
        kind: 'contact_event',
        occurredOn: '2025-03-01',
        details: { supervised: false, familyMemberIds: ['01900000-0000-7000-8000-000000000000'] },
      },
    });
    expect(pointers(strangerFamily.body)).toEqual(['/body/details/familyMemberIds/0']);

    const note = await world.call('createChildCaseRecord', {
      token: world.a.adminToken,
      params: { childId },
      body: { kind: 'note', occurredOn: '2025-03-01', details: { text: 'First' } },
    });
    const params = { childId, recordId: note.body.id };
    const kindChange = await world.call('updateChildCaseRecord', {
      token: world.a.adminToken,
      params,
      body: { kind: 'immunisation', details: { vaccine: 'MMR' } },
      headers: { 'if-match': '"1"' },
    });
    expect(kindChange.status).toBe(422);
    expect(pointers(kindChange.body)).toEqual(['/body/kind']);
    expect(
      (
        await world.call('updateChildCaseRecord', {
          token: world.a.adminToken,
          params,
          body: { kind: 'note', summary: 'x' },
        })
      ).status,
    ).toBe(428);
    expect(
      (
        await world.call('updateChildCaseRecord', {
          token: world.a.adminToken,
          params,
          body: { kind: 'note', summary: 'x' },
          headers: { 'if-match': '"7"' },
        })
      ).status,
    ).toBe(412);
    const rows = await ownerRows<{ kind: string }>(
      world.db,
      world.a.id,
      'SELECT kind FROM child_case_records WHERE child_id = ?',
      [childId],
    );
    expect(rows.map((r) => r.kind)).toEqual(['note']);
  });
});

describe('alerts, family and key contacts', () => {
  it('keeps alerts with their active span, family members with responsibility and contact, and key contacts', async () => {
    const childId = await newChild();
    const current = await world.call('createChildAlert', {
      token: world.a.adminToken,
      params: { childId },
      body: { category: 'allergy', severity: 'critical', title: 'Peanut allergy', activeFrom: '2020-01-01' },
    });
    expect(current.status).toBe(201);
    expect(current.body.active).toBe(true);
    const past = await world.call('createChildAlert', {
      token: world.a.adminToken,
      params: { childId },
      body: {
        category: 'risk',
        severity: 'medium',
        title: 'Absconding',
        activeFrom: '2021-01-01',
        activeTo: '2021-06-30',
      },
    });
    expect(past.body.active).toBe(false);
    const onDay = await world.call('listChildAlerts', {
      token: world.a.adminToken,
      params: { childId },
      query: { activeOn: '2023-05-05' },
    });
    expect(onDay.body.data.map((a: { title: string }) => a.title)).toEqual(['Peanut allergy']);
    const backwards = await world.call('createChildAlert', {
      token: world.a.adminToken,
      params: { childId },
      body: { category: 'risk', severity: 'low', title: 'X', activeFrom: '2021-01-01', activeTo: '2020-01-01' },
    });
    expect(pointers(backwards.body)).toEqual(['/body/activeTo']);

    const mother = await world.call('createChildFamilyMember', {
      token: world.a.adminToken,
      params: { childId },
      body: {
        givenName: 'Jo',
        familyName: 'Smith',
        relationship: 'mother',
        parentalResponsibility: true,
        contactSupervised: true,
        email: 'jo@example.test',
      },
    });
    expect(mother.status).toBe(201);
    expect(mother.body).toMatchObject({
      parentalResponsibility: true,
      contactAllowed: true,
      contactSupervised: true,
      dateOfBirth: null,
    });
    const contact = await world.call('createChildCaseRecord', {
      token: world.a.adminToken,
      params: { childId },
      body: {
        kind: 'contact_event',
        occurredOn: '2025-03-01',
        details: { supervised: true, familyMemberIds: [mother.body.id] },
      },
    });
    expect(contact.status).toBe(201);

    const gp = await world.call('createChildKeyContact', {
      token: world.a.adminToken,
      params: { childId },
      body: { role: 'gp', name: 'Dr Patel', organisation: 'Hill Surgery', phone: '01632 960001' },
    });
    expect(gp.status).toBe(201);
    const changed = await world.call('updateChildKeyContact', {
      token: world.a.adminToken,
      params: { childId, keyContactId: gp.body.id },
      body: { organisation: null },
      headers: { 'if-match': '"1"' },
    });
    expect(changed.body).toMatchObject({ organisation: null, version: 2 });
  });
});

describe('visibility and merge', () => {
  it("a restricted child's records are 404 to anyone not named on it; reads by those named are audited", async () => {
    const supervisor = await world.addUser(world.a, ['supervisor']);
    const other = await world.addUser(world.a, ['supervisor']);
    const childId = await newChild(world.a, supervisor.token);
    const note = await world.call('createChildCaseRecord', {
      token: supervisor.token,
      params: { childId },
      body: { kind: 'note', occurredOn: '2025-03-01', details: { text: 'Private' } },
    });
    expect(note.status).toBe(201);
    const alert = await world.call('createChildAlert', {
      token: supervisor.token,
      params: { childId },
      body: { category: 'risk', severity: 'high', title: 'Do not disclose address', activeFrom: '2025-01-01' },
    });
    const set = await world.call('setChildRestriction', {
      token: supervisor.token,
      params: { childId },
      body: { restricted: true, allowedUserIds: [supervisor.id] },
      headers: { 'if-match': '"1"' },
    });
    expect(set.status).toBe(200);

    for (const token of [other.token, world.a.adminToken]) {
      expect((await world.call('listChildCaseRecords', { token, params: { childId } })).status).toBe(404);
      expect(
        (await world.call('getChildCaseRecord', { token, params: { childId, recordId: note.body.id } })).status,
      ).toBe(404);
      expect(
        (
          await world.call('updateChildAlert', {
            token,
            params: { childId, alertId: alert.body.id },
            body: { title: 'x' },
            headers: { 'if-match': '"1"' },
          })
        ).status,
      ).toBe(404);
      expect(
        (
          await world.call('createChildFamilyMember', {
            token,
            params: { childId },
            body: { givenName: 'A', familyName: 'B', relationship: 'uncle' },
          })
        ).status,
      ).toBe(404);
    }
    const before = await ownerRows(
      world.db,
      world.a.id,
      `SELECT id FROM audit_events WHERE action = 'child.restricted_read' AND entity_id = ?`,
      [childId],
    );
    expect(
      (await world.call('listChildCaseRecords', { token: supervisor.token, params: { childId } })).body.data,
    ).toHaveLength(1);
    expect(
      (await world.call('getChildAlert', { token: supervisor.token, params: { childId, alertId: alert.body.id } }))
        .status,
    ).toBe(200);
    const after = await ownerRows(
      world.db,
      world.a.id,
      `SELECT id FROM audit_events WHERE action = 'child.restricted_read' AND entity_id = ?`,
      [childId],
    );
    expect(after.length - before.length).toBe(2);
  });

  it("a deleted child's records are 404", async () => {
    const childId = await newChild();
    const status = await world.call('createChildLegalStatus', {
      token: world.a.adminToken,
      params: { childId },
      body: { code: 'C2', startDate: '2025-01-01' },
    });
    expect(
      (
        await world.call('deleteChild', {
          token: world.a.adminToken,
          params: { childId },
          headers: { 'if-match': '"1"' },
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await world.call('getChildLegalStatus', {
          token: world.a.adminToken,
          params: { childId, legalStatusId: status.body.id },
        })
      ).status,
    ).toBe(404);
    expect(
      (await world.call('listChildLegalStatuses', { token: world.a.adminToken, params: { childId } })).status,
    ).toBe(404);
  });

  it('merging a duplicate carries its sub-records to the survivor, keeping their history', async () => {
    const duplicate = await newChild();
    const survivor = await newChild();
    const note = await world.call('createChildCaseRecord', {
      token: world.a.adminToken,
      params: { childId: duplicate },
      body: { kind: 'note', occurredOn: '2025-03-01', details: { text: 'On the duplicate' } },
    });
    const edited = await world.call('updateChildCaseRecord', {
      token: world.a.adminToken,
      params: { childId: duplicate, recordId: note.body.id },
      body: { kind: 'note', summary: 'Edited' },
      headers: { 'if-match': '"1"' },
    });
    expect(edited.status).toBe(200);
    const member = await world.call('createChildFamilyMember', {
      token: world.a.adminToken,
      params: { childId: duplicate },
      body: { givenName: 'Sam', familyName: 'Dup', relationship: 'brother' },
    });
    const status = await world.call('createChildLegalStatus', {
      token: world.a.adminToken,
      params: { childId: duplicate },
      body: { code: 'V2', startDate: '2025-02-01' },
    });
    expect([member.status, status.status]).toEqual([201, 201]);
    await world.call('createChildCaseRecord', {
      token: world.a.adminToken,
      params: { childId: survivor },
      body: { kind: 'note', occurredOn: '2025-01-01', details: { text: 'On the survivor' } },
    });

    const merged = await world.call('mergeChild', {
      token: world.a.adminToken,
      params: { childId: duplicate },
      body: { intoChildId: survivor },
    });
    expect(merged.status).toBe(200);
    const records = await world.call('listChildCaseRecords', {
      token: world.a.adminToken,
      params: { childId: survivor },
    });
    expect(records.body.data.map((r: { summary: string | null; details: { text: string } }) => r.details.text)).toEqual(
      ['On the survivor', 'On the duplicate'],
    );
    const moved = await world.call('getChildCaseRecord', {
      token: world.a.adminToken,
      params: { childId: survivor, recordId: note.body.id },
    });
    expect(moved.body).toMatchObject({ childId: survivor, version: 2, summary: 'Edited' });
    expect(
      (
        await world.call('listChildFamilyMembers', { token: world.a.adminToken, params: { childId: survivor } })
      ).body.data.map((m: { id: string }) => m.id),
    ).toEqual([member.body.id]);
    expect(
      (
        await world.call('listChildLegalStatuses', { token: world.a.adminToken, params: { childId: survivor } })
      ).body.data.map((m: { id: string }) => m.id),
    ).toEqual([status.body.id]);
    expect(
      await ownerRows(world.db, world.a.id, 'SELECT id FROM child_case_records WHERE child_id = ?', [duplicate]),
    ).toHaveLength(0);
    // The record's own trail is intact, and the merge's audit event says what moved.
    const trail = await ownerRows<{ action: string }>(
      world.db,
      world.a.id,
      `SELECT action FROM audit_events WHERE entity_id = ? OR after->>'id' = ? ORDER BY seq`,
      [note.body.id, note.body.id],
    );
    expect(trail.map((t) => t.action)).toEqual(['child_case_record.created', 'child_case_record.updated']);
    const [mergeEvent] = await ownerRows<{ after: { caseRecordsMoved: Record<string, number> } }>(
      world.db,
      world.a.id,
      `SELECT after FROM audit_events WHERE action = 'child.merged' AND entity_id = ?`,
      [duplicate],
    );
    expect(mergeEvent!.after.caseRecordsMoved).toMatchObject({
      child_case_records: 1,
      child_family_members: 1,
      child_legal_statuses: 1,
    });
  });
});

describe("a child's occasions (festivals and holiday weeks the rates pay an extra for)", () => {
  const record = (childId: string, body: Record<string, unknown>) =>
    world.call('createChildOccasion', { token: world.a.adminToken, params: { childId }, body });

  it('keeps no more of a kind in a year than the pack pays, never two on one day, none before the birth; a deleted one comes back only if there is room', async () => {
    const childId = await newChild(); // born 2016-05-01
    const eid = await record(childId, { kind: 'festival', date: '2025-03-30', name: 'Eid al-Fitr' });
    expect(eid.status).toBe(201);
    expect(eid.body).toMatchObject({
      childId,
      kind: 'festival',
      date: '2025-03-30',
      name: 'Eid al-Fitr',
      notes: null,
      version: 1,
      deletedAt: null,
    });
    // The UK pack pays one festival a year: a second in 2025 is refused, one in 2026 is taken.
    const second = await record(childId, { kind: 'festival', date: '2025-12-25', name: 'Christmas Day' });
    expect(second.status).toBe(422);
    expect(second.body.errors).toEqual([
      {
        pointer: '/body/date',
        message: expect.stringMatching(
          /already has 1 festival occasion in 2025 \(2025-03-30\); the tenant's pack pays 1 a year/,
        ),
      },
    ]);
    expect((await record(childId, { kind: 'festival', date: '2026-03-20', name: 'Eid al-Fitr' })).status).toBe(201);
    // Two holiday weeks a year, not on the same day.
    expect((await record(childId, { kind: 'holiday', date: '2025-04-14', name: 'Easter' })).status).toBe(201);
    expect(
      (await record(childId, { kind: 'holiday', date: '2025-04-14', name: 'Easter again' })).body.errors[0].message,
    ).toMatch(/already has a holiday on this day/);
    expect((await record(childId, { kind: 'holiday', date: '2025-08-04', name: 'Summer' })).status).toBe(201);
    expect((await record(childId, { kind: 'holiday', date: '2025-10-27', name: 'Half term' })).status).toBe(422);
    expect(
      (await record(childId, { kind: 'holiday', date: '2016-04-30', name: 'Before birth' })).body.errors[0].pointer,
    ).toBe('/body/date');
    expect((await record(childId, { kind: 'birthday', date: '2025-05-01', name: 'Birthday' })).status).toBe(400);

    // Deleted, the festival frees its year; another takes the place, and the deleted one cannot come back.
    const deleted = await world.call('deleteChildOccasion', {
      token: world.a.adminToken,
      params: { childId, occasionId: eid.body.id },
      headers: { 'if-match': '"1"' },
    });
    expect(deleted.status).toBe(200);
    expect((await record(childId, { kind: 'festival', date: '2025-12-25', name: 'Christmas Day' })).status).toBe(201);
    const restored = await world.call('restoreChildOccasion', {
      token: world.a.adminToken,
      params: { childId, occasionId: eid.body.id },
    });
    expect(restored.status).toBe(422);
    expect(restored.body.errors[0].pointer).toBe('/path/occasionId');

    const list = await world.call('listChildOccasions', {
      token: world.a.adminToken,
      params: { childId },
      query: { kind: 'festival', from: '2025-01-01', to: '2025-12-31' },
    });
    expect(list.body.data.map((o: { date: string; name: string }) => [o.date, o.name])).toEqual([
      ['2025-12-25', 'Christmas Day'],
    ]);
  });

  it('takes occasions of every kind for a tenant whose pack sets no number for them', async () => {
    const childId = await newChild(world.b);
    for (const date of ['2025-12-24', '2025-12-25']) {
      expect(
        (
          await world.call('createChildOccasion', {
            token: world.b.adminToken,
            params: { childId },
            body: { kind: 'festival', date, name: 'Christmas' },
          })
        ).status,
      ).toBe(201);
    }
  });
});
