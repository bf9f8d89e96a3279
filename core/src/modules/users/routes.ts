import { hashPassword } from '../../auth/passwords';
import { keysetPage } from '../../db/keyset';
import { patchVersioned } from '../../db/versioned';
import { defineOperations, type OperationResult, type TenantContext, type TenantScope } from '../../http/operation';
import { assertIfMatch } from '../../http/etag';
import { created, ok } from '../../http/results';
import { Problem, type FieldError } from '../../http/problem';
import { newId } from '../../ids';
import { issuePasswordToken } from '../auth/passwordTokens';
import { revokeSessions } from '../auth/sessions';
import { grantErrors, rolesByKey } from '../roles/service';
import { User, UserRole } from './models';
import { findUser, userToApi, usersWithRoles } from './service';

/** Resolves role keys, refusing unknown roles and roles carrying permissions the actor lacks. */
async function roleIdsFor(ctx: TenantScope, keys: string[]): Promise<string[]> {
  const roles = await rolesByKey(ctx, keys);
  const errors: FieldError[] = [];
  keys.forEach((key, i) => {
    const role = roles.get(key);
    if (!role) errors.push({ pointer: `/body/roles/${i}`, message: 'is not a role of this tenant' });
    else if (grantErrors(ctx.principal, role.permissions, '').length) {
      errors.push({ pointer: `/body/roles/${i}`, message: 'grants permissions you do not hold' });
    }
  });
  if (errors.length) throw Problem.unprocessable(errors);
  return keys.map((k) => roles.get(k)!.id);
}

async function listUsers(ctx: TenantContext<'listUsers'>): Promise<OperationResult> {
  const q = ctx.query;
  const query = usersWithRoles(ctx);
  if (q.status) query.where('u.status', q.status);
  if (q.q) {
    const like = `%${q.q.replace(/[\\%_]/g, '\\$&')}%`;
    query.where((w) => w.whereILike('u.email', like).orWhereILike('u.display_name', like));
  }
  if (q.role) {
    query.whereExists(
      UserRole.query(ctx.trx)
        .alias('ur')
        .join('roles as r', function joinRoles() {
          this.on('r.tenant_id', 'ur.tenant_id').andOn('r.id', 'ur.role_id');
        })
        .whereRaw('ur.tenant_id = u.tenant_id AND ur.user_id = u.id')
        .where('r.key', q.role),
    );
  }
  const page = await keysetPage(query, q, [{ column: 'u.id', of: (r) => r.id }], userToApi);
  return ok({ data: page.data, nextCursor: page.nextCursor });
}

async function createUser(ctx: TenantContext<'createUser'>): Promise<OperationResult> {
  const body = ctx.body;
  const roleIds = await roleIdsFor(ctx, body.roles);
  const taken = await User.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId })
    .whereRaw('lower(email) = lower(?)', [body.email])
    .first()
    .select('id');
  if (taken)
    throw new Problem('conflict', 'A user with this email exists', {
      errors: [{ pointer: '/body/email', message: 'is already taken' }],
    });
  const id = newId();
  await User.query(ctx.trx).insert({
    tenantId: ctx.tenantId,
    id,
    email: body.email,
    displayName: body.displayName,
    passwordHash: body.password ? await hashPassword(body.password) : null,
  });
  await UserRole.query(ctx.trx).insert(roleIds.map((roleId) => ({ tenantId: ctx.tenantId, userId: id, roleId })));
  if (!body.password) {
    await issuePasswordToken(ctx.trx, {
      tenantId: ctx.tenantId,
      userId: id,
      email: body.email,
      purpose: 'invite',
      tenantSlug: ctx.principal.tenantSlug,
      displayName: body.displayName,
    });
  }
  const row = await findUser(ctx, id);
  await ctx.audit({
    action: 'user.created',
    entityType: 'user',
    entityId: id,
    after: { ...userToApi(row), invited: !body.password },
  });
  return created(userToApi(row), { location: `/v1/users/${id}`, version: row.version });
}

async function getUser(ctx: TenantContext<'getUser'>): Promise<OperationResult> {
  const row = await findUser(ctx, ctx.params.userId);
  return ok(userToApi(row), row.version);
}

async function updateUser(ctx: TenantContext<'updateUser'>): Promise<OperationResult> {
  const body = ctx.body;
  const before = await findUser(ctx, ctx.params.userId, { lock: true });
  assertIfMatch(ctx.ifMatch, before.version);
  const self = ctx.principal.kind === 'user' && ctx.principal.id === before.id;
  if (self && body.status === 'disabled')
    throw Problem.unprocessable([{ pointer: '/body/status', message: 'you cannot disable your own account' }]);
  if (self && body.roles)
    throw Problem.unprocessable([{ pointer: '/body/roles', message: 'you cannot change your own roles' }]);
  // Taking roles away is also a grant decision: the actor must hold what the user held.
  if (body.roles) {
    const current = await rolesByKey(ctx, before.roles);
    if ([...current.values()].some((r) => grantErrors(ctx.principal, r.permissions, '').length)) {
      throw new Problem(
        'forbidden',
        'This user holds permissions you do not; only someone who holds them can change their roles',
      );
    }
    const roleIds = await roleIdsFor(ctx, body.roles);
    await UserRole.query(ctx.trx).where({ tenant_id: ctx.tenantId, user_id: before.id }).delete();
    await UserRole.query(ctx.trx).insert(
      roleIds.map((roleId) => ({ tenantId: ctx.tenantId, userId: before.id, roleId })),
    );
  }
  await patchVersioned<User>(ctx.trx, User, before, {
    ...(body.displayName !== undefined ? { displayName: body.displayName } : {}),
    ...(body.status !== undefined ? { status: body.status } : {}),
  });
  // Roles are read afresh on every request; a disabled user is also refused there, and losing the
  // sessions too means no refresh token outlives the decision.
  if (body.status === 'disabled') await revokeSessions(ctx, before.id);
  const after = await findUser(ctx, before.id);
  await ctx.audit({
    action: 'user.updated',
    entityType: 'user',
    entityId: before.id,
    before: userToApi(before),
    after: userToApi(after),
  });
  return ok(userToApi(after), after.version);
}

async function unlockUser(ctx: TenantContext<'unlockUser'>): Promise<OperationResult> {
  const before = await findUser(ctx, ctx.params.userId, { lock: true });
  await patchVersioned<User>(ctx.trx, User, before, { failedLoginCount: 0, lockedUntil: null });
  const after = await findUser(ctx, before.id);
  await ctx.audit({
    action: 'user.unlocked',
    entityType: 'user',
    entityId: before.id,
    before: userToApi(before),
    after: userToApi(after),
  });
  return ok(userToApi(after), after.version);
}

export const userOperations = defineOperations({
  listUsers: { access: { permission: 'users:read' }, handle: listUsers },
  createUser: { access: { permission: 'users:manage' }, handle: createUser },
  getUser: { access: { permission: 'users:read' }, handle: getUser },
  updateUser: { access: { permission: 'users:manage' }, handle: updateUser },
  unlockUser: { access: { permission: 'users:manage' }, handle: unlockUser },
});
