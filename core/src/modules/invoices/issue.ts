import type { Knex } from 'knex';
import { assertIfMatch } from '../../http/etag';
import type { OperationContext } from '../../http/operation';
import { Problem, type FieldError } from '../../http/problem';
import { newId } from '../../ids';
import { addDays } from '../../dates';
import { postJournal, type LedgerPoster } from '../ledger/post';
import { invoicingPolicy, printedNumber, tenantForInvoicing } from './policy';
import { creditedByLine, findInvoice, presentCreditNote, presentIssued } from './present';
import { billToOf, type CommissionerRow, type CreditNoteRow, type DraftRow, type InvoiceRow, type LineRow } from './rows';

const INSERT_BATCH = 500;

/** Who issues, and how the ledger posting is made and audited (a request's context, or a job's poster). */
export interface IssuingScope {
  trx: Knex.Transaction;
  tenantId: string;
  actorId: string | null;
  ledger: OperationContext | LedgerPoster;
}

/**
 * The next number of a series. The counter row stays locked until the transaction ends, so issues
 * in a tenant take their numbers one after another, and a rolled-back issue gives its number back.
 */
async function nextNumber(trx: Knex.Transaction, tenantId: string, series: 'invoice' | 'credit_note'): Promise<number> {
  const counter = (await trx.raw(
    `INSERT INTO invoice_counters (tenant_id, series, last_number) VALUES (?, ?, 1)
       ON CONFLICT (tenant_id, series) DO UPDATE SET last_number = invoice_counters.last_number + 1
       RETURNING last_number`,
    [tenantId, series],
  )) as { rows: Array<{ last_number: number }> };
  return Number(counter.rows[0]!.last_number);
}

/**
 * Within a request, the journal's audit event is kept rather than appended, and the caller carries
 * it inside its own: one request, one event, with the journal it posted in it.
 */
function ledgerFor(scope: IssuingScope): { ledger: OperationContext | LedgerPoster; journalEvent: () => unknown } {
  if (!('services' in scope.ledger)) return { ledger: scope.ledger, journalEvent: () => null };
  let kept: unknown = null;
  return { ledger: { ...scope.ledger, audit: async (event) => { kept = event.after; } }, journalEvent: () => kept };
}

function eachNight(from: string, to: string): string[] {
  const nights: string[] = [];
  for (let night = from; night <= to; night = addDays(night, 1)) nights.push(night);
  return nights;
}

/** Nights of the lines that an issued invoice already holds, described per line; empty when none. */
async function nightsAlreadyInvoiced(trx: Knex.Transaction, tenantId: string, lines: LineRow[]): Promise<string[]> {
  if (!lines.length) return [];
  const from = lines.reduce((m, l) => (l.period_start < m ? l.period_start : m), lines[0]!.period_start);
  const to = lines.reduce((m, l) => (l.period_end > m ? l.period_end : m), lines[0]!.period_end);
  const held = (await trx('invoice_nights as n')
    .join('invoices as i', (j) => j.on('i.tenant_id', 'n.tenant_id').andOn('i.id', 'n.invoice_id'))
    .where('n.tenant_id', tenantId)
    .whereNull('n.credit_note_id')
    .whereIn('n.placement_id', [...new Set(lines.map((l) => l.placement_id))])
    .whereBetween('n.night', [from, to])
    .select('n.placement_id', 'n.night', 'i.reference')) as Array<{ placement_id: string; night: string; reference: string }>;
  const clashes: string[] = [];
  for (const line of lines) {
    const hits = held.filter((h) => h.placement_id === line.placement_id && h.night >= line.period_start && h.night <= line.period_end);
    if (!hits.length) continue;
    const nights = hits.map((h) => h.night).sort();
    const references = [...new Set(hits.map((h) => h.reference))].sort();
    clashes.push(`line ${line.line_number}: ${hits.length} night(s) from ${nights[0]} to ${nights[nights.length - 1]} already on ${references.join(', ')}`);
  }
  return clashes;
}

/**
 * Issues a draft: the tenant's next invoice number, the issue and due dates, the commissioner's
 * billing details as they stand, the nights held, and a journal posted to the ledger (component
 * `invoice`). The draft is copied into the append-only tables under the same id, then deleted.
 */
