import { makeApprovedHousehold } from './support/fixtures/carers';
import { startWorld, type World } from './support/harness';

/**
 * Journeys across modules, through the API as a service would walk them: what a caseworker records
 * (care episodes, reviews, placements, visits, moves, endings, approvals) turning into the tasks
 * the pack's cycles say are due, and those tasks closing when the work is done.
 */
let world: World;
beforeAll(async () => {
  world = await startWorld();
}, 120_000);
afterAll(async () => {
  await world?.close();
});

interface Task {
  cycleKey: string;
  step: string;
  occurrence: number;
  dueDate: string;
  status: string;
  ownerId: string | null;
  completedOn: string | null;
}

async function tasksOf(subjectId: string): Promise<Task[]> {
  const r = await world.call('listTasks', { token: world.a.adminToken, query: { subjectId, limit: 100 } });
  expect(r.status).toBe(200);
  return (r.body.data as Task[]).map(({ cycleKey, step, occurrence, dueDate, status, ownerId, completedOn }) => ({
    cycleKey,
    step,
    occurrence,
    dueDate,
    status,
    ownerId,
    completedOn,
  }));
}

const of = (tasks: Task[], cycleKey: string) =>
  tasks.filter((t) => t.cycleKey === cycleKey).sort((x, y) => x.occurrence - y.occurrence);

