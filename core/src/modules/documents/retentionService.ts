import { findOne } from '../../db/find';
import { patchVersioned } from '../../db/versioned';
import { enqueue } from '../../jobs/queue';
import { actorKind, actorId, type TenantScope } from '../../http/operation';
import { Problem, type FieldError } from '../../http/problem';
import { newId } from '../../ids';
import { tenantToday } from '../tenants/today';
import { childVisible } from '../children/visibility';
import { Document, type SubjectType } from './models';
import type { RetentionRule } from '../../packs/types';
import {
  dueMessages,
  FINISHED_STATUSES,
  holdsOverMessages,
  messageStandingsOf,
  messagesVisible,
  type MessageFacts,
} from './retentionMessages';
import {
  DestructionItem,
  DestructionMessageItem,
  DestructionRequest,
  LegalHold,
  MessageTombstone,
  Tombstone,
} from './retentionModels';
import {
  dueDocuments,
  dueUnder,
  holdsOver,
  lockRetention,
  standingsOf,
  tenantRules,
  type DueStanding,
  type EvaluationScope,
} from './retentionRules';
import { findDocument } from './service';
import { documentsVisible, resolveSubject } from './subjects';

export const RETENTION_DESTRUCTION_JOB = 'retention-destruction';

const NOT_FOUND = 'is not a document of this tenant';
const MESSAGE_NOT_FOUND = 'is not a message of this tenant';

/** The tenant's rules, weighed only over what the fence lets the caller see. */
async function scopeWithin(ctx: TenantScope, fence: EvaluationScope['fence']): Promise<EvaluationScope> {
  return { trx: ctx.trx, tenantId: ctx.tenantId, rules: await tenantRules(ctx.trx, ctx.services, ctx.tenantId), fence };
}

/** The caller's view of the rules: only documents it may see are weighed. */
export async function callerScope(ctx: TenantScope): Promise<EvaluationScope> {
  const fence = documentsVisible(ctx, 'd');
  return scopeWithin(ctx, (q) => fence(q));
}

/** The dry run: what is due on the day, each with the holds in force over it. */
export async function dryRun(ctx: TenantScope, asOf: string) {
  const due = await dueDocuments(await callerScope(ctx), asOf);
  const holds = await holdsOver(
    ctx.trx,
    ctx.tenantId,
    due.map((d) => d.document.id),
  );
  return due.map((d) => ({ ...dueToApi(d), holdIds: holds.get(d.document.id) ?? [] }));
}

/** The caller's view of the rules over the communication log: only messages it may see in the log are weighed. */
export async function callerMessageScope(ctx: TenantScope): Promise<EvaluationScope> {
  const fence = messagesVisible(ctx, 'm');
  return scopeWithin(ctx, (q) => fence(q));
}

/** The dry run over the communication log: the messages due on the day, each with the holds in force over it. */
export async function dryRunMessages(ctx: TenantScope, asOf: string) {
  const due = await dueMessages(await callerMessageScope(ctx), asOf);
  const holds = await holdsOverMessages(
    ctx.trx,
    ctx.tenantId,
    due.map((d) => d.document.id),
  );
  return due.map((d) => ({
    messageId: d.document.id,
    event: d.document.event,
    channel: d.document.channel,
    createdAt: d.document.createdAt.toISOString(),
    childId: d.document.childId,
    householdId: d.document.householdId,
    placementId: d.document.placementId,
    claimId: d.document.claimId,
    paymentRunId: d.document.paymentRunId,
    rule: ruleToApi(d.rule),
    eventOn: d.eventOn,
    dueOn: d.dueOn,
    holdIds: holds.get(d.document.id) ?? [],
  }));
}

function ruleToApi(rule: DueStanding['rule']) {
  return {
    key: rule.key,
    name: rule.name,
    source: rule.source,
    startEvent: rule.startEvent,
    period: { years: rule.period.years ?? 0, months: rule.period.months ?? 0 },
  };
}

function dueToApi(d: DueStanding) {
  return {
    documentId: d.document.id,
    subjectType: d.document.subjectType,
    subjectId: d.document.subjectId,
    childId: d.document.childId,
    householdId: d.document.householdId,
    category: d.document.category,
    title: d.document.title,
    rule: ruleToApi(d.rule),
    eventOn: d.eventOn,
    dueOn: d.dueOn,
  };
}

