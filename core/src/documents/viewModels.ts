/**
 * The data each kind of financial template renders, as the code that fills it sees it. Every pack's
 * template of a kind reads the same shape (the UK carer statement and the USA provider statement
 * both read a StatementView), so a payment run builds one view model whatever the tenant's pack.
 * documents.test.ts checks each pack's sampleData against these types at compile time.
 *
 * Values are display strings, already formatted for the tenant (formatMoney, formatDocumentDate),
 * because a template must not do arithmetic or guess a currency. Where a field has an `Iso`
 * twin, the twin is the YYYY-MM-DD date for <time datetime>.
 *
 * Templates render in handlebars' strict mode: a field a template prints must be present (null or ""
 * for "none"); a field only tested by {{#if}} may be left out. Children are named by initials or a
 * reference on every document that leaves the service (invoices, credit notes): never a full name.
 */

/** The fostering service issuing the document (a local authority, an agency, a county department). */
export interface IssuerView {
  name: string;
  addressLines: string[];
  /** How to ask about the document: an email address, a phone number, or both. */
  contact: string;
}

export interface DatedView {
  start: string;
  startIso: string;
  end: string;
  endIso: string;
}

/**
 * kind `statement` (UK `carer-statement`, USA `provider-statement`): what one carer household is paid
 * in one run, by child and by rate component, with extras, claims and corrections.
 */
export interface StatementView {
  service: IssuerView;
  statement: { reference: string; paymentDate: string; paymentDateIso: string };
  period: DatedView;
  carer: { names: string; reference: string };
  /** The rate components this statement shows, in order, with the pack's words for them (the USA template makes its columns from this list). */
  components: Array<{ key: string; label: string }>;
  /** One line per child per rate segment (same facts, same rate version). */
  lines: Array<{
    child: string;
    from: string;
    to: string;
    /** null where the line is not paid by the night. */
    nights: number | null;
    description: string;
    /** Keyed by the rate engine's component (allowance, fee, level_of_care…): every key in `components`, zero where the line has none. */
    amounts: Record<string, string>;
    /** The line's components added up. */
    total: string;
  }>;
  /** Birthday, festival and holiday weeks and other one-off payments for a child. */
  extras: Array<{ child: string; description: string; amount: string }>;
  /** Approved mileage and expense claims paid in this run. */
  expenses: Array<{ date: string; description: string; amount: string }>;
  /** Arrears and recoveries, each saying what it corrects. */
  adjustments: Array<{ description: string; amount: string }>;
  /** `lines` is every line's total added up; `total` is what is paid, with extras, expenses and adjustments. */
  totals: {
    amounts: Record<string, string>;
    lines: string;
    extras: string;
    expenses: string;
    adjustments: string;
    total: string;
  };
  /** Optional lines of explanation under the statement (how nights are counted, for example). */
  notes?: string[];
}

/** kind `remittance` (`remittance-advice` in both packs): the payment itself, as the bank made it. */
export interface RemittanceView {
  service: IssuerView;
  remittance: { reference: string; paymentRun: string; paymentDate: string; paymentDateIso: string; method: string };
  /** Only the last digits of bank details ever appear on a document. */
  payee: { name: string; reference: string; accountEnding: string; sortCodeEnding: string | null };
  lines: Array<{ reference: string; description: string; period: string; amount: string }>;
  total: string;
}

/**
 * kind `annual_statement` (`annual-statement` in both packs): what finalised runs paid one household
 * in a tax year (the UK's 6 April to 5 April; the USA's calendar year), by component and by month,
 * for the carer's tax return. Names no child.
 */
export interface AnnualStatementView {
  service: IssuerView;
  /** `title` is the pack's word for the statement; `basis` says which year it counts, in words. */
  statement: { title: string; basis: string; from: string; fromIso: string; to: string; toIso: string };
  carer: { names: string; reference: string };
  components: Array<{ label: string; amount: string }>;
  months: Array<{ month: string; amount: string }>;
  runs: Array<{ reference: string; paidOn: string; paidOnIso: string; amount: string }>;
  total: string;
}

/** Who an invoice or credit note is addressed to: the commissioning local authority or county. */
export interface BillToView {
  name: string;
  addressLines: string[];
  /** The commissioner's own reference for the arrangement (a contract or purchase order), or null. */
  reference: string | null;
}

/** One placement's charge for a period. `child` is initials or a reference, never a full name. */
export interface ChargeLineView {
  child: string;
  placementReference: string;
  from: string;
  to: string;
  nights: number;
  /** The agreed fee with its period, e.g. "£960.00 a week", "$152.00 a day". */
  rate: string;
  description: string;
  amount: string;
}

export interface ChargeTotalsView {
  net: string;
  /** null where no VAT or sales tax is charged. */
  tax: string | null;
  total: string;
}

/** kind `invoice`: an agency's invoice to a commissioner for placements in a period. */
export interface InvoiceView {
  service: IssuerView & { legalName: string; registration: string | null; taxNumber: string | null };
  invoice: { number: string; date: string; dateIso: string; dueDate: string; dueDateIso: string; terms: string };
  billTo: BillToView;
  period: DatedView;
  lines: ChargeLineView[];
  totals: ChargeTotalsView;
  /** Where to pay: account name and number, or the county's remittance address. */
  payment: { instructions: string[] };
  notes?: string[];
}

/** kind `credit_note`: a credit against an invoice already issued, saying which and why. */
export interface CreditNoteView {
  service: IssuerView & { legalName: string; registration: string | null; taxNumber: string | null };
  creditNote: { number: string; date: string; dateIso: string; reason: string };
  /** The invoice this credits. */
  credits: { invoiceNumber: string; invoiceDate: string; invoiceDateIso: string };
  billTo: BillToView;
  lines: ChargeLineView[];
  totals: ChargeTotalsView;
  notes?: string[];
}

export interface ViewModels {
  statement: StatementView;
  remittance: RemittanceView;
  annual_statement: AnnualStatementView;
  invoice: InvoiceView;
  credit_note: CreditNoteView;
}