const addDays = (iso: string, days: number) =>
  new Date(Date.parse(`${iso}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);

describe('a UK child through care, with the tasks the cycles make', () => {
  it('turns entering care, a review, a placement, a visit, a move and an ending into tasks, and closes them', async () => {
    const worker = await world.addUser(world.a, ['caseworker']);
    const child = await world.call('createChild', {
      token: world.a.adminToken,
      body: {
        givenName: 'Journey',
        familyName: 'Child',
        dateOfBirth: '2014-06-01',
        sex: 'female',
        allocatedWorkerId: worker.id,
      },
    });
    expect(child.status).toBe(201);
    const childId = child.body.id as string;

    // Looked after from Monday 23 March 2026: the first review and the initial health assessment are
    // due 20 working days later, on 22 April (Good Friday and Easter Monday are not working days).
    const episode = await world.call('createChildCareEpisode', {
      token: world.a.adminToken,
      params: { childId },
      body: { startDate: '2026-03-23', startReason: 'S' },
    });
    expect(episode.status).toBe(201);
    let tasks = await tasksOf(childId);
    expect(of(tasks, 'child-review')).toEqual([
      {
        cycleKey: 'child-review',
        step: 'first',
        occurrence: 1,
        dueDate: '2026-04-22',
        status: 'open',
        ownerId: worker.id,
        completedOn: null,
      },
    ]);
    expect(of(tasks, 'initial-health-assessment')).toEqual([
      expect.objectContaining({ dueDate: '2026-04-22', status: 'open', ownerId: worker.id }),
    ]);

    // The review held on 20 April closes the first and makes the second due three months later.
    const review = await world.call('createChildCaseRecord', {
      token: world.a.adminToken,
      params: { childId },
      body: { kind: 'review', occurredOn: '2026-04-20', details: {} },
    });
    expect(review.status).toBe(201);
    tasks = await tasksOf(childId);
    expect(of(tasks, 'child-review')).toEqual([
      {
        cycleKey: 'child-review',
        step: 'first',
        occurrence: 1,
        dueDate: '2026-04-22',
        status: 'done',
        ownerId: worker.id,
        completedOn: '2026-04-20',
      },
      {
        cycleKey: 'child-review',
        step: 'second',
        occurrence: 2,
        dueDate: '2026-07-20',
        status: 'open',
        ownerId: worker.id,
        completedOn: null,
      },
    ]);

    // Placed: the first social worker visit is due within a week, owned by the child's worker.
    const first = await makeApprovedHousehold({ world, tenant: world.a });
    const second = await makeApprovedHousehold({ world, tenant: world.a });
    const approvedOn = (
      await world.call('getCarerHousehold', { token: world.a.adminToken, params: { householdId: second.id } })
    ).body.approvedOn as string;
    const start = approvedOn;
    const placed = await world.call('createPlacement', {
      token: world.a.adminToken,
      params: { childId },
      body: { householdId: first.id, kind: 'short_term', placementType: 'U3', startDate: start },
    });
    expect(placed.status).toBe(201);
    const placementId = placed.body.id as string;
    expect(of(await tasksOf(placementId), 'social-worker-visit')).toEqual([
      {
        cycleKey: 'social-worker-visit',
        step: 'first_week',
        occurrence: 1,
        dueDate: addDays(start, 7),
        status: 'open',
        ownerId: worker.id,
        completedOn: null,
      },
    ]);

    // The visit closes it; the next is due six weeks after the visit.
    const visit = await world.call('createPlacementVisit', {
      token: world.a.adminToken,
      params: { placementId },
      body: { kind: 'child_visit', visitDate: start, childSeen: true, childSeenAlone: true },
    });
    expect(visit.status).toBe(201);
    expect(of(await tasksOf(placementId), 'social-worker-visit')).toEqual([
      expect.objectContaining({ occurrence: 1, status: 'done', completedOn: start }),
      expect.objectContaining({ step: 'first_year', occurrence: 2, dueDate: addDays(start, 42), status: 'open' }),
    ]);

    // Moved: the old placement's open visit is cancelled, the new placement's first visit is due.
    const moved = await world.call('movePlacement', {
      token: world.a.adminToken,
      params: { placementId },
      body: {
        moveDate: start,
        reasons: [{ list: 'reason_place_change', code: 'CARPL' }],
        outcome: 'planned',
        householdId: second.id,
      },
    });
    expect(moved.status).toBe(200);
    expect(of(await tasksOf(placementId), 'social-worker-visit').map((t) => t.status)).toEqual(['done', 'cancelled']);
    const newPlacementId = moved.body.started.id as string;
    expect(of(await tasksOf(newPlacementId), 'social-worker-visit')).toEqual([
      expect.objectContaining({ occurrence: 1, dueDate: addDays(start, 7), status: 'open', ownerId: worker.id }),
    ]);

    // Ended: nothing is left open for a placement that is over.
    const ended = await world.call('endPlacement', {
      token: world.a.adminToken,
      params: { placementId: newPlacementId },
      body: { endDate: start, reasons: [{ list: 'reason_place_change', code: 'CARPL' }], outcome: 'planned' },
    });
    expect(ended.status).toBe(200);
    expect(of(await tasksOf(newPlacementId), 'social-worker-visit').map((t) => t.status)).toEqual(['cancelled']);

    // The worker's own list shows the child's open tasks, and none of the ended placements'.
    const mine = await world.call('listTasks', {
      token: worker.token,
      query: { ownerId: worker.id, status: 'open', limit: 100 },
    });
    expect(mine.status).toBe(200);
    expect(new Set(mine.body.data.map((t: { subjectId: string }) => t.subjectId))).toEqual(new Set([childId]));
  });

  it('gives an approved household its first annual review and unannounced visit a year on', async () => {
    const { id } = await makeApprovedHousehold({ world, tenant: world.a });
    const approvedOn = (
      await world.call('getCarerHousehold', { token: world.a.adminToken, params: { householdId: id } })
    ).body.approvedOn as string;
    const [y, m, d] = approvedOn.split('-');
    const aYearOn = `${Number(y) + 1}-${m}-${d}`;
    const tasks = await tasksOf(id);
    expect(of(tasks, 'carer-review')).toEqual([
      expect.objectContaining({ step: 'first', dueDate: aYearOn, status: 'open' }),
    ]);
    expect(of(tasks, 'unannounced-visit')).toEqual([
      expect.objectContaining({ step: 'first', dueDate: aYearOn, status: 'open' }),
    ]);
  });

  it('detects a duplicate child on create, and merging carries its record and its tasks to the survivor', async () => {
    const worker = await world.addUser(world.a, ['caseworker']);
    const body = {
      givenName: 'Twice',
      familyName: 'Recorded',
      dateOfBirth: '2016-09-09',
      sex: 'male',
      allocatedWorkerId: worker.id,
    };
    const survivor = await world.call('createChild', { token: world.a.adminToken, body });
    expect(survivor.status).toBe(201);
    const refused = await world.call('createChild', {
      token: world.a.adminToken,
      body: { ...body, givenName: 'TWICE' },
    });
    expect(refused.status).toBe(409);
    expect(refused.body.duplicates).toEqual([{ id: survivor.body.id, reason: 'same_name_and_date_of_birth' }]);
    const duplicate = await world.call('createChild', {
      token: world.a.adminToken,
      body: { ...body, allowDuplicate: true },
    });
    expect(duplicate.status).toBe(201);

    // The care episode was recorded on the duplicate: its review task is the duplicate's.
    const episode = await world.call('createChildCareEpisode', {
      token: world.a.adminToken,
      params: { childId: duplicate.body.id },
      body: { startDate: '2026-03-23', startReason: 'S' },
    });
    expect(episode.status).toBe(201);
    expect(of(await tasksOf(duplicate.body.id), 'child-review')).toEqual([
      expect.objectContaining({ dueDate: '2026-04-22', status: 'open' }),
    ]);

    const merged = await world.call('mergeChild', {
      token: world.a.adminToken,
      params: { childId: duplicate.body.id },
      body: { intoChildId: survivor.body.id },
    });
    expect(merged.status).toBe(200);
    const episodes = await world.call('listChildCareEpisodes', {
      token: world.a.adminToken,
      params: { childId: survivor.body.id },
    });
    expect(episodes.body.data.map((e: { id: string }) => e.id)).toEqual([episode.body.id]);
    expect(of(await tasksOf(survivor.body.id), 'child-review')).toEqual([
      expect.objectContaining({ dueDate: '2026-04-22', status: 'open', ownerId: worker.id }),
    ]);
    expect(of(await tasksOf(duplicate.body.id), 'child-review').map((t) => t.status)).toEqual(['cancelled']);

    // Both records' trails stay readable: the duplicate's own events and the one merge event naming both.
    const trail = await world.call('listAuditEvents', {
      token: world.a.adminToken,
      query: { entityType: 'child', entityId: duplicate.body.id },
    });
    expect(trail.body.data.map((e: { action: string }) => e.action)).toEqual(
      expect.arrayContaining(['child.created', 'child.merged']),
    );
  });
});
