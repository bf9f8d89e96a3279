import type { Knex } from 'knex';
import type { JobContext } from '../../jobs/worker';
import { newId } from '../../ids';
import { addDays } from '../../dates';

export const TASK_REMINDERS_JOB = 'task-reminders';

/**
 * How many calendar days before its due date an open task gets its `due_soon` reminder. A constant
 * for now: the tenant settings have no field for it yet (a tenant setting would replace it here).
 */
export const DUE_SOON_DAYS = 5;

/** The daily job's unique key: one run per tenant per day, however often it is enqueued. */
export function taskRemindersKey(date: string): string {
  return `${TASK_REMINDERS_JOB}:${date}`;
}

interface DueTask {
  id: string;
  due_date: string;
  owner_id: string;
  email: string;
  cycle_key: string;
  step_key: string;
  occurrence: number;
  subject_type: string;
  subject_id: string;
}

/**
 * Writes the reminders due on `date` for one tenant: `overdue` for open tasks due before it, and
 * `due_soon` for those due within DUE_SOON_DAYS, each with an outbound message to the task's owner.
 * A reminder is unique per task, kind and due date, so a second run (the same day or the next)
 * writes nothing new; a task whose due date moves is reminded again for its new date.
 */
export async function writeTaskReminders(trx: Knex.Transaction, tenantId: string, date: string, jobId: string | null): Promise<{ date: string; dueSoon: number; overdue: number }> {
  const tasks = (await trx('tasks as t')
    .join('users as u', function joinOwner() {
      this.on('u.tenant_id', '=', 't.tenant_id').andOn('u.id', '=', 't.owner_id');
    })
    .where({ 't.tenant_id': tenantId, 't.status': 'open', 'u.status': 'active' })
    .whereNotNull('t.owner_id')
    .where('t.due_date', '<=', addDays(date, DUE_SOON_DAYS))
    .orderBy([{ column: 't.due_date' }, { column: 't.id' }])
    .select('t.id', 't.due_date', 't.owner_id', 'u.email', 't.cycle_key', 't.step_key', 't.occurrence', 't.subject_type', 't.subject_id')) as DueTask[];
  const written = { dueSoon: 0, overdue: 0 };
  for (const task of tasks) {
    const kind = task.due_date < date ? 'overdue' : 'due_soon';
    const messageId = newId();
    // The message's foreign key is checked at commit, so the reminder (which decides) goes in first.
    const inserted = (await trx.raw(
      `INSERT INTO task_reminders (tenant_id, id, task_id, kind, due_date, reminder_date, user_id, outbound_message_id, job_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (tenant_id, task_id, kind, due_date) DO NOTHING
       RETURNING id`,
      [tenantId, newId(), task.id, kind, task.due_date, date, task.owner_id, messageId, jobId],
    )) as { rows: Array<{ id: string }> };
    if (!inserted.rows.length) continue;
    await trx('outbound_messages').insert({
      tenant_id: tenantId,
      id: messageId,
      channel: 'email',
      recipient: task.email,
      template: kind === 'overdue' ? 'tasks.overdue' : 'tasks.due_soon',
      // Ids and dates only: no child's name travels in a message row.
      payload: JSON.stringify({ taskId: task.id, cycleKey: task.cycle_key, step: task.step_key, occurrence: task.occurrence, dueDate: task.due_date, subjectType: task.subject_type, subjectId: task.subject_id }),
    });
    if (kind === 'overdue') written.overdue++;
    else written.dueSoon++;
  }
  return { date, ...written };
}

/** The `task-reminders` job: payload { date }, the tenant's day it runs for. */
export async function taskRemindersJob(ctx: JobContext): Promise<unknown> {
  const date = String(ctx.job.payload.date ?? '');
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) throw new Error(`task-reminders needs a payload date, got "${date}"`);
  return ctx.inTenant((trx) => writeTaskReminders(trx, ctx.tenantId, date, ctx.job.id));
}
