import { patchVersioned } from '../../db/versioned';
import { actorId, type TenantScope } from '../../http/operation';
import { Problem } from '../../http/problem';
import { newId } from '../../ids';
import { lookupCodeErrors } from '../lookups/service';
import { Document, type SubjectType } from './models';
import { findDocument } from './service';
import { documentsVisible } from './subjects';

/**
 * Documents as evidence: what a carer household's approval workflow and a claim count. A document is
 * evidence when it carries an evidence key (the key a workflow step or a claim names) and the day it
 * was received. Evidence may be a file kept like any other document, or a record that a document was
 * received before any file was kept: a document with no version, which a file can be uploaded to later
 * (uploadDocumentVersion), and which is read, fenced, logged and retained as every document is.
 */
export interface EvidenceFacts {
  key: string;
  receivedOn: string;
  notes?: string | null;
}

/** What a record of receipt is filed under when the caller names no category: its key where that is one. */
export async function evidenceCategory(ctx: TenantScope, key: string, fallback: string): Promise<string> {
  const errors = await lookupCodeErrors(ctx.trx, ctx.tenantId, [
    { list: 'document_category', code: key, pointer: '' },
    { list: 'document_category', code: fallback, pointer: 'fallback' },
  ]);
  if (!errors.some((e) => e.pointer === '')) return key;
  return errors.some((e) => e.pointer === 'fallback') ? 'other' : fallback;
}

export async function categoryErrors(ctx: TenantScope, category: string | undefined, pointer: string) {
  return lookupCodeErrors(ctx.trx, ctx.tenantId, [{ list: 'document_category', code: category, pointer }]);
}

/**
 * A record that a document was received, no file kept: a document with no version, against a record
 * the caller found through that record's own finder (so whose it is, is known). A request appends one
 * audit event: the caller's, on the record the evidence is of, carries the document.
 */
export async function recordReceivedDocument(
  ctx: TenantScope,
  input: {
    subjectType: SubjectType;
    subjectId: string;
    householdId: string | null;
    category: string;
    title: string;
    evidence: EvidenceFacts;
  },
): Promise<Document> {
  const document = await Document.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      id: newId(),
      subjectType: input.subjectType,
      subjectId: input.subjectId,
      childId: null,
      householdId: input.householdId,
      category: input.category,
      title: input.title,
      sensitivity: 'staff',
      expiresOn: null,
      currentVersion: null,
      evidenceKey: input.evidence.key,
      receivedOn: input.evidence.receivedOn,
      notes: input.evidence.notes ?? null,
      createdBy: actorId(ctx),
    })
    .returning('*');
  return document;
}

/**
 * A document already kept made evidence: it must be one the caller can see (else, as another tenant's,
 * a 422 naming `pointer`), still active, and kept against a record `belongs` accepts. Returns it as it
 * was and as it is, for the caller's audit event.
 */
export async function attachAsEvidence(
  ctx: TenantScope,
  documentId: string,
  rule: { pointer: string; belongs: (d: Document) => boolean; elsewhere: string; evidence: EvidenceFacts },
): Promise<{ before: Document; document: Document }> {
  const { pointer, evidence } = rule;
  const document = await findDocument(ctx, documentId, { lock: true, pointer });
  if (!rule.belongs(document)) throw Problem.unprocessable([{ pointer, message: rule.elsewhere }]);
  if (document.status !== 'active')
    throw Problem.unprocessable([{ pointer, message: 'was destroyed under its retention rule' }]);
  const notes = evidence.notes === undefined ? document.notes : evidence.notes;
  if (document.evidenceKey === evidence.key && document.receivedOn === evidence.receivedOn && document.notes === notes)
    return { before: document, document };
  const after = await patchVersioned(ctx.trx, Document, document, {
    evidenceKey: evidence.key,
    receivedOn: evidence.receivedOn,
    notes,
  });
  return { before: document, document: after };
}

/**
 * No longer evidence (a claim's evidence replaced without it): the document stays, as any document.
 * The caller's audit event (the claim's before and after) records it.
 */
export async function releaseEvidence(ctx: TenantScope, document: Document): Promise<Document> {
  return patchVersioned(ctx.trx, Document, document, { evidenceKey: null, receivedOn: null });
}

/** Which of these documents the caller may see (the documents' one access rule). */
export async function visibleDocumentIds(ctx: TenantScope, ids: string[]): Promise<Set<string>> {
  if (!ids.length) return new Set();
  const query = ctx.trx('documents as d').where('d.tenant_id', ctx.tenantId).whereIn('d.id', ids);
  documentsVisible(ctx, 'd')(query);
  return new Set((await query.pluck('d.id')) as string[]);
}
