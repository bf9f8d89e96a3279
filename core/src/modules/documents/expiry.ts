import type { Knex } from 'knex';
import { addDays } from '../../dates';
import { newId } from '../../ids';
import type { JobContext } from '../../jobs/worker';
import type { AuditEventInput } from '../audit/service';
import { subjectFacts } from '../tasks/subjects';
import { Task } from '../tasks/models';
import type { CaseEventSubject } from '../tasks/catalogue';
import { Document, type SubjectType } from './models';

export const DOCUMENT_EXPIRY_JOB = 'document-expiry';

/** The cycle key of the tasks this job writes; no pack cycle has it, so recalculation never touches them. */
export const EXPIRY_CYCLE = 'document-expiry';

/** How many days before a document expires its reminders fall due to be written, earliest first. */
export const EXPIRY_REMINDER_DAYS = [60, 30] as const;

export function documentExpiryKey(date: string): string {
  return `${DOCUMENT_EXPIRY_JOB}:${date}`;
}

/** The task subject a document's record answers to: its child, its placement, or its carer household. */
function taskSubject(d: Document): { type: CaseEventSubject; id: string } | null {
  const byRecord: Partial<Record<SubjectType, () => { type: CaseEventSubject; id: string } | null>> = {
    placement: () => ({ type: 'placement', id: d.subjectId }),
  };
  const own = byRecord[d.subjectType]?.();
  if (own) return own;
  if (d.childId) return { type: 'child', id: d.childId };
  if (d.householdId) return { type: 'carer_household', id: d.householdId };
  return null;
}

interface ExpiryScope {
  trx: Knex.Transaction;
  tenantId: string;
  audit(event: AuditEventInput): Promise<void>;
}

/**
 * For each active document expiring within 60 days of `date`, a task to renew it for whoever owns its
 * record (the child's allocated worker, the household's supervising worker), due on the expiry date:
 * one when 60 days remain and another at 30. Written once per document, expiry date and window, so a
 * second run writes nothing and a renewed document (a later expiry) is reminded afresh. Documents of
 * records with no owner to remind (a panel, a payment run, an invoice) get none.
 */
export async function writeExpiryReminders(
  scope: ExpiryScope,
  run: { date: string },
): Promise<{ date: string; written: number }> {
  const { trx, tenantId } = scope;
  const soon = await Document.query(trx)
    .where({ tenant_id: tenantId, status: 'active' })
    .whereNotNull('expires_on')
    .where('expires_on', '>=', run.date)
    .where('expires_on', '<=', addDays(run.date, EXPIRY_REMINDER_DAYS[0]))
    .orderBy(['expires_on', 'id']);
  let written = 0;
  for (const document of soon) {
    const subject = taskSubject(document);
    if (!subject) continue;
    const window = EXPIRY_REMINDER_DAYS.filter((days) => addDays(run.date, days) >= document.expiresOn!).pop()!;
    const step = `renew-${window}`;
    const already = await Task.query(trx)
      .where({ tenant_id: tenantId, cycle_key: EXPIRY_CYCLE, step_key: step })
      .whereRaw(`counted_from->>'documentId' = ? AND counted_from->>'expiresOn' = ?`, [
        document.id,
        document.expiresOn!,
      ])
      .select('id')
      .first();
    if (already) continue;
    const last = (await Task.query(trx)
      .where({ tenant_id: tenantId, subject_type: subject.type, subject_id: subject.id, cycle_key: EXPIRY_CYCLE })
      .max('occurrence as n')
      .first()) as unknown as { n: number | null } | undefined;
    const facts = await subjectFacts(trx, tenantId, subject.type, subject.id);
    const task = await Task.query(trx)
      .insert({
        tenantId,
        id: newId(),
        cycleKey: EXPIRY_CYCLE,
        stepKey: step,
        stepName: `Renew ${document.category.replace(/_/g, ' ')} (expires ${document.expiresOn}, ${window} days' notice)`,
        occurrence: Number(last?.n ?? 0) + 1,
        subjectType: subject.type,
        subjectId: subject.id,
        dueDate: document.expiresOn!,
        ownerId: facts.ownerId,
        ownerSource: 'subject',
        status: 'open',
        countedFrom: {
          basis: 'trigger',
          date: document.expiresOn!,
          documentId: document.id,
          expiresOn: document.expiresOn!,
        } as Task['countedFrom'],
      })
      .returning('*');
    await scope.audit({
      action: 'task.created',
      entityType: 'task',
      entityId: task.id,
      after: { cycleKey: EXPIRY_CYCLE, step, documentId: document.id, dueDate: task.dueDate, subject },
    });
    written++;
  }
  return { date: run.date, written };
}

/** The `document-expiry` job: payload { date }, the tenant's day it runs for. */
export async function documentExpiryJob(ctx: JobContext): Promise<unknown> {
  const date = String(ctx.job.payload.date ?? '');
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) throw new Error(`document-expiry needs a payload date, got "${date}"`);
  return ctx.inTenant((trx) =>
    writeExpiryReminders({ trx, tenantId: ctx.tenantId, audit: (event) => ctx.audit(trx, event) }, { date }),
  );
}
