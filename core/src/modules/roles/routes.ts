import { PERMISSIONS } from '../../access/permissions';
import { keysetPage } from '../../db/keyset';
import { patchVersioned } from '../../db/versioned';
import { defineOperations, type OperationResult, type TenantContext } from '../../http/operation';
import { assertIfMatch } from '../../http/etag';
import { created, ok } from '../../http/results';
import { Problem } from '../../http/problem';
import { newId } from '../../ids';
import { iso } from '../../time';
import { Role } from './models';
import { findRole, grantErrors } from './service';

function roleToApi(row: Role) {
  return {
    id: row.id,
    key: row.key,
    name: row.name,
    description: row.description,
    system: row.system,
    permissions: [...row.permissions].sort(),
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
  };
}

async function listPermissions(): Promise<OperationResult> {
  return ok({ data: Object.entries(PERMISSIONS).map(([key, description]) => ({ key, description })) });
}

async function listRoles(ctx: TenantContext<'listRoles'>): Promise<OperationResult> {
  const query = Role.query(ctx.trx).where({ tenant_id: ctx.tenantId });
  const page = await keysetPage(query, ctx.query, [{ column: 'key', of: (r) => r.key }], roleToApi);
  return ok({ data: page.data, nextCursor: page.nextCursor });
}

async function createRole(ctx: TenantContext<'createRole'>): Promise<OperationResult> {
  const body = ctx.body;
  const errors = grantErrors(ctx.principal, body.permissions, '/body/permissions');
  if (errors.length) throw Problem.unprocessable(errors);
  const existing = await Role.query(ctx.trx).where({ tenant_id: ctx.tenantId, key: body.key }).first().select('id');
  if (existing)
    throw new Problem('conflict', `A role "${body.key}" exists`, {
      errors: [{ pointer: '/body/key', message: 'is already taken' }],
    });
  const row = await Role.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      id: newId(),
      key: body.key,
      name: body.name,
      system: false,
      permissions: body.permissions,
    })
    .returning('*');
  await ctx.audit({ action: 'role.created', entityType: 'role', entityId: row.id, after: roleToApi(row) });
  return created(roleToApi(row), { location: `/v1/roles/${row.id}`, version: row.version });
}

async function getRole(ctx: TenantContext<'getRole'>): Promise<OperationResult> {
  const row = await findRole(ctx, ctx.params.roleId);
  return ok(roleToApi(row), row.version);
}

async function updateRole(ctx: TenantContext<'updateRole'>): Promise<OperationResult> {
  const body = ctx.body;
  const before = await findRole(ctx, ctx.params.roleId, { lock: true });
  assertIfMatch(ctx.ifMatch, before.version);
  if (before.system) throw new Problem('conflict', 'System roles are fixed; create a role of your own instead');
  if (body.permissions) {
    const errors = grantErrors(ctx.principal, body.permissions, '/body/permissions');
    if (errors.length) throw Problem.unprocessable(errors);
  }
  const after = await patchVersioned(ctx.trx, Role, before, {
    name: body.name ?? before.name,
    permissions: body.permissions ?? before.permissions,
  });
  await ctx.audit({
    action: 'role.updated',
    entityType: 'role',
    entityId: before.id,
    before: roleToApi(before),
    after: roleToApi(after),
  });
  return ok(roleToApi(after), after.version);
}

export const roleOperations = defineOperations({
  listPermissions: { access: { permission: 'roles:read' }, handle: listPermissions },
  listRoles: { access: { permission: 'roles:read' }, handle: listRoles },
  createRole: { access: { permission: 'roles:manage' }, handle: createRole },
  getRole: { access: { permission: 'roles:read' }, handle: getRole },
  updateRole: { access: { permission: 'roles:manage' }, handle: updateRole },
});
