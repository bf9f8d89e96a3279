import { inTenantTransaction } from '../../db/tenantTransaction';
import { newId } from '../../ids';
import { todayIn } from '../../time';
import { eventContext, makeTeam, recordEvent, runReminders } from '../../../../test/support/fixtures/tasks';
import { ownerRows, startWorld, type TenantFixture, type World } from '../../../../test/support/harness';
import { correctCaseEvent, voidCaseEvents, type CaseEventInput } from './events';
import { recalculateTasks } from './recalculate';

let world: World;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world?.close();
});

interface TaskRowView {
  id: string;
  cycle_key: string;
  step_key: string;
  occurrence: number;
  due_date: string;
  status: string;
  owner_id: string | null;
  completed_on: string | null;
  completed_by_event_id: string | null;
  counted_from: { basis: string; date: string };
  version: number;
}

async function tasksOf(tenant: TenantFixture, subjectId: string, cycleKey?: string): Promise<TaskRowView[]> {
  return ownerRows<TaskRowView>(
    world.db,
    tenant.id,
    `SELECT id, cycle_key, step_key, occurrence, due_date, status, owner_id, completed_on, completed_by_event_id, counted_from, version
       FROM tasks WHERE tenant_id = ? AND subject_id = ? ${cycleKey ? 'AND cycle_key = ?' : ''} ORDER BY cycle_key, occurrence`,
    cycleKey ? [tenant.id, subjectId, cycleKey] : [tenant.id, subjectId],
  );
}

async function childOf(tenant: TenantFixture, workerId: string | null, dateOfBirth = '2016-05-01'): Promise<string> {
  const r = await world.call('createChild', {
    token: tenant.adminToken,
    body: {
      givenName: `Task${newId().slice(-8)}`,
      familyName: 'Cycle',
      dateOfBirth,
      sex: 'female',
      allocatedWorkerId: workerId,
    },
  });
  expect(r.status).toBe(201);
  return r.body.id as string;
}

async function correct(tenant: TenantFixture, input: CaseEventInput): Promise<string> {
  return inTenantTransaction(world.db, { tenantId: tenant.id }, (trx) =>
    correctCaseEvent(eventContext(world, tenant, trx), input),
  );
}

async function voidSource(tenant: TenantFixture, source: { type: string; id: string }): Promise<number> {
  return inTenantTransaction(world.db, { tenantId: tenant.id }, (trx) =>
    voidCaseEvents(eventContext(world, tenant, trx), source),
  );
}

