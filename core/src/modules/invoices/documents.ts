import type { Knex } from 'knex';
import {
  formatDocumentDate,
  formatMoney,
  type BillToView,
  type ChargeLineView,
  type CreditNoteView,
  type InvoiceView,
} from '../../documents';
import { addDays } from '../../dates';
import { WITHHELD_NAME } from '../children/visibility';
import type { FindScope } from '../../db/find';
import {
  CreditNote,
  CreditNoteLine,
  Invoice,
  InvoiceLine,
  type BillTo,
  type ChargeLine,
  type Currency,
} from './models';
import { invoicingPolicy, tenantForInvoicing } from './policy';
import { billToOf, draftLines, findCommissioner, invoiceLines, invoiceOrDraft, type Found } from './present';

/**
 * The view models the packs' invoice and credit note templates render (InvoiceView, CreditNoteView in
 * core/src/documents/viewModels.ts): display strings in the document's currency, dates written out
 * with their ISO twins. A child appears by initials only, the placement by the commissioner's own
 * reference for it: these documents leave the service.
 */

/** A view model with what rendering it needs besides: which configuration, which date for the PDF, which name for the file. */
export interface RenderableDocument<View> {
  view: View;
  currency: Currency;
  draft: boolean;
  /** The date whose configuration (and so template) renders it: the issue date, or today for a draft. */
  asOf: string;
  /** When the record was made: the PDF's creation date, so rendering the same record again gives the same bytes. */
  madeAt: Date;
  /** The number printed on it, or null for a draft. */
  reference: string | null;
}

type Service = InvoiceView['service'];

/**
 * Hearth holds no postal address, contact, registration or tax number for a tenant yet, so the
 * documents carry its name alone; a tenant that must print more puts it in its own template (an
 * overlay of the pack's).
 */
function serviceView(name: string): Service {
  return { name, legalName: name, addressLines: [], contact: name, registration: null, taxNumber: null };
}

/**
 * `reference` is the commissioner's own (their purchase order or contract), which it records per
 * placement: printed when every line carries the same one. The commissioner's `customerReference` is
 * the tenant's account number for it, not theirs, so it is not printed as "your reference".
 */
function billToView(billTo: BillTo, lines: ChargeLine[]): BillToView {
  const references = new Set(lines.map((l) => l.commissionerReference));
  return {
    name: billTo.name,
    addressLines: billTo.addressLines,
    reference: references.size === 1 ? [...references][0]! : null,
  };
}

interface PlacementFacts {
  kind: string;
  initials: string;
  withheld: boolean;
}

/**
 * The kind of each placement and its child's initials. The initials are made in SQL so that a
 * child's name never reaches this process on the way to a document. `hidden`: placements of children
 * whose records are restricted from whoever asks: their lines keep their charges, the child and the
 * placement's reference withheld.
 */
async function placementFacts(
  trx: Knex.Transaction,
  tenantId: string,
  placementIds: string[],
  hidden: ReadonlySet<string>,
): Promise<Map<string, PlacementFacts>> {
  if (!placementIds.length) return new Map();
  const rows: Array<{ id: string; kind: string; initials: string }> = await trx('placements as p')
    .join('children as c', (j) => j.on('c.tenant_id', 'p.tenant_id').andOn('c.id', 'p.child_id'))
    .where('p.tenant_id', tenantId)
    .whereIn('p.id', [...new Set(placementIds)])
    .select(
      'p.id',
      'p.kind',
      trx.raw(`upper(left(c.given_name, 1)) || '.' || upper(left(c.family_name, 1)) || '.' AS initials`),
    );
  return new Map(
    rows.map((r) => [
      r.id,
      hidden.has(r.id)
        ? { kind: r.kind, initials: WITHHELD_NAME, withheld: true }
        : { kind: r.kind, initials: r.initials, withheld: false },
    ]),
  );
}

const placementWords = (kind: string | undefined) => {
  const words = (kind ?? 'foster').replace(/_/g, ' ');
  return `${words.charAt(0).toUpperCase()}${words.slice(1)} placement`;
};

