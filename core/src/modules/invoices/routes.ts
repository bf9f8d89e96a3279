import { daysBetween } from '../../dates';
import { actorId, type OperationContext, type OperationMap, type OperationResult } from '../../http/operation';
import { assertIfMatch, etagOf } from '../../http/etag';
import { decodeCursor, toPage } from '../../http/pagination';
import { Problem, type FieldError } from '../../http/problem';
import { newId } from '../../ids';
import { findPlacement } from '../placements/service';
import { invoiceDocumentOperations } from './documentRoutes';
import { deleteDrafts, generateDrafts, regenerateDraft } from './drafts';
import { creditInvoice, issueDraft, type CreditLineInput, type IssuingScope } from './issue';
import { invoicingPolicy, periodEndFor, type InvoicingFrequency } from './policy';
import { findInvoice, presentCreditNote, presentDraft, presentInvoice, shownInvoice } from './present';
import type { FeePeriod, InvoiceRounding } from './pricing';
import {
  commissionerToApi, commissionToApi, creditNoteSummaryToApi, draftSummaryToApi, invoiceSummaryToApi,
  type CommissionerKind, type CommissionerRow, type CommissionRow, type CreditNoteRow, type DraftRow, type InvoiceRow,
} from './rows';

const MAX_PERIOD_DAYS = 366;

function issuing(ctx: OperationContext): IssuingScope {
  return { trx: ctx.trx, tenantId: ctx.tenantId!, actorId: actorId(ctx), ledger: ctx };
}

// ---------------------------------------------------------------------------------------------
// Commissioners

interface CommissionerBody {
  name?: string; kind?: CommissionerKind; customerReference?: string | null; addressLines?: string[]; email?: string | null; paymentTermsDays?: number | null; status?: 'active' | 'archived';
}

async function findCommissioner(ctx: OperationContext, lock = false): Promise<CommissionerRow> {
  const query = ctx.trx('commissioners').where({ tenant_id: ctx.tenantId, id: ctx.params.commissionerId }).first();
  if (lock) query.forUpdate();
  const row = (await query) as CommissionerRow | undefined;
  if (!row) throw Problem.notFound('The commissioner');
  return row;
}

function commissionerColumns(body: CommissionerBody): Record<string, unknown> {
  const columns: Record<string, unknown> = {};
  if (body.name !== undefined) columns.name = body.name;
  if (body.kind !== undefined) columns.kind = body.kind;
  if (body.customerReference !== undefined) columns.customer_reference = body.customerReference;
  if (body.addressLines !== undefined) columns.address_lines = body.addressLines;
  if (body.email !== undefined) columns.email = body.email;
  if (body.paymentTermsDays !== undefined) columns.payment_terms_days = body.paymentTermsDays;
  if (body.status !== undefined) columns.status = body.status;
  return columns;
}

async function listCommissioners(ctx: OperationContext): Promise<OperationResult> {
  const q = ctx.query as { limit: number; cursor?: string; status?: 'active' | 'archived' };
  const after = decodeCursor(q.cursor, 2);
  const query = ctx.trx('commissioners').where({ tenant_id: ctx.tenantId }).orderBy([{ column: 'name' }, { column: 'id' }]).limit(q.limit + 1);
  if (after) query.whereRaw('(name, id) > (?, ?)', [after[0] as string, after[1] as string]);
  if (q.status) query.where('status', q.status);
  const rows = (await query) as CommissionerRow[];
  return { status: 200, body: toPage(rows, q.limit, (r) => [r.name, r.id], commissionerToApi) };
}

async function createCommissioner(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as CommissionerBody & { name: string; kind: CommissionerKind };
  const id = newId();
  const [row] = (await ctx.trx('commissioners').insert({ tenant_id: ctx.tenantId, id, ...commissionerColumns(body), created_by: actorId(ctx) }).returning('*')) as CommissionerRow[];
  const after = commissionerToApi(row!);
  await ctx.audit({ action: 'commissioner.created', entityType: 'commissioner', entityId: id, after });
  return { status: 201, body: after, headers: { ETag: etagOf(row!.version), Location: `/v1/commissioners/${id}` } };
}

