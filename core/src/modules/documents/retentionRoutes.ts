import { tenantToday } from '../tenants/today';
import { keysetPage } from '../../db/keyset';
import { defineOperations, type OperationResult, type TenantContext } from '../../http/operation';
import { decodeCursor, toPage } from '../../http/pagination';
import { accepted, created, ok } from '../../http/results';
import { childVisible, placementVisible } from '../children/visibility';
import { DestructionRequest, LegalHold, MessageTombstone, Tombstone } from './retentionModels';
import {
  approveDestruction,
  dryRun,
  dryRunMessages,
  findHold,
  findRequest,
  holdToApi,
  itemsOf,
  messageItemsOf,
  messageTombstoneToApi,
  placeHold,
  rejectDestruction,
  releaseHold,
  requestDestruction,
  requestToApi,
  tombstoneToApi,
} from './retentionService';

async function listRetentionDue(ctx: TenantContext<'listRetentionDue'>): Promise<OperationResult> {
  const asOf = ctx.query.asOf ?? (await tenantToday(ctx));
  const after = decodeCursor(ctx.query.cursor, 1)?.[0];
  // The due list is worked out whole (it is the documents past their time, not the store); a page is a slice of it by id.
  const due = (await dryRun(ctx, asOf)).filter((d) => after === undefined || d.documentId > String(after));
  const page = toPage(
    due.slice(0, ctx.query.limit + 1),
    ctx.query.limit,
    (d) => [d.documentId],
    (d) => ({ ...d, held: d.holdIds.length > 0 }),
  );
  return ok({ asOf, ...page });
}

async function listRetentionDueMessages(ctx: TenantContext<'listRetentionDueMessages'>): Promise<OperationResult> {
  const asOf = ctx.query.asOf ?? (await tenantToday(ctx));
  const after = decodeCursor(ctx.query.cursor, 1)?.[0];
  const due = (await dryRunMessages(ctx, asOf)).filter((d) => after === undefined || d.messageId > String(after));
  const page = toPage(
    due.slice(0, ctx.query.limit + 1),
    ctx.query.limit,
    (d) => [d.messageId],
    (d) => ({ ...d, held: d.holdIds.length > 0 }),
  );
  return ok({ asOf, ...page });
}

/** A request as the caller may see it: its documents and messages inside the caller's fence. */
async function requestsToApi(ctx: Parameters<typeof itemsOf>[0], requests: DestructionRequest[]) {
  const ids = requests.map((r) => r.id);
  const items = await itemsOf(ctx, ids);
  const messageItems = await messageItemsOf(ctx, ids);
  return requests.map((r) => requestToApi(r, items.get(r.id) ?? [], messageItems.get(r.id) ?? []));
}

async function createDestructionRequest(ctx: TenantContext<'createDestructionRequest'>): Promise<OperationResult> {
  const { request, items, messageItems } = await requestDestruction(ctx, ctx.body);
  return created(requestToApi(request, items, messageItems), {
    location: `/v1/retention/destruction-requests/${request.id}`,
    version: request.version,
  });
}

async function listDestructionRequests(ctx: TenantContext<'listDestructionRequests'>): Promise<OperationResult> {
  const query = DestructionRequest.query(ctx.trx).where('tenant_id', ctx.tenantId);
  if (ctx.query.status) query.where('status', ctx.query.status);
  // Ids are time-ordered (UUIDv7): newest first by id is newest first by time.
  const page = await keysetPage(query, ctx.query, [{ column: 'id', of: (r) => r.id }], (r) => r, 'desc');
  return ok({ data: await requestsToApi(ctx, page.rows), nextCursor: page.nextCursor });
}

async function getDestructionRequest(ctx: TenantContext<'getDestructionRequest'>): Promise<OperationResult> {
  const request = await findRequest(ctx, ctx.params.requestId);
  const [api] = await requestsToApi(ctx, [request]);
  return ok(api, request.version);
}

async function approveDestructionRequest(ctx: TenantContext<'approveDestructionRequest'>): Promise<OperationResult> {
  const before = await findRequest(ctx, ctx.params.requestId, { lock: true });
  const { request } = await approveDestruction(ctx, before, ctx.body?.note);
  const [api] = await requestsToApi(ctx, [request]);
  return accepted(api, {
    location: `/v1/retention/destruction-requests/${request.id}`,
  });
}

