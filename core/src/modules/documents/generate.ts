import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import {
  documentFor,
  DocumentTemplateError,
  htmlToPdf,
  pageSizeFor,
  renderHtml,
  TemplateRenderError,
  type DocumentTemplate,
} from '../../documents';
import type { AppServices, TenantScope } from '../../http/operation';
import { Problem } from '../../http/problem';
import { newId } from '../../ids';
import { findHousehold } from '../carers/shared';
import { tenantConfiguration, type TenantConfiguration } from '../configuration/tenantConfiguration';
import { findPlacement } from '../placements/service';
import {
  approvalLetterView,
  placementAgreementView,
  reviewReportView,
  type BuiltView,
  type Tenant,
} from './generateViews';
import { statementFor } from './generateStatement';
import type { Document, DocumentVersion, SubjectType, TemplateOrigin } from './models';
import { discardUnlessCommitted } from './discard';
import { documentStore } from './openStore';
import { addVersion, createDocument, findDocument } from './service';
import { objectKey } from './storage';

export interface GenerationRequest {
  template: string;
  subjectType: 'household' | 'placement' | 'payment_run';
  subjectId: string;
  paymentRunId?: string;
  householdId?: string;
  format: 'html' | 'pdf';
  title?: string;
  category?: string;
  documentId?: string;
}

/** What each kind of template is kept as, unless the caller says otherwise. */
const DEFAULT_CATEGORY: Record<string, string> = {
  letter: 'decision_letter',
  agreement: 'placement_agreement',
  report: 'review_report',
  statement: 'statement',
};

const wrongSubject = (message: string) => Problem.unprocessable([{ pointer: '/body/subjectType', message }]);

/**
 * The template's origin as the version records it: its key, the layer it came from, and that
 * layer's version (the pack's release, or the overlay's number).
 */
export function templateOrigin(services: AppServices, template: DocumentTemplate): TemplateOrigin {
  const [kind, id] = template.layer.split(':') as [string, string];
  const version = kind === 'pack' ? (services.packs.get(id)?.manifest.version ?? 'unknown') : id;
  return { key: template.key, layer: template.layer, version };
}

function templateNamed(config: TenantConfiguration, key: string): DocumentTemplate {
  try {
    return documentFor(config, key);
  } catch (error) {
    if (error instanceof DocumentTemplateError)
      throw Problem.unprocessable([
        { pointer: '/body/template', message: `is not a template of this tenant (${key})` },
      ]);
    throw error;
  }
}

/** The record's view for the template, read through each record's own finder (and so the fence). */
async function viewFor(
  ctx: TenantScope,
  tenant: Tenant,
  config: TenantConfiguration,
  template: DocumentTemplate,
  input: GenerationRequest,
): Promise<BuiltView> {
  const subject = { pointer: '/body/subjectId' };
  switch (template.kind) {
    case 'letter':
    case 'report': {
      if (template.kind === 'letter' && template.key !== 'approval-letter')
        throw Problem.unprocessable([
          { pointer: '/body/template', message: `has no record Hearth fills it from (${template.key})` },
        ]);
      if (input.subjectType !== 'household') throw wrongSubject(`must be household for ${template.key}`);
      const household = await findHousehold(ctx, input.subjectId, subject);
      return template.kind === 'letter'
        ? approvalLetterView(ctx, tenant, config, household)
        : reviewReportView(ctx, tenant, config, household);
    }
    case 'agreement': {
      if (input.subjectType !== 'placement') throw wrongSubject(`must be placement for ${template.key}`);
      const placement = await findPlacement(ctx, input.subjectId, subject);
      const household = await findHousehold(ctx, placement.householdId);
      return placementAgreementView(ctx, tenant, config, placement, household);
    }
    case 'statement': {
      const pair =
        input.subjectType === 'household'
          ? { runId: input.paymentRunId, householdId: input.subjectId, runPointer: '/body/paymentRunId' }
          : input.subjectType === 'payment_run'
            ? { runId: input.subjectId, householdId: input.householdId, runPointer: '/body/subjectId' }
            : null;
      if (!pair) throw wrongSubject(`must be household or payment_run for ${template.key}`);
      if (!pair.runId)
        throw Problem.unprocessable([{ pointer: '/body/paymentRunId', message: 'is required for a statement' }]);
      if (!pair.householdId)
        throw Problem.unprocessable([{ pointer: '/body/householdId', message: 'is required for a statement' }]);
      return statementFor(ctx, tenant, config, pair.runId, pair.householdId, {
        run: pair.runPointer,
        household: input.subjectType === 'household' ? '/body/subjectId' : '/body/householdId',
      });
    }
    default:
      throw Problem.unprocessable([
        { pointer: '/body/template', message: `is a ${template.kind} template, made by its own module` },
      ]);
  }
}

