import type { PartialModelObject } from 'objection';
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
import { created, ok } from '../../http/results';
import { Problem, type FieldError } from '../../http/problem';
import { newId } from '../../ids';
import { iso } from '../../time';
import { lookupCodeErrors } from '../lookups/service';
import {
  identifierDigest,
  identifierErrors,
  maskedIdentifiers,
  maskedIdentifiersColumn,
  normaliseIdentifier,
  saveIdentifiers,
  type IdentifierInput,
} from './identifiers';
import { Child, ChildAccessGrant, ChildIdentifier } from './models';
import { findChild, logRestrictedRead, visibleChildren } from './visibility';
import { moveCaseRecords } from '../caseRecords/merge';
import { moveCaseEvents } from '../tasks/events';
import { whereNameStartsWith } from './nameSearch';
import { tenantToday } from '../tenants/today';

const INPUT_FIELDS = [
  'givenName',
  'familyName',
  'preferredName',
  'dateOfBirth',
  'sex',
  'ethnicity',
  'status',
  'allocatedWorkerId',
  'gender',
  'language',
  'interpreterNeeded',
  'religion',
  'disabilities',
] as const;

type ChildInput = Partial<Pick<Child, (typeof INPUT_FIELDS)[number]>> & {
  identifiers?: IdentifierInput[];
  allowDuplicate?: boolean;
};
type ChildCreate = TenantContext<'createChild'>['body'];

type MaskedIdentifier = { kind: string; lastFour: string };

function childToApi(row: Child, identifiers: MaskedIdentifier[]) {
  return {
    id: row.id,
    givenName: row.givenName,
    familyName: row.familyName,
    preferredName: row.preferredName,
    dateOfBirth: row.dateOfBirth,
    sex: row.sex,
    ethnicity: row.ethnicity,
    status: row.status,
    allocatedWorkerId: row.allocatedWorkerId,
    gender: row.gender,
    language: row.language,
    interpreterNeeded: row.interpreterNeeded,
    religion: row.religion,
    disabilities: row.disabilities,
    identifiers,
    mergedInto: row.mergedInto,
    restricted: row.restricted,
    version: row.version,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
    deletedAt: iso(row.deletedAt),
    deletedBy: row.deletedBy,
  };
}

/** A child as the API shows it, with its identifiers masked. */
async function present(ctx: TenantScope, row: Child) {
  return childToApi(row, (await maskedIdentifiers(ctx.trx, ctx.tenantId, [row.id])).get(row.id) ?? []);
}

/** Only the fields a caller may set; the contract has already refused any other. */
function fieldsOf(input: ChildInput): PartialModelObject<Child> {
  const out: Record<string, unknown> = {};
  for (const field of INPUT_FIELDS) if (input[field] !== undefined) out[field] = input[field];
  return out as PartialModelObject<Child>;
}

/** Rules the schema cannot say: codes from the tenant's lists, a worker who exists, no birth in the future. */
async function checkChildInput(ctx: TenantScope, input: ChildInput): Promise<void> {
  const errors: FieldError[] = await lookupCodeErrors(ctx.trx, ctx.tenantId, [
    { list: 'sex', code: input.sex, pointer: '/body/sex' },
    { list: 'ethnicity', code: input.ethnicity, pointer: '/body/ethnicity' },
  ]);
  if (input.dateOfBirth !== undefined && input.dateOfBirth > (await tenantToday(ctx)))
    errors.push({ pointer: '/body/dateOfBirth', message: 'is in the future' });
  errors.push(...identifierErrors(input.identifiers, '/body/identifiers'));
  if (input.allocatedWorkerId) {
    const worker = await ctx
      .trx('users')
      .where({ tenant_id: ctx.tenantId, id: input.allocatedWorkerId, status: 'active' })
      .first('id');
    if (!worker) errors.push({ pointer: '/body/allocatedWorkerId', message: 'is not an active user of this tenant' });
  }
  if (errors.length) throw Problem.unprocessable(errors);
}