async function rejectDestructionRequest(ctx: TenantContext<'rejectDestructionRequest'>): Promise<OperationResult> {
  const before = await findRequest(ctx, ctx.params.requestId, { lock: true });
  const request = await rejectDestruction(ctx, before, ctx.body.reason);
  const [api] = await requestsToApi(ctx, [request]);
  return ok(api, request.version);
}

async function createLegalHold(ctx: TenantContext<'createLegalHold'>): Promise<OperationResult> {
  const hold = await placeHold(ctx, ctx.body);
  return created(holdToApi(hold), { location: `/v1/retention/legal-holds/${hold.id}`, version: hold.version });
}

async function listLegalHolds(ctx: TenantContext<'listLegalHolds'>): Promise<OperationResult> {
  const query = LegalHold.query(ctx.trx)
    // Not `h`: the fence's own subquery names the children it hides `h`.
    .alias('lh')
    .where('lh.tenant_id', ctx.tenantId)
    .where(childVisible(ctx, 'lh.child_id'));
  if (!ctx.query.includeReleased) query.whereNull('lh.released_at');
  const page = await keysetPage(query, ctx.query, [{ column: 'lh.id', of: (r) => r.id }], holdToApi, 'desc');
  return ok({ data: page.data, nextCursor: page.nextCursor });
}

async function releaseLegalHold(ctx: TenantContext<'releaseLegalHold'>): Promise<OperationResult> {
  const before = await findHold(ctx, ctx.params.holdId, { lock: true });
  const hold = await releaseHold(ctx, before, ctx.body.reason);
  return ok(holdToApi(hold), hold.version);
}

async function listTombstones(ctx: TenantContext<'listTombstones'>): Promise<OperationResult> {
  const query = Tombstone.query(ctx.trx)
    .alias('t')
    .where('t.tenant_id', ctx.tenantId)
    .where(childVisible(ctx, 't.child_id'));
  if (ctx.query.documentId) query.where('t.document_id', ctx.query.documentId);
  const page = await keysetPage(query, ctx.query, [{ column: 't.id', of: (r) => r.id }], tombstoneToApi, 'desc');
  return ok({ data: page.data, nextCursor: page.nextCursor });
}

async function listMessageTombstones(ctx: TenantContext<'listMessageTombstones'>): Promise<OperationResult> {
  const query = MessageTombstone.query(ctx.trx)
    .alias('t')
    .where('t.tenant_id', ctx.tenantId)
    .where(childVisible(ctx, 't.child_id'))
    .where(placementVisible(ctx, 't.placement_id'));
  if (ctx.query.messageId) query.where('t.message_id', ctx.query.messageId);
  const page = await keysetPage(query, ctx.query, [{ column: 't.id', of: (r) => r.id }], messageTombstoneToApi, 'desc');
  return ok({ data: page.data, nextCursor: page.nextCursor });
}

export const retentionOperations = defineOperations({
  listRetentionDue: { access: { permission: 'documents:retention' }, handle: listRetentionDue },
  createDestructionRequest: { access: { permission: 'documents:retention' }, handle: createDestructionRequest },
  listDestructionRequests: { access: { permission: 'documents:retention' }, handle: listDestructionRequests },
  getDestructionRequest: { access: { permission: 'documents:retention' }, handle: getDestructionRequest },
  approveDestructionRequest: { access: { permission: 'documents:destroy' }, handle: approveDestructionRequest },
  rejectDestructionRequest: { access: { permission: 'documents:destroy' }, handle: rejectDestructionRequest },
  createLegalHold: { access: { permission: 'documents:legal_hold' }, handle: createLegalHold },
  listLegalHolds: { access: { permission: 'documents:legal_hold' }, handle: listLegalHolds },
  releaseLegalHold: { access: { permission: 'documents:legal_hold' }, handle: releaseLegalHold },
  listTombstones: { access: { permission: 'documents:retention' }, handle: listTombstones },
  listRetentionDueMessages: { access: { permission: 'documents:retention' }, handle: listRetentionDueMessages },
  listMessageTombstones: { access: { permission: 'documents:retention' }, handle: listMessageTombstones },
});
