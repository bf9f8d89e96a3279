import type { Knex } from 'knex';
import { hashPassword } from '../../auth/passwords';
import type { OperationContext, OperationMap, OperationResult } from '../../http/operation';
import { assertIfMatch, etagOf } from '../../http/etag';
import { decodeCursor, toPage } from '../../http/pagination';
import { Problem, type FieldError } from '../../http/problem';
import { newId } from '../../ids';
import { iso } from '../../time';
import { issuePasswordToken } from '../auth/passwordTokens';
import { revokeSessions } from '../auth/sessions';
import { grantErrors, rolesByKey } from '../roles/service';

interface UserRow {
  id: string;
  email: string;
  display_name: string;
  status: 'active' | 'disabled';
  mfa_enabled: boolean;
  locked_until: Date | null;
  version: number;
  created_at: Date;
  updated_at: Date;
  roles: string[];
}

const USER_COLUMNS = ['u.id', 'u.email', 'u.display_name', 'u.status', 'u.mfa_enabled', 'u.locked_until', 'u.version', 'u.created_at', 'u.updated_at'];

function usersWithRoles(trx: Knex.Transaction, tenantId: string): Knex.QueryBuilder {
  return trx('users as u')
    .where('u.tenant_id', tenantId)
    .select(
      ...USER_COLUMNS,
      trx.raw(
        `coalesce((SELECT array_agg(r.key ORDER BY r.key) FROM user_roles ur JOIN roles r ON r.tenant_id = ur.tenant_id AND r.id = ur.role_id
           WHERE ur.tenant_id = u.tenant_id AND ur.user_id = u.id), '{}') AS roles`,
      ),
    );
}

