import type { OperationContext, OperationMap, OperationResult } from '../../http/operation';
import { decodeCursor, toPage } from '../../http/pagination';
import { Problem, type FieldError } from '../../http/problem';
import { hiddenReferenceErrors, withholdRestricted } from '../children/visibility';
import { exportsOfJournal, filterErrors, lastJournalNumber, selectionOf, takeLedgerExport, unknownFormat, type ExportSelection } from './exportService';
import { postJournal, type JournalLineInput, type JournalLineRefs } from './post';
import { entryToApi, exportToApi, journalToApi, type EntryRow, type ExportRow, type JournalRow } from './rows';

interface LineBody extends JournalLineRefs {
  component?: string;
  amount?: number;
  account?: string;
  debit?: number;
  credit?: number;
}

interface JournalBody {
  postingDate: string;
  description: string;
  reference?: string | null;
  lines: LineBody[];
}

interface ExportBody {
  format: string;
  from?: string;
  to?: string;
  journalFrom?: number;
  journalTo?: number;
  sourceType?: string;
  sourceId?: string;
  exportId?: string;
}

/** The journals with their line count and total, for lists and single reads. */
function journalsWithTotals(ctx: OperationContext) {
  return ctx.trx('ledger_journals as j')
    .where('j.tenant_id', ctx.tenantId!)
    .select('j.*')
    .select(ctx.trx.raw('(SELECT count(*)::int FROM ledger_entries e WHERE e.tenant_id = j.tenant_id AND e.journal_id = j.id) AS line_count'))
    .select(ctx.trx.raw('(SELECT coalesce(sum(e.debit), 0)::bigint FROM ledger_entries e WHERE e.tenant_id = j.tenant_id AND e.journal_id = j.id) AS total_minor'));
}

function linesOf(body: JournalBody): JournalLineInput[] {
  const errors: FieldError[] = [];
  const lines = body.lines.map((line, i): JournalLineInput => {
    const { component, amount, account, debit, credit, ...refs } = line;
    if (component !== undefined && account === undefined && debit === undefined && credit === undefined) return { ...refs, component, amount: amount ?? 0 };
    if (account !== undefined && component === undefined && amount === undefined) return { ...refs, account, debit, credit };
    errors.push({ pointer: `/body/lines/${i}`, message: 'must be either component and amount, or account with exactly one of debit or credit' });
    return { ...refs, account: '', debit, credit };
  });
  if (errors.length) throw Problem.unprocessable(errors);
  return lines;
}

async function postLedgerJournal(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as JournalBody;
  // A manual journal may name only the children and placements the caller may see.
  const hiddenErrors = await hiddenReferenceErrors(ctx, body.lines, (i, field) => `/body/lines/${i}/${field}`);
  if (hiddenErrors.length) throw Problem.unprocessable(hiddenErrors);
  const posted = await postJournal(ctx, { postingDate: body.postingDate, description: body.description, source: { type: 'manual', id: body.reference ?? null }, lines: linesOf(body) });
  return { status: 201, body: { ...posted, exports: [] } };
}

async function listLedgerJournals(ctx: OperationContext): Promise<OperationResult> {
  const q = ctx.query as { limit: number; cursor?: string; from?: string; to?: string; sourceType?: string; sourceId?: string };
  const after = decodeCursor(q.cursor, 1);
  const query = journalsWithTotals(ctx).orderBy('j.number', 'desc').limit(q.limit + 1);
  if (after) query.where('j.number', '<', after[0] as number);
  if (q.from) query.where('j.posting_date', '>=', q.from);
  if (q.to) query.where('j.posting_date', '<=', q.to);
  if (q.sourceType) query.where('j.source_type', q.sourceType);
  if (q.sourceId) query.where('j.source_id', q.sourceId);
  const rows = (await query) as Array<JournalRow & { line_count: number; total_minor: number }>;
  return { status: 200, body: toPage(rows, q.limit, (r) => [Number(r.number)], journalToApi) };
}

async function getLedgerJournal(ctx: OperationContext): Promise<OperationResult> {
  const journal = (await journalsWithTotals(ctx).where('j.id', ctx.params.journalId).first()) as (JournalRow & { line_count: number; total_minor: number }) | undefined;
  if (!journal) throw Problem.notFound('The journal');
  const entries = (await ctx.trx('ledger_entries').where({ tenant_id: ctx.tenantId, journal_id: journal.id }).orderBy('line_number')) as EntryRow[];
  return { status: 200, body: { ...journalToApi(journal), entries: await withholdRestricted(ctx, entries.map(entryToApi)), exports: await exportsOfJournal(ctx.trx, ctx.tenantId!, journal) } };
}

async function listLedgerExports(ctx: OperationContext): Promise<OperationResult> {
  const q = ctx.query as { limit: number; cursor?: string; format?: string };
  const after = decodeCursor(q.cursor, 1);
  // Ids are UUID v7: newest first to the millisecond, then by id, a stable order a cursor can resume.
  const query = ctx.trx('ledger_exports').where({ tenant_id: ctx.tenantId }).orderBy('id', 'desc').limit(q.limit + 1);
  if (after) query.where('id', '<', after[0] as string);
  if (q.format) query.where('format', q.format);
  const rows = (await query) as ExportRow[];
  return { status: 200, body: toPage(rows, q.limit, (r) => [r.id], exportToApi) };
}

/** The selection an export request names: its filters over every journal committed now, or an earlier export's. */
async function selectionFor(ctx: OperationContext, body: ExportBody): Promise<ExportSelection> {
  if (body.exportId) {
    const others = (['from', 'to', 'journalFrom', 'journalTo', 'sourceType', 'sourceId'] as const).filter((k) => body[k] !== undefined);
    if (others.length) throw Problem.unprocessable(others.map((k) => ({ pointer: `/body/${k}`, message: 'cannot be given with exportId: a replay takes the earlier export\'s selection' })));
    const earlier = (await ctx.trx('ledger_exports').where({ tenant_id: ctx.tenantId, id: body.exportId }).first()) as ExportRow | undefined;
    if (!earlier) throw Problem.notFound('The export');
    return selectionOf(earlier);
  }
  const filters = { from: body.from ?? null, to: body.to ?? null, journalFrom: body.journalFrom ?? null, journalTo: body.journalTo ?? null, sourceType: body.sourceType ?? null, sourceId: body.sourceId ?? null };
  const errors = filterErrors(filters);
  if (errors.length) throw Problem.unprocessable(errors);
  return { ...filters, throughJournalNumber: await lastJournalNumber(ctx.trx, ctx.tenantId!) };
}

async function createLedgerExport(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as ExportBody;
  const formats = ctx.services.plugins.ledgerExports;
  const format = formats.get(body.format);
  if (!format) throw unknownFormat(formats.keys());
  return takeLedgerExport(ctx, format, await selectionFor(ctx, body), body.exportId ?? null);
}

export const ledgerOperations: OperationMap = {
  listLedgerJournals: { access: { permission: 'ledger:read' }, handle: listLedgerJournals },
  getLedgerJournal: { access: { permission: 'ledger:read' }, handle: getLedgerJournal },
  postLedgerJournal: { access: { permission: 'ledger:export' }, handle: postLedgerJournal },
  listLedgerExports: { access: { permission: 'ledger:read' }, handle: listLedgerExports },
  createLedgerExport: { access: { permission: 'ledger:export' }, handle: createLedgerExport },
};
