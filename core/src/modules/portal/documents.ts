import { keysetPage } from '../../db/keyset';
import type { OperationResult, TenantContext, TenantScope } from '../../http/operation';
import { Problem } from '../../http/problem';
import { created, ok } from '../../http/results';
import { newId } from '../../ids';
import { iso } from '../../time';
import { streamVersion } from '../documents/downloads';
import { Document, DocumentVersion } from '../documents/models';
import { insertVersion } from '../documents/service';
import { lookupCodeErrors } from '../lookups/service';
import { CarerLogin, DailyLog } from './models';
import { DailyLogDocument } from './documentModels';
import { completeTask, openTaskFor } from './tasks';
import { carerOf, portalSettings, requireFeature } from './settings';

/**
 * The household's document centre: documents of the household shared with it. The portal's role sees
 * no other (migration 0038's policy on `documents`); the queries say so too.
 */
function householdDocuments(ctx: TenantScope, householdId: string) {
  return Document.query(ctx.trx).where({
    'documents.tenant_id': ctx.tenantId,
    'documents.household_id': householdId,
    'documents.sensitivity': 'shared_with_household',
    'documents.status': 'active',
  });
}

/** The documents as a carer sees them: the current version's facts, and whether a carer of the household uploaded it. */
async function present(ctx: TenantScope, householdId: string, rows: Document[]) {
  if (!rows.length) return [];
  const [versions, carers] = await Promise.all([
    DocumentVersion.query(ctx.trx)
      .where('tenant_id', ctx.tenantId)
      .whereIn(
        'document_id',
        rows.map((r) => r.id),
      ),
    CarerLogin.query(ctx.trx).where({ tenant_id: ctx.tenantId, household_id: householdId }).select('user_id'),
  ]);
  const ours = new Set(carers.map((c) => c.userId));
  const current = new Map(
    versions
      .filter((v) => rows.some((r) => r.id === v.documentId && r.currentVersion === v.number))
      .map((v) => [v.documentId, v]),
  );
  return rows.map((d) => {
    const v = current.get(d.id);
    return {
      id: d.id,
      category: d.category,
      title: d.title,
      expiresOn: d.expiresOn,
      fromHousehold: d.createdBy !== null && ours.has(d.createdBy),
      currentVersion: v
        ? {
            number: v.number,
            filename: v.filename,
            mediaType: v.mediaType,
            sizeBytes: Number(v.sizeBytes),
            sha256: v.sha256,
            scanStatus: v.scanStatus,
            createdAt: iso(v.createdAt),
          }
        : null,
      createdAt: iso(d.createdAt),
    };
  });
}

async function documentsOn(ctx: TenantScope): Promise<string> {
  const carer = carerOf(ctx);
  requireFeature(await portalSettings(ctx), 'documents');
  return carer.householdId;
}

async function listPortalDocuments(ctx: TenantContext<'listPortalDocuments'>): Promise<OperationResult> {
  const householdId = await documentsOn(ctx);
  const page = await keysetPage(
    householdDocuments(ctx, householdId),
    ctx.query,
    [{ column: 'documents.id', of: (r: Document) => r.id }],
    (r) => r,
    'desc',
  );
  return ok({ data: await present(ctx, householdId, page.rows), nextCursor: page.nextCursor });
}

/** Streamed, logged in the download log and audited exactly as a staff download (documents/downloads.ts). */
async function downloadPortalDocument(ctx: TenantContext<'downloadPortalDocument'>): Promise<OperationResult> {
  const householdId = await documentsOn(ctx);
  const document = await householdDocuments(ctx, householdId).where('documents.id', ctx.params.documentId).first();
  if (!document) throw Problem.notFound('The document');
  if (document.currentVersion === null) throw new Problem('conflict', 'The document has no version to download');
  const version = await DocumentVersion.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, document_id: document.id, number: document.currentVersion })
    .first();
  if (!version) throw Problem.notFound('The document');
  return streamVersion(ctx, document, version, ctx.query.disposition);
}

/**
 * A document of the household, shared with it (the household's own evidence is the household's to
 * see). Not through the staff `createDocument`: that resolves its record under staff permissions.
 */