/**
 * Each id's standing today, for a request or its approval: due ones by id, and what is wrong with the
 * rest, by the pointer of its place in the list.
 */
async function checkDue(
  ctx: TenantScope,
  ids: string[],
  asOf: string,
  pointer: (index: number) => string,
  ownRequest: string | null,
): Promise<{ due: Map<string, DueStanding>; errors: FieldError[] }> {
  const scope = await callerScope(ctx);
  const visible = (await ctx
    .trx('documents as d')
    .where('d.tenant_id', ctx.tenantId)
    .whereIn('d.id', ids)
    .where((q) => scope.fence!(q))
    .select('d.id', 'd.status')) as Array<{ id: string; status: string }>;
  const statusOf = new Map(visible.map((r) => [r.id, r.status]));
  const standings = await standingsOf(scope, ids);
  const holds = await holdsOver(ctx.trx, ctx.tenantId, ids);
  const open = (await DestructionItem.query(ctx.trx)
    .alias('i')
    .join('retention_destruction_requests as r', (j) =>
      j.on('r.tenant_id', 'i.tenant_id').andOn('r.id', 'i.request_id'),
    )
    .where('i.tenant_id', ctx.tenantId)
    .whereIn('i.document_id', ids)
    .whereIn('r.status', ['pending', 'approved'])
    .select('i.document_id', 'i.request_id')) as unknown as Array<{ documentId: string; requestId: string }>;
  const openRequest = new Map(open.map((r) => [r.documentId, r.requestId]));
  const due = new Map<string, DueStanding>();
  const errors: FieldError[] = [];
  ids.forEach((id, index) => {
    const fail = (message: string) => errors.push({ pointer: pointer(index), message });
    const status = statusOf.get(id);
    if (!status) return fail(NOT_FOUND);
    if (status === 'destroyed') return fail('is already destroyed');
    const standing = standings.get(id);
    if (!standing) return fail('no retention rule of the pack covers it, so it is never due for destruction');
    const d = dueUnder(standing, asOf);
    if (!d) {
      const running = standing.rules.find((r) => !r.dueOn || r.dueOn > asOf)!;
      return fail(
        running.dueOn
          ? `is not due for destruction until ${running.dueOn} under the rule ${running.rule.key}`
          : `is not due for destruction: the rule ${running.rule.key} counts from ${running.rule.startEvent}, which has not happened`,
      );
    }
    const held = holds.get(id);
    if (held) return fail(`is under a legal hold (${held.join(', ')})`);
    const other = openRequest.get(id);
    if (other && other !== ownRequest) return fail(`is already in destruction request ${other}`);
    due.set(id, d);
  });
  return { due, errors };
}

