import type { Knex } from 'knex';
import { assertIfMatch } from '../../http/etag';
import type { TenantScope } from '../../http/operation';
import { Problem, type FieldError } from '../../http/problem';
import { newId } from '../../ids';
import { addDays } from '../../dates';
import { postJournal, type LedgerPoster } from '../ledger/post';
import {
  CreditNote,
  CreditNoteLine,
  Invoice,
  InvoiceDraft,
  InvoiceDraftLine,
  InvoiceLine,
  InvoiceNight,
  type ChargeLine,
} from './models';
import { invoicingPolicy, printedNumber, tenantForInvoicing } from './policy';
import {
  billToOf,
  creditedByLine,
  draftLines,
  findCommissioner,
  findInvoice,
  invoiceLines,
  presentCreditNote,
  presentIssued,
} from './present';

const INSERT_BATCH = 500;

/** Who issues, and how the ledger posting is made and audited (a request's context, or a job's poster). */
export interface IssuingScope {
  trx: Knex.Transaction;
  tenantId: string;
  actorId: string | null;
  ledger: TenantScope | LedgerPoster;
}

/**
 * The next number of a series. The counter row stays locked until the transaction ends, so issues
 * in a tenant take their numbers one after another, and a rolled-back issue gives its number back.
 */
async function nextNumber(trx: Knex.Transaction, tenantId: string, series: 'invoice' | 'credit_note'): Promise<number> {
  const counter = await trx.raw<{ rows: Array<{ last_number: number }> }>(
    `INSERT INTO invoice_counters (tenant_id, series, last_number) VALUES (?, ?, 1)
       ON CONFLICT (tenant_id, series) DO UPDATE SET last_number = invoice_counters.last_number + 1
       RETURNING last_number`,
    [tenantId, series],
  );
  return Number(counter.rows[0]!.last_number);
}

/**
 * Within a request, the journal's audit event is kept rather than appended, and the caller carries
 * it inside its own: one request, one event, with the journal it posted in it.
 */
function ledgerFor(scope: IssuingScope): { ledger: TenantScope | LedgerPoster; journalEvent: () => unknown } {
  if (!('services' in scope.ledger)) return { ledger: scope.ledger, journalEvent: () => null };
  let kept: unknown = null;
  return {
    ledger: {
      ...scope.ledger,
      audit: async (event) => {
        kept = event.after;
      },
    },
    journalEvent: () => kept,
  };
}

function eachNight(from: string, to: string): string[] {
  const nights: string[] = [];
  for (let night = from; night <= to; night = addDays(night, 1)) nights.push(night);
  return nights;
}

/** Nights of the lines that an issued invoice already holds, described per line; empty when none. */
async function nightsAlreadyInvoiced(trx: Knex.Transaction, tenantId: string, lines: ChargeLine[]): Promise<string[]> {
  if (!lines.length) return [];
  const from = lines.reduce((m, l) => (l.periodStart < m ? l.periodStart : m), lines[0]!.periodStart);
  const to = lines.reduce((m, l) => (l.periodEnd > m ? l.periodEnd : m), lines[0]!.periodEnd);
  const held = await InvoiceNight.query(trx)
    .alias('n')
    .join('invoices as i', (j) => j.on('i.tenant_id', 'n.tenant_id').andOn('i.id', 'n.invoice_id'))
    .where('n.tenant_id', tenantId)
    .whereNull('n.credit_note_id')
    .whereIn('n.placement_id', [...new Set(lines.map((l) => l.placementId))])
    .whereBetween('n.night', [from, to])
    .select('n.placement_id', 'n.night', 'i.reference')
    .castTo<Array<InvoiceNight & { reference: string }>>();
  const clashes: string[] = [];
  for (const line of lines) {
    const hits = held.filter(
      (h) => h.placementId === line.placementId && h.night >= line.periodStart && h.night <= line.periodEnd,
    );
    if (!hits.length) continue;
    const nights = hits.map((h) => h.night).sort();
    const references = [...new Set(hits.map((h) => h.reference))].sort();
    clashes.push(
      `line ${line.lineNumber}: ${hits.length} night(s) from ${nights[0]} to ${nights[nights.length - 1]} already on ${references.join(', ')}`,
    );
  }
  return clashes;
}

/**
 * Issues a draft: the tenant's next invoice number, the issue and due dates, the commissioner's
 * billing details as they stand, the nights held, and a journal posted to the ledger (component
 * `invoice`). The draft is copied into the append-only tables under the same id, then deleted.
 */
