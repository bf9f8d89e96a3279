import { newOpaqueToken } from '../../auth/tokens';
import type { OperationContext, OperationMap, OperationResult } from '../../http/operation';
import { decodeCursor, toPage } from '../../http/pagination';
import { Problem } from '../../http/problem';
import { newId } from '../../ids';
import { iso } from '../../time';
import { grantErrors } from '../roles/service';

interface ApiKeyRow {
  id: string;
  name: string;
  prefix: string;
  permissions: string[];
  created_by: string;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
  created_at: Date;
}

const COLUMNS = ['id', 'name', 'prefix', 'permissions', 'created_by', 'expires_at', 'revoked_at', 'last_used_at', 'created_at'];

function keyToApi(row: ApiKeyRow) {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    permissions: [...row.permissions].sort(),
    createdAt: iso(row.created_at),
    createdBy: row.created_by,
    expiresAt: iso(row.expires_at),
    revokedAt: iso(row.revoked_at),
    lastUsedAt: iso(row.last_used_at),
  };
}

function requireUser(ctx: OperationContext): void {
  // A key that could mint keys would outlive its own revocation.
  if (ctx.principal?.kind !== 'user') throw new Problem('forbidden', 'API keys are managed by people, not by other API keys');
}

async function findKey(ctx: OperationContext, forUpdate = false): Promise<ApiKeyRow> {
  const query = ctx.trx('api_keys').where({ tenant_id: ctx.tenantId, id: ctx.params.apiKeyId }).first(COLUMNS);
  const row = (await (forUpdate ? query.forUpdate() : query)) as ApiKeyRow | undefined;
  if (!row) throw Problem.notFound('The API key');
  return row;
}

async function listApiKeys(ctx: OperationContext): Promise<OperationResult> {
  requireUser(ctx);
  const limit = ctx.query.limit as number;
  const after = decodeCursor(ctx.query.cursor as string | undefined, 1);
  const query = ctx.trx('api_keys').where({ tenant_id: ctx.tenantId }).orderBy('id').limit(limit + 1).select(COLUMNS);
  if (after) query.where('id', '>', after[0] as string);
  const rows = (await query) as ApiKeyRow[];
  return { status: 200, body: toPage(rows, limit, (r) => [r.id], keyToApi) };
}

async function createApiKey(ctx: OperationContext): Promise<OperationResult> {
  requireUser(ctx);
  const body = ctx.body as { name: string; permissions: string[]; expiresAt?: string };
  const errors = grantErrors(ctx.principal!, body.permissions, '/body/permissions');
  if (body.expiresAt !== undefined && new Date(body.expiresAt).getTime() <= Date.now()) errors.push({ pointer: '/body/expiresAt', message: 'must be in the future' });
  if (errors.length) throw Problem.unprocessable(errors);
  const token = newOpaqueToken('hk', ctx.tenantId!);
  const [row] = (await ctx.trx('api_keys')
    .insert({
      tenant_id: ctx.tenantId,
      id: newId(),
      name: body.name,
      prefix: token.prefix,
      token_hash: token.hash,
      permissions: body.permissions,
      created_by: ctx.principal!.id,
      expires_at: body.expiresAt ?? null,
    })
    .returning(COLUMNS)) as ApiKeyRow[];
  const key = keyToApi(row!);
  await ctx.audit({ action: 'api_key.created', entityType: 'api_key', entityId: key.id, after: key });
  // The secret is shown once: a replay of this request returns the key without it.
  return { status: 201, body: { ...key, secret: token.token }, replayBody: { ...key, secret: `${token.prefix}…(shown once)` }, headers: { Location: `/v1/api-keys/${key.id}` } };
}

async function getApiKey(ctx: OperationContext): Promise<OperationResult> {
  requireUser(ctx);
  return { status: 200, body: keyToApi(await findKey(ctx)) };
}

async function revokeApiKey(ctx: OperationContext): Promise<OperationResult> {
  requireUser(ctx);
  const before = await findKey(ctx, true);
  if (before.revoked_at) throw new Problem('conflict', 'The key is already revoked');
  const [after] = (await ctx.trx('api_keys').where({ tenant_id: ctx.tenantId, id: before.id }).update({ revoked_at: ctx.trx.fn.now() }).returning(COLUMNS)) as ApiKeyRow[];
  await ctx.audit({ action: 'api_key.revoked', entityType: 'api_key', entityId: before.id, before: keyToApi(before), after: keyToApi(after!) });
  return { status: 200, body: keyToApi(after!) };
}

export const apiKeyOperations: OperationMap = {
  listApiKeys: { access: { permission: 'api_keys:manage' }, handle: listApiKeys },
  createApiKey: { access: { permission: 'api_keys:manage' }, handle: createApiKey },
  getApiKey: { access: { permission: 'api_keys:manage' }, handle: getApiKey },
  revokeApiKey: { access: { permission: 'api_keys:manage' }, handle: revokeApiKey },
};