/** checkDue for messages: the same checks, and a message still being delivered is not yet the log's to destroy. */
async function checkMessagesDue(
  ctx: TenantScope,
  ids: string[],
  asOf: string,
  pointer: (index: number) => string,
  ownRequest: string | null,
): Promise<{ due: Map<string, DueStanding<MessageFacts>>; errors: FieldError[] }> {
  const due = new Map<string, DueStanding<MessageFacts>>();
  const errors: FieldError[] = [];
  if (!ids.length) return { due, errors };
  const scope = await callerMessageScope(ctx);
  const visible = (await ctx
    .trx('outbound_messages as m')
    .where('m.tenant_id', ctx.tenantId)
    .whereIn('m.id', ids)
    .where((q) => scope.fence!(q))
    .select('m.id', 'm.status', 'm.destroyed_at')) as Array<{ id: string; status: string; destroyed_at: Date | null }>;
  const found = new Map(visible.map((r) => [r.id, r]));
  const standings = await messageStandingsOf(scope, ids);
  const holds = await holdsOverMessages(ctx.trx, ctx.tenantId, ids);
  const open = (await DestructionMessageItem.query(ctx.trx)
    .alias('i')
    .join('retention_destruction_requests as r', (j) =>
      j.on('r.tenant_id', 'i.tenant_id').andOn('r.id', 'i.request_id'),
    )
    .where('i.tenant_id', ctx.tenantId)
    .whereIn('i.message_id', ids)
    .whereIn('r.status', ['pending', 'approved'])
    .select('i.message_id', 'i.request_id')) as unknown as Array<{ messageId: string; requestId: string }>;
  const openRequest = new Map(open.map((r) => [r.messageId, r.requestId]));
  ids.forEach((id, index) => {
    const fail = (message: string) => errors.push({ pointer: pointer(index), message });
    const row = found.get(id);
    if (!row) return fail(MESSAGE_NOT_FOUND);
    if (row.destroyed_at) return fail('is already destroyed');
    if (!FINISHED_STATUSES.includes(row.status)) return fail(`is still being delivered (${row.status})`);
    const standing = standings.get(id);
    if (!standing)
      return fail('is tied to no record a retention rule of the pack holds, so it is never due for destruction');
    const d = dueUnder(standing, asOf);
    if (!d) {
      const running = standing.rules.find((r) => !r.dueOn || r.dueOn > asOf)!;
      return fail(
        running.dueOn
          ? `is not due for destruction until ${running.dueOn} under the rule ${running.rule.key}`
          : `is not due for destruction: the rule ${running.rule.key} counts from ${running.rule.startEvent}, which has not happened`,
      );
    }
    const held = holds.get(id);
    if (held) return fail(`is under a legal hold (${held.join(', ')})`);
    const other = openRequest.get(id);
    if (other && other !== ownRequest) return fail(`is already in destruction request ${other}`);
    due.set(id, d);
  });
  return { due, errors };
}

export async function requestDestruction(
  ctx: TenantScope,
  input: { documentIds?: string[]; messageIds?: string[]; note?: string },
): Promise<{ request: DestructionRequest; items: DestructionItem[]; messageItems: DestructionMessageItem[] }> {
  const documentIds = input.documentIds ?? [];
  const messageIds = input.messageIds ?? [];
  if (!documentIds.length && !messageIds.length)
    throw Problem.unprocessable([
      { pointer: '/body/documentIds', message: 'name at least one document, or messages in messageIds' },
    ]);
  await lockRetention(ctx.trx, ctx.tenantId);
  const asOf = await tenantToday(ctx);
  const checked = documentIds.length
    ? await checkDue(ctx, documentIds, asOf, (i) => `/body/documentIds/${i}`, null)
    : { due: new Map<string, DueStanding>(), errors: [] };
  const checkedMessages = await checkMessagesDue(ctx, messageIds, asOf, (i) => `/body/messageIds/${i}`, null);
  const errors = [...checked.errors, ...checkedMessages.errors];
  if (errors.length) throw Problem.unprocessable(errors);
  const request = await DestructionRequest.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      id: newId(),
      status: 'pending',
      asOf,
      note: input.note ?? null,
      requestedBy: ctx.principal.id,
      requestedByKind: actorKind(ctx.principal),
    })
    .returning('*');
  // What a request keeps of each item's standing, the same for a document and a message.
  const itemOf = (d: {
    document: { childId: string | null };
    rule: RetentionRule;
    eventOn: string;
    dueOn: string;
  }) => ({
    tenantId: ctx.tenantId,
    requestId: request.id,
    childId: d.document.childId,
    ruleKey: d.rule.key,
    ruleSource: d.rule.source,
    startEvent: d.rule.startEvent,
    eventOn: d.eventOn,
    dueOn: d.dueOn,
  });
  const items = documentIds.length
    ? await DestructionItem.query(ctx.trx)
        .insert(documentIds.map((id) => ({ ...itemOf(checked.due.get(id)!), documentId: id })))
        .returning('*')
    : [];
  const messageItems = messageIds.length
    ? await DestructionMessageItem.query(ctx.trx)
        .insert(messageIds.map((id) => ({ ...itemOf(checkedMessages.due.get(id)!), messageId: id })))
        .returning('*')
    : [];
  await ctx.audit({
    action: 'retention.destruction_requested',
    entityType: 'destruction_request',
    entityId: request.id,
    after: requestAudit(request, items, messageItems),
  });
  return { request, items, messageItems };
}