async function uploadPortalDocument(ctx: TenantContext<'uploadPortalDocument'>): Promise<OperationResult> {
  const householdId = await documentsOn(ctx);
  const carer = carerOf(ctx);
  const body = ctx.body;
  const file = ctx.upload;
  const errors = await lookupCodeErrors(ctx.trx, ctx.tenantId, [
    { list: 'document_category', code: body.category, pointer: '/body/category' },
  ]);
  if (errors.length) throw Problem.unprocessable(errors);
  const task = body.taskId ? await openTaskFor(ctx, householdId, body.taskId, 'upload', '/body/taskId') : null;
  const document = await Document.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      id: newId(),
      subjectType: 'household',
      subjectId: householdId,
      childId: null,
      householdId,
      category: body.category,
      title: body.title,
      sensitivity: 'shared_with_household',
      expiresOn: null,
      currentVersion: 1,
      createdBy: carer.id,
    })
    .returning('*');
  await insertVersion(ctx, document, 1, file);
  if (task) await completeTask(ctx.trx, task, carer.id, { completionDocumentId: document.id });
  const [view] = await present(ctx, householdId, [document]);
  await ctx.audit({
    action: 'document.uploaded',
    entityType: 'document',
    entityId: document.id,
    after: { ...view, subjectType: 'household', subjectId: householdId, taskId: task?.id ?? null },
  });
  return created(view, { location: `/v1/portal/documents/${document.id}/content` });
}

async function logOf(ctx: TenantScope, householdId: string, logId: string): Promise<DailyLog> {
  const log = await DailyLog.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, household_id: householdId, id: logId })
    .first();
  if (!log) throw Problem.notFound('The daily log');
  return log;
}

async function logDocuments(ctx: TenantScope, householdId: string, logId: string) {
  const rows = await householdDocuments(ctx, householdId)
    .join('daily_log_documents as a', (j) =>
      j.on('a.tenant_id', 'documents.tenant_id').andOn('a.document_id', 'documents.id'),
    )
    .where('a.log_id', logId)
    .orderBy([
      { column: 'a.attached_at', order: 'asc' },
      { column: 'documents.id', order: 'asc' },
    ])
    .select('documents.*');
  return present(ctx, householdId, rows);
}

async function logsOn(ctx: TenantScope): Promise<string> {
  const carer = carerOf(ctx);
  requireFeature(await portalSettings(ctx), 'logs');
  return carer.householdId;
}

async function listPortalDailyLogDocuments(
  ctx: TenantContext<'listPortalDailyLogDocuments'>,
): Promise<OperationResult> {
  const householdId = await logsOn(ctx);
  const log = await logOf(ctx, householdId, ctx.params.logId);
  return ok({ data: await logDocuments(ctx, householdId, log.id) });
}

async function attachPortalDailyLogDocument(
  ctx: TenantContext<'attachPortalDailyLogDocument'>,
): Promise<OperationResult> {
  const householdId = await logsOn(ctx);
  const carer = carerOf(ctx);
  const log = await logOf(ctx, householdId, ctx.params.logId);
  const document = await householdDocuments(ctx, householdId).where('documents.id', ctx.body.documentId).first();
  if (!document)
    throw Problem.unprocessable([{ pointer: '/body/documentId', message: "is not a document of your household's" }]);
  const inserted = await DailyLogDocument.query(ctx.trx)
    .insert({ tenantId: ctx.tenantId, logId: log.id, documentId: document.id, attachedBy: carer.id })
    .onConflict(['tenant_id', 'log_id', 'document_id'])
    .ignore()
    .returning('*');
  const data = await logDocuments(ctx, householdId, log.id);
  if (!(inserted as unknown as DailyLogDocument | undefined)?.logId) return { ...created({ data }), noWrite: true };
  await ctx.audit({
    action: 'daily_log.document_attached',
    entityType: 'daily_log',
    entityId: log.id,
    after: { childId: log.childId, documentId: document.id },
  });
  return created({ data });
}

export const portalDocumentOperations = {
  listPortalDocuments: { access: { carer: true }, handle: listPortalDocuments },
  uploadPortalDocument: { access: { carer: true }, handle: uploadPortalDocument },
  downloadPortalDocument: { access: { carer: true }, handle: downloadPortalDocument },
  listPortalDailyLogDocuments: { access: { carer: true }, handle: listPortalDailyLogDocuments },
  attachPortalDailyLogDocument: { access: { carer: true }, handle: attachPortalDailyLogDocument },
} as const;
