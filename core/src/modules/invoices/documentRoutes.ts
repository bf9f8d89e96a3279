import { documentOfKind, DocumentTemplateError, htmlToPdf, pageSizeFor, renderHtml, TemplateRenderError, type CreditNoteView, type DocumentTemplate, type InvoiceView } from '../../documents';
import type { OperationContext, OperationMap, OperationResult } from '../../http/operation';
import { Problem } from '../../http/problem';
import { tenantConfiguration } from '../configuration/tenantConfiguration';
import { creditNoteDocument, invoiceDocument, type RenderableDocument } from './documents';

/** A number prefix may hold `/`, which a file name may not. */
const fileSafe = (text: string) => text.replace(/[^A-Za-z0-9._-]/g, '-');

/**
 * Renders with the template of the kind the tenant's configuration has on the document's own date,
 * so an issued invoice keeps the template it was issued under when an overlay changes it later.
 */
async function render(ctx: OperationContext, kind: 'invoice' | 'credit_note', document: RenderableDocument<InvoiceView | CreditNoteView>, title: string, filename: string): Promise<OperationResult> {
  const config = await tenantConfiguration(ctx.trx, ctx.tenantId!, ctx.services.packs, document.asOf);
  let template: DocumentTemplate;
  try {
    template = documentOfKind(config, kind);
  } catch (error) {
    if (error instanceof DocumentTemplateError) throw new Problem('conflict', error.message);
    throw error;
  }
  let html: string;
  try {
    html = renderHtml(template.source, document.view);
  } catch (error) {
    // An overlay's source is checked only for compiling when it is added; one that prints a field
    // these documents do not have is the tenant's configuration to fix, not a fault of the server.
    if (error instanceof TemplateRenderError) throw new Problem('conflict', `The tenant's ${kind.replace('_', ' ')} template (${template.layer}) cannot render this document: ${error.message}`);
    throw error;
  }
  const format = (ctx.query.format as 'html' | 'pdf' | undefined) ?? 'html';
  if (format === 'html') return { status: 200, raw: { contentType: 'text/html; charset=utf-8', body: html, filename: `${fileSafe(filename)}.html` }, noWrite: true };
  const pdf = await htmlToPdf(html, { pageSize: pageSizeFor(document.currency), title, creationDate: document.madeAt });
  return { status: 200, raw: { contentType: 'application/pdf', body: pdf, filename: `${fileSafe(filename)}.pdf` }, noWrite: true };
}

async function getInvoiceDocument(ctx: OperationContext): Promise<OperationResult> {
  const document = await invoiceDocument(ctx.trx, ctx.tenantId!, ctx.params.invoiceId!);
  if (!document) throw Problem.notFound('The invoice');
  const title = document.reference ? `Invoice ${document.reference}` : 'Draft invoice';
  return render(ctx, 'invoice', document, title, document.reference ? `invoice-${document.reference}` : `invoice-draft-${ctx.params.invoiceId}`);
}

async function getCreditNoteDocument(ctx: OperationContext): Promise<OperationResult> {
  const document = await creditNoteDocument(ctx.trx, ctx.tenantId!, ctx.params.creditNoteId!);
  if (!document) throw Problem.notFound('The credit note');
  return render(ctx, 'credit_note', document, `Credit note ${document.reference}`, `credit-note-${document.reference}`);
}

export const invoiceDocumentOperations: OperationMap = {
  getInvoiceDocument: { access: { permission: 'invoices:read' }, handle: getInvoiceDocument },
  getCreditNoteDocument: { access: { permission: 'invoices:read' }, handle: getCreditNoteDocument },
};
