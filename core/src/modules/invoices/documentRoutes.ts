import { documentResult, type CreditNoteView, type InvoiceView } from '../../documents';
import type { OperationContext, OperationMap, OperationResult } from '../../http/operation';
import { Problem } from '../../http/problem';
import { hiddenRecords } from '../children/visibility';
import { tenantConfiguration } from '../configuration/tenantConfiguration';
import { creditNoteDocument, invoiceDocument, type RenderableDocument } from './documents';

/**
 * Renders with the template of the kind the tenant's configuration has on the document's own date,
 * so an issued invoice keeps the template it was issued under when an overlay changes it later.
 */
async function render(ctx: OperationContext, kind: 'invoice' | 'credit_note', document: RenderableDocument<InvoiceView | CreditNoteView>, title: string, filename: string): Promise<OperationResult> {
  const config = await tenantConfiguration(ctx.trx, ctx.tenantId!, ctx.services.packs, document.asOf);
  const format = (ctx.query.format as 'html' | 'pdf' | undefined) ?? 'html';
  return documentResult(config, kind, document.view, { format, currency: document.currency, title, filename, madeAt: document.madeAt });
}

async function getInvoiceDocument(ctx: OperationContext): Promise<OperationResult> {
  const document = await invoiceDocument(ctx.trx, ctx.tenantId!, ctx.params.invoiceId!, (await hiddenRecords(ctx)).placements);
  if (!document) throw Problem.notFound('The invoice');
  const title = document.reference ? `Invoice ${document.reference}` : 'Draft invoice';
  return render(ctx, 'invoice', document, title, document.reference ? `invoice-${document.reference}` : `invoice-draft-${ctx.params.invoiceId}`);
}

async function getCreditNoteDocument(ctx: OperationContext): Promise<OperationResult> {
  const document = await creditNoteDocument(ctx.trx, ctx.tenantId!, ctx.params.creditNoteId!, (await hiddenRecords(ctx)).placements);
  if (!document) throw Problem.notFound('The credit note');
  return render(ctx, 'credit_note', document, `Credit note ${document.reference}`, `credit-note-${document.reference}`);
}

export const invoiceDocumentOperations: OperationMap = {
  getInvoiceDocument: { access: { permission: 'invoices:read' }, handle: getInvoiceDocument },
  getCreditNoteDocument: { access: { permission: 'invoices:read' }, handle: getCreditNoteDocument },
};
