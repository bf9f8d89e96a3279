import type { Knex } from 'knex';
import { findOne, type FindOptions } from '../../db/find';
import { keysetPage } from '../../db/keyset';
import { patchVersioned } from '../../db/versioned';
import {
  actorId,
  defineOperations,
  type OperationResult,
  type TenantContext,
  type TenantScope,
} from '../../http/operation';
import { assertIfMatch } from '../../http/etag';
import { Problem } from '../../http/problem';
import { ok } from '../../http/results';
import { iso } from '../../time';
import { subjectVisible, type Fenced } from '../children/visibility';
import { tenantToday } from '../tenants/today';
import { Task, TaskReminder, TeamMember } from './models';
import { queueNotification } from '../notifications/outbox';
import { recalculateSubjectCycle } from './recalculate';

/** The teams of each owner: a task belongs to its owner's teams (read when shown, so it never goes stale). */
async function teamsOf(
  trx: Knex.Transaction,
  tenantId: string,
  ownerIds: Array<string | null>,
): Promise<Map<string, string[]>> {
  const ids = [...new Set(ownerIds.filter((id): id is string => id !== null))];
  const out = new Map<string, string[]>();
  if (!ids.length) return out;
  const rows = await TeamMember.query(trx)
    .where({ tenant_id: tenantId })
    .whereIn('user_id', ids)
    .orderBy(['user_id', 'team_id'])
    .select('user_id', 'team_id');
  for (const row of rows) out.set(row.userId, [...(out.get(row.userId) ?? []), row.teamId]);
  return out;
}

export function taskToApi(row: Task, teams: Map<string, string[]>, today: string) {
  return {
    id: row.id,
    cycleKey: row.cycleKey,
    step: row.stepKey,
    stepName: row.stepName,
    occurrence: row.occurrence,
    subjectType: row.subjectType,
    subjectId: row.subjectId,
    dueDate: row.dueDate,
    ownerId: row.ownerId,
    ownerSource: row.ownerSource,
    teamIds: row.ownerId ? (teams.get(row.ownerId) ?? []) : [],
    status: row.status,
    overdue: row.status === 'open' && row.dueDate < today,
    completedOn: row.completedOn,
    completedByEventId: row.completedByEventId,
    completedManuallyBy: row.completedManuallyBy,
    countedFrom: { basis: row.countedFrom.basis, date: row.countedFrom.date },
    version: row.version,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
  };
}

async function present(ctx: TenantScope, row: Task, today?: string) {
  return taskToApi(row, await teamsOf(ctx.trx, ctx.tenantId, [row.ownerId]), today ?? (await tenantToday(ctx)));
}

/** A task, if the caller may see its subject (a restricted child's tasks exist only for those named on it); else not found. */
export function findTask(
  ctx: Fenced & { tenantId: string },
  taskId: string,
  options: Pick<FindOptions, 'lock' | 'pointer'> = {},
): Promise<Task> {
  return findOne<Task>(ctx, Task, taskId, {
    ...options,
    narrow: (query) => query.where(subjectVisible(ctx, 'tasks.subject_type', 'tasks.subject_id')),
  });
}

/**
 * Ordered by (due_date, id), keyset-paged. The indexes in the migration serve "a worker's open or
 * overdue tasks" (tasks_owner_due) and "a team's" (the same index, once per member, via team_members).
 */