function chargeLine(
  line: ChargeLine,
  currency: Currency,
  facts: Map<string, PlacementFacts>,
  description: string,
  amount: number,
): ChargeLineView {
  const placement = facts.get(line.placementId);
  return {
    child: placement?.initials ?? '',
    // The commissioner's reference is the one its finance team can look up; without one, the end of
    // the placement's id (the random part of a UUIDv7) tells the lines apart.
    placementReference: placement?.withheld
      ? WITHHELD_NAME
      : (line.commissionerReference ?? line.placementId.slice(-8).toUpperCase()),
    from: formatDocumentDate(line.periodStart, currency, 'short'),
    to: formatDocumentDate(line.periodEnd, currency, 'short'),
    nights: line.nights,
    rate: `${formatMoney(Number(line.feeAmount), currency)} a ${line.feePeriod}`,
    description,
    amount: formatMoney(amount, currency),
  };
}

function termsText(days: number, currency: Currency): string {
  if (currency === 'USD') return days === 0 ? 'due on receipt' : `net ${days}`;
  return days === 0 ? 'due on the invoice date' : `${days} day${days === 1 ? '' : 's'} from the invoice date`;
}

/** Hearth holds no bank details, so the instructions say what to pay, by when and with which reference. */
function paymentInstructions(
  payee: string,
  total: string,
  dueDate: string,
  number: string | null,
  currency: Currency,
): string[] {
  if (currency === 'USD') {
    return [
      `Remit ${total} to ${payee} by ${dueDate}.`,
      number
        ? `Reference invoice ${number} with your payment.`
        : 'Reference the invoice number, given when it is issued, with your payment.',
    ];
  }
  return [
    `Please pay ${total} to ${payee} by ${dueDate}.`,
    number
      ? `Quote ${number} as the payment reference.`
      : 'Quote the invoice number, given when it is issued, as the payment reference.',
  ];
}

/** How a weekly fee becomes a line (lineAmount in pricing.ts): true whatever the tenant's policy. */
function weeklyFeeNote(currency: Currency): string {
  return currency === 'USD'
    ? 'A weekly rate is billed at one seventh for each night, rounded to the cent once on each line.'
    : 'A weekly fee is charged at one seventh for each night, rounded to the penny once on each line.';
}

const DRAFT_NOTE =
  'Draft for checking, not an invoice: it has no number yet, and its dates are as if it were issued today. Issuing numbers it and fixes whom it is addressed to; regenerating the draft may change its lines.';

/**
 * The invoice, or a draft's preview, with what rendering it needs. `hiddenPlacements`: placements of
 * children whose records are restricted from whoever asks (their lines keep their charges).
 */
export async function invoiceDocument(
  scope: FindScope,
  found: Found,
  hiddenPlacements: ReadonlySet<string>,
): Promise<RenderableDocument<InvoiceView>> {
  const { trx, tenantId } = scope;
  const tenant = await tenantForInvoicing(trx, tenantId);
  const currency = found.row.currency;
  const issued: Invoice | null = found.kind === 'issued' ? found.row : null;
  const lines: ChargeLine[] = issued ? await invoiceLines(scope, issued.id) : await draftLines(scope, found.row.id);

  let billTo: BillTo;
  let issueDate: string;
  let dueDate: string;
  let termsDays: number;
  if (issued) {
    ({ billTo, issueDate, dueDate, paymentTermsDays: termsDays } = issued);
  } else {
    // A draft is shown as it would be issued today: to the commissioner as it stands, on its terms or the policy's.
    const commissioner = await findCommissioner(scope, found.row.commissionerId);
    billTo = billToOf(commissioner);
    termsDays = commissioner.paymentTermsDays ?? (await invoicingPolicy(trx, tenantId)).paymentTermsDays;
    issueDate = tenant.today;
    dueDate = addDays(issueDate, termsDays);
  }

  const facts = await placementFacts(
    trx,
    tenantId,
    lines.map((l) => l.placementId),
    hiddenPlacements,
  );
  const total = formatMoney(
    lines.reduce((sum, l) => sum + Number(l.amount), 0),
    currency,
  );
  const due = formatDocumentDate(dueDate, currency);
  const notes = [
    ...(issued ? [] : [DRAFT_NOTE]),
    ...(lines.some((l) => l.feePeriod === 'week') ? [weeklyFeeNote(currency)] : []),
  ];
  const view: InvoiceView = {
    service: serviceView(tenant.name),
    invoice: {
      number: issued?.reference ?? 'DRAFT',
      date: formatDocumentDate(issueDate, currency),
      dateIso: issueDate,
      dueDate: due,
      dueDateIso: dueDate,
      terms: termsText(termsDays, currency),
    },
    billTo: billToView(billTo, lines),
    period: {
      start: formatDocumentDate(found.row.periodStart, currency),
      startIso: found.row.periodStart,
      end: formatDocumentDate(found.row.periodEnd, currency),
      endIso: found.row.periodEnd,
    },
    lines: lines.map((l) =>
      chargeLine(l, currency, facts, placementWords(facts.get(l.placementId)?.kind), Number(l.amount)),
    ),
    totals: { net: total, tax: null, total },
    payment: { instructions: paymentInstructions(tenant.name, total, due, issued?.reference ?? null, currency) },
    ...(notes.length ? { notes } : {}),
  };
  return {
    view,
    currency,
    draft: !issued,
    asOf: issueDate,
    madeAt: new Date(found.kind === 'issued' ? found.row.issuedAt : found.row.updatedAt),
    reference: issued?.reference ?? null,
  };
}