describe('a UK child entering care', () => {
  it('gets its first review 20 working days later, owned by the allocated worker; a review held completes it and the next is due 3 months later', async () => {
    const worker = await world.addUser(world.a, ['caseworker']);
    const childId = await childOf(world.a, worker.id);
    const enteredSource = { type: 'care_episode', id: newId() };
    const entered = await recordEvent(world, world.a, {
      name: 'child.entered_care',
      subjectId: childId,
      occurredOn: '2026-03-23',
      source: enteredSource,
    });

    const first = await tasksOf(world.a, childId, 'child-review');
    // 20 working days from Monday 23 March 2026, skipping Good Friday and Easter Monday.
    expect(first).toEqual([
      expect.objectContaining({
        step_key: 'first',
        occurrence: 1,
        due_date: '2026-04-22',
        status: 'open',
        owner_id: worker.id,
        counted_from: { basis: 'trigger', date: '2026-03-23' },
      }),
    ]);
    // The other child cycles of the UK pack that child.entered_care starts.
    expect((await tasksOf(world.a, childId)).map((t) => t.cycle_key).sort()).toEqual([
      'child-review',
      'initial-health-assessment',
      'pep-review',
    ]);

    const read = await world.call('getTask', { token: worker.token, params: { taskId: first[0]!.id } });
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({
      cycleKey: 'child-review',
      step: 'first',
      dueDate: '2026-04-22',
      ownerId: worker.id,
      status: 'open',
      subjectType: 'child',
      subjectId: childId,
      countedFrom: { basis: 'trigger', date: '2026-03-23' },
    });
    expect(read.headers.get('etag')).toBe(`"${first[0]!.version}"`);

    const reviewSource = { type: 'child_review', id: newId() };
    const review = await recordEvent(world, world.a, {
      name: 'child.review_held',
      subjectId: childId,
      occurredOn: '2026-04-15',
      source: reviewSource,
    });
    const after = await tasksOf(world.a, childId, 'child-review');
    expect(after).toEqual([
      expect.objectContaining({
        id: first[0]!.id,
        occurrence: 1,
        status: 'done',
        completed_on: '2026-04-15',
        completed_by_event_id: review,
      }),
      expect.objectContaining({
        step_key: 'second',
        occurrence: 2,
        due_date: '2026-07-15',
        status: 'open',
        owner_id: worker.id,
        counted_from: { basis: 'previous_done', date: '2026-04-15' },
      }),
    ]);

    // Voiding the review (entered in error) reopens the first review and withdraws the second.
    expect(await voidSource(world.a, reviewSource)).toBe(1);
    const voided = await tasksOf(world.a, childId, 'child-review');
    expect(voided.map((t) => [t.occurrence, t.status, t.completed_on])).toEqual([
      [1, 'open', null],
      [2, 'cancelled', null],
    ]);
    expect(voided[0]!.id).toBe(first[0]!.id);
    expect(entered).toBeTruthy();
  });

  it('moves the open task when the trigger date is corrected, on the same row', async () => {
    const childId = await childOf(world.a, world.a.adminId);
    const source = { type: 'care_episode', id: newId() };
    await recordEvent(world, world.a, {
      name: 'child.entered_care',
      subjectId: childId,
      occurredOn: '2026-03-23',
      source,
    });
    const [before] = await tasksOf(world.a, childId, 'child-review');
    expect(before!.due_date).toBe('2026-04-22');

    await correct(world.a, { name: 'child.entered_care', subjectId: childId, occurredOn: '2026-04-13', source });
    const [after] = await tasksOf(world.a, childId, 'child-review');
    // 20 working days from Monday 13 April 2026, skipping the early May bank holiday (4 May).
    expect(after).toMatchObject({
      id: before!.id,
      due_date: '2026-05-12',
      status: 'open',
      version: before!.version + 1,
      counted_from: { basis: 'trigger', date: '2026-04-13' },
    });
    const events = await ownerRows<{ status: string }>(
      world.db,
      world.a.id,
      'SELECT status FROM case_events WHERE tenant_id = ? AND subject_id = ? ORDER BY recorded_at',
      [world.a.id, childId],
    );
    expect(events.map((e) => e.status)).toEqual(['superseded', 'current']);
  });

  it('is idempotent: recalculating the same events changes no row', async () => {
    const childId = await childOf(world.a, world.a.adminId);
    await recordEvent(world, world.a, { name: 'child.entered_care', subjectId: childId, occurredOn: '2026-03-23' });
    await recordEvent(world, world.a, { name: 'child.review_held', subjectId: childId, occurredOn: '2026-04-10' });
    const before = await tasksOf(world.a, childId);
    await inTenantTransaction(world.db, { tenantId: world.a.id }, (trx) =>
      recalculateTasks({ trx, tenantId: world.a.id, packs: world.server.packs }, [
        { subjectType: 'child', subjectId: childId, names: ['child.entered_care', 'child.review_held'] },
      ]),
    );
    await inTenantTransaction(world.db, { tenantId: world.a.id }, (trx) =>
      recalculateTasks({ trx, tenantId: world.a.id, packs: world.server.packs }, [
        { subjectType: 'child', subjectId: childId, names: ['child.entered_care'] },
      ]),
    );
    expect(await tasksOf(world.a, childId)).toEqual(before);
    const counts = await ownerRows<{ n: number }>(
      world.db,
      world.a.id,
      `SELECT count(*)::int AS n FROM tasks WHERE tenant_id = ? AND subject_id = ? AND cycle_key = 'child-review'`,
      [world.a.id, childId],
    );
    expect(counts[0]!.n).toBe(2);
  });

  it('cancels open tasks when the child leaves care, and keeps what was done', async () => {
    const childId = await childOf(world.a, world.a.adminId);
    await recordEvent(world, world.a, { name: 'child.entered_care', subjectId: childId, occurredOn: '2026-03-23' });
    await recordEvent(world, world.a, { name: 'child.review_held', subjectId: childId, occurredOn: '2026-04-15' });
    await recordEvent(world, world.a, { name: 'child.left_care', subjectId: childId, occurredOn: '2026-05-01' });
    const rows = await tasksOf(world.a, childId);
    expect(rows.filter((t) => t.status === 'open')).toEqual([]);
    expect(rows.filter((t) => t.cycle_key === 'child-review').map((t) => [t.occurrence, t.status])).toEqual([
      [1, 'done'],
      [2, 'cancelled'],
    ]);
  });

  it('reads ageYears from the child: review health assessments every 6 months under 5', async () => {
    const childId = await childOf(world.a, world.a.adminId, '2023-01-10');
    await recordEvent(world, world.a, {
      name: 'child.initial_health_assessment_held',
      subjectId: childId,
      occurredOn: '2026-03-02',
    });
    const rows = await tasksOf(world.a, childId, 'review-health-assessment');
    expect(rows).toEqual([expect.objectContaining({ step_key: 'under_five', due_date: '2026-09-02', status: 'open' })]);
  });
});

