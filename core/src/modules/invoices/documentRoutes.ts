import { documentResult, type CreditNoteView, type InvoiceView } from '../../documents';
import { defineOperations, type OperationResult, type TenantContext, type TenantScope } from '../../http/operation';
import { hiddenRecords } from '../children/visibility';
import { tenantConfiguration } from '../configuration/tenantConfiguration';
import { creditNoteDocument, invoiceDocument, type RenderableDocument } from './documents';
import { findCreditNote, findInvoice } from './present';

/**
 * Renders with the template of the kind the tenant's configuration has on the document's own date,
 * so an issued invoice keeps the template it was issued under when an overlay changes it later.
 */
async function render(
  scope: TenantScope,
  kind: 'invoice' | 'credit_note',
  document: RenderableDocument<InvoiceView | CreditNoteView>,
  options: { format: 'html' | 'pdf' | undefined; title: string; filename: string },
): Promise<OperationResult> {
  const config = await tenantConfiguration(scope.trx, scope.tenantId, scope.services.packs, document.asOf);
  const { title, filename } = options;
  const { currency, madeAt } = document;
  return documentResult(config, kind, document.view, {
    format: options.format ?? 'html',
    currency,
    title,
    filename,
    madeAt,
  });
}

async function getInvoiceDocument(ctx: TenantContext<'getInvoiceDocument'>): Promise<OperationResult> {
  const found = await findInvoice(ctx, ctx.params.invoiceId);
  const document = await invoiceDocument(ctx, found, (await hiddenRecords(ctx)).placements);
  const title = document.reference ? `Invoice ${document.reference}` : 'Draft invoice';
  const filename = document.reference ? `invoice-${document.reference}` : `invoice-draft-${ctx.params.invoiceId}`;
  return render(ctx, 'invoice', document, { format: ctx.query.format, title, filename });
}

async function getCreditNoteDocument(ctx: TenantContext<'getCreditNoteDocument'>): Promise<OperationResult> {
  const note = await findCreditNote(ctx, ctx.params.creditNoteId);
  const document = await creditNoteDocument(ctx, note, (await hiddenRecords(ctx)).placements);
  const title = `Credit note ${document.reference}`;
  return render(ctx, 'credit_note', document, {
    format: ctx.query.format,
    title,
    filename: `credit-note-${document.reference}`,
  });
}

export const invoiceDocumentOperations = defineOperations({
  getInvoiceDocument: { access: { permission: 'invoices:read' }, handle: getInvoiceDocument },
  getCreditNoteDocument: { access: { permission: 'invoices:read' }, handle: getCreditNoteDocument },
});
