import { iso } from '../../time';
import type { FeePeriod } from './pricing';

export type CommissionerKind = 'local_authority' | 'county' | 'state_agency' | 'other';

export interface CommissionerRow {
  tenant_id: string; id: string; name: string; kind: CommissionerKind; customer_reference: string | null; address_lines: string[]; email: string | null;
  payment_terms_days: number | null; status: 'active' | 'archived'; version: number; created_by: string | null; created_at: Date; updated_at: Date;
}

export interface CommissionRow {
  tenant_id: string; id: string; placement_id: string; commissioner_id: string; fee_amount: number; fee_period: FeePeriod; effective_from: string;
  commissioner_reference: string | null; notes: string | null; created_by: string | null; created_at: Date;
}

export interface DraftRow {
  tenant_id: string; id: string; commissioner_id: string; period_start: string; period_end: string; currency: 'GBP' | 'USD'; total: number;
  version: number; created_by: string | null; created_at: Date; updated_at: Date;
}

export interface InvoiceRow {
  tenant_id: string; id: string; number: number; reference: string; commissioner_id: string; period_start: string; period_end: string; issue_date: string;
  due_date: string; payment_terms_days: number; currency: 'GBP' | 'USD'; total: number; bill_to: BillTo; journal_id: string;
  drafted_by: string | null; drafted_at: Date; issued_by: string | null; issued_at: Date;
}

/** A line of a draft or of an issued invoice: the two tables share their columns. */
export interface LineRow {
  tenant_id: string; id: string; line_number: number; placement_id: string; child_id: string; commission_id: string; commissioner_reference: string | null;
  period_start: string; period_end: string; nights: number; fee_amount: number; fee_period: FeePeriod; amount: number;
}

export interface CreditNoteRow {
  tenant_id: string; id: string; number: number; reference: string; invoice_id: string; issue_date: string; reason: string; currency: 'GBP' | 'USD';
  total: number; journal_id: string; created_by: string | null; created_at: Date;
}

export interface CreditNoteLineRow {
  tenant_id: string; id: string; credit_note_id: string; line_number: number; invoice_line_id: string; amount: number;
}

/** Whom an issued invoice is addressed to, as the commissioner stood when it was issued. */
export interface BillTo {
  name: string;
  kind: CommissionerKind;
  customerReference: string | null;
  addressLines: string[];
  email: string | null;
}

export function commissionerToApi(r: CommissionerRow) {
  return {
    id: r.id, name: r.name, kind: r.kind, customerReference: r.customer_reference, addressLines: r.address_lines, email: r.email,
    paymentTermsDays: r.payment_terms_days, status: r.status, version: r.version, createdBy: r.created_by, createdAt: iso(r.created_at), updatedAt: iso(r.updated_at),
  };
}

export function billToOf(r: CommissionerRow): BillTo {
  return { name: r.name, kind: r.kind, customerReference: r.customer_reference, addressLines: r.address_lines, email: r.email };
}

export function commissionToApi(r: CommissionRow) {
  return {
    id: r.id, placementId: r.placement_id, commissionerId: r.commissioner_id, feeAmount: Number(r.fee_amount), feePeriod: r.fee_period, effectiveFrom: r.effective_from,
    commissionerReference: r.commissioner_reference, notes: r.notes, createdBy: r.created_by, createdAt: iso(r.created_at),
  };
}

export function lineToApi(r: LineRow, credited = 0) {
  return {
    // Null only where the child's record is restricted and the caller is not named on it (shownInvoice).
    id: r.id, lineNumber: r.line_number, placementId: r.placement_id as string | null, childId: r.child_id as string | null, commissionId: r.commission_id as string | null, commissionerReference: r.commissioner_reference,
    periodStart: r.period_start, periodEnd: r.period_end, nights: r.nights, feeAmount: Number(r.fee_amount), feePeriod: r.fee_period, amount: Number(r.amount),
    credited, remaining: Number(r.amount) - credited,
  };
}

export type InvoiceSummary = ReturnType<typeof draftSummaryToApi>;

export function draftSummaryToApi(r: DraftRow) {
  return {
    id: r.id, status: 'draft' as 'draft' | 'issued', number: null as number | null, reference: null as string | null, commissionerId: r.commissioner_id,
    periodStart: r.period_start, periodEnd: r.period_end, currency: r.currency, total: Number(r.total), credited: 0,
    issueDate: null as string | null, dueDate: null as string | null, paymentTermsDays: null as number | null, journalId: null as string | null,
    version: r.version as number | null, createdBy: r.created_by, createdAt: iso(r.created_at), issuedBy: null as string | null, issuedAt: null as string | null,
  };
}

export function invoiceSummaryToApi(r: InvoiceRow, credited: number): InvoiceSummary {
  return {
    id: r.id, status: 'issued', number: r.number, reference: r.reference, commissionerId: r.commissioner_id, periodStart: r.period_start, periodEnd: r.period_end,
    currency: r.currency, total: Number(r.total), credited, issueDate: r.issue_date, dueDate: r.due_date, paymentTermsDays: r.payment_terms_days, journalId: r.journal_id,
    version: null, createdBy: r.drafted_by, createdAt: iso(r.drafted_at), issuedBy: r.issued_by, issuedAt: iso(r.issued_at),
  };
}

export function creditNoteSummaryToApi(r: CreditNoteRow, invoice: { reference: string; commissionerId: string }) {
  return {
    id: r.id, number: r.number, reference: r.reference, invoiceId: r.invoice_id, invoiceReference: invoice.reference, commissionerId: invoice.commissionerId,
    issueDate: r.issue_date, reason: r.reason, currency: r.currency, total: Number(r.total), journalId: r.journal_id, createdBy: r.created_by, createdAt: iso(r.created_at),
  };
}
