import type { QueryBuilder } from 'objection';
import { daysBetween } from '../../dates';
import type { FindScope } from '../../db/find';
import { assertIfMatch } from '../../http/etag';
import {
  actorId,
  defineOperations,
  type OperationResult,
  type TenantContext,
  type TenantScope,
} from '../../http/operation';
import { decodeCursor, toPage } from '../../http/pagination';
import { Problem, type FieldError } from '../../http/problem';
import { noContent, ok } from '../../http/results';
import { deleteDrafts, generateDrafts, regenerateDraft } from './drafts';
import { issueDraft, type IssuingScope } from './issue';
import { Invoice, InvoiceDraft } from './models';
import { invoicingPolicy, periodEndFor, type InvoicingFrequency } from './policy';
import {
  draftSummaryToApi,
  findCommissioner,
  findInvoice,
  invoiceSummaryToApi,
  presentDraft,
  presentInvoice,
  shownInvoice,
} from './present';

const MAX_PERIOD_DAYS = 366;

/** Who issues, in a request: its transaction, its actor, and the request itself for the ledger posting. */
export function issuing(ctx: TenantScope): IssuingScope {
  return { trx: ctx.trx, tenantId: ctx.tenantId, actorId: actorId(ctx), ledger: ctx };
}

async function listInvoices(ctx: TenantContext<'listInvoices'>): Promise<OperationResult> {
  const q = ctx.query;
  const after = decodeCursor(q.cursor, 1);
  // Drafts and issued invoices are two tables read as one list: each is read a page ahead and the
  // two merged, so keysetPage (one query) does not apply.
  const narrow = <Q extends QueryBuilder<InvoiceDraft | Invoice, Array<InvoiceDraft | Invoice>>>(
    query: Q,
    alias: string,
  ): Q => {
    query.where(`${alias}.tenant_id`, ctx.tenantId);
    if (after) query.where(`${alias}.id`, '<', after[0]!);
    if (q.commissionerId) query.where(`${alias}.commissioner_id`, q.commissionerId);
    if (q.from) query.where(`${alias}.period_end`, '>=', q.from);
    if (q.to) query.where(`${alias}.period_start`, '<=', q.to);
    return query.orderBy(`${alias}.id`, 'desc').limit(q.limit + 1);
  };
  // Ids are UUID v7 and an issued invoice keeps its draft's: newest first across both, by id.
  const drafts = q.status === 'issued' ? [] : await narrow(InvoiceDraft.query(ctx.trx).alias('d').select('d.*'), 'd');
  const issued =
    q.status === 'draft'
      ? []
      : await narrow(
          Invoice.query(ctx.trx)
            .alias('i')
            .select(
              'i.*',
              ctx.trx.raw(`(SELECT coalesce(sum(c.total), 0)::bigint FROM credit_notes c
                                   WHERE c.tenant_id = i.tenant_id AND c.invoice_id = i.id) AS credited`),
            )
            .castTo<Array<Invoice & { credited: number }>>(),
          'i',
        );
  const merged = [
    ...drafts.map((r) => ({ id: r.id, summary: () => draftSummaryToApi(r) })),
    ...issued.map((r) => ({ id: r.id, summary: () => invoiceSummaryToApi(r, Number(r.credited)) })),
  ].sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  return ok(
    toPage(
      merged.slice(0, q.limit + 1),
      q.limit,
      (r) => [r.id],
      (r) => r.summary(),
    ),
  );
}

async function getInvoice(ctx: TenantContext<'getInvoice'>): Promise<OperationResult> {
  const found = await findInvoice(ctx, ctx.params.invoiceId);
  const body = await shownInvoice(ctx, await presentInvoice(ctx, found));
  // Only a draft has a version: an issued invoice never changes.
  return found.kind === 'draft' ? ok(body, found.row.version) : ok(body);
}

function periodOf(
  body: { periodStart: string; periodEnd?: string },
  frequency: InvoicingFrequency,
): { start: string; end: string } {
  const start = body.periodStart;
  const end = body.periodEnd ?? periodEndFor(start, frequency);
  const errors: FieldError[] = [];
  if (end < start) errors.push({ pointer: '/body/periodEnd', message: 'is before periodStart' });
  else if (daysBetween(start, end) >= MAX_PERIOD_DAYS) {
    errors.push({ pointer: '/body/periodEnd', message: `the period may be at most ${MAX_PERIOD_DAYS} nights` });
  }
  if (errors.length) throw Problem.unprocessable(errors);
  return { start, end };
}