export function findRequest(ctx: TenantScope, id: string, options: { lock?: boolean } = {}) {
  return findOne<DestructionRequest>(ctx, DestructionRequest, id, options);
}

/** A request's items the caller may see: those of a restricted child are left out for anyone outside its fence. */
export async function itemsOf(ctx: TenantScope, requestIds: string[]): Promise<Map<string, DestructionItem[]>> {
  const out = new Map<string, DestructionItem[]>();
  if (!requestIds.length) return out;
  const rows = await DestructionItem.query(ctx.trx)
    .alias('i')
    .where('i.tenant_id', ctx.tenantId)
    .whereIn('i.request_id', requestIds)
    .where(childVisible(ctx, 'i.child_id'))
    .orderBy('i.document_id');
  for (const row of rows) out.set(row.requestId, [...(out.get(row.requestId) ?? []), row]);
  return out;
}

/** A request's messages the caller may see: those about a restricted child are left out, as its documents are. */
export async function messageItemsOf(
  ctx: TenantScope,
  requestIds: string[],
): Promise<Map<string, DestructionMessageItem[]>> {
  const out = new Map<string, DestructionMessageItem[]>();
  if (!requestIds.length) return out;
  const rows = await DestructionMessageItem.query(ctx.trx)
    .alias('i')
    .where('i.tenant_id', ctx.tenantId)
    .whereIn('i.request_id', requestIds)
    .where(childVisible(ctx, 'i.child_id'))
    .orderBy('i.message_id');
  for (const row of rows) out.set(row.requestId, [...(out.get(row.requestId) ?? []), row]);
  return out;
}

export function requestToApi(r: DestructionRequest, items: DestructionItem[], messageItems: DestructionMessageItem[]) {
  return {
    id: r.id,
    status: r.status,
    asOf: r.asOf,
    note: r.note,
    requestedBy: r.requestedBy,
    requestedAt: r.requestedAt.toISOString(),
    decidedBy: r.decidedBy,
    decidedAt: r.decidedAt ? r.decidedAt.toISOString() : null,
    decisionNote: r.decisionNote,
    completedAt: r.completedAt ? r.completedAt.toISOString() : null,
    items: items.map((i) => ({
      documentId: i.documentId,
      ruleKey: i.ruleKey,
      ruleSource: i.ruleSource,
      startEvent: i.startEvent,
      eventOn: i.eventOn,
      dueOn: i.dueOn,
      outcome: i.outcome,
    })),
    messageItems: messageItems.map((i) => ({
      messageId: i.messageId,
      ruleKey: i.ruleKey,
      ruleSource: i.ruleSource,
      startEvent: i.startEvent,
      eventOn: i.eventOn,
      dueOn: i.dueOn,
      outcome: i.outcome,
    })),
    version: r.version,
  };
}

/**
 * A request as its audit events record it: with the children its documents belong to, so the audit
 * trail's fence hides the event from whoever cannot see one of them (it hides events naming a
 * hidden child), as it hides the documents themselves.
 */
function requestAudit(r: DestructionRequest, items: DestructionItem[], messageItems: DestructionMessageItem[]) {
  const childIds = [
    ...new Set([...items, ...messageItems].map((i) => i.childId).filter((id): id is string => id !== null)),
  ].sort();
  return { ...requestToApi(r, items, messageItems), childIds };
}

function assertPending(request: DestructionRequest): void {
  if (request.status !== 'pending')
    throw new Problem('conflict', `The destruction request is ${request.status}; only a pending one is decided`);
}

/**
 * Approves a request by someone other than who asked, with every document checked again (due today,
 * not held, visible to the approver), and enqueues the destruction job in the same transaction.
 */
