import type { JobContext } from '../../jobs/worker';
import { newId } from '../../ids';
import { dueMessages, holdsOverMessages } from './retentionMessages';
import { dueDocuments, holdsOver, tenantRules } from './retentionRules';

export const RETENTION_DUE_JOB = 'retention-due';

/** One run per tenant per day, however often it is enqueued. */
export function retentionDueKey(date: string): string {
  return `${RETENTION_DUE_JOB}:${date}`;
}

/**
 * The daily `retention-due` job: payload { date }, the tenant's day. Lists every document and message due for
 * destruction that day (all of the tenant's, the system seeing past any one person's fence) and keeps
 * the list as that day's row, audited, for the people who decide to read through the dry run. It
 * never destroys: destruction waits for a request and another person's approval.
 */
export async function retentionDueJob(ctx: JobContext): Promise<unknown> {
  const date = String(ctx.job.payload.date ?? '');
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) throw new Error(`${RETENTION_DUE_JOB} needs a payload date, got "${date}"`);
  return ctx.inTenant(async (trx) => {
    const scope = { trx, tenantId: ctx.tenantId, rules: await tenantRules(trx, ctx.services, ctx.tenantId) };
    const due = await dueDocuments(scope, date);
    const ids = due.map((d) => d.document.id);
    const holds = await holdsOver(trx, ctx.tenantId, ids);
    const messageIds = (await dueMessages(scope, date)).map((d) => d.document.id);
    const messageHolds = await holdsOverMessages(trx, ctx.tenantId, messageIds);
    const [row] = (await trx('retention_due_lists')
      .insert({
        tenant_id: ctx.tenantId,
        id: newId(),
        as_of: date,
        due_count: ids.length,
        held_count: holds.size,
        document_ids: ids,
        message_ids: messageIds,
        job_id: ctx.job.id,
      })
      .onConflict(['tenant_id', 'as_of'])
      .ignore()
      .returning('id')) as Array<{ id: string }>;
    const messages = { due: messageIds.length, held: messageHolds.size };
    if (!row) return { date, due: ids.length, held: holds.size, messages, written: false };
    // Ids and counts only: a document's title may name a child.
    await ctx.audit(trx, {
      action: 'retention.due_listed',
      entityType: 'retention_due_list',
      entityId: row.id,
      after: { asOf: date, due: ids.length, held: holds.size, messages },
    });
    return { date, due: ids.length, held: holds.size, messages, written: true };
  });
}
