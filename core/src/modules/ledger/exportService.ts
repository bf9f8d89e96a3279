import type { Knex } from 'knex';
import type { OperationContext, OperationResult } from '../../http/operation';
import { newId } from '../../ids';
import { hiddenRecords, type HiddenRecords } from '../children/visibility';
import { journalsExported } from './exportHooks';
import { Problem, type FieldError } from '../../http/problem';
import { exportToApi, type ExportRow, type JournalRow } from './rows';
import type { ExportTenant, LedgerExportFormat } from './exports/registry';
import { exportViewsOf, type ExportCursorRow } from './exports/views';

export interface ExportFilters {
  from?: string | null;
  to?: string | null;
  journalFrom?: number | null;
  journalTo?: number | null;
  sourceType?: string | null;
  sourceId?: string | null;
}

/** An export's selection, fixed at the moment it is taken: the filters, and the last journal number then committed. */
export interface ExportSelection extends ExportFilters {
  throughJournalNumber: number;
}

const BATCH = 1000;

export function filterErrors(f: ExportFilters): FieldError[] {
  const errors: FieldError[] = [];
  if (f.from && f.to && f.from > f.to) errors.push({ pointer: '/body/to', message: 'is before from' });
  if (f.journalFrom != null && f.journalTo != null && f.journalFrom > f.journalTo) errors.push({ pointer: '/body/journalTo', message: 'is below journalFrom' });
  if (f.sourceId && !f.sourceType) errors.push({ pointer: '/body/sourceType', message: 'is needed with sourceId' });
  return errors;
}

/** Journals of the selection (alias `j`), for any query over ledger_journals. */
function whereSelected(query: Knex.QueryBuilder, tenantId: string, s: ExportSelection): Knex.QueryBuilder {
  query.where('j.tenant_id', tenantId).where('j.number', '<=', s.throughJournalNumber);
  if (s.from) query.where('j.posting_date', '>=', s.from);
  if (s.to) query.where('j.posting_date', '<=', s.to);
  if (s.journalFrom != null) query.where('j.number', '>=', s.journalFrom);
  if (s.journalTo != null) query.where('j.number', '<=', s.journalTo);
  if (s.sourceType) query.where('j.source_type', s.sourceType);
  if (s.sourceId) query.where('j.source_id', s.sourceId);
  return query;
}

/**
 * The last journal number committed: numbers are handed out under a lock held to commit, so every
 * number up to it is committed too, and an export bounded by it reads the same rows however often it runs.
 */
export async function lastJournalNumber(trx: Knex.Transaction, tenantId: string): Promise<number> {
  const row = (await trx('ledger_journals').where({ tenant_id: tenantId }).max('number as n').first()) as { n: number | null } | undefined;
  return Number(row?.n ?? 0);
}

export async function summarise(trx: Knex.Transaction, tenantId: string, s: ExportSelection) {
  const row = (await whereSelected(trx('ledger_journals as j').join('ledger_entries as e', function () {
    this.on('e.tenant_id', 'j.tenant_id').andOn('e.journal_id', 'j.id');
  }), tenantId, s)
    .first(trx.raw('count(DISTINCT j.id)::int AS journals'), trx.raw('count(*)::int AS entries'), trx.raw('min(j.number) AS first'), trx.raw('max(j.number) AS last'), trx.raw('coalesce(sum(e.debit), 0)::bigint AS total'))) as {
    journals: number; entries: number; first: number | null; last: number | null; total: number;
  };
  return { journalCount: row.journals, entryCount: row.entries, first: row.first === null ? null : Number(row.first), last: row.last === null ? null : Number(row.last), total: Number(row.total) };
}

let cursors = 0;

/**
 * The export's CSV rows in journal and line order, read through a cursor in the export's own
 * transaction, a batch at a time, so memory stays flat however many lines a journal has. (Keyset
 * pages over journal number and line number cost a scan of the journal each: a run's journal of
 * 165,000 lines took 14 s that way.)
 */
/**
 * `hidden`: the children and placements hidden from whoever takes the export: their entries keep
 * their amounts and accounts, the child and placement withheld, as on every other view of money.
 * A format is handed views (exports/views.ts), never the cursor's rows.
 */
export async function* exportRows(trx: Knex.Transaction, tenantId: string, s: ExportSelection, format: LedgerExportFormat, tenant: ExportTenant, hidden: HiddenRecords): AsyncGenerator<unknown[]> {
  const cursor = `ledger_export_${++cursors}`;
  const query = whereSelected(trx('ledger_journals as j').join('ledger_entries as e', function () {
    this.on('e.tenant_id', 'j.tenant_id').andOn('e.journal_id', 'j.id');
  }), tenantId, s)
    .orderBy([{ column: 'j.number' }, { column: 'e.line_number' }])
    .select(
      'e.*', 'j.number as j_number', 'j.posting_date as j_posting_date', 'j.description as j_description',
      'j.source_type as j_source_type', 'j.source_id as j_source_id', 'j.currency as j_currency',
    )
    .toSQL();
  await trx.raw(`DECLARE ${cursor} NO SCROLL CURSOR FOR ${query.sql}`, query.bindings as Knex.RawBinding[]);
  try {
    for (;;) {
      const rows = ((await trx.raw(`FETCH ${BATCH} FROM ${cursor}`)) as { rows: ExportCursorRow[] }).rows;
      for (const r of rows) {
        const { entry, journal } = exportViewsOf(r, hidden);
        for (const out of format.rowsFor(entry, journal, tenant)) yield out;
      }
      if (rows.length < BATCH) return;
    }
  } finally {
    await trx.raw(`CLOSE ${cursor}`).catch(() => undefined);
  }
}