export async function approveDestruction(
  ctx: TenantScope,
  before: DestructionRequest,
  note: string | undefined,
): Promise<{ request: DestructionRequest; items: DestructionItem[]; messageItems: DestructionMessageItem[] }> {
  assertPending(before);
  if (before.requestedBy === ctx.principal.id && before.requestedByKind === actorKind(ctx.principal))
    throw new Problem(
      'forbidden',
      'Separation of duties: a destruction request is approved by someone other than who asked for it',
    );
  await lockRetention(ctx.trx, ctx.tenantId);
  const all = await DestructionItem.query(ctx.trx).where({ tenant_id: ctx.tenantId, request_id: before.id });
  const ids = all.map((i) => i.documentId);
  const asOf = await tenantToday(ctx);
  const allMessages = await DestructionMessageItem.query(ctx.trx).where({
    tenant_id: ctx.tenantId,
    request_id: before.id,
  });
  const messageIds = allMessages.map((i) => i.messageId);
  const { errors } = ids.length
    ? await checkDue(ctx, ids, asOf, (i) => `/items/${i}`, before.id)
    : { errors: [] as FieldError[] };
  const messageErrors = (await checkMessagesDue(ctx, messageIds, asOf, (i) => `/messageItems/${i}`, before.id)).errors;
  if (errors.length || messageErrors.length) {
    // What is outside the approver's view is counted, never named: its id would say it exists.
    const unseen = errors.filter((e) => e.message === NOT_FOUND).length;
    const unseenMessages = messageErrors.filter((e) => e.message === MESSAGE_NOT_FOUND).length;
    const named = [
      ...errors
        .filter((e) => e.message !== NOT_FOUND)
        .map((e) => `document ${ids[Number(e.pointer.split('/')[2])]} ${e.message}`),
      ...messageErrors
        .filter((e) => e.message !== MESSAGE_NOT_FOUND)
        .map((e) => `message ${messageIds[Number(e.pointer.split('/')[2])]} ${e.message}`),
    ];
    if (unseen) named.push(`${unseen} of its documents are outside what you may see`);
    if (unseenMessages) named.push(`${unseenMessages} of its messages are outside what you may see`);
    throw new Problem('conflict', `The request can no longer be approved: ${named.join('; ')}`);
  }
  const job = await enqueue(ctx.trx, {
    tenantId: ctx.tenantId,
    kind: RETENTION_DESTRUCTION_JOB,
    uniqueKey: `${RETENTION_DESTRUCTION_JOB}:${before.id}`,
    payload: { requestId: before.id },
  });
  const request = await patchVersioned(ctx.trx, DestructionRequest, before, {
    status: 'approved',
    decidedBy: ctx.principal.id,
    decidedByKind: actorKind(ctx.principal),
    decidedAt: new Date(),
    decisionNote: note ?? null,
    jobId: job.id,
  });
  await ctx.audit({
    action: 'retention.destruction_approved',
    entityType: 'destruction_request',
    entityId: request.id,
    before: requestAudit(before, all, allMessages),
    after: requestAudit(request, all, allMessages),
  });
  return { request, items: all, messageItems: allMessages };
}

export async function rejectDestruction(
  ctx: TenantScope,
  before: DestructionRequest,
  reason: string,
): Promise<DestructionRequest> {
  assertPending(before);
  const request = await patchVersioned(ctx.trx, DestructionRequest, before, {
    status: 'rejected',
    decidedBy: ctx.principal.id,
    decidedByKind: actorKind(ctx.principal),
    decidedAt: new Date(),
    decisionNote: reason,
  });
  await ctx.audit({
    action: 'retention.destruction_rejected',
    entityType: 'destruction_request',
    entityId: request.id,
    before: { status: before.status },
    after: { status: request.status, decidedBy: request.decidedBy, reason },
  });
  return request;
}

// Legal holds

export function holdToApi(h: LegalHold) {
  return {
    id: h.id,
    documentId: h.documentId,
    subjectType: h.subjectType,
    subjectId: h.subjectId,
    childId: h.childId,
    householdId: h.householdId,
    reason: h.reason,
    placedBy: h.placedBy,
    placedAt: h.placedAt.toISOString(),
    releasedBy: h.releasedBy,
    releasedAt: h.releasedAt ? h.releasedAt.toISOString() : null,
    releaseReason: h.releaseReason,
    active: h.releasedAt === null,
    version: h.version,
  };
}

