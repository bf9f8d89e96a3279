import type { PartialModelObject, QueryBuilder } from 'objection';
import type { OperationContext, OperationMap, OperationResult, Principal } from '../../http/operation';
import { assertIfMatch, etagOf } from '../../http/etag';
import { decodeCursor, toPage } from '../../http/pagination';
import { Problem, type FieldError } from '../../http/problem';
import { newId } from '../../ids';
import { iso } from '../../time';
import { lookupCodeErrors } from '../lookups/service';
import { Child, ChildAccessGrant } from './models';

type ChildInput = Partial<Pick<Child, 'givenName' | 'familyName' | 'preferredName' | 'dateOfBirth' | 'sex' | 'ethnicity' | 'status' | 'allocatedWorkerId'>>;

const INPUT_FIELDS = ['givenName', 'familyName', 'preferredName', 'dateOfBirth', 'sex', 'ethnicity', 'status', 'allocatedWorkerId'] as const;

function childToApi(row: Child) {
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
    restricted: row.restricted,
    version: row.version,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
    deletedAt: iso(row.deletedAt),
    deletedBy: row.deletedBy,
  };
}

/** Only the fields a caller may set; the contract has already refused any other. */
function fieldsOf(input: ChildInput): ChildInput {
  const out: Record<string, unknown> = {};
  for (const field of INPUT_FIELDS) if (input[field] !== undefined) out[field] = input[field];
  return out as ChildInput;
}

