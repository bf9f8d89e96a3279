import type { LedgerEntryView, LedgerJournalView } from '../../../plugins/api';
import { namesHidden, ROW_KEYS, type HiddenRecords } from '../../children/visibility';
import type { EntryRow, JournalRow } from '../rows';

/** The journal's columns the export's cursor reads beside each entry's, prefixed `j_` (exportService.ts selects them). */
type CursorJournalColumn = 'number' | 'posting_date' | 'description' | 'source_type' | 'source_id' | 'currency';

/** A row of the export's cursor: an entry's row, and its journal's columns as JournalRow types them. */
export type ExportCursorRow = EntryRow & { [K in CursorJournalColumn as `j_${K}`]: JournalRow[K] };

/**
 * The one place the ledger's rows become what an export format is handed (the plugin API's views),
 * so a renamed column changes this function and no plugin. The fence is applied here too, so no
 * format can be handed a hidden child: an entry about a child or placement hidden from whoever takes
 * the export keeps its amounts and accounts, the child and placement withheld, as on every other view
 * of money. Each call makes fresh objects: what one format call does to them cannot reach the next.
 */
export function exportViewsOf(
  row: ExportCursorRow,
  hidden: HiddenRecords,
): { entry: LedgerEntryView; journal: LedgerJournalView } {
  const withheld = namesHidden(hidden, row, ROW_KEYS);
  return {
    journal: {
      id: row.journal_id,
      number: Number(row.j_number),
      postingDate: row.j_posting_date,
      description: row.j_description,
      source: { type: row.j_source_type, id: row.j_source_id },
      currency: row.j_currency,
    },
    entry: {
      id: row.id,
      lineNumber: row.line_number,
      accountKey: row.account_key,
      accountCode: row.account_code,
      debitMinor: row.debit,
      creditMinor: row.credit,
      amountMinor: row.debit - row.credit,
      description: row.description,
      carerHouseholdId: row.carer_household_id,
      childId: withheld ? null : row.child_id,
      placementId: withheld ? null : row.placement_id,
      periodStart: row.period_start,
      periodEnd: row.period_end,
      sourceLineId: row.source_line_id,
    },
  };
}