/** The rendering's bytes: same template and view, same bytes (the PDF is dated by the record). */
async function render(
  tenant: Tenant,
  template: DocumentTemplate,
  built: BuiltView,
  format: 'html' | 'pdf',
  title: string,
): Promise<Buffer> {
  let html: string;
  try {
    html = renderHtml(template.source, built.view);
  } catch (error) {
    if (error instanceof TemplateRenderError)
      throw new Problem(
        'conflict',
        `The tenant's template ${template.key} (${template.layer}) cannot render this record: ${error.message}`,
      );
    throw error;
  }
  if (format === 'html') return Buffer.from(html, 'utf8');
  return htmlToPdf(html, {
    pageSize: pageSizeFor(tenant.currency),
    title,
    creationDate: built.madeAt.length === 10 ? `${built.madeAt}T00:00:00Z` : built.madeAt,
  });
}

/** Stores the bytes under a fresh key of the tenant's, as an upload would be. */
async function storeBytes(services: AppServices, tenantId: string, bytes: Buffer, mediaType: string) {
  const key = objectKey(tenantId, newId());
  await documentStore(services).put(key, Readable.from([bytes]), { contentType: mediaType });
  return { key, sha256: crypto.createHash('sha256').update(bytes).digest('hex') };
}

/**
 * Renders a template with a record's data and keeps it as a document version (a new document, or
 * the next version of `documentId`), recording the template's key, layer and version. Audited by
 * the documents module's own writes.
 */
export async function generateDocument(
  ctx: TenantScope,
  input: GenerationRequest,
): Promise<{ document: Document; current: DocumentVersion }> {
  const tenant = await ctx
    .trx('tenants')
    .where({ id: ctx.tenantId })
    .first<{ name: string; currency: 'GBP' | 'USD' }>('name', 'currency');
  const config = await tenantConfiguration(ctx.trx, ctx.tenantId, ctx.services.packs);
  const template = templateNamed(config, input.template);
  const existing = input.documentId
    ? await findDocument(ctx, input.documentId, { lock: true, pointer: '/body/documentId' })
    : null;
  if (existing && (existing.subjectType !== input.subjectType || existing.subjectId !== input.subjectId))
    throw Problem.unprocessable([{ pointer: '/body/documentId', message: 'is a document of another record' }]);
  const built = await viewFor(ctx, tenant, config, template, input);
  const title = input.title ?? `${template.name} ${built.reference}`;
  const bytes = await render(tenant, template, built, input.format, title);
  const mediaType = input.format === 'pdf' ? 'application/pdf' : 'text/html';
  const stored = await storeBytes(ctx.services, ctx.tenantId, bytes, mediaType);
  // Whatever fails after this, up to the request's COMMIT, the bytes go with the rows.
  discardUnlessCommitted(ctx.trx, ctx.services, stored.key);
  const file = {
    objectKey: stored.key,
    filename: `${template.key}-${built.reference}.${input.format}`,
    mediaType,
    sizeBytes: bytes.length,
    sha256: stored.sha256,
    // Hearth wrote these bytes itself from a template: there is nothing foreign in them to scan.
    scanStatus: 'not_scanned' as const,
    scanDetail: null,
    source: 'generated' as const,
    template: templateOrigin(ctx.services, template),
  };
  try {
    if (existing) return await addVersion(ctx, existing, file);
    return await createDocument(
      ctx,
      {
        subjectType: input.subjectType as SubjectType,
        subjectId: input.subjectId,
        category: input.category ?? DEFAULT_CATEGORY[template.kind] ?? 'other',
        title: title.slice(0, 200),
      },
      file,
    );
  } catch (error) {
    // The rows were refused (a category off the list, say): the bytes go now, even if a caller goes on.
    await documentStore(ctx.services)
      .delete(stored.key)
      .catch(() => undefined);
    throw error;
  }
}