/** Today's date where the tenant is: a child born "today" in London may still be "tomorrow" in UTC. */
async function todayInTenant(ctx: OperationContext): Promise<string> {
  const row = (await ctx.trx('tenants').where({ id: ctx.tenantId }).first('time_zone')) as { time_zone: string };
  return new Intl.DateTimeFormat('en-CA', { timeZone: row.time_zone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
}

/** Rules the schema cannot say: codes from the tenant's lists, a worker who exists, no birth in the future. */
async function checkChildInput(ctx: OperationContext, input: ChildInput): Promise<void> {
  const errors: FieldError[] = await lookupCodeErrors(ctx.trx, ctx.tenantId!, [
    { list: 'sex', code: input.sex, pointer: '/body/sex' },
    { list: 'ethnicity', code: input.ethnicity, pointer: '/body/ethnicity' },
  ]);
  if (input.dateOfBirth !== undefined && input.dateOfBirth > (await todayInTenant(ctx))) errors.push({ pointer: '/body/dateOfBirth', message: 'is in the future' });
  if (input.allocatedWorkerId) {
    const worker = await ctx.trx('users').where({ tenant_id: ctx.tenantId, id: input.allocatedWorkerId, status: 'active' }).first('id');
    if (!worker) errors.push({ pointer: '/body/allocatedWorkerId', message: 'is not an active user of this tenant' });
  }
  if (errors.length) throw Problem.unprocessable(errors);
}

/** Restricted records are visible only to the users named on them; to anyone else they do not exist. */
function visibleChildren(ctx: OperationContext): QueryBuilder<Child> {
  const principal: Principal = ctx.principal!;
  return Child.query(ctx.trx)
    .alias('c')
    .where('c.tenant_id', ctx.tenantId!)
    .where((w) => {
      w.where('c.restricted', false);
      if (principal.kind === 'user') {
        w.orWhereExists(ChildAccessGrant.query(ctx.trx).alias('g').whereColumn('g.tenant_id', 'c.tenant_id').whereColumn('g.child_id', 'c.id').where('g.user_id', principal.id));
      }
    });
}

async function findChild(ctx: OperationContext, options: { lock?: boolean; allowDeleted?: boolean } = {}): Promise<Child> {
  const query = visibleChildren(ctx).where('c.id', ctx.params.childId!).select('c.*').first();
  if (options.lock) query.forUpdate();
  const row = await query;
  if (!row || (row.deletedAt && !options.allowDeleted)) throw Problem.notFound('The child');
  return row;
}

async function logRestrictedRead(ctx: OperationContext, rows: Child[]): Promise<void> {
  for (const row of rows) if (row.restricted) await ctx.audit({ action: 'child.restricted_read', entityType: 'child', entityId: row.id });
}

async function listChildren(ctx: OperationContext): Promise<OperationResult> {
  const q = ctx.query as { limit: number; cursor?: string; status?: string; allocatedWorkerId?: string; q?: string; bornFrom?: string; bornTo?: string; includeDeleted?: boolean };
  if (q.includeDeleted && !ctx.principal!.permissions.has('children:delete')) {
    throw new Problem('forbidden', 'Listing deleted records needs the permission children:delete');
  }
  const after = decodeCursor(q.cursor, 1);
  const query = visibleChildren(ctx).select('c.*').orderBy('c.id').limit(q.limit + 1);
  if (after) query.where('c.id', '>', after[0] as string);
  if (!q.includeDeleted) query.whereNull('c.deleted_at');
  if (q.status) query.where('c.status', q.status);
  if (q.allocatedWorkerId) query.where('c.allocated_worker_id', q.allocatedWorkerId);
  if (q.bornFrom) query.where('c.date_of_birth', '>=', q.bornFrom);
  if (q.bornTo) query.where('c.date_of_birth', '<=', q.bornTo);
  if (q.q) {
    const like = `%${q.q.replace(/[\\%_]/g, '\\$&')}%`;
    query.where((w) => w.where('c.given_name', 'ilike', like).orWhere('c.family_name', 'ilike', like).orWhere('c.preferred_name', 'ilike', like));
  }
  const rows = await query;
  const page = toPage(rows, q.limit, (r) => [r.id], childToApi);
  await logRestrictedRead(ctx, rows.slice(0, q.limit));
  return { status: 200, body: page };
}

async function createChild(ctx: OperationContext): Promise<OperationResult> {
  const input = ctx.body as ChildInput;
  await checkChildInput(ctx, input);
  const row = await Child.query(ctx.trx)
    .insert({ tenantId: ctx.tenantId!, id: newId(), status: 'referred', ...fieldsOf(input), createdBy: ctx.principal!.id })
    .returning('*');
  const child = childToApi(row);
  await ctx.audit({ action: 'child.created', entityType: 'child', entityId: child.id, after: child });
  return { status: 201, body: child, headers: { ETag: etagOf(row.version), Location: `/v1/children/${child.id}` } };
}

async function getChild(ctx: OperationContext): Promise<OperationResult> {
  const row = await findChild(ctx, { allowDeleted: ctx.principal!.permissions.has('children:delete') });
  await logRestrictedRead(ctx, [row]);
  return { status: 200, body: childToApi(row), headers: { ETag: etagOf(row.version) } };
}

async function writeChild(ctx: OperationContext, before: Child, changes: PartialModelObject<Child>, action: string): Promise<OperationResult> {
  const [after] = await Child.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId!, id: before.id })
    .patch({ ...changes, version: before.version + 1, updatedAt: ctx.trx.fn.now() })
    .returning('*');
  await ctx.audit({ action, entityType: 'child', entityId: before.id, before: childToApi(before), after: childToApi(after!) });
  return { status: 200, body: childToApi(after!), headers: { ETag: etagOf(after!.version) } };
}

async function updateChild(ctx: OperationContext): Promise<OperationResult> {
  const input = ctx.body as ChildInput;
  const before = await findChild(ctx, { lock: true });
  assertIfMatch(ctx.ifMatch, before.version);
  await checkChildInput(ctx, input);
  return writeChild(ctx, before, fieldsOf(input), 'child.updated');
}

async function deleteChild(ctx: OperationContext): Promise<OperationResult> {
  const before = await findChild(ctx, { lock: true, allowDeleted: true });
  assertIfMatch(ctx.ifMatch, before.version);
  if (before.deletedAt) throw new Problem('conflict', 'The record is already deleted');
  return writeChild(ctx, before, { deletedAt: ctx.trx.fn.now(), deletedBy: ctx.principal!.kind === 'user' ? ctx.principal!.id : null }, 'child.deleted');
}

