import crypto from 'node:crypto';
import type { Knex } from 'knex';
import { canonicalJson } from '../modules/audit/hashChain';
import { Problem } from './problem';

export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

export function requestFingerprint(operationId: string, params: unknown, body: unknown): string {
  return crypto
    .createHash('sha256')
    .update(canonicalJson({ operationId, params, body: body ?? null }))
    .digest('hex');
}

/**
 * Claims an Idempotency-Key inside the request's transaction. A concurrent request with the same
 * key waits on the primary key until the first commits, then sees its stored response; if the first
 * rolled back, the claim is free again. Returns the stored response to replay, or null to proceed.
 */
export async function claimIdempotencyKey(
  trx: Knex.Transaction,
  scope: { tenantId: string; principalId: string; key: string; operationId: string; fingerprint: string },
): Promise<StoredResponse | null> {
  const inserted = (await trx.raw(
    `INSERT INTO idempotency_keys (tenant_id, principal_id, key, operation_id, request_hash)
     VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING key`,
    [scope.tenantId, scope.principalId, scope.key, scope.operationId, scope.fingerprint],
  )) as { rows: unknown[] };
  if (inserted.rows.length === 1) return null;

  const row = (await trx('idempotency_keys')
    .where({ tenant_id: scope.tenantId, principal_id: scope.principalId, key: scope.key })
    .first('operation_id', 'request_hash', 'response_status', 'response_headers', 'response_body')) as
    | {
        operation_id: string;
        request_hash: string;
        response_status: number | null;
        response_headers: Record<string, string> | null;
        response_body: unknown;
      }
    | undefined;
  if (!row || row.response_status === null)
    throw new Problem('conflict', 'A request with this Idempotency-Key is still in progress');
  if (row.operation_id !== scope.operationId || row.request_hash !== scope.fingerprint) {
    throw new Problem(
      'idempotencyKeyReused',
      'This Idempotency-Key was first used with a different request; use a new key',
    );
  }
  return { status: row.response_status, headers: row.response_headers ?? {}, body: row.response_body };
}

export async function storeIdempotentResponse(
  trx: Knex.Transaction,
  scope: { tenantId: string; principalId: string; key: string },
  response: StoredResponse,
): Promise<void> {
  await trx('idempotency_keys')
    .where({ tenant_id: scope.tenantId, principal_id: scope.principalId, key: scope.key })
    .update({
      response_status: response.status,
      response_headers: JSON.stringify(response.headers),
      response_body: response.body === undefined ? null : JSON.stringify(response.body),
    });
}
