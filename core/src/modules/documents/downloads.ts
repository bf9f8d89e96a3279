import { keysetPage } from '../../db/keyset';
import { actorKind, type OperationResult, type TenantScope } from '../../http/operation';
import { Problem } from '../../http/problem';
import { created } from '../../http/results';
import { newId } from '../../ids';
import { extensionOf } from './fileTypes';
import { Document, DocumentDownload, DocumentVersion } from './models';
import { documentStore } from './openStore';
import { ObjectMissing } from './storage';

/** `attachment; filename="…"; filename*=UTF-8''…` (RFC 6266): an ASCII fallback and the real name. */
export function contentDisposition(kind: 'attachment' | 'inline', filename: string, mediaType: string): string {
  const named = downloadName(filename, mediaType);
  const ascii = named.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  const encoded = encodeURIComponent(named).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/** The name a download is saved as: the uploaded name, with the detected type's extension where it has none. */
export function downloadName(filename: string, mediaType: string): string {
  return /\.[A-Za-z0-9]{1,8}$/.test(filename) ? filename : `${filename}.${extensionOf(mediaType)}`;
}

/** A version that may be served: its bytes kept, its scan not quarantined. */
function servable(version: DocumentVersion): string {
  if (version.scanStatus === 'quarantined')
    throw new Problem(
      'documentQuarantined',
      `Version ${version.number} was quarantined by the scan: ${version.scanDetail ?? ''}`,
    );
  if (!version.objectKey)
    throw new Problem(
      'conflict',
      `Version ${version.number} was destroyed under its retention rule; only its tombstone remains`,
    );
  return version.objectKey;
}

async function logDownload(
  ctx: TenantScope,
  document: Document,
  version: DocumentVersion,
  via: 'stream' | 'signed_url',
): Promise<void> {
  await DocumentDownload.query(ctx.trx).insert({
    tenantId: ctx.tenantId,
    id: newId(),
    documentId: document.id,
    versionNumber: version.number,
    actorType: actorKind(ctx.principal),
    actorId: ctx.principal.id,
    via,
    requestId: ctx.meta.requestId,
  });
  await ctx.audit({
    action: 'document.downloaded',
    entityType: 'document',
    entityId: document.id,
    after: { versionNumber: version.number, sha256: version.sha256, via },
  });
}

/**
 * Streams a version: logged and audited in the transaction, its object checked to be there before
 * commit, its bytes sent after (router.ts), with the detected type, never the name's.
 */
export async function streamVersion(
  ctx: TenantScope,
  document: Document,
  version: DocumentVersion,
  disposition: 'attachment' | 'inline',
): Promise<OperationResult> {
  const key = servable(version);
  const store = documentStore(ctx.services);
  const head = await store.head(key);
  if (!head) throw new ObjectMissing(key);
  await logDownload(ctx, document, version, 'stream');
  return {
    status: 200,
    headers: {
      'Repr-Digest': `sha-256=:${Buffer.from(version.sha256, 'hex').toString('base64')}:`,
      ETag: `"sha256-${version.sha256}"`,
    },
    stream: {
      open: () => store.get(key),
      contentType: version.mediaType === 'text/plain' ? 'text/plain; charset=utf-8' : version.mediaType,
      contentLength: head.size,
      disposition: contentDisposition(disposition, version.filename, version.mediaType),
    },
  };
}

/** A short-lived signed URL, where the store can sign; logged as a download. */
export async function signedLink(
  ctx: TenantScope,
  document: Document,
  version: DocumentVersion,
): Promise<OperationResult> {
  const key = servable(version);
  const store = documentStore(ctx.services);
  if (!store.signedUrl)
    throw new Problem(
      'conflict',
      `The document store (${ctx.services.config.documents.storage}) cannot sign URLs; download the content instead`,
    );
  const seconds = ctx.services.config.documents.signedUrlSeconds;
  const url = await store.signedUrl(key, {
    expiresInSeconds: seconds,
    filename: downloadName(version.filename, version.mediaType),
    contentType: version.mediaType,
  });
  await logDownload(ctx, document, version, 'signed_url');
  return created({ url, expiresAt: new Date(Date.now() + seconds * 1000).toISOString() });
}

export async function downloadLog(ctx: TenantScope, document: Document, page: { limit: number; cursor?: string }) {
  const query = DocumentDownload.query(ctx.trx).where({ tenant_id: ctx.tenantId, document_id: document.id });
  return keysetPage(
    query,
    page,
    // Ids are time-ordered (UUIDv7): newest first by id is newest first by time, without a tie.
    [{ column: 'id', of: (r) => r.id }],
    (r) => ({
      id: r.id,
      versionNumber: r.versionNumber,
      actorType: r.actorType,
      actorId: r.actorId,
      via: r.via,
      requestId: r.requestId,
      at: r.at.toISOString(),
    }),
    'desc',
  );
}
