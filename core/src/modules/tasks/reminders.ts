import type { Knex } from 'knex';
import type { JobContext } from '../../jobs/worker';
import { newId } from '../../ids';
import { addDays } from '../../dates';
import type { AuditEventInput } from '../audit/service';
import { queueNotification } from '../notifications/outbox';
import { Task, TaskReminder } from './models';

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

/** Where reminders are written: the job's tenant transaction, and its audit trail in that transaction. */
export interface ReminderScope {
  trx: Knex.Transaction;
  tenantId: string;
  audit(event: AuditEventInput): Promise<void>;
}

/** An open task due soon, with the email of its (active) owner. */
type DueTask = Pick<Task, 'id' | 'dueDate' | 'cycleKey' | 'stepKey' | 'occurrence' | 'subjectType' | 'subjectId'> & {
  ownerId: string;
  email: string;
  displayName: string;
};

/**
 * Writes the reminders due on `date` for one tenant: `overdue` for open tasks due before it, and
 * `due_soon` for those due within DUE_SOON_DAYS, each told to the task's owner through the notifications outbox.
 * A reminder is unique per task, kind and due date, so a second run (the same day or the next)
 * writes nothing new; a task whose due date moves is reminded again for its new date.
 *
 * Each reminder written is audited on its task's trail (`task.reminded`, with the task's subject),
 * so the trail of a task that went overdue shows who was told and when; a run that writes nothing
 * appends nothing.
 */
export async function writeTaskReminders(
  scope: ReminderScope,
  run: { date: string; jobId: string | null },
): Promise<{ date: string; dueSoon: number; overdue: number }> {
  const { trx, tenantId } = scope;
  const { date, jobId } = run;
  const tasks = await Task.query(trx)
    .alias('t')
    .join('users as u', function joinOwner() {
      this.on('u.tenant_id', '=', 't.tenant_id').andOn('u.id', '=', 't.owner_id');
    })
    .where({ 't.tenant_id': tenantId, 't.status': 'open', 'u.status': 'active' })
    .whereNotNull('t.owner_id')
    .where('t.due_date', '<=', addDays(date, DUE_SOON_DAYS))
    .orderBy([{ column: 't.due_date' }, { column: 't.id' }])
    .select(
      't.id',
      't.due_date',
      't.owner_id',
      'u.email',
      'u.display_name',
      't.cycle_key',
      't.step_key',
      't.occurrence',
      't.subject_type',
      't.subject_id',
    )
    .castTo<DueTask[]>();
  const written = { dueSoon: 0, overdue: 0 };
  for (const task of tasks) {
    const kind = task.dueDate < date ? 'overdue' : 'due_soon';
    // Through knex, not the model: objection answers an insert with the model it was given, even where
    // ON CONFLICT DO NOTHING wrote no row; the rows RETURNING gives are what says whether it was new.
    const [reminder] = await trx(TaskReminder.tableName)
      .insert({
        tenant_id: tenantId,
        id: newId(),
        task_id: task.id,
        kind,
        due_date: task.dueDate,
        reminder_date: date,
        user_id: task.ownerId,
        job_id: jobId,
      })
      .onConflict(['tenant_id', 'task_id', 'kind', 'due_date'])
      .ignore()
      .returning<Array<Pick<TaskReminder, 'id'>>>('id');
    if (!reminder) continue;
    // The owner is told through the notifications outbox, in this transaction: ids and dates only,
    // no child's name travels in a message; the records it names let the communication log fence it.
    const messages = await queueNotification(
      { trx, tenantId },
      {
        event: kind === 'overdue' ? 'tasks.overdue' : 'tasks.due_soon',
        occurrence: reminder.id,
        recipients: [{ userId: task.ownerId, email: task.email, name: task.displayName }],
        data: {
          taskId: task.id,
          cycleKey: task.cycleKey,
          step: task.stepKey,
          occurrence: task.occurrence,
          dueDate: task.dueDate,
          subjectType: task.subjectType,
          subjectId: task.subjectId,
        },
        link: `/tasks/${task.id}`,
        reference: task.id.slice(0, 8),
        records: {
          childId: task.subjectType === 'child' ? task.subjectId : null,
          placementId: task.subjectType === 'placement' ? task.subjectId : null,
          householdId: task.subjectType === 'carer_household' ? task.subjectId : null,
        },
      },
    );
    const messageId = messages[0] ?? null;
    if (messageId)
      await trx(TaskReminder.tableName)
        .where({ tenant_id: tenantId, id: reminder.id })
        .update({ outbound_message_id: messageId });
    // The event names the task's subject, as every task event does: the audit trail's fence hides
    // events that name a restricted child or placement from those not named on it.
    const { subjectType, subjectId } = task;
    await scope.audit({
      action: 'task.reminded',
      entityType: 'task',
      entityId: task.id,
      after: {
        reminderId: reminder.id,
        kind,
        dueDate: task.dueDate,
        reminderDate: date,
        userId: task.ownerId,
        outboundMessageId: messageId,
        jobId,
        subjectType,
        subjectId,
      },
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
  return ctx.inTenant((trx) =>
    writeTaskReminders(
      { trx, tenantId: ctx.tenantId, audit: (event) => ctx.audit(trx, event) },
      { date, jobId: ctx.job.id },
    ),
  );
}
