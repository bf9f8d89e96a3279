import type { Knex } from 'knex';
import type { OperationContext } from '../../http/operation';
import { withholdRestricted } from '../children/visibility';
import {
  billToOf, creditNoteSummaryToApi, draftSummaryToApi, invoiceSummaryToApi, lineToApi,
  type CommissionerRow, type CreditNoteLineRow, type CreditNoteRow, type DraftRow, type InvoiceRow, type LineRow,
} from './rows';

export type Found = { kind: 'draft'; row: DraftRow } | { kind: 'issued'; row: InvoiceRow };

/** A draft or an issued invoice by id (a draft keeps its id when issued), or null. */
export async function findInvoice(trx: Knex.Transaction, tenantId: string, id: string, options: { lockDraft?: boolean } = {}): Promise<Found | null> {
  const issued = (await trx('invoices').where({ tenant_id: tenantId, id }).first()) as InvoiceRow | undefined;
  if (issued) return { kind: 'issued', row: issued };
  const query = trx('invoice_drafts').where({ tenant_id: tenantId, id }).first();
  if (options.lockDraft) query.forUpdate();
  const draft = (await query) as DraftRow | undefined;
  return draft ? { kind: 'draft', row: draft } : null;
}

/** What each line of an issued invoice has been credited so far, by line id. */
export async function creditedByLine(trx: Knex.Transaction, tenantId: string, invoiceId: string): Promise<Map<string, number>> {
  const rows = (await trx('credit_note_lines as cl')
    .join('credit_notes as c', (j) => j.on('c.tenant_id', 'cl.tenant_id').andOn('c.id', 'cl.credit_note_id'))
    .where({ 'cl.tenant_id': tenantId, 'c.invoice_id': invoiceId })
    .groupBy('cl.invoice_line_id')
    .select('cl.invoice_line_id', trx.raw('sum(cl.amount)::bigint AS credited'))) as Array<{ invoice_line_id: string; credited: number }>;
  return new Map(rows.map((r) => [r.invoice_line_id, Number(r.credited)]));
}

export async function presentDraft(trx: Knex.Transaction, tenantId: string, draft: DraftRow) {
  const lines = (await trx('invoice_draft_lines').where({ tenant_id: tenantId, draft_id: draft.id }).orderBy('line_number')) as LineRow[];
  const commissioner = (await trx('commissioners').where({ tenant_id: tenantId, id: draft.commissioner_id }).first()) as CommissionerRow;
  // A draft shows whom it would be addressed to today; issuing fixes that.
  return { ...draftSummaryToApi(draft), billTo: billToOf(commissioner), lines: lines.map((l) => lineToApi(l)), creditNotes: [] as Array<{ id: string; reference: string; issueDate: string; total: number }> };
}

export async function presentIssued(trx: Knex.Transaction, tenantId: string, invoice: InvoiceRow) {
  const lines = (await trx('invoice_lines').where({ tenant_id: tenantId, invoice_id: invoice.id }).orderBy('line_number')) as LineRow[];
  const credited = await creditedByLine(trx, tenantId, invoice.id);
  const notes = (await trx('credit_notes').where({ tenant_id: tenantId, invoice_id: invoice.id }).orderBy('number')) as CreditNoteRow[];
  const creditedTotal = notes.reduce((sum, n) => sum + Number(n.total), 0);
  return {
    ...invoiceSummaryToApi(invoice, creditedTotal),
    billTo: invoice.bill_to,
    lines: lines.map((l) => lineToApi(l, credited.get(l.id) ?? 0)),
    creditNotes: notes.map((n) => ({ id: n.id, reference: n.reference, issueDate: n.issue_date, total: Number(n.total) })),
  };
}

export async function presentInvoice(trx: Knex.Transaction, tenantId: string, found: Found) {
  return found.kind === 'draft' ? presentDraft(trx, tenantId, found.row) : presentIssued(trx, tenantId, found.row);
}

export async function presentCreditNote(trx: Knex.Transaction, tenantId: string, note: CreditNoteRow) {
  const invoice = (await trx('invoices').where({ tenant_id: tenantId, id: note.invoice_id }).first('reference', 'commissioner_id')) as { reference: string; commissioner_id: string };
  const lines = (await trx('credit_note_lines').where({ tenant_id: tenantId, credit_note_id: note.id }).orderBy('line_number')) as CreditNoteLineRow[];
  const freed = new Set(((await trx('invoice_nights').where({ tenant_id: tenantId, credit_note_id: note.id }).distinct('invoice_line_id')) as Array<{ invoice_line_id: string }>).map((r) => r.invoice_line_id));
  return {
    ...creditNoteSummaryToApi(note, { reference: invoice.reference, commissionerId: invoice.commissioner_id }),
    lines: lines.map((l) => ({ id: l.id, lineNumber: l.line_number, invoiceLineId: l.invoice_line_id, amount: Number(l.amount), freedNights: freed.has(l.invoice_line_id) })),
  };
}

/**
 * An invoice as the caller may see it: a line about a restricted child keeps its nights and amounts
 * (the invoice still adds up), with the child, the placement, the fee it was priced from and the
 * commissioner's reference for the child withheld from anyone not named on the record.
 */
export async function shownInvoice<T extends { lines: Array<ReturnType<typeof lineToApi>> }>(ctx: OperationContext, invoice: T): Promise<T> {
  return { ...invoice, lines: await withholdRestricted(ctx, invoice.lines, { commissionId: null, commissionerReference: null }) };
}
