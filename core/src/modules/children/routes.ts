import type { Knex } from 'knex';
import type { OperationContext, OperationMap, OperationResult, Principal } from '../../http/operation';
import { assertIfMatch, etagOf } from '../../http/etag';
import { decodeCursor, toPage } from '../../http/pagination';
import { Problem, type FieldError } from '../../http/problem';
import { newId } from '../../ids';
import { iso } from '../../time';
import { lookupCodeErrors } from '../lookups/service';

interface ChildRow {
  id: string;
  given_name: string;
  family_name: string;
  preferred_name: string | null;
  date_of_birth: string;
  sex: string;
  ethnicity: string | null;
  status: 'referred' | 'in_care' | 'left_care';
  allocated_worker_id: string | null;
  restricted: boolean;
  version: number;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
  deleted_by: string | null;
}

interface ChildInput {
  givenName?: string;
  familyName?: string;
  preferredName?: string | null;
  dateOfBirth?: string;
  sex?: string;
  ethnicity?: string | null;
  status?: ChildRow['status'];
  allocatedWorkerId?: string | null;
}

function childToApi(row: ChildRow) {
  return {
    id: row.id,
    givenName: row.given_name,
    familyName: row.family_name,
    preferredName: row.preferred_name,
    dateOfBirth: row.date_of_birth,
    sex: row.sex,
    ethnicity: row.ethnicity,
    status: row.status,
    allocatedWorkerId: row.allocated_worker_id,
    restricted: row.restricted,
    version: row.version,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
    deletedAt: iso(row.deleted_at),
    deletedBy: row.deleted_by,
  };
}

