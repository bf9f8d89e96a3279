import type { Knex } from 'knex';
import type { JobContext } from '../../jobs/worker';
import { newId } from '../../ids';
import type { AuditEventInput } from '../audit/service';
import { Document, DocumentVersion } from './models';
import { documentStore } from './openStore';
import { DestructionItem, DestructionRequest, Tombstone } from './retentionModels';
import { holdsOver, lockRetention } from './retentionRules';
import { RETENTION_DESTRUCTION_JOB } from './retentionService';
import type { DocumentStore } from './storage';

interface Scope {
  trx: Knex.Transaction;
  tenantId: string;
  audit(event: AuditEventInput): Promise<void>;
}

/**
 * Destroys one approved document, in its own transaction: a hold placed since the approval keeps it;
 * otherwise every version's stored object is deleted first and only then are the object keys cleared,
 * the document marked destroyed and its tombstone written, with the audit event. A store that fails
 * rolls the transaction back, so no document is ever marked destroyed with its bytes still stored; the
 * job is retried, and deleting an object already gone succeeds, so a retry finishes the work.
 */
async function destroyOne(
  scope: Scope,
  store: DocumentStore,
  request: DestructionRequest,
  item: DestructionItem,
): Promise<'destroyed' | 'held'> {
  const { trx, tenantId } = scope;
  await lockRetention(trx, tenantId);
  const document = await Document.query(trx).where({ tenant_id: tenantId, id: item.documentId }).forUpdate().first();
  if (!document) throw new Error(`document ${item.documentId} of destruction request ${request.id} is gone`);
  const mark = (outcome: 'destroyed' | 'held') =>
    DestructionItem.query(trx)
      .where({ tenant_id: tenantId, request_id: request.id, document_id: item.documentId })
      .patch({ outcome });
  if (document.status === 'destroyed') {
    await mark('destroyed');
    return 'destroyed';
  }
  const holds = (await holdsOver(trx, tenantId, [document.id])).get(document.id);
  if (holds) {
    await mark('held');
    await scope.audit({
      action: 'retention.destruction_held',
      entityType: 'document',
      entityId: document.id,
      after: { requestId: request.id, holdIds: holds, childId: document.childId },
    });
    return 'held';
  }
  const versions = await DocumentVersion.query(trx)
    .where({ tenant_id: tenantId, document_id: document.id })
    .orderBy('number');
  for (const v of versions) if (v.objectKey) await store.delete(v.objectKey);
  await DocumentVersion.query(trx).where({ tenant_id: tenantId, document_id: document.id }).patch({ objectKey: null });
  await Document.query(trx)
    .where({ tenant_id: tenantId, id: document.id })
    .patch({ status: 'destroyed', version: document.version + 1, updatedAt: trx.fn.now() as unknown as Date });
  const tombstone = await Tombstone.query(trx)
    .insert({
      tenantId,
      id: newId(),
      documentId: document.id,
      subjectType: document.subjectType,
      subjectId: document.subjectId,
      childId: document.childId,
      householdId: document.householdId,
      category: document.category,
      versionCount: versions.length,
      sha256s: versions.map((v) => v.sha256),
      ruleKey: item.ruleKey,
      ruleSource: item.ruleSource,
      startEvent: item.startEvent,
      eventOn: item.eventOn,
      dueOn: item.dueOn,
      requestId: request.id,
      requestedBy: request.requestedBy,
      approvedBy: request.decidedBy!,
    })
    .returning('*');
  await mark('destroyed');
  // The document's own trail: what it was kept against, as its other events name it, and the tombstone.
  await scope.audit({
    action: 'document.destroyed',
    entityType: 'document',
    entityId: document.id,
    before: { status: 'active', versionCount: versions.length },
    after: {
      status: 'destroyed',
      subjectType: document.subjectType,
      subjectId: document.subjectId,
      // Named so the audit trail's fence hides the event with the child's other records.
      childId: document.childId,
      tombstoneId: tombstone.id,
      requestId: request.id,
      ruleKey: item.ruleKey,
      dueOn: item.dueOn,
      sha256s: tombstone.sha256s,
    },
  });
  return 'destroyed';
}

/** The `retention-destruction` job: payload { requestId }, an approved request; each document in turn, then the request done. */
export async function retentionDestructionJob(ctx: JobContext): Promise<unknown> {
  const requestId = String(ctx.job.payload.requestId ?? '');
  const store = documentStore(ctx.services);
  const { request, items } = await ctx.inTenant(async (trx) => ({
    request: await DestructionRequest.query(trx).where({ tenant_id: ctx.tenantId, id: requestId }).first(),
    items: await DestructionItem.query(trx)
      .where({ tenant_id: ctx.tenantId, request_id: requestId })
      .whereNull('outcome')
      .orderBy('document_id'),
  }));
  if (!request) throw new Error(`${RETENTION_DESTRUCTION_JOB}: no destruction request ${requestId}`);
  if (request.status === 'done') return { requestId, destroyed: 0, held: 0 };
  if (request.status !== 'approved')
    throw new Error(`${RETENTION_DESTRUCTION_JOB}: request ${requestId} is ${request.status}, not approved`);
  const counts = { destroyed: 0, held: 0 };
  let done = 0;
  for (const item of items) {
    const outcome = await ctx.inTenant((trx) =>
      destroyOne({ trx, tenantId: ctx.tenantId, audit: (e) => ctx.audit(trx, e) }, store, request, item),
    );
    counts[outcome]++;
    await ctx.progress(++done, items.length);
  }
  await ctx.inTenant(async (trx) => {
    await DestructionRequest.query(trx)
      .where({ tenant_id: ctx.tenantId, id: requestId })
      .patch({ status: 'done', completedAt: new Date(), version: request.version + 1, updatedAt: new Date() });
    await ctx.audit(trx, {
      action: 'retention.destruction_done',
      entityType: 'destruction_request',
      entityId: requestId,
      after: { status: 'done', ...counts },
    });
  });
  return { requestId, ...counts };
}