describe("a placement's visits and a carer's annual review", () => {
  async function household(tenant: TenantFixture, supervisingWorkerId: string | null): Promise<string> {
    const id = newId();
    await inTenantTransaction(world.db, { tenantId: tenant.id }, (trx) =>
      trx('carer_households').insert({
        tenant_id: tenant.id,
        id,
        name: 'The Cycle household',
        workflow_key: 'carer-approval',
        approval_state: 'approved',
        supervising_worker_id: supervisingWorkerId,
      }),
    );
    return id;
  }

  it("visits a placement a week after it starts, then 6 weeks after each visit; the owner is the child's worker", async () => {
    const worker = await world.addUser(world.a, ['caseworker']);
    const childId = await childOf(world.a, worker.id);
    const householdId = await household(world.a, world.a.adminId);
    const placementId = newId();
    await inTenantTransaction(world.db, { tenantId: world.a.id }, (trx) =>
      trx('placements').insert({
        tenant_id: world.a.id,
        id: placementId,
        child_id: childId,
        household_id: householdId,
        kind: 'long_term',
        placement_type: 'U4',
        status: 'active',
        start_date: '2026-01-05',
      }),
    );
    await recordEvent(world, world.a, {
      name: 'placement.started',
      subjectId: placementId,
      occurredOn: '2026-01-05',
      facts: { longTerm: true },
    });
    expect(await tasksOf(world.a, placementId)).toEqual([
      expect.objectContaining({
        cycle_key: 'social-worker-visit',
        step_key: 'first_week',
        due_date: '2026-01-12',
        status: 'open',
        owner_id: worker.id,
      }),
    ]);

    await recordEvent(world, world.a, {
      name: 'placement.visit_held',
      subjectId: placementId,
      occurredOn: '2026-01-09',
    });
    await recordEvent(world, world.a, {
      name: 'placement.visit_held',
      subjectId: placementId,
      occurredOn: '2026-02-13',
    });
    const rows = await tasksOf(world.a, placementId);
    expect(rows.map((t) => [t.occurrence, t.step_key, t.status, t.completed_on ?? t.due_date])).toEqual([
      [1, 'first_week', 'done', '2026-01-09'],
      [2, 'first_year', 'done', '2026-02-13'],
      [3, 'first_year', 'open', '2026-03-27'],
    ]);

    await recordEvent(world, world.a, { name: 'placement.ended', subjectId: placementId, occurredOn: '2026-03-01' });
    expect((await tasksOf(world.a, placementId)).map((t) => t.status)).toEqual(['done', 'done', 'cancelled']);
  });

  it('reviews a carer a year after approval, then a year after each review, owned by the supervising worker', async () => {
    const supervisor = await world.addUser(world.a, ['caseworker']);
    const householdId = await household(world.a, supervisor.id);
    await recordEvent(world, world.a, { name: 'carer.approved', subjectId: householdId, occurredOn: '2026-02-01' });
    const review = await tasksOf(world.a, householdId, 'carer-review');
    expect(review).toEqual([
      expect.objectContaining({ step_key: 'first', due_date: '2027-02-01', status: 'open', owner_id: supervisor.id }),
    ]);
    expect((await tasksOf(world.a, householdId)).map((t) => t.cycle_key)).toEqual([
      'carer-review',
      'unannounced-visit',
    ]);

    await recordEvent(world, world.a, { name: 'carer.review_held', subjectId: householdId, occurredOn: '2027-01-10' });
    expect(
      (await tasksOf(world.a, householdId, 'carer-review')).map((t) => [
        t.step_key,
        t.status,
        t.completed_on ?? t.due_date,
      ]),
    ).toEqual([
      ['first', 'done', '2027-01-10'],
      ['annual', 'open', '2028-01-10'],
    ]);
    await recordEvent(world, world.a, {
      name: 'carer.approval_ended',
      subjectId: householdId,
      occurredOn: '2027-03-01',
    });
    expect((await tasksOf(world.a, householdId)).filter((t) => t.status === 'open')).toEqual([]);
  });

  it('uses the USA words too: a child entering care there gets the periodic review and the permanency hearing', async () => {
    const childId = await childOf(world.b, world.b.adminId);
    await recordEvent(world, world.b, { name: 'child.entered_care', subjectId: childId, occurredOn: '2026-02-10' });
    expect((await tasksOf(world.b, childId)).map((t) => [t.cycle_key, t.due_date, t.owner_id])).toEqual([
      ['periodic-review', '2026-08-10', world.b.adminId],
      ['permanency-hearing', '2027-02-10', world.b.adminId],
    ]);
    await recordEvent(world, world.b, {
      name: 'child.permanency_hearing_held',
      subjectId: childId,
      occurredOn: '2027-01-20',
    });
    expect(
      (await tasksOf(world.b, childId, 'permanency-hearing')).map((t) => [t.status, t.completed_on ?? t.due_date]),
    ).toEqual([
      ['done', '2027-01-20'],
      ['open', '2028-01-20'],
    ]);
  });
});