async function listChildren(ctx: TenantContext<'listChildren'>): Promise<OperationResult> {
  const q = ctx.query;
  if (q.includeDeleted && !ctx.principal.permissions.has('children:delete')) {
    throw new Problem('forbidden', 'Listing deleted records needs the permission children:delete');
  }
  const query = visibleChildren(ctx).select('c.*');
  if (!q.includeDeleted) query.whereNull('c.deleted_at');
  if (q.status) query.where('c.status', q.status);
  if (q.allocatedWorkerId) query.where('c.allocated_worker_id', q.allocatedWorkerId);
  if (q.bornFrom) query.where('c.date_of_birth', '>=', q.bornFrom);
  if (q.bornTo) query.where('c.date_of_birth', '<=', q.bornTo);
  if (q.q) await whereNameStartsWith(ctx.trx, ctx.tenantId, query, q.q);
  // Identifiers are read for the page in one query, after it, so the page's rows are the ones shown.
  const page = await keysetPage(query, q, [{ column: 'c.id', of: (r) => r.id }], (r) => r);
  const identifiers = await maskedIdentifiers(
    ctx.trx,
    ctx.tenantId,
    page.rows.map((r) => r.id),
  );
  await logRestrictedRead(ctx, page.rows);
  return ok({ data: page.rows.map((r) => childToApi(r, identifiers.get(r.id) ?? [])), nextCursor: page.nextCursor });
}

/**
 * Records that are probably this child already: the same names and date of birth, or the same
 * identifier (found by its keyed digest). Every match the caller can see is listed; restricted records
 * they cannot see are counted in, without their ids.
 */
async function likelyDuplicates(ctx: TenantScope, input: ChildCreate): Promise<Array<{ id: string; reason: string }>> {
  const found = new Map<string, string>();
  const sameName = await Child.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId })
    .whereNull('deleted_at')
    .whereRaw('lower(family_name) = lower(?) AND lower(given_name) = lower(?) AND date_of_birth = ?', [
      input.familyName,
      input.givenName,
      input.dateOfBirth,
    ])
    .select('id');
  for (const row of sameName) found.set(row.id, 'same_name_and_date_of_birth');
  for (const identifier of input.identifiers ?? []) {
    const digest = identifierDigest(
      ctx.services.config.dataKey,
      identifier.kind,
      normaliseIdentifier(identifier.value),
    );
    const rows = await ChildIdentifier.query(ctx.trx)
      .where({ tenant_id: ctx.tenantId, kind: identifier.kind, value_digest: digest })
      .select('child_id');
    for (const row of rows) if (!found.has(row.childId)) found.set(row.childId, 'same_identifier');
  }
  return [...found].map(([id, reason]) => ({ id, reason }));
}

async function createChild(ctx: TenantContext<'createChild'>): Promise<OperationResult> {
  const input = ctx.body;
  await checkChildInput(ctx, input);
  if (!input.allowDuplicate) {
    const duplicates = await likelyDuplicates(ctx, input);
    if (duplicates.length) {
      throw new Problem(
        'conflict',
        `${duplicates.length} record(s) look like this child already; merge them, or send allowDuplicate to create anyway`,
        { duplicates },
      );
    }
  }
  const row = await Child.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      id: newId(),
      status: 'referred',
      ...fieldsOf(input),
      createdBy: ctx.principal.id,
    })
    .returning('*');
  await saveIdentifiers(ctx.trx, ctx.services.config.dataKey, ctx.tenantId, row.id, input.identifiers ?? []);
  const child = await present(ctx, row);
  await ctx.audit({ action: 'child.created', entityType: 'child', entityId: child.id, after: child });
  return created(child, { location: `/v1/children/${child.id}`, version: row.version });
}

async function getChild(ctx: TenantContext<'getChild'>): Promise<OperationResult> {
  const row = await findChild<{ maskedIdentifiers: MaskedIdentifier[] }>(ctx, ctx.params.childId, {
    allowDeleted: ctx.principal.permissions.has('children:delete'),
    columns: [maskedIdentifiersColumn(ctx.trx)],
  });
  await logRestrictedRead(ctx, [row]);
  return ok(childToApi(row, row.maskedIdentifiers), row.version);
}

async function writeChild(
  ctx: TenantScope,
  before: Child,
  changes: PartialModelObject<Child>,
  action: string,
  identifiers: IdentifierInput[] = [],
): Promise<OperationResult> {
  const beforeApi = await present(ctx, before);
  await saveIdentifiers(ctx.trx, ctx.services.config.dataKey, ctx.tenantId, before.id, identifiers);
  const after = await patchVersioned(ctx.trx, Child, before, changes);
  const afterApi = await present(ctx, after);
  await ctx.audit({ action, entityType: 'child', entityId: before.id, before: beforeApi, after: afterApi });
  return ok(afterApi, after.version);
}