function userToApi(row: UserRow) {
  const locked = row.locked_until && new Date(row.locked_until).getTime() > Date.now() ? iso(row.locked_until) : null;
  return {
    id: row.id,
    email: row.email,
    displayName: row.display_name,
    roles: row.roles,
    status: row.status,
    mfaEnabled: row.mfa_enabled,
    lockedUntil: locked,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

async function findUser(ctx: OperationContext, lock = false): Promise<UserRow> {
  if (lock) await ctx.trx('users').where({ tenant_id: ctx.tenantId, id: ctx.params.userId }).forUpdate().first('id');
  const row = (await usersWithRoles(ctx.trx, ctx.tenantId!).where('u.id', ctx.params.userId).first()) as UserRow | undefined;
  if (!row) throw Problem.notFound('The user');
  return row;
}

/** Resolves role keys, refusing unknown roles and roles carrying permissions the actor lacks. */
async function roleIdsFor(ctx: OperationContext, keys: string[]): Promise<string[]> {
  const roles = await rolesByKey(ctx.trx, ctx.tenantId!, keys);
  const errors: FieldError[] = [];
  keys.forEach((key, i) => {
    const role = roles.get(key);
    if (!role) errors.push({ pointer: `/body/roles/${i}`, message: 'is not a role of this tenant' });
    else if (grantErrors(ctx.principal!, role.permissions, '').length) errors.push({ pointer: `/body/roles/${i}`, message: 'grants permissions you do not hold' });
  });
  if (errors.length) throw Problem.unprocessable(errors);
  return keys.map((k) => roles.get(k)!.id);
}

async function listUsers(ctx: OperationContext): Promise<OperationResult> {
  const limit = ctx.query.limit as number;
  const after = decodeCursor(ctx.query.cursor as string | undefined, 1);
  const query = usersWithRoles(ctx.trx, ctx.tenantId!).orderBy('u.id').limit(limit + 1);
  if (after) query.where('u.id', '>', after[0] as string);
  if (ctx.query.status) query.where('u.status', ctx.query.status as string);
  if (ctx.query.q) {
    const like = `%${String(ctx.query.q).replace(/[\\%_]/g, '\\$&')}%`;
    query.where((w) => w.whereILike('u.email', like).orWhereILike('u.display_name', like));
  }
  if (ctx.query.role) {
    query.whereExists(
      ctx.trx('user_roles as ur')
        .join('roles as r', function joinRoles() {
          this.on('r.tenant_id', 'ur.tenant_id').andOn('r.id', 'ur.role_id');
        })
        .whereRaw('ur.tenant_id = u.tenant_id AND ur.user_id = u.id')
        .where('r.key', ctx.query.role as string),
    );
  }
  const rows = (await query) as UserRow[];
  return { status: 200, body: toPage(rows, limit, (r) => [r.id], userToApi) };
}

async function createUser(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as { email: string; displayName: string; roles: string[]; password?: string };
  const roleIds = await roleIdsFor(ctx, body.roles);
  const taken = await ctx.trx('users').where({ tenant_id: ctx.tenantId }).whereRaw('lower(email) = lower(?)', [body.email]).first('id');
  if (taken) throw new Problem('conflict', 'A user with this email exists', { errors: [{ pointer: '/body/email', message: 'is already taken' }] });
  const id = newId();
  await ctx.trx('users').insert({
    tenant_id: ctx.tenantId,
    id,
    email: body.email,
    display_name: body.displayName,
    password_hash: body.password ? await hashPassword(body.password) : null,
  });
  await ctx.trx('user_roles').insert(roleIds.map((roleId) => ({ tenant_id: ctx.tenantId, user_id: id, role_id: roleId })));
  if (!body.password) {
    await issuePasswordToken(ctx.trx, { tenantId: ctx.tenantId!, userId: id, email: body.email, purpose: 'invite', tenantSlug: ctx.principal!.tenantSlug });
  }
  const row = (await usersWithRoles(ctx.trx, ctx.tenantId!).where('u.id', id).first()) as UserRow;
  await ctx.audit({ action: 'user.created', entityType: 'user', entityId: id, after: { ...userToApi(row), invited: !body.password } });
  return { status: 201, body: userToApi(row), headers: { ETag: etagOf(row.version), Location: `/v1/users/${id}` } };
}

async function getUser(ctx: OperationContext): Promise<OperationResult> {
  const row = await findUser(ctx);
  return { status: 200, body: userToApi(row), headers: { ETag: etagOf(row.version) } };
}

async function updateUser(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as { displayName?: string; roles?: string[]; status?: 'active' | 'disabled' };
  const before = await findUser(ctx, true);
  assertIfMatch(ctx.ifMatch, before.version);
  const self = ctx.principal!.kind === 'user' && ctx.principal!.id === before.id;
  if (self && body.status === 'disabled') throw Problem.unprocessable([{ pointer: '/body/status', message: 'you cannot disable your own account' }]);
  if (self && body.roles) throw Problem.unprocessable([{ pointer: '/body/roles', message: 'you cannot change your own roles' }]);
  // Taking roles away is also a grant decision: the actor must hold what the user held.
  if (body.roles) {
    const current = await rolesByKey(ctx.trx, ctx.tenantId!, before.roles);
    if ([...current.values()].some((r) => grantErrors(ctx.principal!, r.permissions, '').length)) {
      throw new Problem('forbidden', 'This user holds permissions you do not; only someone who holds them can change their roles');
    }
    const roleIds = await roleIdsFor(ctx, body.roles);
    await ctx.trx('user_roles').where({ tenant_id: ctx.tenantId, user_id: before.id }).delete();
    await ctx.trx('user_roles').insert(roleIds.map((roleId) => ({ tenant_id: ctx.tenantId, user_id: before.id, role_id: roleId })));
  }
  const changes: Record<string, unknown> = { version: before.version + 1, updated_at: ctx.trx.fn.now() };
  if (body.displayName !== undefined) changes.display_name = body.displayName;
  if (body.status !== undefined) changes.status = body.status;
  await ctx.trx('users').where({ tenant_id: ctx.tenantId, id: before.id }).update(changes);
  // Roles are read afresh on every request; a disabled user is also refused there, and losing the
  // sessions too means no refresh token outlives the decision.
  if (body.status === 'disabled') await revokeSessions(ctx.trx, ctx.tenantId!, before.id);
  const after = (await usersWithRoles(ctx.trx, ctx.tenantId!).where('u.id', before.id).first()) as UserRow;
  await ctx.audit({ action: 'user.updated', entityType: 'user', entityId: before.id, before: userToApi(before), after: userToApi(after) });
  return { status: 200, body: userToApi(after), headers: { ETag: etagOf(after.version) } };
}

async function unlockUser(ctx: OperationContext): Promise<OperationResult> {
  const before = await findUser(ctx, true);
  await ctx.trx('users').where({ tenant_id: ctx.tenantId, id: before.id }).update({ failed_login_count: 0, locked_until: null, version: before.version + 1, updated_at: ctx.trx.fn.now() });
  const after = (await usersWithRoles(ctx.trx, ctx.tenantId!).where('u.id', before.id).first()) as UserRow;
  await ctx.audit({ action: 'user.unlocked', entityType: 'user', entityId: before.id, before: userToApi(before), after: userToApi(after) });
  return { status: 200, body: userToApi(after), headers: { ETag: etagOf(after.version) } };
}

export const userOperations: OperationMap = {
  listUsers: { access: { permission: 'users:read' }, handle: listUsers },
  createUser: { access: { permission: 'users:manage' }, handle: createUser },
  getUser: { access: { permission: 'users:read' }, handle: getUser },
  updateUser: { access: { permission: 'users:manage' }, handle: updateUser },
  unlockUser: { access: { permission: 'users:manage' }, handle: unlockUser },
};