async function getCommissioner(ctx: OperationContext): Promise<OperationResult> {
  const row = await findCommissioner(ctx);
  return { status: 200, body: commissionerToApi(row), headers: { ETag: etagOf(row.version) } };
}

async function updateCommissioner(ctx: OperationContext): Promise<OperationResult> {
  const before = await findCommissioner(ctx, true);
  assertIfMatch(ctx.ifMatch, before.version);
  const [row] = (await ctx.trx('commissioners')
    .where({ tenant_id: ctx.tenantId, id: before.id })
    .update({ ...commissionerColumns(ctx.body as CommissionerBody), version: before.version + 1, updated_at: ctx.trx.fn.now() })
    .returning('*')) as CommissionerRow[];
  const after = commissionerToApi(row!);
  await ctx.audit({ action: 'commissioner.updated', entityType: 'commissioner', entityId: before.id, before: commissionerToApi(before), after });
  return { status: 200, body: after, headers: { ETag: etagOf(row!.version) } };
}

// ---------------------------------------------------------------------------------------------
// Placement fees

async function listPlacementCommissions(ctx: OperationContext): Promise<OperationResult> {
  // The placements module's finder: a placement of a restricted child exists only for those named on it.
  const placement = await findPlacement(ctx, ctx.params.placementId!);
  const q = ctx.query as { limit: number; cursor?: string };
  const after = decodeCursor(q.cursor, 2);
  const query = ctx.trx('placement_commissions').where({ tenant_id: ctx.tenantId, placement_id: placement.id }).orderBy([{ column: 'effective_from' }, { column: 'id' }]).limit(q.limit + 1);
  if (after) query.whereRaw('(effective_from, id) > (?::date, ?::uuid)', [after[0] as string, after[1] as string]);
  const rows = (await query) as CommissionRow[];
  return { status: 200, body: toPage(rows, q.limit, (r) => [r.effective_from, r.id], commissionToApi) };
}

async function recordPlacementCommission(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as { commissionerId: string; feeAmount: number; feePeriod: FeePeriod; effectiveFrom: string; commissionerReference?: string | null; notes?: string | null };
  const placement = await findPlacement(ctx, ctx.params.placementId!);
  if (placement.status === 'cancelled') throw new Problem('conflict', 'The placement was cancelled: nothing is charged for it');
  const errors: FieldError[] = [];
  const commissioner = (await ctx.trx('commissioners').where({ tenant_id: ctx.tenantId, id: body.commissionerId }).first()) as CommissionerRow | undefined;
  if (!commissioner) errors.push({ pointer: '/body/commissionerId', message: 'is not a commissioner of this tenant' });
  else if (commissioner.status === 'archived') errors.push({ pointer: '/body/commissionerId', message: 'is archived; make it active again to record fees it pays' });
  if (placement.endDate && body.effectiveFrom > placement.endDate) errors.push({ pointer: '/body/effectiveFrom', message: `is after the placement ended (${placement.endDate})` });
  if (errors.length) throw Problem.unprocessable(errors);
  const [row] = (await ctx.trx('placement_commissions')
    .insert({
      tenant_id: ctx.tenantId, id: newId(), placement_id: placement.id, commissioner_id: body.commissionerId, fee_amount: body.feeAmount, fee_period: body.feePeriod,
      effective_from: body.effectiveFrom, commissioner_reference: body.commissionerReference ?? null, notes: body.notes ?? null, created_by: actorId(ctx),
    })
    .returning('*')) as CommissionRow[];
  const after = commissionToApi(row!);
  // The event names the placement in the path; `after` carries the new fee's id.
  await ctx.audit({ action: 'placement_commission.recorded', entityType: 'placement', entityId: placement.id, after });
  return { status: 201, body: after };
}

// ---------------------------------------------------------------------------------------------
// Policy

async function getInvoicingPolicy(ctx: OperationContext): Promise<OperationResult> {
  const policy = await invoicingPolicy(ctx.trx, ctx.tenantId!);
  return { status: 200, body: policy, headers: { ETag: etagOf(policy.version) } };
}