export function selectionOf(row: ExportRow): ExportSelection {
  return {
    from: row.posting_from, to: row.posting_to, journalFrom: row.journal_from === null ? null : Number(row.journal_from), journalTo: row.journal_to === null ? null : Number(row.journal_to),
    sourceType: row.source_type, sourceId: row.source_id, throughJournalNumber: Number(row.through_journal_number),
  };
}

/** The exports a journal was in: journals never change, so an export's selection says exactly which it held. */
export async function exportsOfJournal(trx: Knex.Transaction, tenantId: string, journal: JournalRow): Promise<Array<{ id: string; format: string; createdAt: string }>> {
  const rows = (await trx('ledger_exports')
    .where({ tenant_id: tenantId })
    .where('through_journal_number', '>=', journal.number)
    .where((q) => q.whereNull('posting_from').orWhere('posting_from', '<=', journal.posting_date))
    .where((q) => q.whereNull('posting_to').orWhere('posting_to', '>=', journal.posting_date))
    .where((q) => q.whereNull('journal_from').orWhere('journal_from', '<=', journal.number))
    .where((q) => q.whereNull('journal_to').orWhere('journal_to', '>=', journal.number))
    .where((q) => q.whereNull('source_type').orWhere('source_type', journal.source_type))
    .where((q) => q.whereNull('source_id').orWhere('source_id', journal.source_id ?? ''))
    .orderBy([{ column: 'created_at' }, { column: 'id' }])
    .select('id', 'format', 'created_at')) as Array<{ id: string; format: string; created_at: Date }>;
  return rows.map((r) => ({ id: r.id, format: r.format, createdAt: r.created_at.toISOString() }));
}

export function unknownFormat(keys: string[]): Problem {
  return Problem.unprocessable([{ pointer: '/body/format', message: `is not an export format (${keys.join(', ')})` }]);
}

/**
 * Takes an export: records it (with what it held, so it can be replayed byte for byte), tells the
 * modules whose journals it took, audits it (as the export, or as what the request named: a payment
 * run), and answers the CSV rows, streamed after the record.
 */
export async function takeLedgerExport(ctx: OperationContext, format: LedgerExportFormat, selection: ExportSelection, replayOf: string | null, auditAs?: { entityType: string; entityId: string }): Promise<OperationResult> {
  const summary = await summarise(ctx.trx, ctx.tenantId!, selection);
  const tenant = (await ctx.trx('tenants').where({ id: ctx.tenantId }).first('currency', 'slug')) as { currency: string; slug: string };
  const [row] = (await ctx.trx('ledger_exports')
    .insert({
      tenant_id: ctx.tenantId,
      id: newId(),
      format: format.key,
      posting_from: selection.from ?? null,
      posting_to: selection.to ?? null,
      journal_from: selection.journalFrom ?? null,
      journal_to: selection.journalTo ?? null,
      source_type: selection.sourceType ?? null,
      source_id: selection.sourceId ?? null,
      through_journal_number: selection.throughJournalNumber,
      journal_count: summary.journalCount,
      row_count: summary.entryCount,
      first_journal_number: summary.first,
      last_journal_number: summary.last,
      total_minor: summary.total,
      created_by: ctx.principal?.id ?? null,
    })
    .returning('*')) as ExportRow[];
  const recorded = exportToApi(row!);
  const changed = await journalsExported(ctx.trx, ctx.tenantId!, { exportId: recorded.id, selection });
  await ctx.audit({ action: 'ledger_export.create', entityType: auditAs?.entityType ?? 'ledger_export', entityId: auditAs?.entityId ?? recorded.id, before: null, after: { ...recorded, replayOf, ...changed } });
  return {
    status: 200,
    csv: { filename: `ledger-${format.key}-${tenant.slug}.csv`, columns: format.columns, rows: exportRows(ctx.trx, ctx.tenantId!, selection, format, { currency: tenant.currency }, await hiddenRecords(ctx)) },
  };
}

/** The journals a selection holds, by id (for a module that marks what they stand for). */
export async function selectedJournalIds(trx: Knex.Transaction, tenantId: string, s: ExportSelection): Promise<string[]> {
  return ((await whereSelected(trx('ledger_journals as j'), tenantId, s).select('j.id')) as Array<{ id: string }>).map((r) => r.id);
}