async function listTasks(ctx: TenantContext<'listTasks'>): Promise<OperationResult> {
  const q = ctx.query;
  const today = await tenantToday(ctx);
  const query = Task.query(ctx.trx)
    .alias('t')
    .where('t.tenant_id', ctx.tenantId)
    .where(subjectVisible(ctx, 't.subject_type', 't.subject_id'))
    .select('t.*');
  if (q.ownerId) query.where('t.owner_id', q.ownerId);
  if (q.teamId)
    query.whereIn(
      't.owner_id',
      TeamMember.query(ctx.trx).where({ tenant_id: ctx.tenantId, team_id: q.teamId }).select('user_id'),
    );
  if (q.status) query.where('t.status', q.status);
  if (q.overdue === true) query.where('t.status', 'open').where('t.due_date', '<', today);
  if (q.overdue === false) query.where((w) => w.whereNot('t.status', 'open').orWhere('t.due_date', '>=', today));
  if (q.dueBefore) query.where('t.due_date', '<', q.dueBefore);
  if (q.dueAfter) query.where('t.due_date', '>', q.dueAfter);
  if (q.subjectType) query.where('t.subject_type', q.subjectType);
  if (q.subjectId) query.where('t.subject_id', q.subjectId);
  if (q.cycleKey) query.where('t.cycle_key', q.cycleKey);
  const page = await keysetPage(
    query,
    q,
    [
      { column: 't.due_date', of: (r) => r.dueDate },
      { column: 't.id', of: (r) => r.id },
    ],
    (r) => r,
  );
  const teams = await teamsOf(
    ctx.trx,
    ctx.tenantId,
    page.rows.map((r) => r.ownerId),
  );
  return ok({ data: page.rows.map((r) => taskToApi(r, teams, today)), nextCursor: page.nextCursor });
}

async function getTask(ctx: TenantContext<'getTask'>): Promise<OperationResult> {
  const row = await findTask(ctx, ctx.params.taskId);
  return ok(await present(ctx, row), row.version);
}

async function reassignTask(ctx: TenantContext<'reassignTask'>): Promise<OperationResult> {
  const { ownerId } = ctx.body;
  const before = await findTask(ctx, ctx.params.taskId, { lock: true });
  assertIfMatch(ctx.ifMatch, before.version);
  if (before.status !== 'open')
    throw new Problem('conflict', `The task is ${before.status}; only an open task is reassigned`);
  let user: { id: string; email: string; display_name: string } | undefined;
  if (ownerId) {
    user = (await ctx
      .trx('users')
      .where({ tenant_id: ctx.tenantId, id: ownerId, status: 'active' })
      .first('id', 'email', 'display_name')) as typeof user;
    if (!user)
      throw Problem.unprocessable([{ pointer: '/body/ownerId', message: 'is not an active user of this tenant' }]);
  }
  const beforeApi = await present(ctx, before);
  const after = await patchVersioned(ctx.trx, Task, before, { ownerId, ownerSource: 'manual' });
  const afterApi = await present(ctx, after);
  // The new owner hears of it, in this transaction; a task given back to its owner is no news.
  if (ownerId && ownerId !== before.ownerId)
    await queueNotification(ctx, {
      event: 'tasks.assigned',
      occurrence: `${before.id}@${after.version}`,
      recipients: [{ userId: ownerId, email: user!.email, name: user!.display_name }],
      data: { taskId: before.id, dueDate: before.dueDate },
      link: `/tasks/${before.id}`,
      reference: before.id.slice(0, 8),
      records: {
        childId: before.subjectType === 'child' ? before.subjectId : null,
        placementId: before.subjectType === 'placement' ? before.subjectId : null,
        householdId: before.subjectType === 'carer_household' ? before.subjectId : null,
      },
    });
  await ctx.audit({
    action: 'task.reassigned',
    entityType: 'task',
    entityId: before.id,
    before: beforeApi,
    after: afterApi,
  });
  return ok(afterApi, after.version);
}

function taskScope(ctx: TenantScope) {
  return { trx: ctx.trx, tenantId: ctx.tenantId, packs: ctx.services.packs };
}