async function updateInvoicingPolicy(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as { frequency: InvoicingFrequency; chargeDepartureDay: boolean; rounding: InvoiceRounding; paymentTermsDays: number; invoicePrefix: string; creditNotePrefix: string };
  const before = await invoicingPolicy(ctx.trx, ctx.tenantId!, { lock: true });
  assertIfMatch(ctx.ifMatch, before.version);
  if (body.invoicePrefix === body.creditNotePrefix) throw Problem.unprocessable([{ pointer: '/body/creditNotePrefix', message: 'must differ from invoicePrefix, so an invoice and a credit note never share a printed number' }]);
  const columns = {
    frequency: body.frequency, charge_departure_day: body.chargeDepartureDay, rounding: body.rounding, payment_terms_days: body.paymentTermsDays,
    invoice_prefix: body.invoicePrefix, credit_note_prefix: body.creditNotePrefix, updated_by: actorId(ctx), updated_at: ctx.trx.fn.now(),
  };
  if (before.version === 0) await ctx.trx('invoicing_policies').insert({ tenant_id: ctx.tenantId, ...columns, version: 1 });
  else await ctx.trx('invoicing_policies').where({ tenant_id: ctx.tenantId }).update({ ...columns, version: before.version + 1 });
  const after = await invoicingPolicy(ctx.trx, ctx.tenantId!);
  await ctx.audit({ action: 'invoicing_policy.updated', entityType: 'invoicing_policy', entityId: ctx.tenantId, before, after });
  return { status: 200, body: after, headers: { ETag: etagOf(after.version) } };
}

// ---------------------------------------------------------------------------------------------
// Invoices

async function listInvoices(ctx: OperationContext): Promise<OperationResult> {
  const q = ctx.query as { limit: number; cursor?: string; commissionerId?: string; status?: 'draft' | 'issued'; from?: string; to?: string };
  const after = decodeCursor(q.cursor, 1);
  const { trx } = ctx;
  const tenantId = ctx.tenantId!;
  const narrow = (query: ReturnType<typeof trx>, alias: string) => {
    query.where(`${alias}.tenant_id`, tenantId);
    if (after) query.where(`${alias}.id`, '<', after[0] as string);
    if (q.commissionerId) query.where(`${alias}.commissioner_id`, q.commissionerId);
    if (q.from) query.where(`${alias}.period_end`, '>=', q.from);
    if (q.to) query.where(`${alias}.period_start`, '<=', q.to);
    return query.orderBy(`${alias}.id`, 'desc').limit(q.limit + 1);
  };
  // Ids are UUID v7 and an issued invoice keeps its draft's: newest first across both, by id.
  const drafts = q.status === 'issued' ? [] : ((await narrow(trx('invoice_drafts as d').select('d.*'), 'd')) as DraftRow[]);
  const issued = q.status === 'draft' ? [] : ((await narrow(
    trx('invoices as i').select('i.*', trx.raw('(SELECT coalesce(sum(c.total), 0)::bigint FROM credit_notes c WHERE c.tenant_id = i.tenant_id AND c.invoice_id = i.id) AS credited')),
    'i',
  )) as Array<InvoiceRow & { credited: number }>);
  const merged = [
    ...drafts.map((r) => ({ id: r.id, summary: () => draftSummaryToApi(r) })),
    ...issued.map((r) => ({ id: r.id, summary: () => invoiceSummaryToApi(r, Number(r.credited)) })),
  ].sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  return { status: 200, body: toPage(merged.slice(0, q.limit + 1), q.limit, (r) => [r.id], (r) => r.summary()) };
}

async function getInvoice(ctx: OperationContext): Promise<OperationResult> {
  const found = await findInvoice(ctx.trx, ctx.tenantId!, ctx.params.invoiceId!);
  if (!found) throw Problem.notFound('The invoice');
  const body = await shownInvoice(ctx, await presentInvoice(ctx.trx, ctx.tenantId!, found));
  return { status: 200, body, headers: found.kind === 'draft' ? { ETag: etagOf(found.row.version) } : {} };
}