async function updateChild(ctx: TenantContext<'updateChild'>): Promise<OperationResult> {
  const input = ctx.body;
  const before = await findChild(ctx, ctx.params.childId, { lock: true });
  assertIfMatch(ctx.ifMatch, before.version);
  await checkChildInput(ctx, input);
  return writeChild(ctx, before, fieldsOf(input), 'child.updated', input.identifiers);
}

async function deleteChild(ctx: TenantContext<'deleteChild'>): Promise<OperationResult> {
  const before = await findChild(ctx, ctx.params.childId, { lock: true, allowDeleted: true });
  assertIfMatch(ctx.ifMatch, before.version);
  if (before.deletedAt) throw new Problem('conflict', 'The record is already deleted');
  return writeChild(ctx, before, { deletedAt: ctx.trx.fn.now(), deletedBy: actorId(ctx) }, 'child.deleted');
}

async function restoreChild(ctx: TenantContext<'restoreChild'>): Promise<OperationResult> {
  const before = await findChild(ctx, ctx.params.childId, { lock: true, allowDeleted: true });
  if (!before.deletedAt) throw new Problem('conflict', 'The record is not deleted');
  if (before.mergedInto)
    throw new Problem(
      'conflict',
      `The record was merged into ${before.mergedInto}; it is kept for its history, not restored`,
    );
  return writeChild(ctx, before, { deletedAt: null, deletedBy: null }, 'child.restored');
}

async function mergeChild(ctx: TenantContext<'mergeChild'>): Promise<OperationResult> {
  const { intoChildId } = ctx.body;
  if (intoChildId === ctx.params.childId)
    throw Problem.unprocessable([{ pointer: '/body/intoChildId', message: 'is the record being merged' }]);
  const duplicate = await findChild(ctx, ctx.params.childId, { lock: true });
  const survivorRow = await findChild(ctx, intoChildId, { lock: true, pointer: '/body/intoChildId' });
  const before = { duplicate: await present(ctx, duplicate), survivor: await present(ctx, survivorRow) };

  // What the survivor lacks moves to it: identifiers of kinds it has not, and named-user access.
  const held = new Set(
    (await ChildIdentifier.query(ctx.trx).where({ tenant_id: ctx.tenantId, child_id: intoChildId }).select('kind')).map(
      (r) => r.kind,
    ),
  );
  const moving = await ChildIdentifier.query(ctx.trx).where({ tenant_id: ctx.tenantId, child_id: duplicate.id });
  for (const identifier of moving) {
    if (held.has(identifier.kind)) continue;
    await ChildIdentifier.query(ctx.trx).insert({
      tenantId: ctx.tenantId,
      childId: intoChildId,
      kind: identifier.kind,
      valueSealed: identifier.valueSealed,
      valueDigest: identifier.valueDigest,
      lastFour: identifier.lastFour,
    });
  }
  await ChildIdentifier.query(ctx.trx).where({ tenant_id: ctx.tenantId, child_id: duplicate.id }).delete();
  if (duplicate.restricted || survivorRow.restricted) {
    const grants = await ChildAccessGrant.query(ctx.trx)
      .where({ tenant_id: ctx.tenantId, child_id: duplicate.id })
      .select('user_id');
    const existing = new Set(
      (
        await ChildAccessGrant.query(ctx.trx)
          .where({ tenant_id: ctx.tenantId, child_id: intoChildId })
          .select('user_id')
      ).map((g) => g.userId),
    );
    for (const grant of grants)
      if (!existing.has(grant.userId))
        await ChildAccessGrant.query(ctx.trx).insert({
          tenantId: ctx.tenantId,
          childId: intoChildId,
          userId: grant.userId,
        });
    // A restricted duplicate keeps the survivor restricted, so merging never widens who can read.
    if (duplicate.restricted && !survivorRow.restricted) {
      await Child.query(ctx.trx).where({ tenant_id: ctx.tenantId, id: intoChildId }).patch({ restricted: true });
    }
  }
  // Everything kept on the duplicate's case record (legal statuses, episodes, notes…) moves with it.
  const caseRecordsMoved = await moveCaseRecords(ctx, duplicate.id, intoChildId);
  // And what happened to the child (entered care, reviews held…), so the cycles count it for the survivor.
  const caseEventsMoved = await moveCaseEvents(ctx, 'child', duplicate.id, intoChildId);
  await patchVersioned(ctx.trx, Child, duplicate, {
    mergedInto: intoChildId,
    deletedAt: ctx.trx.fn.now(),
    deletedBy: actorId(ctx),
  });
  const survivor = await patchVersioned(ctx.trx, Child, survivorRow, {});
  const after = await present(ctx, survivor);
  // One event naming both records: each record's trail (by entity) keeps its own history and this.
  await ctx.audit({
    action: 'child.merged',
    entityType: 'child',
    entityId: duplicate.id,
    before,
    after: { mergedInto: intoChildId, survivor: after, caseRecordsMoved, caseEventsMoved },
  });
  return ok(after, survivor.version);
}

