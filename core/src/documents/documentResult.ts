import type { OperationResult } from '../http/operation';
import { Problem } from '../http/problem';
import type { TenantConfiguration } from '../modules/configuration/tenantConfiguration';
import { documentOfKind, DocumentTemplateError, type DocumentTemplate, type TemplateKind } from './documentFor';
import { htmlToPdf, pageSizeFor } from './htmlToPdf';
import { renderHtml, TemplateRenderError } from './renderHtml';

export interface DocumentRequest {
  format: 'html' | 'pdf';
  currency: 'GBP' | 'USD';
  /** The PDF's title; the HTML's own <title> otherwise. */
  title: string;
  /** The file name without its extension. */
  filename: string;
  /** When the document was made (the record's own date), so a render again gives the same bytes. */
  madeAt: Date | string;
}

/** A number prefix may hold `/`, which a file name may not. */
const fileSafe = (text: string) => text.replace(/[^A-Za-z0-9._-]/g, '-');

/**
 * A document answered as HTML or PDF from the tenant's template of the kind, in the configuration
 * given (the caller picks its date). A template that is missing, or that prints a field the view
 * does not have (an overlay's source is only checked to compile when it is added), is the tenant's
 * configuration to put right: a 409 naming the template, not a fault of the server.
 */
export async function documentResult(
  config: TenantConfiguration,
  kind: TemplateKind,
  view: object,
  request: DocumentRequest,
): Promise<OperationResult> {
  let template: DocumentTemplate;
  let html: string;
  try {
    template = documentOfKind(config, kind);
    html = renderHtml(template.source, view);
  } catch (error) {
    if (error instanceof DocumentTemplateError) throw new Problem('conflict', error.message);
    if (error instanceof TemplateRenderError)
      throw new Problem(
        'conflict',
        `The tenant's ${kind.replace('_', ' ')} template (${template!.layer}) cannot render this document: ${error.message}`,
      );
    throw error;
  }
  const filename = fileSafe(request.filename);
  if (request.format === 'html')
    return {
      status: 200,
      raw: { contentType: 'text/html; charset=utf-8', body: html, filename: `${filename}.html` },
      noWrite: true,
    };
  const pdf = await htmlToPdf(html, {
    pageSize: pageSizeFor(request.currency),
    title: request.title,
    creationDate: request.madeAt,
  });
  return {
    status: 200,
    raw: { contentType: 'application/pdf', body: pdf, filename: `${filename}.pdf` },
    noWrite: true,
  };
}