function periodOf(body: { periodStart: string; periodEnd?: string }, frequency: InvoicingFrequency): { start: string; end: string } {
  const start = body.periodStart;
  const end = body.periodEnd ?? periodEndFor(start, frequency);
  const errors: FieldError[] = [];
  if (end < start) errors.push({ pointer: '/body/periodEnd', message: 'is before periodStart' });
  else if (daysBetween(start, end) >= MAX_PERIOD_DAYS) errors.push({ pointer: '/body/periodEnd', message: `the period may be at most ${MAX_PERIOD_DAYS} nights` });
  if (errors.length) throw Problem.unprocessable(errors);
  return { start, end };
}

async function generateInvoiceDrafts(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as { periodStart: string; periodEnd?: string; commissionerId?: string };
  const policy = await invoicingPolicy(ctx.trx, ctx.tenantId!);
  const period = periodOf(body, policy.frequency);
  if (body.commissionerId && !(await ctx.trx('commissioners').where({ tenant_id: ctx.tenantId, id: body.commissionerId }).first('id'))) {
    throw Problem.unprocessable([{ pointer: '/body/commissionerId', message: 'is not a commissioner of this tenant' }]);
  }
  const { drafts, replaced } = await generateDrafts(ctx.trx, ctx.tenantId!, actorId(ctx), period, body.commissionerId ?? null);
  const invoices = [];
  for (const draft of drafts) invoices.push(await presentDraft(ctx.trx, ctx.tenantId!, draft));
  const result = { periodStart: period.start, periodEnd: period.end, commissionerId: body.commissionerId ?? null, invoices, replacedDraftIds: replaced };
  const shown = { ...result, invoices: await Promise.all(invoices.map((invoice) => shownInvoice(ctx, invoice))) };
  if (!drafts.length && !replaced.length) return { status: 200, body: shown, noWrite: true };
  await ctx.audit({
    action: 'invoice.drafts_generated', entityType: 'invoice_drafts', entityId: null,
    before: { replacedDraftIds: replaced }, after: { ...result, invoices: invoices.map(({ lines, ...summary }) => ({ ...summary, lineCount: lines.length })) },
  });
  return { status: 200, body: shown };
}

async function lockedDraft(ctx: OperationContext, doing: string): Promise<DraftRow> {
  const found = await findInvoice(ctx.trx, ctx.tenantId!, ctx.params.invoiceId!, { lockDraft: true });
  if (!found) throw Problem.notFound('The invoice');
  if (found.kind === 'issued') throw new Problem('conflict', `${found.row.reference} is issued, so it cannot be ${doing}; a credit note reverses it`);
  assertIfMatch(ctx.ifMatch, found.row.version);
  return found.row;
}

async function deleteInvoiceDraft(ctx: OperationContext): Promise<OperationResult> {
  const draft = await lockedDraft(ctx, 'deleted');
  const before = await presentDraft(ctx.trx, ctx.tenantId!, draft);
  await deleteDrafts(ctx.trx, ctx.tenantId!, [draft.id]);
  await ctx.audit({ action: 'invoice.draft_deleted', entityType: 'invoice', entityId: draft.id, before });
  return { status: 204 };
}

async function regenerateInvoiceDraft(ctx: OperationContext): Promise<OperationResult> {
  const draft = await lockedDraft(ctx, 'regenerated');
  const before = await presentDraft(ctx.trx, ctx.tenantId!, draft);
  const row = await regenerateDraft(ctx.trx, ctx.tenantId!, draft);
  const after = await presentDraft(ctx.trx, ctx.tenantId!, row);
  await ctx.audit({ action: 'invoice.draft_regenerated', entityType: 'invoice', entityId: draft.id, before, after });
  return { status: 200, body: await shownInvoice(ctx, after), headers: { ETag: etagOf(row.version) } };
}

async function issueInvoice(ctx: OperationContext): Promise<OperationResult> {
  const body = (ctx.body ?? {}) as { issueDate?: string };
  const { invoice, journal } = await issueDraft(issuing(ctx), ctx.params.invoiceId!, { ifMatch: ctx.ifMatch, issueDate: body.issueDate });
  await ctx.audit({ action: 'invoice.issued', entityType: 'invoice', entityId: invoice.id, after: { ...invoice, journal } });
  return { status: 200, body: await shownInvoice(ctx, invoice) };
}

