import { PERMISSIONS } from '../../access/permissions';
import type { OperationContext, OperationMap, OperationResult } from '../../http/operation';
import { assertIfMatch, etagOf } from '../../http/etag';
import { decodeCursor, toPage } from '../../http/pagination';
import { Problem } from '../../http/problem';
import { newId } from '../../ids';
import { iso } from '../../time';
import { grantErrors, type RoleRow } from './service';

function roleToApi(row: RoleRow) {
  return {
    id: row.id,
    key: row.key,
    name: row.name,
    description: row.description,
    system: row.system,
    permissions: [...row.permissions].sort(),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

async function findRole(ctx: OperationContext, forUpdate = false): Promise<RoleRow> {
  const query = ctx.trx('roles').where({ tenant_id: ctx.tenantId, id: ctx.params.roleId });
  const row = (await (forUpdate ? query.forUpdate() : query).first()) as RoleRow | undefined;
  if (!row) throw Problem.notFound('The role');
  return row;
}

async function listPermissions(): Promise<OperationResult> {
  return { status: 200, body: { data: Object.entries(PERMISSIONS).map(([key, description]) => ({ key, description })) } };
}

async function listRoles(ctx: OperationContext): Promise<OperationResult> {
  const limit = ctx.query.limit as number;
  const after = decodeCursor(ctx.query.cursor as string | undefined, 1);
  const query = ctx.trx('roles').where({ tenant_id: ctx.tenantId }).orderBy('key').limit(limit + 1);
  if (after) query.where('key', '>', after[0] as string);
  const rows = (await query) as RoleRow[];
  return { status: 200, body: toPage(rows, limit, (r) => [r.key], roleToApi) };
}

async function createRole(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as { key: string; name: string; permissions: string[] };
  const errors = grantErrors(ctx.principal!, body.permissions, '/body/permissions');
  if (errors.length) throw Problem.unprocessable(errors);
  const existing = await ctx.trx('roles').where({ tenant_id: ctx.tenantId, key: body.key }).first('id');
  if (existing) throw new Problem('conflict', `A role "${body.key}" exists`, { errors: [{ pointer: '/body/key', message: 'is already taken' }] });
  const [row] = (await ctx.trx('roles')
    .insert({ tenant_id: ctx.tenantId, id: newId(), key: body.key, name: body.name, system: false, permissions: body.permissions })
    .returning('*')) as RoleRow[];
  await ctx.audit({ action: 'role.created', entityType: 'role', entityId: row!.id, after: roleToApi(row!) });
  return { status: 201, body: roleToApi(row!), headers: { ETag: etagOf(row!.version), Location: `/v1/roles/${row!.id}` } };
}

async function getRole(ctx: OperationContext): Promise<OperationResult> {
  const row = await findRole(ctx);
  return { status: 200, body: roleToApi(row), headers: { ETag: etagOf(row.version) } };
}

async function updateRole(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as { name?: string; permissions?: string[] };
  const before = await findRole(ctx, true);
  assertIfMatch(ctx.ifMatch, before.version);
  if (before.system) throw new Problem('conflict', 'System roles are fixed; create a role of your own instead');
  if (body.permissions) {
    const errors = grantErrors(ctx.principal!, body.permissions, '/body/permissions');
    if (errors.length) throw Problem.unprocessable(errors);
  }
  const [after] = (await ctx.trx('roles')
    .where({ tenant_id: ctx.tenantId, id: before.id })
    .update({ name: body.name ?? before.name, permissions: body.permissions ?? before.permissions, version: before.version + 1, updated_at: ctx.trx.fn.now() })
    .returning('*')) as RoleRow[];
  await ctx.audit({ action: 'role.updated', entityType: 'role', entityId: before.id, before: roleToApi(before), after: roleToApi(after!) });
  return { status: 200, body: roleToApi(after!), headers: { ETag: etagOf(after!.version) } };
}

export const roleOperations: OperationMap = {
  listPermissions: { access: { permission: 'roles:read' }, handle: listPermissions },
  listRoles: { access: { permission: 'roles:read' }, handle: listRoles },
  createRole: { access: { permission: 'roles:manage' }, handle: createRole },
  getRole: { access: { permission: 'roles:read' }, handle: getRole },
  updateRole: { access: { permission: 'roles:manage' }, handle: updateRole },
};