async function generateInvoiceDrafts(ctx: TenantContext<'generateInvoiceDrafts'>): Promise<OperationResult> {
  const body = ctx.body;
  const policy = await invoicingPolicy(ctx.trx, ctx.tenantId);
  const period = periodOf(body, policy.frequency);
  if (body.commissionerId) await findCommissioner(ctx, body.commissionerId, { pointer: '/body/commissionerId' });
  const commissionerId = body.commissionerId ?? null;
  const { drafts, replaced } = await generateDrafts(
    { trx: ctx.trx, tenantId: ctx.tenantId, actorId: actorId(ctx) },
    { period, commissionerId },
  );
  const invoices = [];
  for (const draft of drafts) invoices.push(await presentDraft(ctx, draft));
  const result = {
    periodStart: period.start,
    periodEnd: period.end,
    commissionerId,
    invoices,
    replacedDraftIds: replaced,
  };
  const shown = { ...result, invoices: await Promise.all(invoices.map((invoice) => shownInvoice(ctx, invoice))) };
  if (!drafts.length && !replaced.length) return { ...ok(shown), noWrite: true };
  await ctx.audit({
    action: 'invoice.drafts_generated',
    entityType: 'invoice_drafts',
    entityId: null,
    before: { replacedDraftIds: replaced },
    after: { ...result, invoices: invoices.map(({ lines, ...summary }) => ({ ...summary, lineCount: lines.length })) },
  });
  return ok(shown);
}

/** A draft to change, locked, at the version the caller read; an issued invoice is refused. */
async function lockedDraft(
  scope: FindScope,
  invoiceId: string,
  options: { ifMatch: string | undefined; doing: string },
): Promise<InvoiceDraft> {
  const found = await findInvoice(scope, invoiceId, { lockDraft: true });
  if (found.kind === 'issued')
    throw new Problem(
      'conflict',
      `${found.row.reference} is issued, so it cannot be ${options.doing}; a credit note reverses it`,
    );
  assertIfMatch(options.ifMatch, found.row.version);
  return found.row;
}

async function deleteInvoiceDraft(ctx: TenantContext<'deleteInvoiceDraft'>): Promise<OperationResult> {
  const draft = await lockedDraft(ctx, ctx.params.invoiceId, { ifMatch: ctx.ifMatch, doing: 'deleted' });
  const before = await presentDraft(ctx, draft);
  await deleteDrafts(ctx, [draft.id]);
  await ctx.audit({ action: 'invoice.draft_deleted', entityType: 'invoice', entityId: draft.id, before });
  return noContent();
}

async function regenerateInvoiceDraft(ctx: TenantContext<'regenerateInvoiceDraft'>): Promise<OperationResult> {
  const draft = await lockedDraft(ctx, ctx.params.invoiceId, { ifMatch: ctx.ifMatch, doing: 'regenerated' });
  const before = await presentDraft(ctx, draft);
  const row = await regenerateDraft(ctx, draft);
  const after = await presentDraft(ctx, row);
  await ctx.audit({ action: 'invoice.draft_regenerated', entityType: 'invoice', entityId: draft.id, before, after });
  return ok(await shownInvoice(ctx, after), row.version);
}

async function issueInvoice(ctx: TenantContext<'issueInvoice'>): Promise<OperationResult> {
  const { invoice, journal } = await issueDraft(issuing(ctx), ctx.params.invoiceId, {
    ifMatch: ctx.ifMatch,
    issueDate: ctx.body?.issueDate,
  });
  await ctx.audit({
    action: 'invoice.issued',
    entityType: 'invoice',
    entityId: invoice.id,
    after: { ...invoice, journal },
  });
  return ok(await shownInvoice(ctx, invoice));
}

export const invoiceLifecycleOperations = defineOperations({
  listInvoices: { access: { permission: 'invoices:read' }, handle: listInvoices },
  generateInvoiceDrafts: { access: { permission: 'invoices:manage' }, handle: generateInvoiceDrafts },
  getInvoice: { access: { permission: 'invoices:read' }, handle: getInvoice },
  deleteInvoiceDraft: { access: { permission: 'invoices:manage' }, handle: deleteInvoiceDraft },
  regenerateInvoiceDraft: { access: { permission: 'invoices:manage' }, handle: regenerateInvoiceDraft },
  issueInvoice: { access: { permission: 'invoices:issue' }, handle: issueInvoice },
});