// ---------------------------------------------------------------------------------------------
// Credit notes

async function createCreditNote(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as { reason: string; issueDate?: string; lines?: CreditLineInput[] };
  const { creditNote, journal } = await creditInvoice(issuing(ctx), ctx.params.invoiceId!, body);
  // The event names the invoice in the path; `after` carries the credit note and its journal.
  await ctx.audit({ action: 'credit_note.issued', entityType: 'invoice', entityId: ctx.params.invoiceId, after: { ...creditNote, journal } });
  return { status: 201, body: creditNote, headers: { Location: `/v1/credit-notes/${creditNote.id}` } };
}

async function listCreditNotes(ctx: OperationContext): Promise<OperationResult> {
  const q = ctx.query as { limit: number; cursor?: string; invoiceId?: string; commissionerId?: string };
  const after = decodeCursor(q.cursor, 1);
  const query = ctx.trx('credit_notes as c')
    .join('invoices as i', (j) => j.on('i.tenant_id', 'c.tenant_id').andOn('i.id', 'c.invoice_id'))
    .where('c.tenant_id', ctx.tenantId!)
    .select('c.*', 'i.reference as invoice_reference', 'i.commissioner_id')
    .orderBy('c.number', 'desc')
    .limit(q.limit + 1);
  if (after) query.where('c.number', '<', after[0] as number);
  if (q.invoiceId) query.where('c.invoice_id', q.invoiceId);
  if (q.commissionerId) query.where('i.commissioner_id', q.commissionerId);
  const rows = (await query) as Array<CreditNoteRow & { invoice_reference: string; commissioner_id: string }>;
  return { status: 200, body: toPage(rows, q.limit, (r) => [Number(r.number)], (r) => creditNoteSummaryToApi(r, { reference: r.invoice_reference, commissionerId: r.commissioner_id })) };
}

async function getCreditNote(ctx: OperationContext): Promise<OperationResult> {
  const row = (await ctx.trx('credit_notes').where({ tenant_id: ctx.tenantId, id: ctx.params.creditNoteId }).first()) as CreditNoteRow | undefined;
  if (!row) throw Problem.notFound('The credit note');
  return { status: 200, body: await presentCreditNote(ctx.trx, ctx.tenantId!, row) };
}

/** The invoices module's operations, by operationId (see openapi/modules/invoices.yaml). */
export const invoiceOperations: OperationMap = {
  listCommissioners: { access: { permission: 'invoices:read' }, handle: listCommissioners },
  createCommissioner: { access: { permission: 'invoices:manage' }, handle: createCommissioner },
  getCommissioner: { access: { permission: 'invoices:read' }, handle: getCommissioner },
  updateCommissioner: { access: { permission: 'invoices:manage' }, handle: updateCommissioner },
  listPlacementCommissions: { access: { permission: 'invoices:read' }, handle: listPlacementCommissions },
  recordPlacementCommission: { access: { permission: 'invoices:manage' }, handle: recordPlacementCommission },
  getInvoicingPolicy: { access: { permission: 'invoices:read' }, handle: getInvoicingPolicy },
  updateInvoicingPolicy: { access: { permission: 'invoices:manage' }, handle: updateInvoicingPolicy },
  listInvoices: { access: { permission: 'invoices:read' }, handle: listInvoices },
  generateInvoiceDrafts: { access: { permission: 'invoices:manage' }, handle: generateInvoiceDrafts },
  getInvoice: { access: { permission: 'invoices:read' }, handle: getInvoice },
  deleteInvoiceDraft: { access: { permission: 'invoices:manage' }, handle: deleteInvoiceDraft },
  regenerateInvoiceDraft: { access: { permission: 'invoices:manage' }, handle: regenerateInvoiceDraft },
  issueInvoice: { access: { permission: 'invoices:issue' }, handle: issueInvoice },
  createCreditNote: { access: { permission: 'invoices:issue' }, handle: createCreditNote },
  listCreditNotes: { access: { permission: 'invoices:read' }, handle: listCreditNotes },
  getCreditNote: { access: { permission: 'invoices:read' }, handle: getCreditNote },
  ...invoiceDocumentOperations,
};