function columnsOf(input: ChildInput): Record<string, unknown> {
  const map: Array<[keyof ChildInput, string]> = [
    ['givenName', 'given_name'],
    ['familyName', 'family_name'],
    ['preferredName', 'preferred_name'],
    ['dateOfBirth', 'date_of_birth'],
    ['sex', 'sex'],
    ['ethnicity', 'ethnicity'],
    ['status', 'status'],
    ['allocatedWorkerId', 'allocated_worker_id'],
  ];
  const out: Record<string, unknown> = {};
  for (const [field, column] of map) if (input[field] !== undefined) out[column] = input[field];
  return out;
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
function visibleTo(query: Knex.QueryBuilder, trx: Knex.Transaction, principal: Principal): Knex.QueryBuilder {
  return query.where((w) => {
    w.where('c.restricted', false);
    if (principal.kind === 'user') {
      w.orWhereExists(trx('child_access_grants as g').whereRaw('g.tenant_id = c.tenant_id AND g.child_id = c.id').where('g.user_id', principal.id));
    }
  });
}

async function findChild(ctx: OperationContext, options: { lock?: boolean; allowDeleted?: boolean } = {}): Promise<ChildRow> {
  const query = visibleTo(ctx.trx('children as c').where({ 'c.tenant_id': ctx.tenantId, 'c.id': ctx.params.childId }), ctx.trx, ctx.principal!).first('c.*');
  if (options.lock) query.forUpdate();
  const row = (await query) as ChildRow | undefined;
  if (!row || (row.deleted_at && !options.allowDeleted)) throw Problem.notFound('The child');
  return row;
}

async function logRestrictedRead(ctx: OperationContext, rows: ChildRow[]): Promise<void> {
  for (const row of rows) if (row.restricted) await ctx.audit({ action: 'child.restricted_read', entityType: 'child', entityId: row.id });
}

async function listChildren(ctx: OperationContext): Promise<OperationResult> {
  const q = ctx.query as { limit: number; cursor?: string; status?: string; allocatedWorkerId?: string; q?: string; bornFrom?: string; bornTo?: string; includeDeleted?: boolean };
  if (q.includeDeleted && !ctx.principal!.permissions.has('children:delete')) {
    throw new Problem('forbidden', 'Listing deleted records needs the permission children:delete');
  }
  const after = decodeCursor(q.cursor, 1);
  const query = visibleTo(ctx.trx('children as c').where('c.tenant_id', ctx.tenantId), ctx.trx, ctx.principal!).select('c.*').orderBy('c.id').limit(q.limit + 1);
  if (after) query.where('c.id', '>', after[0] as string);
  if (!q.includeDeleted) query.whereNull('c.deleted_at');
  if (q.status) query.where('c.status', q.status);
  if (q.allocatedWorkerId) query.where('c.allocated_worker_id', q.allocatedWorkerId);
  if (q.bornFrom) query.where('c.date_of_birth', '>=', q.bornFrom);
  if (q.bornTo) query.where('c.date_of_birth', '<=', q.bornTo);
  if (q.q) {
    const like = `%${q.q.replace(/[\\%_]/g, '\\$&')}%`;
    query.where((w) => w.whereILike('c.given_name', like).orWhereILike('c.family_name', like).orWhereILike('c.preferred_name', like));
  }
  const rows = (await query) as ChildRow[];
  const page = toPage(rows, q.limit, (r) => [r.id], childToApi);
  await logRestrictedRead(ctx, rows.slice(0, q.limit));
  return { status: 200, body: page };
}

async function createChild(ctx: OperationContext): Promise<OperationResult> {
  const input = ctx.body as ChildInput;
  await checkChildInput(ctx, input);
  const [row] = (await ctx.trx('children')
    .insert({ tenant_id: ctx.tenantId, id: newId(), status: 'referred', ...columnsOf(input), created_by: ctx.principal!.id })
    .returning('*')) as ChildRow[];
  const child = childToApi(row!);
  await ctx.audit({ action: 'child.created', entityType: 'child', entityId: child.id, after: child });
  return { status: 201, body: child, headers: { ETag: etagOf(row!.version), Location: `/v1/children/${child.id}` } };
}

async function getChild(ctx: OperationContext): Promise<OperationResult> {
  const row = await findChild(ctx, { allowDeleted: ctx.principal!.permissions.has('children:delete') });
  await logRestrictedRead(ctx, [row]);
  return { status: 200, body: childToApi(row), headers: { ETag: etagOf(row.version) } };
}

async function writeChild(ctx: OperationContext, before: ChildRow, changes: Record<string, unknown>, action: string): Promise<OperationResult> {
  const [after] = (await ctx.trx('children')
    .where({ tenant_id: ctx.tenantId, id: before.id })
    .update({ ...changes, version: before.version + 1, updated_at: ctx.trx.fn.now() })
    .returning('*')) as ChildRow[];
  await ctx.audit({ action, entityType: 'child', entityId: before.id, before: childToApi(before), after: childToApi(after!) });
  return { status: 200, body: childToApi(after!), headers: { ETag: etagOf(after!.version) } };
}

async function updateChild(ctx: OperationContext): Promise<OperationResult> {
  const input = ctx.body as ChildInput;
  const before = await findChild(ctx, { lock: true });
  assertIfMatch(ctx.ifMatch, before.version);
  await checkChildInput(ctx, input);
  return writeChild(ctx, before, columnsOf(input), 'child.updated');
}

async function deleteChild(ctx: OperationContext): Promise<OperationResult> {
  const before = await findChild(ctx, { lock: true, allowDeleted: true });
  assertIfMatch(ctx.ifMatch, before.version);
  if (before.deleted_at) throw new Problem('conflict', 'The record is already deleted');
  return writeChild(ctx, before, { deleted_at: ctx.trx.fn.now(), deleted_by: ctx.principal!.kind === 'user' ? ctx.principal!.id : null }, 'child.deleted');
}

async function restoreChild(ctx: OperationContext): Promise<OperationResult> {
  const before = await findChild(ctx, { lock: true, allowDeleted: true });
  if (!before.deleted_at) throw new Problem('conflict', 'The record is not deleted');
  return writeChild(ctx, before, { deleted_at: null, deleted_by: null }, 'child.restored');
}

async function grantedUserIds(ctx: OperationContext, childId: string): Promise<string[]> {
  const rows = (await ctx.trx('child_access_grants').where({ tenant_id: ctx.tenantId, child_id: childId }).orderBy('user_id').select('user_id')) as Array<{ user_id: string }>;
  return rows.map((r) => r.user_id);
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
  await ctx.trx('child_access_grants').where({ tenant_id: ctx.tenantId, child_id: before.id }).delete();
  if (allowed.length) await ctx.trx('child_access_grants').insert(allowed.map((userId) => ({ tenant_id: ctx.tenantId, child_id: before.id, user_id: userId })));
  const [after] = (await ctx.trx('children')
    .where({ tenant_id: ctx.tenantId, id: before.id })
    .update({ restricted: body.restricted, version: before.version + 1, updated_at: ctx.trx.fn.now() })
    .returning('version')) as Array<{ version: number }>;
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
