import { findOne, notFound } from '../../db/find';
import { patchVersioned } from '../../db/versioned';
import { actorId, type TenantScope } from '../../http/operation';
import { Problem, type FieldError } from '../../http/problem';
import { newId } from '../../ids';
import { lookupCodeErrors } from '../lookups/service';
import { Document, DocumentVersion, type Sensitivity, type SubjectType, type TemplateOrigin } from './models';
import type { ReceivedFile } from './receive';
import { documentsVisible, resolveSubject } from './subjects';

export type DocumentApi = ReturnType<typeof documentToApi>;

export function versionToApi(v: DocumentVersion) {
  return {
    number: v.number,
    filename: v.filename,
    mediaType: v.mediaType,
    sizeBytes: Number(v.sizeBytes),
    sha256: v.sha256,
    scanStatus: v.scanStatus,
    scanDetail: v.scanDetail,
    source: v.source,
    template: v.template,
    uploadedBy: v.uploadedBy,
    createdAt: v.createdAt.toISOString(),
  };
}

export function documentToApi(d: Document, current: DocumentVersion | null | undefined) {
  return {
    id: d.id,
    subjectType: d.subjectType,
    subjectId: d.subjectId,
    childId: d.childId,
    householdId: d.householdId,
    category: d.category,
    title: d.title,
    sensitivity: d.sensitivity,
    expiresOn: d.expiresOn,
    status: d.status,
    currentVersion: current ? versionToApi(current) : null,
    evidence: d.evidenceKey === null ? null : { key: d.evidenceKey, receivedOn: d.receivedOn!, notes: d.notes },
    version: d.version,
    createdBy: d.createdBy,
    createdAt: d.createdAt.toISOString(),
    updatedAt: d.updatedAt.toISOString(),
  };
}

/** A document the caller may see (its record readable, inside the fence, its sensitivity allowed), or 404. */
export function findDocument(
  ctx: TenantScope,
  id: string,
  options: { lock?: boolean; pointer?: string } = {},
): Promise<Document> {
  const fence = documentsVisible(ctx, 'documents');
  return findOne<Document>(ctx, Document, id, {
    ...options,
    narrow: (q) => fence(q),
  });
}

export async function currentVersionOf(ctx: TenantScope, document: Document): Promise<DocumentVersion | null> {
  if (document.currentVersion === null) return null;
  return versionOf(ctx, document, document.currentVersion);
}

export async function versionOf(ctx: TenantScope, document: Document, number: number): Promise<DocumentVersion> {
  const row = await DocumentVersion.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, document_id: document.id, number })
    .first();
  if (!row) throw notFound(DocumentVersion.noun);
  return row;
}

async function checkFields(
  ctx: TenantScope,
  input: { category?: string; expiresOn?: string | null },
): Promise<FieldError[]> {
  const errors = await lookupCodeErrors(ctx.trx, ctx.tenantId, [
    { list: 'document_category', code: input.category, pointer: '/body/category' },
  ]);
  return errors;
}

export interface NewDocument {
  subjectType: SubjectType;
  subjectId: string;
  category: string;
  title: string;
  sensitivity?: Sensitivity;
  expiresOn?: string | null;
}

export interface NewVersion extends ReceivedFile {
  source?: 'upload' | 'generated';
  template?: TemplateOrigin | null;
}

/** A new document with its first version, audited; the file is already in the store. */
export async function createDocument(
  ctx: TenantScope,
  input: NewDocument,
  file: NewVersion,
): Promise<{ document: Document; current: DocumentVersion }> {
  const owners = await resolveSubject(ctx, input.subjectType, input.subjectId);
  const errors = await checkFields(ctx, input);
  if (errors.length) throw Problem.unprocessable(errors);
  const document = await Document.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      id: newId(),
      subjectType: input.subjectType,
      subjectId: input.subjectId,
      childId: owners.childId,
      householdId: owners.householdId,
      category: input.category,
      title: input.title,
      sensitivity: input.sensitivity ?? 'staff',
      expiresOn: input.expiresOn ?? null,
      currentVersion: 1,
      createdBy: actorId(ctx),
    })
    .returning('*');
  const current = await insertVersion(ctx, document, 1, file);
  await ctx.audit({
    action: 'document.uploaded',
    entityType: 'document',
    entityId: document.id,
    after: documentToApi(document, current),
  });
  return { document, current };
}

export async function insertVersion(
  ctx: TenantScope,
  document: Document,
  number: number,
  file: NewVersion,
): Promise<DocumentVersion> {
  return DocumentVersion.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      id: newId(),
      documentId: document.id,
      number,
      objectKey: file.objectKey,
      filename: file.filename,
      mediaType: file.mediaType,
      sizeBytes: file.sizeBytes,
      sha256: file.sha256,
      scanStatus: file.scanStatus,
      scanDetail: file.scanDetail,
      source: file.source ?? 'upload',
      template: file.template ?? null,
      uploadedBy: actorId(ctx),
    })
    .returning('*');
}

/** Version n+1, now current; with an expiry, the document's moves to it. Audited. */
export async function addVersion(
  ctx: TenantScope,
  document: Document,
  file: NewVersion,
  expiresOn?: string,
): Promise<{ document: Document; current: DocumentVersion }> {
  if (document.status !== 'active')
    throw new Problem('conflict', 'The document was destroyed under its retention rule; it takes no new versions');
  const last = await DocumentVersion.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, document_id: document.id })
    .max('number as n')
    .first();
  const number = Number((last as unknown as { n: number | null } | undefined)?.n ?? 0) + 1;
  const current = await insertVersion(ctx, document, number, file);
  const before = documentToApi(document, await currentVersionOf(ctx, document));
  const after = await patchVersioned(ctx.trx, Document, document, {
    currentVersion: number,
    ...(expiresOn !== undefined ? { expiresOn } : {}),
  });
  await ctx.audit({
    action: 'document.version_uploaded',
    entityType: 'document',
    entityId: document.id,
    before,
    after: documentToApi(after, current),
  });
  return { document: after, current };
}

export async function changeDocument(
  ctx: TenantScope,
  document: Document,
  changes: { title?: string; category?: string; sensitivity?: Sensitivity; expiresOn?: string | null },
): Promise<{ document: Document; current: DocumentVersion | null }> {
  if (document.status !== 'active') throw new Problem('conflict', 'The document was destroyed; it no longer changes');
  const errors = await checkFields(ctx, changes);
  if (errors.length) throw Problem.unprocessable(errors);
  const current = await currentVersionOf(ctx, document);
  const after = await patchVersioned(ctx.trx, Document, document, changes);
  await ctx.audit({
    action: 'document.updated',
    entityType: 'document',
    entityId: document.id,
    before: documentToApi(document, current),
    after: documentToApi(after, current),
  });
  return { document: after, current };
}
