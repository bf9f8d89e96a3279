/**
 * A ledger entry and its journal as an export format is given them (the plugin API: LedgerEntry and
 * LedgerJournal in core/src/plugins/api.ts): the rows as the export's cursor reads them, column for
 * column. Everything else in the ledger reads its tables through the models (models.ts).
 */
export interface JournalRow {
  tenant_id: string;
  id: string;
  number: number;
  posting_date: string;
  description: string;
  source_type: string;
  source_id: string | null;
  currency: string;
  created_by: string | null;
  created_at: Date;
}

export interface EntryRow {
  tenant_id: string;
  id: string;
  journal_id: string;
  line_number: number;
  account_key: string;
  account_code: string;
  debit: number;
  credit: number;
  carer_household_id: string | null;
  child_id: string | null;
  placement_id: string | null;
  period_start: string | null;
  period_end: string | null;
  source_line_id: string | null;
  description: string | null;
}