/** The credit note with what rendering it needs (`hiddenPlacements` as for an invoice). */
export async function creditNoteDocument(
  scope: FindScope,
  note: CreditNote,
  hiddenPlacements: ReadonlySet<string>,
): Promise<RenderableDocument<CreditNoteView>> {
  const { trx, tenantId } = scope;
  const tenant = await tenantForInvoicing(trx, tenantId);
  const invoice = await Invoice.query(trx).where({ tenant_id: tenantId, id: note.invoiceId }).first().throwIfNotFound();
  const credits = await CreditNoteLine.query(trx)
    .where({ tenant_id: tenantId, credit_note_id: note.id })
    .orderBy('line_number');
  const linesById = new Map(
    (await InvoiceLine.query(trx).where({ tenant_id: tenantId, invoice_id: invoice.id })).map((l) => [l.id, l]),
  );
  const facts = await placementFacts(
    trx,
    tenantId,
    [...linesById.values()].map((l) => l.placementId),
    hiddenPlacements,
  );
  const currency = note.currency;
  const total = formatMoney(Number(note.total), currency);
  const view: CreditNoteView = {
    service: serviceView(tenant.name),
    creditNote: {
      number: note.reference,
      date: formatDocumentDate(note.issueDate, currency),
      dateIso: note.issueDate,
      reason: note.reason,
    },
    credits: {
      invoiceNumber: invoice.reference,
      invoiceDate: formatDocumentDate(invoice.issueDate, currency),
      invoiceDateIso: invoice.issueDate,
    },
    billTo: billToView(
      invoice.billTo,
      credits.map((c) => linesById.get(c.invoiceLineId)!),
    ),
    lines: credits.map((c) => {
      const line = linesById.get(c.invoiceLineId)!;
      const amount = Number(c.amount);
      const whole = amount === Number(line.amount);
      const description = whole
        ? `${invoice.reference} line ${line.lineNumber}, credited in full`
        : `${invoice.reference} line ${line.lineNumber}: part of ${formatMoney(Number(line.amount), currency)}`;
      return chargeLine(line, currency, facts, description, amount);
    }),
    totals: { net: total, tax: null, total },
  };
  return {
    view,
    currency,
    draft: false,
    asOf: note.issueDate,
    madeAt: new Date(note.createdAt),
    reference: note.reference,
  };
}

/** The invoice (or a draft's preview) as its template renders it, nothing withheld; null when there is no such invoice. */
export async function invoiceDocumentData(
  trx: Knex.Transaction,
  tenantId: string,
  invoiceId: string,
): Promise<InvoiceView | null> {
  const found = await invoiceOrDraft({ trx, tenantId }, invoiceId);
  return found ? (await invoiceDocument({ trx, tenantId }, found, new Set())).view : null;
}

/** The credit note as its template renders it, nothing withheld; null when there is no such credit note. */
export async function creditNoteDocumentData(
  trx: Knex.Transaction,
  tenantId: string,
  creditNoteId: string,
): Promise<CreditNoteView | null> {
  const note = await CreditNote.query(trx).where({ tenant_id: tenantId, id: creditNoteId }).first();
  return note ? (await creditNoteDocument({ trx, tenantId }, note, new Set())).view : null;
}
