import { keysetPage } from '../../db/keyset';
import { defineOperations, type OperationResult, type TenantContext } from '../../http/operation';
import { Problem } from '../../http/problem';
import { created, ok } from '../../http/results';
import { downloadLog, signedLink, streamVersion } from './downloads';
import { Document, DocumentVersion } from './models';
import {
  addVersion,
  changeDocument,
  createDocument,
  currentVersionOf,
  documentToApi,
  findDocument,
  versionOf,
  versionToApi,
} from './service';
import { getDocumentSettings, updateDocumentSettings } from './settings';
import { documentsVisible } from './subjects';
import { assertIfMatch } from '../../http/etag';

async function uploadDocument(ctx: TenantContext<'uploadDocument'>): Promise<OperationResult> {
  const { document, current } = await createDocument(ctx, ctx.body, ctx.upload);
  return created(documentToApi(document, current), {
    location: `/v1/documents/${document.id}`,
    version: document.version,
  });
}

async function uploadDocumentVersion(ctx: TenantContext<'uploadDocumentVersion'>): Promise<OperationResult> {
  const before = await findDocument(ctx, ctx.params.documentId, { lock: true });
  const { document, current } = await addVersion(ctx, before, ctx.upload, ctx.body.expiresOn);
  return created(documentToApi(document, current), {
    location: `/v1/documents/${document.id}/versions/${current.number}/content`,
    version: document.version,
  });
}

async function getDocument(ctx: TenantContext<'getDocument'>): Promise<OperationResult> {
  const document = await findDocument(ctx, ctx.params.documentId);
  return ok(documentToApi(document, await currentVersionOf(ctx, document)), document.version);
}

async function listDocuments(ctx: TenantContext<'listDocuments'>): Promise<OperationResult> {
  const q = ctx.query;
  if (q.subjectId && !q.subjectType)
    throw Problem.validation([{ pointer: '/query/subjectType', message: 'is required with subjectId' }]);
  const query = Document.query(ctx.trx).alias('d').where('d.tenant_id', ctx.tenantId);
  documentsVisible(ctx, 'd')(query);
  if (q.subjectType) query.where('d.subject_type', q.subjectType);
  if (q.subjectId) query.where('d.subject_id', q.subjectId);
  if (q.category) query.where('d.category', q.category);
  if (q.expiresBefore) query.where('d.expires_on', '<', q.expiresBefore);
  const page = await keysetPage(query, q, [{ column: 'd.id', of: (r) => r.id }], (r) => r);
  const ids = page.rows.filter((r) => r.currentVersion !== null).map((r) => r.id);
  const versions = ids.length
    ? await DocumentVersion.query(ctx.trx)
        .where('tenant_id', ctx.tenantId)
        .whereIn('document_id', ids)
        .whereRaw(
          'number = (SELECT current_version FROM documents dd WHERE dd.tenant_id = document_versions.tenant_id AND dd.id = document_versions.document_id)',
        )
    : [];
  const byDocument = new Map(versions.map((v) => [v.documentId, v]));
  return ok({ data: page.data.map((d) => documentToApi(d, byDocument.get(d.id))), nextCursor: page.nextCursor });
}

async function updateDocument(ctx: TenantContext<'updateDocument'>): Promise<OperationResult> {
  const before = await findDocument(ctx, ctx.params.documentId, { lock: true });
  assertIfMatch(ctx.ifMatch, before.version);
  const { document, current } = await changeDocument(ctx, before, ctx.body);
  return ok(documentToApi(document, current), document.version);
}

async function listDocumentVersions(ctx: TenantContext<'listDocumentVersions'>): Promise<OperationResult> {
  const document = await findDocument(ctx, ctx.params.documentId);
  const versions = await DocumentVersion.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, document_id: document.id })
    .orderBy('number', 'desc');
  return ok({ data: versions.map(versionToApi) });
}

async function downloadDocument(ctx: TenantContext<'downloadDocument'>): Promise<OperationResult> {
  const document = await findDocument(ctx, ctx.params.documentId);
  const current = await currentVersionOf(ctx, document);
  if (!current) throw new Problem('conflict', 'The document has no version to download');
  return streamVersion(ctx, document, current, ctx.query.disposition);
}

async function downloadDocumentVersion(ctx: TenantContext<'downloadDocumentVersion'>): Promise<OperationResult> {
  const document = await findDocument(ctx, ctx.params.documentId);
  const version = await versionOf(ctx, document, ctx.params.versionNumber);
  return streamVersion(ctx, document, version, ctx.query.disposition);
}

async function createDocumentDownloadLink(ctx: TenantContext<'createDocumentDownloadLink'>): Promise<OperationResult> {
  const document = await findDocument(ctx, ctx.params.documentId);
  const version = await versionOf(ctx, document, ctx.params.versionNumber);
  return signedLink(ctx, document, version);
}

async function listDocumentDownloads(ctx: TenantContext<'listDocumentDownloads'>): Promise<OperationResult> {
  // Who read a document is part of the audit trail: it needs audit:read as well as the document.
  if (!ctx.principal.permissions.has('audit:read'))
    throw new Problem('forbidden', 'The download log needs the permission audit:read as well');
  const document = await findDocument(ctx, ctx.params.documentId);
  const page = await downloadLog(ctx, document, ctx.query);
  return ok({ data: page.data, nextCursor: page.nextCursor });
}

export const documentOperations = defineOperations({
  listDocuments: { access: { permission: 'documents:read' }, handle: listDocuments },
  uploadDocument: { access: { permission: 'documents:upload' }, handle: uploadDocument },
  getDocument: { access: { permission: 'documents:read' }, handle: getDocument },
  updateDocument: { access: { permission: 'documents:manage' }, handle: updateDocument },
  listDocumentVersions: { access: { permission: 'documents:read' }, handle: listDocumentVersions },
  uploadDocumentVersion: { access: { permission: 'documents:upload' }, handle: uploadDocumentVersion },
  downloadDocument: { access: { permission: 'documents:read' }, handle: downloadDocument },
  downloadDocumentVersion: { access: { permission: 'documents:read' }, handle: downloadDocumentVersion },
  createDocumentDownloadLink: { access: { permission: 'documents:read' }, handle: createDocumentDownloadLink },
  listDocumentDownloads: { access: { permission: 'documents:read' }, handle: listDocumentDownloads },
  getDocumentSettings: { access: { permission: 'documents:read' }, handle: getDocumentSettings },
  updateDocumentSettings: { access: { permission: 'documents:manage' }, handle: updateDocumentSettings },
});