export async function issueDraft(
  scope: IssuingScope,
  draftId: string,
  options: { ifMatch?: string; issueDate?: string } = {},
) {
  const { trx, tenantId } = scope;
  const found = await findInvoice(scope, draftId, { lockDraft: true });
  if (found.kind === 'issued') throw new Problem('conflict', `The invoice is already issued as ${found.row.reference}`);
  const draft: InvoiceDraft = found.row;
  if (options.ifMatch !== undefined) assertIfMatch(options.ifMatch, draft.version);
  const lines = await draftLines(scope, draft.id);
  if (!lines.length)
    throw new Problem('conflict', 'The draft has no lines: there is nothing to invoice; delete it or regenerate it');

  const tenant = await tenantForInvoicing(trx, tenantId);
  const issueDate = options.issueDate ?? tenant.today;
  if (issueDate > tenant.today)
    throw Problem.unprocessable([
      { pointer: '/body/issueDate', message: `is in the future (today is ${tenant.today} where the tenant is)` },
    ]);
  const policy = await invoicingPolicy(trx, tenantId);
  const commissioner = await findCommissioner(scope, draft.commissionerId);
  const terms = commissioner.paymentTermsDays ?? policy.paymentTermsDays;

  const number = await nextNumber(trx, tenantId, 'invoice');
  const reference = printedNumber(policy.invoicePrefix, number);
  const clashes = await nightsAlreadyInvoiced(trx, tenantId, lines);
  if (clashes.length)
    throw new Problem(
      'conflict',
      `Nights on this draft are already invoiced (${clashes.join('; ')}); regenerate the draft`,
    );

  const total = lines.reduce((sum, l) => sum + Number(l.amount), 0);
  const { ledger, journalEvent } = ledgerFor(scope);
  const journal = await postJournal(
    ledger,
    {
      postingDate: issueDate,
      description: `Invoice ${reference} to ${commissioner.name}`,
      source: { type: 'invoice', id: draft.id },
      lines: lines.map((l) => ({
        component: 'invoice',
        amount: Number(l.amount),
        placementId: l.placementId,
        childId: l.childId,
        periodStart: l.periodStart,
        periodEnd: l.periodEnd,
        sourceLineId: l.id,
        description: `${reference} line ${l.lineNumber}`,
      })),
    },
    { pointer: '/ledger' },
  );

  const invoice = await Invoice.query(trx)
    .insert({
      tenantId,
      id: draft.id,
      number,
      reference,
      commissionerId: draft.commissionerId,
      periodStart: draft.periodStart,
      periodEnd: draft.periodEnd,
      issueDate,
      dueDate: addDays(issueDate, terms),
      paymentTermsDays: terms,
      currency: draft.currency,
      total,
      billTo: billToOf(commissioner),
      journalId: journal.id,
      draftedBy: draft.createdBy,
      draftedAt: draft.createdAt,
      issuedBy: scope.actorId,
    })
    .returning('*');
  const issuedLines = lines.map((l) => ({
    tenantId,
    id: l.id,
    invoiceId: draft.id,
    lineNumber: l.lineNumber,
    placementId: l.placementId,
    childId: l.childId,
    commissionId: l.commissionId,
    commissionerReference: l.commissionerReference,
    periodStart: l.periodStart,
    periodEnd: l.periodEnd,
    nights: l.nights,
    feeAmount: l.feeAmount,
    feePeriod: l.feePeriod,
    amount: l.amount,
  }));
  for (let i = 0; i < issuedLines.length; i += INSERT_BATCH)
    await InvoiceLine.query(trx).insert(issuedLines.slice(i, i + INSERT_BATCH));
  const nights = lines.flatMap((l) =>
    eachNight(l.periodStart, l.periodEnd).map((night) => ({
      tenantId,
      invoiceLineId: l.id,
      night,
      placementId: l.placementId,
      invoiceId: draft.id,
    })),
  );
  for (let i = 0; i < nights.length; i += INSERT_BATCH)
    await InvoiceNight.query(trx).insert(nights.slice(i, i + INSERT_BATCH));
  await InvoiceDraftLine.query(trx).where({ tenant_id: tenantId, draft_id: draft.id }).delete();
  await InvoiceDraft.query(trx).where({ tenant_id: tenantId, id: draft.id }).delete();

  return { invoice: await presentIssued(scope, invoice), journal: journalEvent() ?? journal };
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
export async function creditInvoice(
  scope: IssuingScope,
  invoiceId: string,
  input: { reason: string; issueDate?: string; lines?: CreditLineInput[] },
) {
  const { trx, tenantId } = scope;
  const found = await findInvoice(scope, invoiceId);
  if (found.kind === 'draft')
    throw new Problem('conflict', 'A draft is not credited: it has not been issued; delete or regenerate it instead');
  const invoice: Invoice = found.row;

  // Taken first: the counter's lock makes credit notes in a tenant run one after another, so what
  // is left on each line is read after every earlier credit has committed.
  const number = await nextNumber(trx, tenantId, 'credit_note');
  const tenant = await tenantForInvoicing(trx, tenantId);
  const issueDate = input.issueDate ?? tenant.today;
  const errors: FieldError[] = [];
  if (issueDate > tenant.today)
    errors.push({
      pointer: '/body/issueDate',
      message: `is in the future (today is ${tenant.today} where the tenant is)`,
    });
  else if (issueDate < invoice.issueDate)
    errors.push({ pointer: '/body/issueDate', message: `is before the invoice was issued (${invoice.issueDate})` });

  const lines = await invoiceLines(scope, invoice.id);
  const credited = await creditedByLine(scope, invoice.id);
  const remaining = new Map(lines.map((l) => [l.id, Number(l.amount) - (credited.get(l.id) ?? 0)]));
  let wanted: CreditLineInput[];
  if (input.lines) {
    wanted = input.lines;
    const seen = new Set<string>();
    input.lines.forEach((l, i) => {
      const left = remaining.get(l.invoiceLineId);
      if (left === undefined)
        errors.push({ pointer: `/body/lines/${i}/invoiceLineId`, message: 'is not a line of this invoice' });
      else if (seen.has(l.invoiceLineId))
        errors.push({ pointer: `/body/lines/${i}/invoiceLineId`, message: 'is named twice' });
      else if (left === 0)
        errors.push({ pointer: `/body/lines/${i}/amount`, message: 'the line is already fully credited' });
      else if (l.amount > left)
        errors.push({
          pointer: `/body/lines/${i}/amount`,
          message: `is more than the ${left} (minor units) left uncredited on this line`,
        });
      seen.add(l.invoiceLineId);
    });
  } else {
    wanted = lines
      .filter((l) => remaining.get(l.id)! > 0)
      .map((l) => ({ invoiceLineId: l.id, amount: remaining.get(l.id)! }));
  }
  if (errors.length) throw Problem.unprocessable(errors);
  if (!wanted.length) throw new Problem('conflict', `${invoice.reference} is already fully credited`);

  const policy = await invoicingPolicy(trx, tenantId);
  const reference = printedNumber(policy.creditNotePrefix, number);
  const byId = new Map(lines.map((l) => [l.id, l]));
  const total = wanted.reduce((sum, l) => sum + l.amount, 0);
  const id = newId();
  const { ledger, journalEvent } = ledgerFor(scope);
  const journal = await postJournal(
    ledger,
    {
      postingDate: issueDate,
      description: `Credit note ${reference} against ${invoice.reference}: ${input.reason}`.slice(0, 500),
      source: { type: 'credit_note', id },
      lines: wanted.map((w) => {
        const line = byId.get(w.invoiceLineId)!;
        return {
          component: 'credit_note',
          amount: w.amount,
          placementId: line.placementId,
          childId: line.childId,
          periodStart: line.periodStart,
          periodEnd: line.periodEnd,
          sourceLineId: line.id,
          description: `${reference} against ${invoice.reference} line ${line.lineNumber}`,
        };
      }),
    },
    { pointer: '/ledger' },
  );

  const note = await CreditNote.query(trx)
    .insert({
      tenantId,
      id,
      number,
      reference,
      invoiceId: invoice.id,
      issueDate,
      reason: input.reason,
      currency: invoice.currency,
      total,
      journalId: journal.id,
      createdBy: scope.actorId,
    })
    .returning('*');
  const creditLines = wanted.map((w, i) => ({
    tenantId,
    id: newId(),
    creditNoteId: id,
    lineNumber: i + 1,
    invoiceLineId: w.invoiceLineId,
    amount: w.amount,
  }));
  await CreditNoteLine.query(trx).insert(creditLines);
  const fullyCredited = wanted.filter((w) => w.amount === remaining.get(w.invoiceLineId)).map((w) => w.invoiceLineId);
  if (fullyCredited.length) {
    await InvoiceNight.query(trx)
      .where({ tenant_id: tenantId })
      .whereIn('invoice_line_id', fullyCredited)
      .whereNull('credit_note_id')
      .patch({ creditNoteId: id });
  }
  return { creditNote: await presentCreditNote(scope, note), journal: journalEvent() ?? journal };
}
