import { formatMinor, type LedgerExportFormat } from '../../core/src/plugins/api';

/** Generic double-entry ledger: one row per entry (reference/formats.md). */
export const genericFormat: LedgerExportFormat = {
  key: 'generic',
  contentType: 'text/csv',
  columns: [
    'journal_number', 'journal_id', 'posting_date', 'account_code', 'account_key', 'description', 'debit', 'credit', 'currency',
    'source_type', 'source_reference', 'carer_household_id', 'child_id', 'placement_id', 'period_start', 'period_end', 'line_number', 'line_id', 'source_line_id',
  ],
  rowsFor: (entry, journal) => [[
    journal.number, journal.id, journal.posting_date, entry.account_code, entry.account_key, entry.description ?? journal.description,
    formatMinor(entry.debit, journal.currency), formatMinor(entry.credit, journal.currency), journal.currency,
    journal.source_type, journal.source_id ?? '', entry.carer_household_id ?? '', entry.child_id ?? '', entry.placement_id ?? '',
    entry.period_start ?? '', entry.period_end ?? '', entry.line_number, entry.id, entry.source_line_id ?? '',
  ]],
};
