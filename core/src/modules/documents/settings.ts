import type { Knex } from 'knex';
import type { HearthConfig } from '../../config';
import { actorId, type OperationResult, type TenantContext } from '../../http/operation';
import { Problem } from '../../http/problem';
import { ok } from '../../http/results';
import { assertIfMatch } from '../../http/etag';
import { patchVersioned } from '../../db/versioned';
import { DocumentSettingsRow } from './models';

/** The most one upload of this tenant may be: its own limit, never above the process's. */
export async function uploadLimit(trx: Knex.Transaction, tenantId: string, config: HearthConfig): Promise<number> {
  const row = await DocumentSettingsRow.query(trx).where('tenant_id', tenantId).first();
  const processMax = config.documents.maxUploadBytes;
  return row ? Math.min(Number(row.maxUploadBytes), processMax) : processMax;
}

function settingsToApi(row: DocumentSettingsRow | undefined, config: HearthConfig) {
  const processMax = config.documents.maxUploadBytes;
  return {
    maxUploadBytes: row ? Math.min(Number(row.maxUploadBytes), processMax) : processMax,
    processMaxUploadBytes: processMax,
    storage: config.documents.storage,
    version: row?.version ?? 0,
  };
}

export async function getDocumentSettings(ctx: TenantContext<'getDocumentSettings'>): Promise<OperationResult> {
  const row = await DocumentSettingsRow.query(ctx.trx).where('tenant_id', ctx.tenantId).first();
  const body = settingsToApi(row, ctx.services.config);
  return ok(body, body.version);
}

export async function updateDocumentSettings(ctx: TenantContext<'updateDocumentSettings'>): Promise<OperationResult> {
  const { config } = ctx.services;
  // The row may not exist yet (a tenant on the defaults, version 0): the advisory lock serialises its first write.
  await ctx.trx.raw('SELECT pg_advisory_xact_lock(?::int, hashtext(?::text))', [140030, `documents:${ctx.tenantId}`]);
  const before = await DocumentSettingsRow.query(ctx.trx).where('tenant_id', ctx.tenantId).forUpdate().first();
  assertIfMatch(ctx.ifMatch, before?.version ?? 0);
  if (ctx.body.maxUploadBytes > config.documents.maxUploadBytes)
    throw Problem.unprocessable([
      {
        pointer: '/body/maxUploadBytes',
        message: `is above this deployment's limit of ${config.documents.maxUploadBytes} bytes (HEARTH_DOCUMENT_MAX_BYTES)`,
      },
    ]);
  const values = { maxUploadBytes: ctx.body.maxUploadBytes, updatedBy: actorId(ctx) };
  const row = before
    ? await patchVersioned<DocumentSettingsRow>(ctx.trx, DocumentSettingsRow, before, values, {
        tenant_id: ctx.tenantId,
      })
    : await DocumentSettingsRow.query(ctx.trx)
        .insert({ tenantId: ctx.tenantId, ...values, version: 1 })
        .returning('*');
  const body = settingsToApi(row, config);
  await ctx.audit({
    action: 'document_settings.updated',
    entityType: 'document_settings',
    entityId: ctx.tenantId,
    before: before ? settingsToApi(before, config) : null,
    after: body,
  });
  return ok(body, body.version);
}
