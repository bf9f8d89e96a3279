import type { Knex } from 'knex';
import type { OperationContext, OperationMap, OperationResult } from '../../http/operation';
import { assertIfMatch, etagOf } from '../../http/etag';
import { decodeCursor, toPage } from '../../http/pagination';
import { Problem } from '../../http/problem';
import { iso } from '../../time';
import { recalculateSubjectCycle, type TaskRow } from './recalculate';
import { tenantToday } from '../tenants/today';
import { subjectVisible } from '../children/visibility';

/** The teams of each owner: a task belongs to its owner's teams (read when shown, so it never goes stale). */
async function teamsOf(trx: Knex.Transaction, tenantId: string, ownerIds: Array<string | null>): Promise<Map<string, string[]>> {
  const ids = [...new Set(ownerIds.filter((id): id is string => id !== null))];
  const out = new Map<string, string[]>();
  if (!ids.length) return out;
  const rows = (await trx('team_members').where({ tenant_id: tenantId }).whereIn('user_id', ids).orderBy(['user_id', 'team_id']).select('user_id', 'team_id')) as Array<{ user_id: string; team_id: string }>;
  for (const row of rows) out.set(row.user_id, [...(out.get(row.user_id) ?? []), row.team_id]);
  return out;
}

export function taskToApi(row: TaskRow, teams: Map<string, string[]>, today: string) {
  return {
    id: row.id,
    cycleKey: row.cycle_key,
    step: row.step_key,
    stepName: row.step_name,
    occurrence: row.occurrence,
    subjectType: row.subject_type,
    subjectId: row.subject_id,
    dueDate: row.due_date,
    ownerId: row.owner_id,
    ownerSource: row.owner_source,
    teamIds: row.owner_id ? (teams.get(row.owner_id) ?? []) : [],
    status: row.status,
    overdue: row.status === 'open' && row.due_date < today,
    completedOn: row.completed_on,
    completedByEventId: row.completed_by_event_id,
    completedManuallyBy: row.completed_manually_by,
    countedFrom: { basis: row.counted_from.basis, date: row.counted_from.date },
    version: row.version,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

async function present(ctx: OperationContext, row: TaskRow, today?: string) {
  return taskToApi(row, await teamsOf(ctx.trx, ctx.tenantId!, [row.owner_id]), today ?? (await tenantToday(ctx)));
}

/** The task in the path, if the caller may see its subject (a restricted child's tasks exist only for those named on it). */
async function findTask(ctx: OperationContext, lock = false): Promise<TaskRow> {
  const query = ctx.trx('tasks as t').where({ 't.tenant_id': ctx.tenantId!, 't.id': ctx.params.taskId! }).where(subjectVisible(ctx, 't.subject_type', 't.subject_id')).first('t.*');
  if (lock) query.forUpdate();
  const row = (await query) as TaskRow | undefined;
  if (!row) throw Problem.notFound('The task');
  return row;
}

async function reload(ctx: OperationContext, id: string): Promise<TaskRow> {
  return (await ctx.trx('tasks').where({ tenant_id: ctx.tenantId!, id }).first('*')) as TaskRow;
}

interface TaskListQuery {
  limit: number;
  cursor?: string;
  ownerId?: string;
  teamId?: string;
  status?: string;
  dueBefore?: string;
  dueAfter?: string;
  overdue?: boolean;
  subjectType?: string;
  subjectId?: string;
  cycleKey?: string;
}

/**
 * Ordered by (due_date, id), keyset-paged. The indexes in the migration serve "a worker's open or
 * overdue tasks" (tasks_owner_due) and "a team's" (the same index, once per member, via team_members).
 */
async function listTasks(ctx: OperationContext): Promise<OperationResult> {
  const q = ctx.query as unknown as TaskListQuery;
  const today = await tenantToday(ctx);
  const after = decodeCursor(q.cursor, 2);
  const query = ctx.trx('tasks as t').where('t.tenant_id', ctx.tenantId!).where(subjectVisible(ctx, 't.subject_type', 't.subject_id')).select('t.*').orderBy([{ column: 't.due_date' }, { column: 't.id' }]).limit(q.limit + 1);
  if (after) query.whereRaw('(t.due_date, t.id) > (?::date, ?::uuid)', [String(after[0]), String(after[1])]);
  if (q.ownerId) query.where('t.owner_id', q.ownerId);
  if (q.teamId) query.whereIn('t.owner_id', ctx.trx('team_members').where({ tenant_id: ctx.tenantId!, team_id: q.teamId }).select('user_id'));
  if (q.status) query.where('t.status', q.status);
  if (q.overdue === true) query.where('t.status', 'open').where('t.due_date', '<', today);
  if (q.overdue === false) query.where((w) => w.whereNot('t.status', 'open').orWhere('t.due_date', '>=', today));
  if (q.dueBefore) query.where('t.due_date', '<', q.dueBefore);
  if (q.dueAfter) query.where('t.due_date', '>', q.dueAfter);
  if (q.subjectType) query.where('t.subject_type', q.subjectType);
  if (q.subjectId) query.where('t.subject_id', q.subjectId);
  if (q.cycleKey) query.where('t.cycle_key', q.cycleKey);
  const rows = (await query) as TaskRow[];
  const teams = await teamsOf(ctx.trx, ctx.tenantId!, rows.map((r) => r.owner_id));
  return { status: 200, body: toPage(rows, q.limit, (r) => [r.due_date, r.id], (r) => taskToApi(r, teams, today)) };
}

async function getTask(ctx: OperationContext): Promise<OperationResult> {
  const row = await findTask(ctx);
  return { status: 200, body: await present(ctx, row), headers: { ETag: etagOf(row.version) } };
}

async function reassignTask(ctx: OperationContext): Promise<OperationResult> {
  const { ownerId } = ctx.body as { ownerId: string | null };
  const before = await findTask(ctx, true);
  assertIfMatch(ctx.ifMatch, before.version);
  if (before.status !== 'open') throw new Problem('conflict', `The task is ${before.status}; only an open task is reassigned`);
  if (ownerId) {
    const user = await ctx.trx('users').where({ tenant_id: ctx.tenantId!, id: ownerId, status: 'active' }).first('id');
    if (!user) throw Problem.unprocessable([{ pointer: '/body/ownerId', message: 'is not an active user of this tenant' }]);
  }
  const beforeApi = await present(ctx, before);
  await ctx.trx('tasks').where({ tenant_id: ctx.tenantId!, id: before.id }).update({ owner_id: ownerId, owner_source: 'manual', version: before.version + 1, updated_at: ctx.trx.fn.now() });
  const after = await reload(ctx, before.id);
  const afterApi = await present(ctx, after);
  await ctx.audit({ action: 'task.reassigned', entityType: 'task', entityId: before.id, before: beforeApi, after: afterApi });
  return { status: 200, body: afterApi, headers: { ETag: etagOf(after.version) } };
}

function scopeOf(ctx: OperationContext) {
  return { trx: ctx.trx, tenantId: ctx.tenantId!, packs: ctx.services.packs };
}

async function completeTask(ctx: OperationContext): Promise<OperationResult> {
  const { completedOn } = ctx.body as { completedOn: string };
  const before = await findTask(ctx, true);
  if (before.status !== 'open') throw new Problem('conflict', `The task is ${before.status}; only an open task is marked done`);
  const today = await tenantToday(ctx);
  if (completedOn > today) throw Problem.unprocessable([{ pointer: '/body/completedOn', message: 'is in the future' }]);
  if (completedOn < before.counted_from.date) throw Problem.unprocessable([{ pointer: '/body/completedOn', message: `is before ${before.counted_from.date}, the day this occurrence is counted from` }]);
  const beforeApi = await present(ctx, before, today);
  await ctx.trx('tasks')
    .where({ tenant_id: ctx.tenantId!, id: before.id })
    .update({ status: 'done', completed_on: completedOn, completed_by_event_id: null, completed_manually_by: ctx.principal!.kind === 'user' ? ctx.principal!.id : null, version: before.version + 1, updated_at: ctx.trx.fn.now() });
  // The next occurrence is counted from the day it was done.
  await recalculateSubjectCycle(scopeOf(ctx), before.subject_type, before.subject_id, before.cycle_key);
  const after = await reload(ctx, before.id);
  const afterApi = await present(ctx, after, today);
  await ctx.audit({ action: 'task.completed', entityType: 'task', entityId: before.id, before: beforeApi, after: afterApi });
  return { status: 200, body: afterApi, headers: { ETag: etagOf(after.version) } };
}

async function reopenTask(ctx: OperationContext): Promise<OperationResult> {
  const before = await findTask(ctx, true);
  if (before.status !== 'done') throw new Problem('conflict', `The task is ${before.status}; only a task marked done is reopened`);
  if (before.completed_by_event_id) throw new Problem('conflict', `The task was done by case event ${before.completed_by_event_id}; correct or void that record instead`);
  const beforeApi = await present(ctx, before);
  await ctx.trx('tasks')
    .where({ tenant_id: ctx.tenantId!, id: before.id })
    .update({ status: 'open', completed_on: null, completed_manually_by: null, version: before.version + 1, updated_at: ctx.trx.fn.now() });
  await recalculateSubjectCycle(scopeOf(ctx), before.subject_type, before.subject_id, before.cycle_key);
  const after = await reload(ctx, before.id);
  const afterApi = await present(ctx, after);
  await ctx.audit({ action: 'task.reopened', entityType: 'task', entityId: before.id, before: beforeApi, after: afterApi });
  return { status: 200, body: afterApi, headers: { ETag: etagOf(after.version) } };
}

interface ReminderRow {
  id: string;
  task_id: string;
  kind: string;
  due_date: string;
  reminder_date: string;
  user_id: string;
  outbound_message_id: string | null;
  created_at: Date;
}

async function listTaskReminders(ctx: OperationContext): Promise<OperationResult> {
  const q = ctx.query as { limit: number; cursor?: string; userId?: string; kind?: string; reminderDate?: string };
  const after = decodeCursor(q.cursor, 2);
  // A reminder is about its task's subject: the task's visibility is the reminder's.
  const query = ctx.trx('task_reminders as r')
    .join('tasks as t', (j) => j.on('t.tenant_id', 'r.tenant_id').andOn('t.id', 'r.task_id'))
    .where('r.tenant_id', ctx.tenantId!)
    .where(subjectVisible(ctx, 't.subject_type', 't.subject_id'))
    .orderBy([{ column: 'r.reminder_date', order: 'desc' }, { column: 'r.id', order: 'desc' }])
    .limit(q.limit + 1);
  if (after) query.whereRaw('(r.reminder_date, r.id) < (?::date, ?::uuid)', [String(after[0]), String(after[1])]);
  if (q.userId) query.where('r.user_id', q.userId);
  if (q.kind) query.where('r.kind', q.kind);
  if (q.reminderDate) query.where('r.reminder_date', q.reminderDate);
  const rows = (await query.select('r.*')) as ReminderRow[];
  const page = toPage(rows, q.limit, (r) => [r.reminder_date, r.id], (r) => ({
    id: r.id,
    taskId: r.task_id,
    kind: r.kind,
    dueDate: r.due_date,
    reminderDate: r.reminder_date,
    userId: r.user_id,
    outboundMessageId: r.outbound_message_id,
    createdAt: iso(r.created_at),
  }));
  return { status: 200, body: page };
}

export const taskOnlyOperations: OperationMap = {
  listTasks: { access: { permission: 'tasks:read' }, handle: listTasks },
  getTask: { access: { permission: 'tasks:read' }, handle: getTask },
  reassignTask: { access: { permission: 'tasks:manage' }, handle: reassignTask },
  completeTask: { access: { permission: 'tasks:manage' }, handle: completeTask },
  reopenTask: { access: { permission: 'tasks:manage' }, handle: reopenTask },
  listTaskReminders: { access: { permission: 'tasks:read' }, handle: listTaskReminders },
};
