import { newOpaqueToken } from '../../auth/tokens';
import { findOne, type FindOptions, type FindScope } from '../../db/find';
import { keysetPage } from '../../db/keyset';
import {
  defineOperations,
  type OperationResult,
  type TenantContext,
  type TenantScope,
  type UserPrincipal,
} from '../../http/operation';
import { created, ok } from '../../http/results';
import { Problem } from '../../http/problem';
import { newId } from '../../ids';
import { iso } from '../../time';
import { grantErrors } from '../roles/service';
import { ApiKey } from './models';

/** Everything but the token's hash, which never leaves the database's comparison. */
const COLUMNS = [
  'id',
  'name',
  'prefix',
  'permissions',
  'created_by',
  'expires_at',
  'revoked_at',
  'last_used_at',
  'created_at',
];

function keyToApi(row: ApiKey) {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    permissions: [...row.permissions].sort(),
    createdAt: iso(row.createdAt),
    createdBy: row.createdBy,
    expiresAt: iso(row.expiresAt),
    revokedAt: iso(row.revokedAt),
    lastUsedAt: iso(row.lastUsedAt),
  };
}

function requireUser(ctx: TenantScope): UserPrincipal {
  // A key that could mint keys would outlive its own revocation.
  if (ctx.principal.kind !== 'user')
    throw new Problem('forbidden', 'API keys are managed by people, not by other API keys');
  return ctx.principal;
}

/** The tenant's API key (less its token's hash), or not found. */
export function findApiKey(scope: FindScope, apiKeyId: string, options: FindOptions = {}): Promise<ApiKey> {
  return findOne<ApiKey>(scope, ApiKey, apiKeyId, { ...options, narrow: (q) => q.select(COLUMNS) });
}

async function listApiKeys(ctx: TenantContext<'listApiKeys'>): Promise<OperationResult> {
  requireUser(ctx);
  const query = ApiKey.query(ctx.trx).where({ tenant_id: ctx.tenantId }).select(COLUMNS);
  const page = await keysetPage(query, ctx.query, [{ column: 'id', of: (r) => r.id }], keyToApi);
  return ok({ data: page.data, nextCursor: page.nextCursor });
}

async function createApiKey(ctx: TenantContext<'createApiKey'>): Promise<OperationResult> {
  const principal = requireUser(ctx);
  const body = ctx.body;
  const errors = grantErrors(principal, body.permissions, '/body/permissions');
  if (body.expiresAt !== undefined && new Date(body.expiresAt).getTime() <= Date.now()) {
    errors.push({ pointer: '/body/expiresAt', message: 'must be in the future' });
  }
  if (errors.length) throw Problem.unprocessable(errors);
  const token = newOpaqueToken('hk', ctx.tenantId);
  const row = await ApiKey.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      id: newId(),
      name: body.name,
      prefix: token.prefix,
      tokenHash: token.hash,
      permissions: body.permissions,
      createdBy: principal.id,
      expiresAt: (body.expiresAt ?? null) as unknown as Date | null,
    })
    .returning(COLUMNS);
  const key = keyToApi(row);
  await ctx.audit({ action: 'api_key.created', entityType: 'api_key', entityId: key.id, after: key });
  // The secret is shown once: a replay of this request returns the key without it.
  return {
    ...created({ ...key, secret: token.token }, { location: `/v1/api-keys/${key.id}` }),
    replayBody: { ...key, secret: `${token.prefix}…(shown once)` },
  };
}

async function getApiKey(ctx: TenantContext<'getApiKey'>): Promise<OperationResult> {
  requireUser(ctx);
  return ok(keyToApi(await findApiKey(ctx, ctx.params.apiKeyId)));
}

async function revokeApiKey(ctx: TenantContext<'revokeApiKey'>): Promise<OperationResult> {
  requireUser(ctx);
  const before = await findApiKey(ctx, ctx.params.apiKeyId, { lock: true });
  if (before.revokedAt) throw new Problem('conflict', 'The key is already revoked');
  const [after] = await ApiKey.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, id: before.id })
    .patch({ revokedAt: ctx.trx.fn.now() })
    .returning(COLUMNS);
  await ctx.audit({
    action: 'api_key.revoked',
    entityType: 'api_key',
    entityId: before.id,
    before: keyToApi(before),
    after: keyToApi(after!),
  });
  return ok(keyToApi(after!));
}

export const apiKeyOperations = defineOperations({
  listApiKeys: { access: { permission: 'api_keys:manage' }, handle: listApiKeys },
  createApiKey: { access: { permission: 'api_keys:manage' }, handle: createApiKey },
  getApiKey: { access: { permission: 'api_keys:manage' }, handle: getApiKey },
  revokeApiKey: { access: { permission: 'api_keys:manage' }, handle: revokeApiKey },
});
