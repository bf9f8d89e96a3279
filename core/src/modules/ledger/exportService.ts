import type { Knex } from 'knex';
import { findOne, type FindOptions, type FindScope } from '../../db/find';
import type { OperationResult, TenantScope } from '../../http/operation';
import { newId } from '../../ids';
import { hiddenRecords, type HiddenRecords } from '../children/visibility';
import { journalsExported } from './exportHooks';
import { Problem, type FieldError } from '../../http/problem';
import { LedgerExport, LedgerJournal } from './models';
import { exportToApi } from './present';
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
  if (f.journalFrom != null && f.journalTo != null && f.journalFrom > f.journalTo)
    errors.push({ pointer: '/body/journalTo', message: 'is below journalFrom' });
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
  const { rows } = await trx.raw<{ rows: Array<{ n: number | null }> }>(
    'SELECT max(number) AS n FROM ledger_journals WHERE tenant_id = ?',
    [tenantId],
  );
  return Number(rows[0]?.n ?? 0);
}

interface SelectionTotals {
  journals: number;
  entries: number;
  first: number | null;
  last: number | null;
  total: number;
}

export async function summarise(trx: Knex.Transaction, tenantId: string, s: ExportSelection) {
  const row: SelectionTotals = await whereSelected(
    trx('ledger_journals as j').join('ledger_entries as e', function () {
      this.on('e.tenant_id', 'j.tenant_id').andOn('e.journal_id', 'j.id');
    }),
    tenantId,
    s,
  ).first(
    trx.raw('count(DISTINCT j.id)::int AS journals'),
    trx.raw('count(*)::int AS entries'),
    trx.raw('min(j.number) AS first'),
    trx.raw('max(j.number) AS last'),
    trx.raw('coalesce(sum(e.debit), 0)::bigint AS total'),
  );
  return {
    journalCount: row.journals,
    entryCount: row.entries,
    first: row.first === null ? null : Number(row.first),
    last: row.last === null ? null : Number(row.last),
    total: Number(row.total),
  };
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
export async function* exportRows(
  trx: Knex.Transaction,
  tenantId: string,
  s: ExportSelection,
  format: LedgerExportFormat,
  tenant: ExportTenant,
  hidden: HiddenRecords,
): AsyncGenerator<unknown[]> {
  const cursor = `ledger_export_${++cursors}`;
  const query = whereSelected(
    trx('ledger_journals as j').join('ledger_entries as e', function () {
      this.on('e.tenant_id', 'j.tenant_id').andOn('e.journal_id', 'j.id');
    }),
    tenantId,
    s,
  )
    .orderBy([{ column: 'j.number' }, { column: 'e.line_number' }])
    .select(
      'e.*',
      'j.number as j_number',
      'j.posting_date as j_posting_date',
      'j.description as j_description',
      'j.source_type as j_source_type',
      'j.source_id as j_source_id',
      'j.currency as j_currency',
    )
    .toSQL();
  await trx.raw(`DECLARE ${cursor} NO SCROLL CURSOR FOR ${query.sql}`, query.bindings as Knex.RawBinding[]);
  try {
    for (;;) {
      const { rows } = await trx.raw<{ rows: ExportCursorRow[] }>(`FETCH ${BATCH} FROM ${cursor}`);
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

/** An export the tenant took, or not found. */
export function findLedgerExport(scope: FindScope, exportId: string, options: FindOptions = {}): Promise<LedgerExport> {
  return findOne<LedgerExport>(scope, LedgerExport, exportId, options);
}

export function selectionOf(row: LedgerExport): ExportSelection {
  return {
    from: row.postingFrom,
    to: row.postingTo,
    journalFrom: row.journalFrom === null ? null : Number(row.journalFrom),
    journalTo: row.journalTo === null ? null : Number(row.journalTo),
    sourceType: row.sourceType,
    sourceId: row.sourceId,
    throughJournalNumber: Number(row.throughJournalNumber),
  };
}

/** The exports a journal was in: journals never change, so an export's selection says exactly which it held. */
export async function exportsOfJournal(
  trx: Knex.Transaction,
  tenantId: string,
  journal: LedgerJournal,
): Promise<Array<{ id: string; format: string; createdAt: string }>> {
  const rows = await LedgerExport.query(trx)
    .where('tenant_id', tenantId)
    .where('through_journal_number', '>=', journal.number)
    .where((q) => q.whereNull('posting_from').orWhere('posting_from', '<=', journal.postingDate))
    .where((q) => q.whereNull('posting_to').orWhere('posting_to', '>=', journal.postingDate))
    .where((q) => q.whereNull('journal_from').orWhere('journal_from', '<=', journal.number))
    .where((q) => q.whereNull('journal_to').orWhere('journal_to', '>=', journal.number))
    .where((q) => q.whereNull('source_type').orWhere('source_type', journal.sourceType))
    .where((q) => q.whereNull('source_id').orWhere('source_id', journal.sourceId ?? ''))
    .orderBy([{ column: 'created_at' }, { column: 'id' }])
    .select('id', 'format', 'created_at');
  return rows.map((r) => ({ id: r.id, format: r.format, createdAt: r.createdAt.toISOString() }));
}

export function unknownFormat(keys: string[]): Problem {
  return Problem.unprocessable([{ pointer: '/body/format', message: `is not an export format (${keys.join(', ')})` }]);
}

export interface ExportRequest {
  format: LedgerExportFormat;
  selection: ExportSelection;
  /** The earlier export this one replays, if any. */
  replayOf?: string | null;
  /** What the audit event names, where the request was about something else (a payment run). */
  auditAs?: { entityType: string; entityId: string };
}

/**
 * Takes an export: records it (with what it held, so it can be replayed byte for byte), tells the
 * modules whose journals it took, audits it (as the export, or as what the request named: a payment
 * run), and answers the CSV rows, streamed after the record.
 */
export async function takeLedgerExport(ctx: TenantScope, request: ExportRequest): Promise<OperationResult> {
  const { trx, tenantId } = ctx;
  const { format, selection, auditAs } = request;
  const replayOf = request.replayOf ?? null;
  const summary = await summarise(trx, tenantId, selection);
  const tenant: { currency: string; slug: string } = await trx('tenants')
    .where({ id: tenantId })
    .first('currency', 'slug');
  const row = await LedgerExport.query(trx)
    .insert({
      tenantId,
      id: newId(),
      format: format.key,
      postingFrom: selection.from ?? null,
      postingTo: selection.to ?? null,
      journalFrom: selection.journalFrom ?? null,
      journalTo: selection.journalTo ?? null,
      sourceType: selection.sourceType ?? null,
      sourceId: selection.sourceId ?? null,
      throughJournalNumber: selection.throughJournalNumber,
      journalCount: summary.journalCount,
      rowCount: summary.entryCount,
      firstJournalNumber: summary.first,
      lastJournalNumber: summary.last,
      totalMinor: summary.total,
      // The principal's id, an API key's too: the record says which credential took the export.
      createdBy: ctx.principal.id,
    })
    .returning('*');
  const recorded = exportToApi(row);
  const changed = await journalsExported(trx, tenantId, { exportId: recorded.id, selection });
  await ctx.audit({
    action: 'ledger_export.create',
    entityType: auditAs?.entityType ?? 'ledger_export',
    entityId: auditAs?.entityId ?? recorded.id,
    before: null,
    after: { ...recorded, replayOf, ...changed },
  });
  const rows = exportRows(trx, tenantId, selection, format, { currency: tenant.currency }, await hiddenRecords(ctx));
  return { status: 200, csv: { filename: `ledger-${format.key}-${tenant.slug}.csv`, columns: format.columns, rows } };
}

/** The journals a selection holds, by id (for a module that marks what they stand for). */
export async function selectedJournalIds(
  trx: Knex.Transaction,
  tenantId: string,
  s: ExportSelection,
): Promise<string[]> {
  const rows: Array<Pick<LedgerJournal, 'id'>> = await whereSelected(trx('ledger_journals as j'), tenantId, s).select(
    'j.id',
  );
  return rows.map((r) => r.id);
}