async function grantedUserIds(ctx: TenantScope, childId: string): Promise<string[]> {
  const rows = await ChildAccessGrant.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, child_id: childId })
    .orderBy('user_id')
    .select('user_id');
  return rows.map((r) => r.userId);
}

async function getChildRestriction(ctx: TenantContext<'getChildRestriction'>): Promise<OperationResult> {
  const row = await findChild(ctx, ctx.params.childId);
  return ok(
    { restricted: row.restricted, allowedUserIds: row.restricted ? await grantedUserIds(ctx, row.id) : [] },
    row.version,
  );
}

async function setChildRestriction(ctx: TenantContext<'setChildRestriction'>): Promise<OperationResult> {
  const body = ctx.body;
  if (ctx.principal.kind !== 'user') throw new Problem('forbidden', 'Only a named person can restrict a record');
  const before = await findChild(ctx, ctx.params.childId, { lock: true });
  assertIfMatch(ctx.ifMatch, before.version);
  const allowed = body.restricted ? body.allowedUserIds : [];
  const errors: FieldError[] = [];
  if (body.restricted && !allowed.includes(ctx.principal.id))
    errors.push({
      pointer: '/body/allowedUserIds',
      message: 'must include you, so the record is not locked away from everyone',
    });
  if (!body.restricted && body.allowedUserIds.length)
    errors.push({ pointer: '/body/allowedUserIds', message: 'must be empty when the record is not restricted' });
  if (allowed.length) {
    const found = new Set(
      (
        (await ctx
          .trx('users')
          .where({ tenant_id: ctx.tenantId, status: 'active' })
          .whereIn('id', allowed)
          .select('id')) as Array<{ id: string }>
      ).map((r) => r.id),
    );
    allowed.forEach((id, i) => {
      if (!found.has(id))
        errors.push({ pointer: `/body/allowedUserIds/${i}`, message: 'is not an active user of this tenant' });
    });
  }
  if (errors.length) throw Problem.unprocessable(errors);

  const beforeIds = before.restricted ? await grantedUserIds(ctx, before.id) : [];
  await ChildAccessGrant.query(ctx.trx).where({ tenant_id: ctx.tenantId, child_id: before.id }).delete();
  if (allowed.length)
    await ChildAccessGrant.query(ctx.trx).insert(
      allowed.map((userId) => ({ tenantId: ctx.tenantId, childId: before.id, userId })),
    );
  const after = await patchVersioned(ctx.trx, Child, before, { restricted: body.restricted });
  const result = { restricted: body.restricted, allowedUserIds: [...allowed].sort() };
  await ctx.audit({
    action: 'child.restriction_changed',
    entityType: 'child',
    entityId: before.id,
    before: { restricted: before.restricted, allowedUserIds: beforeIds },
    after: result,
  });
  return ok(result, after.version);
}

export const childOperations = defineOperations({
  listChildren: { access: { permission: 'children:read' }, handle: listChildren },
  createChild: { access: { permission: 'children:create' }, handle: createChild },
  getChild: { access: { permission: 'children:read' }, handle: getChild },
  updateChild: { access: { permission: 'children:update' }, handle: updateChild },
  deleteChild: { access: { permission: 'children:delete' }, handle: deleteChild },
  restoreChild: { access: { permission: 'children:delete' }, handle: restoreChild },
  mergeChild: { access: { permission: 'children:delete' }, handle: mergeChild },
  getChildRestriction: { access: { permission: 'children:restrict' }, handle: getChildRestriction },
  setChildRestriction: { access: { permission: 'children:restrict' }, handle: setChildRestriction },
});
