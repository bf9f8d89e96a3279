import type { Knex } from 'knex';
import type { JobContext } from '../../jobs/worker';
import { newId } from '../../ids';
import type { AuditEventInput } from '../audit/service';
import { Document, DocumentVersion } from './models';
import { documentStore } from './openStore';
import { NotificationMessage } from '../notifications/models';
import { holdsOverMessages } from './retentionMessages';
import {
  DestructionItem,
  DestructionMessageItem,
  DestructionRequest,
  MessageTombstone,
  Tombstone,
} from './retentionModels';
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

/**
 * Destroys one approved message, in its own transaction: a hold placed since the approval keeps it;
 * otherwise its content goes (subject, body, the payload it was rendered from, the recipient's address,
 * the key and channel errors that may quote the address) and its row stays as the log's skeleton (the
 * event, channel, status, dates and the records it was tied to), marked destroyed, with its tombstone.
 */
async function destroyMessage(
  scope: Scope,
  request: DestructionRequest,
  item: DestructionMessageItem,
): Promise<'destroyed' | 'held'> {
  const { trx, tenantId } = scope;
  await lockRetention(trx, tenantId);
  const message = await NotificationMessage.query(trx)
    .where({ tenant_id: tenantId, id: item.messageId })
    .forUpdate()
    .first();
  if (!message) throw new Error(`message ${item.messageId} of destruction request ${request.id} is gone`);
  const mark = (outcome: 'destroyed' | 'held') =>
    DestructionMessageItem.query(trx)
      .where({ tenant_id: tenantId, request_id: request.id, message_id: item.messageId })
      .patch({ outcome });
  if (message.destroyedAt) {
    await mark('destroyed');
    return 'destroyed';
  }
  const holds = (await holdsOverMessages(trx, tenantId, [message.id])).get(message.id);
  if (holds) {
    await mark('held');
    await scope.audit({
      action: 'retention.destruction_held',
      entityType: 'notification',
      entityId: message.id,
      after: { requestId: request.id, holdIds: holds, childId: message.childId },
    });
    return 'held';
  }
  await trx('outbound_messages')
    .where({ tenant_id: tenantId, id: message.id })
    .update({
      subject: null,
      body: null,
      payload: JSON.stringify({}),
      recipient: '',
      dedupe_key: null,
      last_error: null,
      destroyed_at: trx.fn.now(),
      updated_at: trx.fn.now(),
    });
  await trx('notification_attempts').where({ tenant_id: tenantId, message_id: message.id }).update({ error: null });
  const tombstone = await MessageTombstone.query(trx)
    .insert({
      tenantId,
      id: newId(),
      messageId: message.id,
      event: message.event,
      channel: message.channel,
      sentOn: message.createdAt,
      childId: message.childId,
      householdId: message.householdId,
      placementId: message.placementId,
      claimId: message.claimId,
      paymentRunId: message.paymentRunId,
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
  await scope.audit({
    action: 'notification.destroyed',
    entityType: 'notification',
    entityId: message.id,
    before: { destroyed: false },
    after: {
      destroyed: true,
      event: message.event,
      channel: message.channel,
      // Named so the audit trail's fence hides the event with the child's other records.
      childId: message.childId,
      placementId: message.placementId,
      householdId: message.householdId,
      tombstoneId: tombstone.id,
      requestId: request.id,
      ruleKey: item.ruleKey,
      dueOn: item.dueOn,
    },
  });
  return 'destroyed';
}

/** The `retention-destruction` job: payload { requestId }, an approved request; each document in turn, then the request done. */
export async function retentionDestructionJob(ctx: JobContext): Promise<unknown> {
  const requestId = String(ctx.job.payload.requestId ?? '');
  const store = documentStore(ctx.services);
  const { request, items, messageItems } = await ctx.inTenant(async (trx) => ({
    request: await DestructionRequest.query(trx).where({ tenant_id: ctx.tenantId, id: requestId }).first(),
    items: await DestructionItem.query(trx)
      .where({ tenant_id: ctx.tenantId, request_id: requestId })
      .whereNull('outcome')
      .orderBy('document_id'),
    messageItems: await DestructionMessageItem.query(trx)
      .where({ tenant_id: ctx.tenantId, request_id: requestId })
      .whereNull('outcome')
      .orderBy('message_id'),
  }));
  if (!request) throw new Error(`${RETENTION_DESTRUCTION_JOB}: no destruction request ${requestId}`);
  if (request.status === 'done') return { requestId, destroyed: 0, held: 0 };
  if (request.status !== 'approved')
    throw new Error(`${RETENTION_DESTRUCTION_JOB}: request ${requestId} is ${request.status}, not approved`);
  const counts = { destroyed: 0, held: 0 };
  let done = 0;
  const total = items.length + messageItems.length;
  for (const item of items) {
    const outcome = await ctx.inTenant((trx) =>
      destroyOne({ trx, tenantId: ctx.tenantId, audit: (e) => ctx.audit(trx, e) }, store, request, item),
    );
    counts[outcome]++;
    await ctx.progress(++done, total);
  }
  for (const item of messageItems) {
    const outcome = await ctx.inTenant((trx) =>
      destroyMessage({ trx, tenantId: ctx.tenantId, audit: (e) => ctx.audit(trx, e) }, request, item),
    );
    counts[outcome]++;
    await ctx.progress(++done, total);
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
