import type { ModelObject } from 'objection';
import { findOne, notFound, type FindOptions, type FindScope } from '../../db/find';
import { iso } from '../../time';
import { withholdRestricted, type Fenced } from '../children/visibility';
import {
  ChargeLine,
  Commissioner,
  CreditNote,
  CreditNoteLine,
  Invoice,
  InvoiceDraft,
  InvoiceDraftLine,
  InvoiceLine,
  InvoiceNight,
  type BillTo,
  type PlacementCommission,
} from './models';

export type Found = { kind: 'draft'; row: InvoiceDraft } | { kind: 'issued'; row: Invoice };

/** A draft or an issued invoice by id (a draft keeps its id when issued), or null. `lockDraft` takes a draft's row lock. */
export async function invoiceOrDraft(
  scope: FindScope,
  id: string,
  options: { lockDraft?: boolean } = {},
): Promise<Found | null> {
  const issued = await Invoice.query(scope.trx).where({ tenant_id: scope.tenantId, id }).first();
  if (issued) return { kind: 'issued', row: issued };
  const query = InvoiceDraft.query(scope.trx).where({ tenant_id: scope.tenantId, id }).first();
  if (options.lockDraft) query.forUpdate();
  const draft = await query;
  return draft ? { kind: 'draft', row: draft } : null;
}

/** A draft or an issued invoice of the tenant, or not found: the one finder for an invoice. */
export async function findInvoice(
  scope: FindScope,
  id: string,
  options: { lockDraft?: boolean; pointer?: string } = {},
): Promise<Found> {
  const found = await invoiceOrDraft(scope, id, options);
  if (!found) throw notFound(Invoice.noun, options.pointer);
  return found;
}

export function findCommissioner(scope: FindScope, id: string, options: FindOptions = {}): Promise<Commissioner> {
  return findOne<Commissioner>(scope, Commissioner, id, options);
}

export function findCreditNote(scope: FindScope, id: string, options: FindOptions = {}): Promise<CreditNote> {
  return findOne<CreditNote>(scope, CreditNote, id, options);
}

export function commissionerToApi(r: Commissioner) {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    customerReference: r.customerReference,
    addressLines: r.addressLines,
    email: r.email,
    paymentTermsDays: r.paymentTermsDays,
    status: r.status,
    version: r.version,
    createdBy: r.createdBy,
    createdAt: iso(r.createdAt),
    updatedAt: iso(r.updatedAt),
  };
}

export function billToOf(r: Commissioner): BillTo {
  return {
    name: r.name,
    kind: r.kind,
    customerReference: r.customerReference,
    addressLines: r.addressLines,
    email: r.email,
  };
}

export function commissionToApi(r: PlacementCommission) {
  return {
    id: r.id,
    placementId: r.placementId,
    commissionerId: r.commissionerId,
    feeAmount: Number(r.feeAmount),
    feePeriod: r.feePeriod,
    effectiveFrom: r.effectiveFrom,
    commissionerReference: r.commissionerReference,
    notes: r.notes,
    createdBy: r.createdBy,
    createdAt: iso(r.createdAt),
  };
}

export function lineToApi(r: ModelObject<ChargeLine>, credited = 0) {
  return {
    // Null only where the child's record is restricted and the caller is not named on it (shownInvoice).
    id: r.id,
    lineNumber: r.lineNumber,
    placementId: r.placementId as string | null,
    childId: r.childId as string | null,
    commissionId: r.commissionId as string | null,
    commissionerReference: r.commissionerReference,
    periodStart: r.periodStart,
    periodEnd: r.periodEnd,
    nights: r.nights,
    feeAmount: Number(r.feeAmount),
    feePeriod: r.feePeriod,
    amount: Number(r.amount),
    credited,
    remaining: Number(r.amount) - credited,
  };
}

export type InvoiceSummary = ReturnType<typeof draftSummaryToApi>;

export function draftSummaryToApi(r: InvoiceDraft) {
  return {
    id: r.id,
    status: 'draft' as 'draft' | 'issued',
    number: null as number | null,
    reference: null as string | null,
    commissionerId: r.commissionerId,
    periodStart: r.periodStart,
    periodEnd: r.periodEnd,
    currency: r.currency,
    total: Number(r.total),
    credited: 0,
    issueDate: null as string | null,
    dueDate: null as string | null,
    paymentTermsDays: null as number | null,
    journalId: null as string | null,
    version: r.version as number | null,
    createdBy: r.createdBy,
    createdAt: iso(r.createdAt),
    issuedBy: null as string | null,
    issuedAt: null as string | null,
  };
}

export function invoiceSummaryToApi(r: Invoice, credited: number): InvoiceSummary {
  return {
    id: r.id,
    status: 'issued',
    number: r.number,
    reference: r.reference,
    commissionerId: r.commissionerId,
    periodStart: r.periodStart,
    periodEnd: r.periodEnd,
    currency: r.currency,
    total: Number(r.total),
    credited,
    issueDate: r.issueDate,
    dueDate: r.dueDate,
    paymentTermsDays: r.paymentTermsDays,
    journalId: r.journalId,
    version: null,
    createdBy: r.draftedBy,
    createdAt: iso(r.draftedAt),
    issuedBy: r.issuedBy,
    issuedAt: iso(r.issuedAt),
  };
}

