import { keysetPage } from '../../db/keyset';
import { defineOperations, type OperationResult, type TenantContext, type TenantScope } from '../../http/operation';
import { Problem, type FieldError } from '../../http/problem';
import { created, ok } from '../../http/results';
import { hiddenReferenceErrors, withholdRestricted } from '../children/visibility';
import {
  exportsOfJournal,
  filterErrors,
  findLedgerExport,
  lastJournalNumber,
  selectionOf,
  takeLedgerExport,
  unknownFormat,
  type ExportSelection,
} from './exportService';
import { findJournal, journalsWithTotals } from './journals';
import { LedgerEntry, LedgerExport, type JournalWithTotals } from './models';
import { postJournal, type JournalLineInput } from './post';
import { entryToApi, exportToApi, journalToApi } from './present';

type JournalBody = TenantContext<'postLedgerJournal'>['body'];
type ExportBody = TenantContext<'createLedgerExport'>['body'];

function linesOf(body: JournalBody): JournalLineInput[] {
  const errors: FieldError[] = [];
  const lines = body.lines.map((line, i): JournalLineInput => {
    const { component, amount, account, debit, credit, ...refs } = line;
    if (component !== undefined && account === undefined && debit === undefined && credit === undefined)
      return { ...refs, component, amount: amount ?? 0 };
    if (account !== undefined && component === undefined && amount === undefined)
      return { ...refs, account, debit, credit };
    errors.push({
      pointer: `/body/lines/${i}`,
      message: 'must be either component and amount, or account with exactly one of debit or credit',
    });
    return { ...refs, account: '', debit, credit };
  });
  if (errors.length) throw Problem.unprocessable(errors);
  return lines;
}

async function postLedgerJournal(ctx: TenantContext<'postLedgerJournal'>): Promise<OperationResult> {
  const body = ctx.body;
  // A manual journal may name only the children and placements the caller may see.
  const hiddenErrors = await hiddenReferenceErrors(ctx, body.lines, (i, field) => `/body/lines/${i}/${field}`);
  if (hiddenErrors.length) throw Problem.unprocessable(hiddenErrors);
  const posted = await postJournal(ctx, {
    postingDate: body.postingDate,
    description: body.description,
    source: { type: 'manual', id: body.reference ?? null },
    lines: linesOf(body),
  });
  // No Location: the contract answers a posted journal without one.
  return created({ ...posted, exports: [] });
}

async function listLedgerJournals(ctx: TenantContext<'listLedgerJournals'>): Promise<OperationResult> {
  const q = ctx.query;
  const query = journalsWithTotals(ctx);
  if (q.from) query.where('j.posting_date', '>=', q.from);
  if (q.to) query.where('j.posting_date', '<=', q.to);
  if (q.sourceType) query.where('j.source_type', q.sourceType);
  if (q.sourceId) query.where('j.source_id', q.sourceId);
  const toApi = (r: JournalWithTotals) => journalToApi(r, { lineCount: r.lineCount, total: r.totalMinor });
  const page = await keysetPage(query, q, [{ column: 'j.number', of: (r) => Number(r.number) }], toApi, 'desc');
  return ok({ data: page.data, nextCursor: page.nextCursor });
}

async function getLedgerJournal(ctx: TenantContext<'getLedgerJournal'>): Promise<OperationResult> {
  const journal = await findJournal(ctx, ctx.params.journalId);
  const entries = await LedgerEntry.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, journal_id: journal.id })
    .orderBy('line_number');
  const totals = { lineCount: entries.length, total: entries.reduce((sum, e) => sum + Number(e.debit), 0) };
  return ok({
    ...journalToApi(journal, totals),
    entries: await withholdRestricted(ctx, entries.map(entryToApi)),
    exports: await exportsOfJournal(ctx.trx, ctx.tenantId, journal),
  });
}

async function listLedgerExports(ctx: TenantContext<'listLedgerExports'>): Promise<OperationResult> {
  const q = ctx.query;
  const query = LedgerExport.query(ctx.trx).where('tenant_id', ctx.tenantId);
  if (q.format) query.where('format', q.format);
  // Ids are UUID v7: newest first to the millisecond, then by id, a stable order a cursor can resume.
  const page = await keysetPage(query, q, [{ column: 'id', of: (r) => r.id }], exportToApi, 'desc');
  return ok({ data: page.data, nextCursor: page.nextCursor });
}

/** The selection an export request names: its filters over every journal committed now, or an earlier export's. */
async function selectionFor(scope: TenantScope, body: ExportBody): Promise<ExportSelection> {
  if (body.exportId) {
    const others = (['from', 'to', 'journalFrom', 'journalTo', 'sourceType', 'sourceId'] as const).filter(
      (k) => body[k] !== undefined,
    );
    const message = "cannot be given with exportId: a replay takes the earlier export's selection";
    if (others.length) throw Problem.unprocessable(others.map((k) => ({ pointer: `/body/${k}`, message })));
    // An earlier export that is not the tenant's is not found (404), though its id came in the body.
    return selectionOf(await findLedgerExport(scope, body.exportId));
  }
  const filters = {
    from: body.from ?? null,
    to: body.to ?? null,
    journalFrom: body.journalFrom ?? null,
    journalTo: body.journalTo ?? null,
    sourceType: body.sourceType ?? null,
    sourceId: body.sourceId ?? null,
  };
  const errors = filterErrors(filters);
  if (errors.length) throw Problem.unprocessable(errors);
  return { ...filters, throughJournalNumber: await lastJournalNumber(scope.trx, scope.tenantId) };
}

async function createLedgerExport(ctx: TenantContext<'createLedgerExport'>): Promise<OperationResult> {
  const body = ctx.body;
  const formats = ctx.services.plugins.ledgerExports;
  const format = formats.get(body.format);
  if (!format) throw unknownFormat(formats.keys());
  return takeLedgerExport(ctx, { format, selection: await selectionFor(ctx, body), replayOf: body.exportId ?? null });
}

export const ledgerOperations = defineOperations({
  listLedgerJournals: { access: { permission: 'ledger:read' }, handle: listLedgerJournals },
  getLedgerJournal: { access: { permission: 'ledger:read' }, handle: getLedgerJournal },
  postLedgerJournal: { access: { permission: 'ledger:export' }, handle: postLedgerJournal },
  listLedgerExports: { access: { permission: 'ledger:read' }, handle: listLedgerExports },
  createLedgerExport: { access: { permission: 'ledger:export' }, handle: createLedgerExport },
});