export async function issueDraft(scope: IssuingScope, draftId: string, options: { ifMatch?: string; issueDate?: string } = {}) {
  const { trx, tenantId } = scope;
  const found = await findInvoice(trx, tenantId, draftId, { lockDraft: true });
  if (!found) throw Problem.notFound('The invoice');
  if (found.kind === 'issued') throw new Problem('conflict', `The invoice is already issued as ${found.row.reference}`);
  const draft: DraftRow = found.row;
  if (options.ifMatch !== undefined) assertIfMatch(options.ifMatch, draft.version);
  const lines = (await trx('invoice_draft_lines').where({ tenant_id: tenantId, draft_id: draft.id }).orderBy('line_number')) as LineRow[];
  if (!lines.length) throw new Problem('conflict', 'The draft has no lines: there is nothing to invoice; delete it or regenerate it');

  const tenant = await tenantForInvoicing(trx, tenantId);
  const issueDate = options.issueDate ?? tenant.today;
  if (issueDate > tenant.today) throw Problem.unprocessable([{ pointer: '/body/issueDate', message: `is in the future (today is ${tenant.today} where the tenant is)` }]);
  const policy = await invoicingPolicy(trx, tenantId);
  const commissioner = (await trx('commissioners').where({ tenant_id: tenantId, id: draft.commissioner_id }).first()) as CommissionerRow;
  const terms = commissioner.payment_terms_days ?? policy.paymentTermsDays;

  const number = await nextNumber(trx, tenantId, 'invoice');
  const reference = printedNumber(policy.invoicePrefix, number);
  const clashes = await nightsAlreadyInvoiced(trx, tenantId, lines);
  if (clashes.length) throw new Problem('conflict', `Nights on this draft are already invoiced (${clashes.join('; ')}); regenerate the draft`);

  const total = lines.reduce((sum, l) => sum + Number(l.amount), 0);
  const { ledger, journalEvent } = ledgerFor(scope);
  const journal = await postJournal(ledger, {
    postingDate: issueDate,
    description: `Invoice ${reference} to ${commissioner.name}`,
    source: { type: 'invoice', id: draft.id },
    lines: lines.map((l) => ({
      component: 'invoice', amount: Number(l.amount), placementId: l.placement_id, childId: l.child_id, periodStart: l.period_start, periodEnd: l.period_end,
      sourceLineId: l.id, description: `${reference} line ${l.line_number}`,
    })),
  }, { pointer: '/ledger' });

  const [invoice] = (await trx('invoices')
    .insert({
      tenant_id: tenantId, id: draft.id, number, reference, commissioner_id: draft.commissioner_id, period_start: draft.period_start, period_end: draft.period_end,
      issue_date: issueDate, due_date: addDays(issueDate, terms), payment_terms_days: terms, currency: draft.currency, total,
      bill_to: JSON.stringify(billToOf(commissioner)), journal_id: journal.id, drafted_by: draft.created_by, drafted_at: draft.created_at, issued_by: scope.actorId,
    })
    .returning('*')) as InvoiceRow[];
  const issuedLines = lines.map((l) => ({
    tenant_id: tenantId, id: l.id, invoice_id: draft.id, line_number: l.line_number, placement_id: l.placement_id, child_id: l.child_id, commission_id: l.commission_id,
    commissioner_reference: l.commissioner_reference, period_start: l.period_start, period_end: l.period_end, nights: l.nights, fee_amount: l.fee_amount, fee_period: l.fee_period, amount: l.amount,
  }));
  for (let i = 0; i < issuedLines.length; i += INSERT_BATCH) await trx('invoice_lines').insert(issuedLines.slice(i, i + INSERT_BATCH));
  const nights = lines.flatMap((l) => eachNight(l.period_start, l.period_end).map((night) => ({ tenant_id: tenantId, invoice_line_id: l.id, night, placement_id: l.placement_id, invoice_id: draft.id })));
  for (let i = 0; i < nights.length; i += INSERT_BATCH) await trx('invoice_nights').insert(nights.slice(i, i + INSERT_BATCH));
  await trx('invoice_draft_lines').where({ tenant_id: tenantId, draft_id: draft.id }).delete();
  await trx('invoice_drafts').where({ tenant_id: tenantId, id: draft.id }).delete();

  return { invoice: await presentIssued(trx, tenantId, invoice!), journal: journalEvent() ?? journal };
}

export interface CreditLineInput {
  invoiceLineId: string;
  amount: number;
}

/**
 * Credits an issued invoice, whole (every line's remainder) or line by line, never beyond what is
 * left on a line. Numbered from the tenant's credit note series; posts a journal reversing the
 * invoice (component `credit_note`); a line credited in full frees its nights to be invoiced again.
 */