export function creditNoteSummaryToApi(r: CreditNote, invoice: { reference: string; commissionerId: string }) {
  return {
    id: r.id,
    number: r.number,
    reference: r.reference,
    invoiceId: r.invoiceId,
    invoiceReference: invoice.reference,
    commissionerId: invoice.commissionerId,
    issueDate: r.issueDate,
    reason: r.reason,
    currency: r.currency,
    total: Number(r.total),
    journalId: r.journalId,
    createdBy: r.createdBy,
    createdAt: iso(r.createdAt),
  };
}

/** A draft's lines, or an issued invoice's, in order. */
export async function draftLines(scope: FindScope, draftId: string): Promise<InvoiceDraftLine[]> {
  return InvoiceDraftLine.query(scope.trx)
    .where({ tenant_id: scope.tenantId, draft_id: draftId })
    .orderBy('line_number');
}

export async function invoiceLines(scope: FindScope, invoiceId: string): Promise<InvoiceLine[]> {
  return InvoiceLine.query(scope.trx)
    .where({ tenant_id: scope.tenantId, invoice_id: invoiceId })
    .orderBy('line_number');
}

/** What each line of an issued invoice has been credited so far, by line id. */
export async function creditedByLine(scope: FindScope, invoiceId: string): Promise<Map<string, number>> {
  const rows: Array<{ invoice_line_id: string; credited: number }> = await scope
    .trx('credit_note_lines as cl')
    .join('credit_notes as c', (j) => j.on('c.tenant_id', 'cl.tenant_id').andOn('c.id', 'cl.credit_note_id'))
    .where({ 'cl.tenant_id': scope.tenantId, 'c.invoice_id': invoiceId })
    .groupBy('cl.invoice_line_id')
    .select('cl.invoice_line_id', scope.trx.raw('sum(cl.amount)::bigint AS credited'));
  return new Map(rows.map((r) => [r.invoice_line_id, Number(r.credited)]));
}

export async function presentDraft(scope: FindScope, draft: InvoiceDraft) {
  const lines = await draftLines(scope, draft.id);
  const commissioner = await findCommissioner(scope, draft.commissionerId);
  // A draft shows whom it would be addressed to today; issuing fixes that.
  const creditNotes: Array<{ id: string; reference: string; issueDate: string; total: number }> = [];
  return {
    ...draftSummaryToApi(draft),
    billTo: billToOf(commissioner),
    lines: lines.map((l) => lineToApi(l)),
    creditNotes,
  };
}

export async function presentIssued(scope: FindScope, invoice: Invoice) {
  const lines = await invoiceLines(scope, invoice.id);
  const credited = await creditedByLine(scope, invoice.id);
  const notes = await CreditNote.query(scope.trx)
    .where({ tenant_id: scope.tenantId, invoice_id: invoice.id })
    .orderBy('number');
  const creditedTotal = notes.reduce((sum, n) => sum + Number(n.total), 0);
  return {
    ...invoiceSummaryToApi(invoice, creditedTotal),
    billTo: invoice.billTo,
    lines: lines.map((l) => lineToApi(l, credited.get(l.id) ?? 0)),
    creditNotes: notes.map((n) => ({
      id: n.id,
      reference: n.reference,
      issueDate: n.issueDate,
      total: Number(n.total),
    })),
  };
}

export async function presentInvoice(scope: FindScope, found: Found) {
  return found.kind === 'draft' ? presentDraft(scope, found.row) : presentIssued(scope, found.row);
}

export async function presentCreditNote(scope: FindScope, note: CreditNote) {
  const invoice = await Invoice.query(scope.trx)
    .where({ tenant_id: scope.tenantId, id: note.invoiceId })
    .first()
    .throwIfNotFound();
  const lines = await CreditNoteLine.query(scope.trx)
    .where({ tenant_id: scope.tenantId, credit_note_id: note.id })
    .orderBy('line_number');
  const freedLines = await InvoiceNight.query(scope.trx)
    .where({ tenant_id: scope.tenantId, credit_note_id: note.id })
    .distinct('invoice_line_id');
  const freed = new Set(freedLines.map((r) => r.invoiceLineId));
  return {
    ...creditNoteSummaryToApi(note, { reference: invoice.reference, commissionerId: invoice.commissionerId }),
    lines: lines.map((l) => ({
      id: l.id,
      lineNumber: l.lineNumber,
      invoiceLineId: l.invoiceLineId,
      amount: Number(l.amount),
      freedNights: freed.has(l.invoiceLineId),
    })),
  };
}

/**
 * An invoice as the caller may see it: a line about a restricted child keeps its nights and amounts
 * (the invoice still adds up), with the child, the placement, the fee it was priced from and the
 * commissioner's reference for the child withheld from anyone not named on the record.
 */
export async function shownInvoice<T extends { lines: Array<ReturnType<typeof lineToApi>> }>(
  ctx: Fenced,
  invoice: T,
): Promise<T> {
  return {
    ...invoice,
    lines: await withholdRestricted(ctx, invoice.lines, { commissionId: null, commissionerReference: null }),
  };
}