export async function placeHold(
  ctx: TenantScope,
  input: { documentId?: string; subjectType?: SubjectType; subjectId?: string; reason: string },
): Promise<LegalHold> {
  const onDocument = input.documentId !== undefined;
  const onRecord = input.subjectType !== undefined || input.subjectId !== undefined;
  if (onDocument === onRecord)
    throw Problem.unprocessable([
      { pointer: '/body/documentId', message: 'give either documentId, or subjectType with subjectId' },
    ]);
  let owners: { childId: string | null; householdId: string | null };
  if (onDocument) {
    const document: Document = await findDocument(ctx, input.documentId!, { pointer: '/body/documentId' });
    owners = { childId: document.childId, householdId: document.householdId };
  } else {
    const missing: FieldError[] = [];
    if (!input.subjectType) missing.push({ pointer: '/body/subjectType', message: 'is required with subjectId' });
    if (!input.subjectId) missing.push({ pointer: '/body/subjectId', message: 'is required with subjectType' });
    if (missing.length) throw Problem.unprocessable(missing);
    owners = await resolveSubject(ctx, input.subjectType!, input.subjectId!);
  }
  // Taken so a destruction checking its holds now either sees this one or has already finished.
  await lockRetention(ctx.trx, ctx.tenantId);
  const hold = await LegalHold.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      id: newId(),
      documentId: input.documentId ?? null,
      subjectType: onDocument ? null : input.subjectType!,
      subjectId: onDocument ? null : input.subjectId!,
      childId: owners.childId,
      householdId: owners.householdId,
      reason: input.reason,
      placedBy: actorId(ctx),
    })
    .returning('*');
  await ctx.audit({
    action: 'retention.hold_placed',
    entityType: 'legal_hold',
    entityId: hold.id,
    after: holdToApi(hold),
  });
  return hold;
}

/** A hold the caller may see: one on a restricted child's record is not found outside its fence. */
export function findHold(ctx: TenantScope, id: string, options: { lock?: boolean } = {}): Promise<LegalHold> {
  return findOne<LegalHold>(ctx, LegalHold, id, {
    ...options,
    narrow: (q) => q.where(childVisible(ctx, 'retention_legal_holds.child_id')),
  });
}

export async function releaseHold(ctx: TenantScope, before: LegalHold, reason: string): Promise<LegalHold> {
  if (before.releasedAt) throw new Problem('conflict', 'The legal hold was already released');
  const hold = await patchVersioned(ctx.trx, LegalHold, before, {
    releasedAt: new Date(),
    releasedBy: actorId(ctx),
    releaseReason: reason,
  });
  await ctx.audit({
    action: 'retention.hold_released',
    entityType: 'legal_hold',
    entityId: hold.id,
    before: holdToApi(before),
    after: holdToApi(hold),
  });
  return hold;
}

export function tombstoneToApi(t: Tombstone) {
  return {
    id: t.id,
    documentId: t.documentId,
    subjectType: t.subjectType,
    subjectId: t.subjectId,
    childId: t.childId,
    householdId: t.householdId,
    category: t.category,
    versionCount: t.versionCount,
    sha256s: t.sha256s,
    ruleKey: t.ruleKey,
    ruleSource: t.ruleSource,
    startEvent: t.startEvent,
    eventOn: t.eventOn,
    dueOn: t.dueOn,
    requestId: t.requestId,
    requestedBy: t.requestedBy,
    approvedBy: t.approvedBy,
    destroyedAt: t.destroyedAt.toISOString(),
  };
}

export function messageTombstoneToApi(t: MessageTombstone) {
  return {
    id: t.id,
    messageId: t.messageId,
    event: t.event,
    channel: t.channel,
    sentOn: t.sentOn.toISOString(),
    childId: t.childId,
    householdId: t.householdId,
    placementId: t.placementId,
    claimId: t.claimId,
    paymentRunId: t.paymentRunId,
    ruleKey: t.ruleKey,
    ruleSource: t.ruleSource,
    startEvent: t.startEvent,
    eventOn: t.eventOn,
    dueOn: t.dueOn,
    requestId: t.requestId,
    requestedBy: t.requestedBy,
    approvedBy: t.approvedBy,
    destroyedAt: t.destroyedAt.toISOString(),
  };
}