export async function creditInvoice(scope: IssuingScope, invoiceId: string, input: { reason: string; issueDate?: string; lines?: CreditLineInput[] }) {
  const { trx, tenantId } = scope;
  const found = await findInvoice(trx, tenantId, invoiceId);
  if (!found) throw Problem.notFound('The invoice');
  if (found.kind === 'draft') throw new Problem('conflict', 'A draft is not credited: it has not been issued; delete or regenerate it instead');
  const invoice: InvoiceRow = found.row;

  // Taken first: the counter's lock makes credit notes in a tenant run one after another, so what
  // is left on each line is read after every earlier credit has committed.
  const number = await nextNumber(trx, tenantId, 'credit_note');
  const tenant = await tenantForInvoicing(trx, tenantId);
  const issueDate = input.issueDate ?? tenant.today;
  const errors: FieldError[] = [];
  if (issueDate > tenant.today) errors.push({ pointer: '/body/issueDate', message: `is in the future (today is ${tenant.today} where the tenant is)` });
  else if (issueDate < invoice.issue_date) errors.push({ pointer: '/body/issueDate', message: `is before the invoice was issued (${invoice.issue_date})` });

  const lines = (await trx('invoice_lines').where({ tenant_id: tenantId, invoice_id: invoice.id }).orderBy('line_number')) as LineRow[];
  const credited = await creditedByLine(trx, tenantId, invoice.id);
  const remaining = new Map(lines.map((l) => [l.id, Number(l.amount) - (credited.get(l.id) ?? 0)]));
  let wanted: CreditLineInput[];
  if (input.lines) {
    wanted = input.lines;
    const seen = new Set<string>();
    input.lines.forEach((l, i) => {
      const left = remaining.get(l.invoiceLineId);
      if (left === undefined) errors.push({ pointer: `/body/lines/${i}/invoiceLineId`, message: 'is not a line of this invoice' });
      else if (seen.has(l.invoiceLineId)) errors.push({ pointer: `/body/lines/${i}/invoiceLineId`, message: 'is named twice' });
      else if (left === 0) errors.push({ pointer: `/body/lines/${i}/amount`, message: 'the line is already fully credited' });
      else if (l.amount > left) errors.push({ pointer: `/body/lines/${i}/amount`, message: `is more than the ${left} (minor units) left uncredited on this line` });
      seen.add(l.invoiceLineId);
    });
  } else {
    wanted = lines.filter((l) => remaining.get(l.id)! > 0).map((l) => ({ invoiceLineId: l.id, amount: remaining.get(l.id)! }));
  }
  if (errors.length) throw Problem.unprocessable(errors);
  if (!wanted.length) throw new Problem('conflict', `${invoice.reference} is already fully credited`);

  const policy = await invoicingPolicy(trx, tenantId);
  const reference = printedNumber(policy.creditNotePrefix, number);
  const byId = new Map(lines.map((l) => [l.id, l]));
  const total = wanted.reduce((sum, l) => sum + l.amount, 0);
  const id = newId();
  const { ledger, journalEvent } = ledgerFor(scope);
  const journal = await postJournal(ledger, {
    postingDate: issueDate,
    description: `Credit note ${reference} against ${invoice.reference}: ${input.reason}`.slice(0, 500),
    source: { type: 'credit_note', id },
    lines: wanted.map((w) => {
      const line = byId.get(w.invoiceLineId)!;
      return { component: 'credit_note', amount: w.amount, placementId: line.placement_id, childId: line.child_id, periodStart: line.period_start, periodEnd: line.period_end, sourceLineId: line.id, description: `${reference} against ${invoice.reference} line ${line.line_number}` };
    }),
  }, { pointer: '/ledger' });

  const [note] = (await trx('credit_notes')
    .insert({ tenant_id: tenantId, id, number, reference, invoice_id: invoice.id, issue_date: issueDate, reason: input.reason, currency: invoice.currency, total, journal_id: journal.id, created_by: scope.actorId })
    .returning('*')) as CreditNoteRow[];
  await trx('credit_note_lines').insert(wanted.map((w, i) => ({ tenant_id: tenantId, id: newId(), credit_note_id: id, line_number: i + 1, invoice_line_id: w.invoiceLineId, amount: w.amount })));
  const fullyCredited = wanted.filter((w) => w.amount === remaining.get(w.invoiceLineId)).map((w) => w.invoiceLineId);
  if (fullyCredited.length) {
    await trx('invoice_nights').where({ tenant_id: tenantId }).whereIn('invoice_line_id', fullyCredited).whereNull('credit_note_id').update({ credit_note_id: id });
  }
  return { creditNote: await presentCreditNote(trx, tenantId, note!), journal: journalEvent() ?? journal };
}
