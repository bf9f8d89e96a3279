import { formatMinor, type LedgerExportFormat } from '../../core/src/plugins/api';

/** Generic double-entry ledger: one row per entry. */
export const genericFormat: LedgerExportFormat = {
  key: 'generic',
  contentType: 'text/csv',
  columns: [
    'journal_number', 'journal_id', 'posting_date', 'account_code', 'account_key', 'description', 'debit', 'credit', 'currency',
    'source_type', 'source_reference', 'carer_household_id', 'child_id', 'placement_id', 'period_start', 'period_end', 'line_number', 'line_id', 'source_line_id',
  ],
  rowsFor: (entry, journal) => [[
    journal.number, journal.id, journal.postingDate, entry.accountCode, entry.accountKey, entry.description ?? journal.description,
    formatMinor(entry.debitMinor, journal.currency), formatMinor(entry.creditMinor, journal.currency), journal.currency,
    journal.source.type, journal.source.id ?? '', entry.carerHouseholdId ?? '', entry.childId ?? '', entry.placementId ?? '',
    entry.periodStart ?? '', entry.periodEnd ?? '', entry.lineNumber, entry.id, entry.sourceLineId ?? '',
  ]],
};
