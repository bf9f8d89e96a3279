import { keysetPage } from '../../db/keyset';
import { defineOperations, type OperationResult, type TenantContext } from '../../http/operation';
import { created, ok } from '../../http/results';
import { creditInvoice } from './issue';
import { issuing } from './invoiceRoutes';
import { CreditNote } from './models';
import { creditNoteSummaryToApi, findCreditNote, presentCreditNote } from './present';

async function createCreditNote(ctx: TenantContext<'createCreditNote'>): Promise<OperationResult> {
  const { creditNote, journal } = await creditInvoice(issuing(ctx), ctx.params.invoiceId, ctx.body);
  // The event names the invoice in the path; `after` carries the credit note and its journal.
  await ctx.audit({
    action: 'credit_note.issued',
    entityType: 'invoice',
    entityId: ctx.params.invoiceId,
    after: { ...creditNote, journal },
  });
  // A credit note never changes: it has no version to answer with.
  return created(creditNote, { location: `/v1/credit-notes/${creditNote.id}` });
}

type CreditNoteWithInvoice = CreditNote & { invoiceReference: string; commissionerId: string };

async function listCreditNotes(ctx: TenantContext<'listCreditNotes'>): Promise<OperationResult> {
  const q = ctx.query;
  const query = CreditNote.query(ctx.trx)
    .alias('c')
    .join('invoices as i', (j) => j.on('i.tenant_id', 'c.tenant_id').andOn('i.id', 'c.invoice_id'))
    .where('c.tenant_id', ctx.tenantId)
    .select('c.*', 'i.reference as invoice_reference', 'i.commissioner_id')
    .castTo<CreditNoteWithInvoice[]>();
  if (q.invoiceId) query.where('c.invoice_id', q.invoiceId);
  if (q.commissionerId) query.where('i.commissioner_id', q.commissionerId);
  const toApi = (r: CreditNoteWithInvoice) =>
    creditNoteSummaryToApi(r, { reference: r.invoiceReference, commissionerId: r.commissionerId });
  const page = await keysetPage(query, q, [{ column: 'c.number', of: (r) => Number(r.number) }], toApi, 'desc');
  return ok({ data: page.data, nextCursor: page.nextCursor });
}

async function getCreditNote(ctx: TenantContext<'getCreditNote'>): Promise<OperationResult> {
  return ok(await presentCreditNote(ctx, await findCreditNote(ctx, ctx.params.creditNoteId)));
}

export const creditNoteOperations = defineOperations({
  createCreditNote: { access: { permission: 'invoices:issue' }, handle: createCreditNote },
  listCreditNotes: { access: { permission: 'invoices:read' }, handle: listCreditNotes },
  getCreditNote: { access: { permission: 'invoices:read' }, handle: getCreditNote },
});
