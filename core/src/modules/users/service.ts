import type { Knex } from 'knex';
import type { QueryBuilder } from 'objection';
import { findOne, type FindOptions, type FindScope } from '../../db/find';
import { iso } from '../../time';
import { User } from './models';

/** A user as the API shows them: with the keys of the roles they hold. */
export type UserWithRoles = User & { roles: string[] };

/** What a user's reads take: never the password hash or the MFA secrets. */
const USER_COLUMNS = [
  'u.tenant_id',
  'u.id',
  'u.email',
  'u.display_name',
  'u.status',
  'u.mfa_enabled',
  'u.locked_until',
  'u.version',
  'u.created_at',
  'u.updated_at',
];

function rolesColumn(trx: Knex.Transaction): Knex.Raw {
  return trx.raw(
    `coalesce((SELECT array_agg(r.key ORDER BY r.key) FROM user_roles ur JOIN roles r ON r.tenant_id = ur.tenant_id AND r.id = ur.role_id
       WHERE ur.tenant_id = u.tenant_id AND ur.user_id = u.id), '{}') AS roles`,
  );
}

/** The tenant's users (as `u`), each with their roles. */
export function usersWithRoles(scope: FindScope): QueryBuilder<User, UserWithRoles[]> {
  return User.query(scope.trx)
    .alias('u')
    .where('u.tenant_id', scope.tenantId)
    .select(...USER_COLUMNS, rolesColumn(scope.trx))
    .castTo<UserWithRoles[]>();
}

/**
 * The tenant's user, with their roles, or not found. With `lock`, the row is locked by a statement of
 * its own first, so the roles read next are the ones committed by whoever held the lock before.
 */
export async function findUser(scope: FindScope, userId: string, options: FindOptions = {}): Promise<UserWithRoles> {
  if (options.lock)
    await findOne<User>(scope, User, userId, { lock: true, pointer: options.pointer, narrow: (q) => q.select('id') });
  const withRoles = (query: QueryBuilder<User>) => query.alias('u').select(...USER_COLUMNS, rolesColumn(scope.trx));
  return (await findOne<User>(scope, User, userId, { pointer: options.pointer, narrow: withRoles })) as UserWithRoles;
}

export function userToApi(row: UserWithRoles) {
  const locked = row.lockedUntil && new Date(row.lockedUntil).getTime() > Date.now() ? iso(row.lockedUntil) : null;
  return {
    id: row.id,
    email: row.email,
    displayName: row.displayName,
    roles: row.roles,
    status: row.status,
    mfaEnabled: row.mfaEnabled,
    lockedUntil: locked,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
  };
}
