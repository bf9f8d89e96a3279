import type { Knex } from 'knex';
import { formatMinor } from '../ledger/money';
import { tenantForInvoicing } from './policy';
import { creditedByLine, findInvoice } from './present';
import { billToOf, type BillTo, type CommissionerRow, type CreditNoteLineRow, type CreditNoteRow, type InvoiceRow, type LineRow } from './rows';

/**
 * The view models the invoice and credit note templates render: plain JSON, every amount both in
 * minor units and formatted in the document's currency, every date both ISO and written out. A child
 * appears only by the commissioner's reference and initials, never by name.
 */

const SYMBOLS: Record<string, string> = { GBP: '£', USD: '$' };
const LOCALES: Record<string, string> = { GBP: 'en-GB', USD: 'en-US' };

/** "£1,234.56", "-$0.05": from integer minor units, without floating point. */
export function formatMoney(minor: number, currency: string): string {
  const plain = formatMinor(Math.abs(minor), currency);
  const [whole, fraction] = plain.split('.') as [string, string | undefined];
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${minor < 0 ? '-' : ''}${SYMBOLS[currency] ?? `${currency} `}${grouped}${fraction === undefined ? '' : `.${fraction}`}`;
}

/** "2 March 2026" for a UK tenant, "March 2, 2026" for a US one. */
export function formatDate(isoDate: string, currency: string): string {
  const [y, m, d] = isoDate.split('-').map(Number) as [number, number, number];
  return new Intl.DateTimeFormat(LOCALES[currency] ?? 'en-GB', { timeZone: 'UTC', day: 'numeric', month: 'long', year: 'numeric' }).format(new Date(Date.UTC(y, m - 1, d)));
}

function dated(isoDate: string | null, currency: string) {
  return { date: isoDate, text: isoDate === null ? null : formatDate(isoDate, currency) };
}

function money(minor: number, currency: string) {
  return { amount: minor, formatted: formatMoney(minor, currency) };
}

const initialOf = (name: string) => (name.trim()[0] ?? '').toUpperCase();

/**
 * Initials of the children on the lines. Read from the children table directly: the documents are
 * built outside a request (by a renderer), and only the initials ever leave this function.
 */
async function childInitials(trx: Knex.Transaction, tenantId: string, childIds: string[]): Promise<Map<string, string>> {
  if (!childIds.length) return new Map();
  const rows = (await trx('children').where({ tenant_id: tenantId }).whereIn('id', [...new Set(childIds)]).select('id', 'given_name', 'family_name')) as Array<{ id: string; given_name: string; family_name: string }>;
  return new Map(rows.map((r) => [r.id, `${initialOf(r.given_name)}.${initialOf(r.family_name)}.`]));
}

function billToView(billTo: BillTo) {
  return { name: billTo.name, addressLines: billTo.addressLines, email: billTo.email, customerReference: billTo.customerReference };
}

function lineView(line: LineRow, currency: string, initials: Map<string, string>) {
  const fee = Number(line.fee_amount);
  const nightsWord = line.nights === 1 ? 'night' : 'nights';
  return {
    lineNumber: line.line_number,
    childReference: line.commissioner_reference ?? initials.get(line.child_id) ?? null,
    childInitials: initials.get(line.child_id) ?? null,
    commissionerReference: line.commissioner_reference,
    period: { start: dated(line.period_start, currency), end: dated(line.period_end, currency) },
    nights: line.nights,
    fee: { ...money(fee, currency), per: line.fee_period },
    ...money(Number(line.amount), currency),
    description: `Placement fee: ${line.nights} ${nightsWord} at ${formatMoney(fee, currency)} per ${line.fee_period}`,
  };
}

/** The invoice (or draft, for a preview) as its template renders it; null when there is no such invoice. */
export async function invoiceDocumentData(trx: Knex.Transaction, tenantId: string, invoiceId: string) {
  const found = await findInvoice(trx, tenantId, invoiceId);
  if (!found) return null;
  const tenant = await tenantForInvoicing(trx, tenantId);
  const issued: InvoiceRow | null = found.kind === 'issued' ? found.row : null;
  const currency = found.row.currency;
  const lines = issued
    ? ((await trx('invoice_lines').where({ tenant_id: tenantId, invoice_id: invoiceId }).orderBy('line_number')) as LineRow[])
    : ((await trx('invoice_draft_lines').where({ tenant_id: tenantId, draft_id: invoiceId }).orderBy('line_number')) as LineRow[]);
  const billTo = issued ? issued.bill_to : billToOf((await trx('commissioners').where({ tenant_id: tenantId, id: found.row.commissioner_id }).first()) as CommissionerRow);
  const initials = await childInitials(trx, tenantId, lines.map((l) => l.child_id));
  const notes = issued ? ((await trx('credit_notes').where({ tenant_id: tenantId, invoice_id: invoiceId }).orderBy('number')) as CreditNoteRow[]) : [];
  const credited = issued ? await creditedByLine(trx, tenantId, invoiceId) : new Map<string, number>();
  const net = lines.reduce((sum, l) => sum + Number(l.amount), 0);
  const creditedTotal = notes.reduce((sum, n) => sum + Number(n.total), 0);
  return {
    documentType: 'invoice' as const,
    status: found.kind,
    number: issued?.reference ?? null,
    sequence: issued?.number ?? null,
    issueDate: dated(issued?.issue_date ?? null, currency),
    dueDate: dated(issued?.due_date ?? null, currency),
    paymentTermsDays: issued?.payment_terms_days ?? null,
    period: { start: dated(found.row.period_start, currency), end: dated(found.row.period_end, currency) },
    currency,
    supplier: { name: tenant.name },
    billTo: billToView(billTo),
    lines: lines.map((l) => ({ ...lineView(l, currency, initials), credited: money(credited.get(l.id) ?? 0, currency) })),
    creditNotes: notes.map((n) => ({ number: n.reference, issueDate: dated(n.issue_date, currency), reason: n.reason, total: money(Number(n.total), currency) })),
    totals: { net: money(net, currency), credited: money(creditedTotal, currency), balance: money(net - creditedTotal, currency) },
  };
}

/** The credit note as its template renders it; null when there is no such credit note. */
export async function creditNoteDocumentData(trx: Knex.Transaction, tenantId: string, creditNoteId: string) {
  const note = (await trx('credit_notes').where({ tenant_id: tenantId, id: creditNoteId }).first()) as CreditNoteRow | undefined;
  if (!note) return null;
  const tenant = await tenantForInvoicing(trx, tenantId);
  const invoice = (await trx('invoices').where({ tenant_id: tenantId, id: note.invoice_id }).first()) as InvoiceRow;
  const credits = (await trx('credit_note_lines').where({ tenant_id: tenantId, credit_note_id: note.id }).orderBy('line_number')) as CreditNoteLineRow[];
  const invoiceLines = new Map(((await trx('invoice_lines').where({ tenant_id: tenantId, invoice_id: invoice.id })) as LineRow[]).map((l) => [l.id, l]));
  const initials = await childInitials(trx, tenantId, [...invoiceLines.values()].map((l) => l.child_id));
  const currency = note.currency;
  return {
    documentType: 'credit_note' as const,
    number: note.reference,
    sequence: note.number,
    issueDate: dated(note.issue_date, currency),
    reason: note.reason,
    currency,
    supplier: { name: tenant.name },
    billTo: billToView(invoice.bill_to),
    invoice: { number: invoice.reference, issueDate: dated(invoice.issue_date, currency), total: money(Number(invoice.total), currency) },
    lines: credits.map((c) => {
      const line = invoiceLines.get(c.invoice_line_id)!;
      const view = lineView(line, currency, initials);
      return {
        lineNumber: c.line_number,
        invoiceLineNumber: line.line_number,
        childReference: view.childReference,
        childInitials: view.childInitials,
        commissionerReference: view.commissionerReference,
        period: view.period,
        nights: line.nights,
        invoiced: money(Number(line.amount), currency),
        ...money(Number(c.amount), currency),
        description: `Credit against ${invoice.reference} line ${line.line_number} (${view.description})`,
      };
    }),
    totals: { total: money(Number(note.total), currency) },
  };
}