async function restoreChild(ctx: OperationContext): Promise<OperationResult> {
  const before = await findChild(ctx, { lock: true, allowDeleted: true });
  if (!before.deletedAt) throw new Problem('conflict', 'The record is not deleted');
  return writeChild(ctx, before, { deletedAt: null, deletedBy: null }, 'child.restored');
}

async function grantedUserIds(ctx: OperationContext, childId: string): Promise<string[]> {
  const rows = await ChildAccessGrant.query(ctx.trx).where({ tenant_id: ctx.tenantId!, child_id: childId }).orderBy('user_id').select('user_id');
  return rows.map((r) => r.userId);
}

async function getChildRestriction(ctx: OperationContext): Promise<OperationResult> {
  const row = await findChild(ctx);
  return { status: 200, body: { restricted: row.restricted, allowedUserIds: row.restricted ? await grantedUserIds(ctx, row.id) : [] }, headers: { ETag: etagOf(row.version) } };
}

async function setChildRestriction(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as { restricted: boolean; allowedUserIds: string[] };
  if (ctx.principal!.kind !== 'user') throw new Problem('forbidden', 'Only a named person can restrict a record');
  const before = await findChild(ctx, { lock: true });
  assertIfMatch(ctx.ifMatch, before.version);
  const allowed = body.restricted ? body.allowedUserIds : [];
  const errors: FieldError[] = [];
  if (body.restricted && !allowed.includes(ctx.principal!.id)) errors.push({ pointer: '/body/allowedUserIds', message: 'must include you, so the record is not locked away from everyone' });
  if (!body.restricted && body.allowedUserIds.length) errors.push({ pointer: '/body/allowedUserIds', message: 'must be empty when the record is not restricted' });
  if (allowed.length) {
    const found = new Set(((await ctx.trx('users').where({ tenant_id: ctx.tenantId, status: 'active' }).whereIn('id', allowed).select('id')) as Array<{ id: string }>).map((r) => r.id));
    allowed.forEach((id, i) => {
      if (!found.has(id)) errors.push({ pointer: `/body/allowedUserIds/${i}`, message: 'is not an active user of this tenant' });
    });
  }
  if (errors.length) throw Problem.unprocessable(errors);

  const beforeIds = before.restricted ? await grantedUserIds(ctx, before.id) : [];
  await ChildAccessGrant.query(ctx.trx).where({ tenant_id: ctx.tenantId!, child_id: before.id }).delete();
  if (allowed.length) await ChildAccessGrant.query(ctx.trx).insert(allowed.map((userId) => ({ tenantId: ctx.tenantId!, childId: before.id, userId })));
  const [after] = await Child.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId!, id: before.id })
    .patch({ restricted: body.restricted, version: before.version + 1, updatedAt: ctx.trx.fn.now() })
    .returning('version');
  const result = { restricted: body.restricted, allowedUserIds: [...allowed].sort() };
  await ctx.audit({ action: 'child.restriction_changed', entityType: 'child', entityId: before.id, before: { restricted: before.restricted, allowedUserIds: beforeIds }, after: result });
  return { status: 200, body: result, headers: { ETag: etagOf(after!.version) } };
}

export const childOperations: OperationMap = {
  listChildren: { access: { permission: 'children:read' }, handle: listChildren },
  createChild: { access: { permission: 'children:create' }, handle: createChild },
  getChild: { access: { permission: 'children:read' }, handle: getChild },
  updateChild: { access: { permission: 'children:update' }, handle: updateChild },
  deleteChild: { access: { permission: 'children:delete' }, handle: deleteChild },
  restoreChild: { access: { permission: 'children:delete' }, handle: restoreChild },
  getChildRestriction: { access: { permission: 'children:restrict' }, handle: getChildRestriction },
  setChildRestriction: { access: { permission: 'children:restrict' }, handle: setChildRestriction },
};