async function completeTask(ctx: TenantContext<'completeTask'>): Promise<OperationResult> {
  const { completedOn } = ctx.body;
  const before = await findTask(ctx, ctx.params.taskId, { lock: true });
  if (before.status !== 'open')
    throw new Problem('conflict', `The task is ${before.status}; only an open task is marked done`);
  const today = await tenantToday(ctx);
  if (completedOn > today) throw Problem.unprocessable([{ pointer: '/body/completedOn', message: 'is in the future' }]);
  if (completedOn < before.countedFrom.date) {
    throw Problem.unprocessable([
      {
        pointer: '/body/completedOn',
        message: `is before ${before.countedFrom.date}, the day this occurrence is counted from`,
      },
    ]);
  }
  const beforeApi = await present(ctx, before, today);
  await patchVersioned(ctx.trx, Task, before, {
    status: 'done',
    completedOn,
    completedByEventId: null,
    completedManuallyBy: actorId(ctx),
  });
  // The next occurrence is counted from the day it was done.
  await recalculateSubjectCycle(taskScope(ctx), before.subjectType, before.subjectId, before.cycleKey);
  // Read again: the recalculation may have written this occurrence too.
  const after = await findTask(ctx, before.id);
  const afterApi = await present(ctx, after, today);
  await ctx.audit({
    action: 'task.completed',
    entityType: 'task',
    entityId: before.id,
    before: beforeApi,
    after: afterApi,
  });
  return ok(afterApi, after.version);
}

async function reopenTask(ctx: TenantContext<'reopenTask'>): Promise<OperationResult> {
  const before = await findTask(ctx, ctx.params.taskId, { lock: true });
  if (before.status !== 'done')
    throw new Problem('conflict', `The task is ${before.status}; only a task marked done is reopened`);
  if (before.completedByEventId) {
    throw new Problem(
      'conflict',
      `The task was done by case event ${before.completedByEventId}; correct or void that record instead`,
    );
  }
  const beforeApi = await present(ctx, before);
  await patchVersioned(ctx.trx, Task, before, { status: 'open', completedOn: null, completedManuallyBy: null });
  await recalculateSubjectCycle(taskScope(ctx), before.subjectType, before.subjectId, before.cycleKey);
  const after = await findTask(ctx, before.id);
  const afterApi = await present(ctx, after);
  await ctx.audit({
    action: 'task.reopened',
    entityType: 'task',
    entityId: before.id,
    before: beforeApi,
    after: afterApi,
  });
  return ok(afterApi, after.version);
}

function reminderToApi(r: TaskReminder) {
  return {
    id: r.id,
    taskId: r.taskId,
    kind: r.kind,
    dueDate: r.dueDate,
    reminderDate: r.reminderDate,
    userId: r.userId,
    outboundMessageId: r.outboundMessageId,
    createdAt: iso(r.createdAt),
  };
}

async function listTaskReminders(ctx: TenantContext<'listTaskReminders'>): Promise<OperationResult> {
  const q = ctx.query;
  // A reminder is about its task's subject: the task's visibility is the reminder's.
  const query = TaskReminder.query(ctx.trx)
    .alias('r')
    .join('tasks as t', (j) => j.on('t.tenant_id', 'r.tenant_id').andOn('t.id', 'r.task_id'))
    .where('r.tenant_id', ctx.tenantId)
    .where(subjectVisible(ctx, 't.subject_type', 't.subject_id'))
    .select('r.*');
  if (q.userId) query.where('r.user_id', q.userId);
  if (q.kind) query.where('r.kind', q.kind);
  if (q.reminderDate) query.where('r.reminder_date', q.reminderDate);
  const order = [
    { column: 'r.reminder_date', of: (r: TaskReminder) => r.reminderDate },
    { column: 'r.id', of: (r: TaskReminder) => r.id },
  ];
  const page = await keysetPage(query, q, order, reminderToApi, 'desc');
  return ok({ data: page.data, nextCursor: page.nextCursor });
}

export const taskOnlyOperations = defineOperations({
  listTasks: { access: { permission: 'tasks:read' }, handle: listTasks },
  getTask: { access: { permission: 'tasks:read' }, handle: getTask },
  reassignTask: { access: { permission: 'tasks:manage' }, handle: reassignTask },
  completeTask: { access: { permission: 'tasks:manage' }, handle: completeTask },
  reopenTask: { access: { permission: 'tasks:manage' }, handle: reopenTask },
  listTaskReminders: { access: { permission: 'tasks:read' }, handle: listTaskReminders },
});