describe('lists, teams and manual actions', () => {
  let alice: { id: string; token: string };
  let bob: { id: string; token: string };
  let carol: { id: string; token: string };
  let teamId: string;
  const children: Record<string, string> = {};

  beforeAll(async () => {
    alice = await world.addUser(world.a, ['caseworker']);
    bob = await world.addUser(world.a, ['caseworker']);
    carol = await world.addUser(world.a, ['caseworker']);
    teamId = (await makeTeam({ world, tenant: world.a }, [alice.id, bob.id])).id;
    // Alice: two children, one long in care (overdue), one just in (not yet due); Bob: one overdue; Carol: one, outside the team.
    for (const [key, worker, date] of [
      ['alice-old', alice.id, '2026-01-05'],
      ['alice-new', alice.id, todayIn('Europe/London')],
      ['bob-old', bob.id, '2026-02-02'],
      ['carol-old', carol.id, '2026-01-12'],
    ] as const) {
      children[key] = await childOf(world.a, worker);
      await recordEvent(world, world.a, { name: 'child.entered_care', subjectId: children[key]!, occurredOn: date });
    }
  });

  async function list(query: Record<string, unknown>, token = world.a.adminToken) {
    const r = await world.call('listTasks', { token, query: { cycleKey: 'child-review', ...query } });
    expect(r.status).toBe(200);
    return r.body as {
      data: Array<{
        id: string;
        subjectId: string;
        ownerId: string;
        dueDate: string;
        overdue: boolean;
        teamIds: string[];
      }>;
      nextCursor: string | null;
    };
  }

  it("lists a worker's tasks, a team's, and the overdue ones, ordered by due date", async () => {
    const mine = await list({ ownerId: alice.id });
    expect(mine.data.map((t) => t.subjectId).sort()).toEqual([children['alice-old'], children['alice-new']].sort());
    expect(mine.data.every((t) => t.teamIds.includes(teamId))).toBe(true);
    const overdueMine = await list({ ownerId: alice.id, overdue: true });
    expect(overdueMine.data.map((t) => t.subjectId)).toEqual([children['alice-old']]);
    expect(overdueMine.data[0]!.overdue).toBe(true);

    const team = await list({ teamId, overdue: true });
    expect(team.data.map((t) => t.subjectId)).toEqual([children['alice-old'], children['bob-old']]);
    const dues = team.data.map((t) => t.dueDate);
    expect([...dues].sort()).toEqual(dues);
    expect(team.data.map((t) => t.subjectId)).not.toContain(children['carol-old']);

    const subject = await list({ subjectId: children['carol-old'], status: 'open' });
    expect(subject.data.map((t) => t.ownerId)).toEqual([carol.id]);
  });

  it('pages by (due date, id) without skipping or repeating', async () => {
    const all = await list({ limit: 200 });
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await list({ limit: 2, ...(cursor ? { cursor } : {}) });
      seen.push(...page.data.map((t) => t.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(all.data.map((t) => t.id));
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('reassigns with If-Match (and the owner then stays when the cycle is recalculated), audited', async () => {
    const [task] = (await list({ ownerId: bob.id })).data;
    const stale = await world.call('reassignTask', {
      token: world.a.adminToken,
      params: { taskId: task!.id },
      body: { ownerId: carol.id },
      headers: { 'if-match': '"999"' },
    });
    expect(stale.status).toBe(412);
    const read = await world.call('getTask', { token: world.a.adminToken, params: { taskId: task!.id } });
    const bad = await world.call('reassignTask', {
      token: world.a.adminToken,
      params: { taskId: task!.id },
      body: { ownerId: newId() },
      headers: { 'if-match': read.headers.get('etag')! },
    });
    expect(bad.status).toBe(422);
    expect(bad.body.errors[0].pointer).toBe('/body/ownerId');
    const moved = await world.call('reassignTask', {
      token: world.a.adminToken,
      params: { taskId: task!.id },
      body: { ownerId: carol.id },
      headers: { 'if-match': read.headers.get('etag')! },
    });
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({ ownerId: carol.id, ownerSource: 'manual', teamIds: [] });
    // A later event for the child recalculates its tasks; the hand-picked owner stays.
    await recordEvent(world, world.a, {
      name: 'child.pep_reviewed',
      subjectId: children['bob-old']!,
      occurredOn: '2026-03-01',
    });
    await recordEvent(world, world.a, {
      name: 'child.entered_care',
      subjectId: children['bob-old']!,
      occurredOn: '2026-02-02',
    });
    expect(
      (await world.call('getTask', { token: world.a.adminToken, params: { taskId: task!.id } })).body.ownerId,
    ).toBe(carol.id);
    const audit = await ownerRows<{ action: string }>(
      world.db,
      world.a.id,
      `SELECT action FROM audit_events WHERE tenant_id = ? AND entity_id = ?`,
      [world.a.id, task!.id],
    );
    expect(audit.map((a) => a.action)).toEqual(['task.reassigned']);
  });

  it('completes a task by hand (the next counts from that day) and reopens it', async () => {
    const [task] = (await list({ ownerId: alice.id, overdue: true })).data;
    const future = await world.call('completeTask', {
      token: alice.token,
      params: { taskId: task!.id },
      body: { completedOn: '2999-01-01' },
    });
    expect(future.status).toBe(422);
    const done = await world.call('completeTask', {
      token: alice.token,
      params: { taskId: task!.id },
      body: { completedOn: '2026-01-28' },
    });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({
      status: 'done',
      completedOn: '2026-01-28',
      completedManuallyBy: alice.id,
      completedByEventId: null,
      overdue: false,
    });
    const rows = await tasksOf(world.a, children['alice-old']!, 'child-review');
    expect(rows.map((t) => [t.occurrence, t.status, t.completed_on ?? t.due_date])).toEqual([
      [1, 'done', '2026-01-28'],
      [2, 'open', '2026-04-28'],
    ]);
    expect(
      (
        await world.call('completeTask', {
          token: alice.token,
          params: { taskId: task!.id },
          body: { completedOn: '2026-01-28' },
        })
      ).status,
    ).toBe(409);

    const reopened = await world.call('reopenTask', { token: alice.token, params: { taskId: task!.id } });
    expect(reopened.status).toBe(200);
    expect(reopened.body).toMatchObject({ status: 'open', completedOn: null, overdue: true });
    expect((await tasksOf(world.a, children['alice-old']!, 'child-review')).map((t) => t.status)).toEqual([
      'open',
      'cancelled',
    ]);
  });

  it('refuses to reopen a task an event completed', async () => {
    const childId = await childOf(world.a, alice.id);
    await recordEvent(world, world.a, { name: 'child.entered_care', subjectId: childId, occurredOn: '2026-03-23' });
    await recordEvent(world, world.a, { name: 'child.review_held', subjectId: childId, occurredOn: '2026-04-01' });
    const [first] = await tasksOf(world.a, childId, 'child-review');
    const r = await world.call('reopenTask', { token: alice.token, params: { taskId: first!.id } });
    expect(r.status).toBe(409);
  });

  it('manages teams and their members', async () => {
    const created = await world.call('createTeam', { token: world.a.adminToken, body: { name: 'North locality' } });
    expect(created.status).toBe(201);
    expect(
      (await world.call('createTeam', { token: world.a.adminToken, body: { name: 'north LOCALITY' } })).status,
    ).toBe(409);
    const id = created.body.id as string;
    const added = await world.call('addTeamMember', {
      token: world.a.adminToken,
      params: { teamId: id },
      body: { userId: carol.id },
    });
    expect(added.status).toBe(201);
    expect(
      (
        await world.call('addTeamMember', {
          token: world.a.adminToken,
          params: { teamId: id },
          body: { userId: carol.id },
        })
      ).status,
    ).toBe(409);
    const members = await world.call('listTeamMembers', { token: world.a.adminToken, params: { teamId: id } });
    expect(members.body.data.map((m: { userId: string }) => m.userId)).toEqual([carol.id]);
    const carolsTeams = await world.call('listTeams', { token: world.a.adminToken, query: { memberId: carol.id } });
    expect(carolsTeams.body.data.map((t: { id: string }) => t.id)).toEqual([id]);
    // Carol's tasks now show under the team.
    const team = await list({ teamId: id });
    expect(team.data.length).toBeGreaterThan(0);
    expect(team.data.every((t) => t.ownerId === carol.id)).toBe(true);

    const team2 = await world.call('getTeam', { token: world.a.adminToken, params: { teamId: id } });
    expect(team2.body).toMatchObject({ memberCount: 1, version: 2 });
    expect(
      (
        await world.call('removeTeamMember', {
          token: world.a.adminToken,
          params: { teamId: id, userId: carol.id },
          headers: { 'if-match': '"1"' },
        })
      ).status,
    ).toBe(412);
    expect(
      (
        await world.call('removeTeamMember', {
          token: world.a.adminToken,
          params: { teamId: id, userId: carol.id },
          headers: { 'if-match': '"2"' },
        })
      ).status,
    ).toBe(204);
    expect((await list({ teamId: id })).data).toEqual([]);
    expect(
      (
        await world.call('deleteTeam', {
          token: world.a.adminToken,
          params: { teamId: id },
          headers: { 'if-match': '"3"' },
        })
      ).status,
    ).toBe(204);
    expect((await world.call('getTeam', { token: world.a.adminToken, params: { teamId: id } })).status).toBe(404);
  });

  it('refuses a caseworker managing teams (users:manage)', async () => {
    expect((await world.call('createTeam', { token: alice.token, body: { name: 'Rogue team' } })).status).toBe(403);
  });
});

describe('reminders, written by the daily job', () => {
  it('writes due-soon and overdue reminders with a message to the owner, and nothing new on a second run', async () => {
    const worker = await world.addUser(world.a, ['caseworker']);
    const overdueChild = await childOf(world.a, worker.id);
    const soonChild = await childOf(world.a, worker.id);
    await recordEvent(world, world.a, {
      name: 'child.entered_care',
      subjectId: overdueChild,
      occurredOn: '2026-03-02',
    });
    // 20 working days from 20 April is 19 May (4 May is a bank holiday): on 15 May it is due within the due-soon window.
    await recordEvent(world, world.a, { name: 'child.entered_care', subjectId: soonChild, occurredOn: '2026-04-20' });
    const date = '2026-05-15';
    await runReminders(world, world.a, date);

    const reminders = async () =>
      ownerRows<{ task_id: string; kind: string; due_date: string; user_id: string; outbound_message_id: string }>(
        world.db,
        world.a.id,
        `SELECT r.task_id, r.kind, r.due_date, r.user_id, r.outbound_message_id FROM task_reminders r WHERE r.tenant_id = ? AND r.user_id = ? ORDER BY r.kind, r.due_date, r.task_id`,
        [world.a.id, worker.id],
      );
    const first = await reminders();
    const open = [...(await tasksOf(world.a, overdueChild)), ...(await tasksOf(world.a, soonChild))].filter(
      (t) => t.status === 'open',
    );
    const soonTasks = open.filter((t) => t.due_date >= date && t.due_date <= '2026-05-20');
    const overdueTasks = open.filter((t) => t.due_date < date);
    expect(soonTasks.map((t) => t.due_date)).toContain('2026-05-19');
    expect(soonTasks.length).toBeGreaterThan(0);
    expect(overdueTasks.length).toBeGreaterThan(0);
    expect(
      first
        .filter((r) => r.kind === 'due_soon')
        .map((r) => r.task_id)
        .sort(),
    ).toEqual(soonTasks.map((t) => t.id).sort());
    expect(
      first
        .filter((r) => r.kind === 'overdue')
        .map((r) => r.task_id)
        .sort(),
    ).toEqual(overdueTasks.map((t) => t.id).sort());

    const messages = await ownerRows<{ id: string; template: string; payload: { taskId: string } }>(
      world.db,
      world.a.id,
      `SELECT id, template, payload FROM outbound_messages WHERE tenant_id = ? AND lower(recipient) = lower(?) AND template LIKE 'tasks.%' ORDER BY id`,
      [world.a.id, worker.email],
    );
    expect(messages.map((m) => m.id).sort()).toEqual(first.map((r) => r.outbound_message_id).sort());
    expect(new Set(messages.map((m) => m.template))).toEqual(new Set(['tasks.due_soon', 'tasks.overdue']));

    // Twice the same day (even enqueued again under another job) writes nothing new.
    await runReminders(world, world.a, date);
    await inTenantTransaction(world.db, { tenantId: world.a.id }, async (trx) => {
      const { writeTaskReminders } = await import('./reminders');
      expect(
        await writeTaskReminders({ trx, tenantId: world.a.id, audit: async () => undefined }, { date, jobId: null }),
      ).toEqual({ date, dueSoon: 0, overdue: 0 });
    });
    expect(await reminders()).toEqual(first);
    const jobs = await ownerRows<{ status: string; attempts: number }>(
      world.db,
      world.a.id,
      `SELECT status, attempts FROM jobs WHERE tenant_id = ? AND unique_key = ?`,
      [world.a.id, `task-reminders:${date}`],
    );
    expect(jobs).toEqual([{ status: 'succeeded', attempts: 1 }]);

    const listed = await world.call('listTaskReminders', { token: worker.token, query: { userId: worker.id } });
    expect(listed.status).toBe(200);
    expect(listed.body.data.map((r: { taskId: string }) => r.taskId).sort()).toEqual(
      first.map((r) => r.task_id).sort(),
    );
  });
});

describe("a restricted child's tasks", () => {
  it('exist only for the users named on the child: a caseworker left off the list finds none, by subject, in lists, by id, or to change', async () => {
    const named = await world.addUser(world.a, ['caseworker']);
    const excluded = await world.addUser(world.a, ['caseworker']);
    const childId = await childOf(world.a, named.id);
    // Entering care through the API, as a caseworker would: the episode's event gives the child its tasks.
    const episode = await world.call('createChildCareEpisode', {
      token: world.a.adminToken,
      params: { childId },
      body: { startDate: '2026-01-05' },
    });
    expect(episode.status).toBe(201);
    const [task] = await tasksOf(world.a, childId);
    expect(task).toBeDefined();
    const child = await world.call('getChild', { token: world.a.adminToken, params: { childId } });
    const restricted = await world.call('setChildRestriction', {
      token: world.a.adminToken,
      params: { childId },
      body: { restricted: true, allowedUserIds: [world.a.adminId, named.id] },
      headers: { 'if-match': child.headers.get('etag')! },
    });
    expect(restricted.status).toBe(200);

    const idsIn = (r: { body: { data: Array<{ id: string }> } }) => r.body.data.map((t) => t.id);
    const asExcluded = {
      child: (await world.call('getChild', { token: excluded.token, params: { childId } })).status,
      bySubject: idsIn(await world.call('listTasks', { token: excluded.token, query: { subjectId: childId } })),
      inList: idsIn(await world.call('listTasks', { token: excluded.token, query: { limit: 200 } })).includes(task!.id),
      get: (await world.call('getTask', { token: excluded.token, params: { taskId: task!.id } })).status,
      reassign: (
        await world.call('reassignTask', {
          token: excluded.token,
          params: { taskId: task!.id },
          body: { ownerId: excluded.id },
          headers: { 'if-match': `"${task!.version}"` },
        })
      ).status,
      complete: (
        await world.call('completeTask', {
          token: excluded.token,
          params: { taskId: task!.id },
          body: { completedOn: '2026-01-06' },
        })
      ).status,
      reopen: (await world.call('reopenTask', { token: excluded.token, params: { taskId: task!.id } })).status,
    };
    expect(asExcluded).toEqual({
      child: 404,
      bySubject: [],
      inList: false,
      get: 404,
      reassign: 404,
      complete: 404,
      reopen: 404,
    });
    // Nothing the excluded caseworker sent changed the task.
    expect((await tasksOf(world.a, childId)).find((t) => t.id === task!.id)).toEqual(task);
    // The named caseworker sees the same task, by subject and by id.
    expect(idsIn(await world.call('listTasks', { token: named.token, query: { subjectId: childId } }))).toContain(
      task!.id,
    );
    expect((await world.call('getTask', { token: named.token, params: { taskId: task!.id } })).status).toBe(200);
  });
});
