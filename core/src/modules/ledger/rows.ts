import { iso } from '../../time';

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

export interface ExportRow {
  tenant_id: string;
  id: string;
  format: string;
  posting_from: string | null;
  posting_to: string | null;
  journal_from: number | null;
  journal_to: number | null;
  source_type: string | null;
  source_id: string | null;
  through_journal_number: number;
  journal_count: number;
  row_count: number;
  first_journal_number: number | null;
  last_journal_number: number | null;
  total_minor: number;
  created_by: string | null;
  created_at: Date;
}

export function entryToApi(row: EntryRow) {
  return {
    id: row.id,
    lineNumber: row.line_number,
    accountKey: row.account_key,
    accountCode: row.account_code,
    debit: row.debit,
    credit: row.credit,
    carerHouseholdId: row.carer_household_id,
    childId: row.child_id,
    placementId: row.placement_id,
    periodStart: row.period_start,
    periodEnd: row.period_end,
    sourceLineId: row.source_line_id,
    description: row.description,
  };
}

export function journalToApi(row: JournalRow & { line_count?: number; total_minor?: number }) {
  return {
    id: row.id,
    number: row.number,
    postingDate: row.posting_date,
    description: row.description,
    source: { type: row.source_type, id: row.source_id },
    currency: row.currency,
    lineCount: Number(row.line_count ?? 0),
    total: Number(row.total_minor ?? 0),
    createdBy: row.created_by,
    createdAt: iso(row.created_at),
  };
}

export function exportToApi(row: ExportRow) {
  return {
    id: row.id,
    format: row.format,
    filters: {
      from: row.posting_from,
      to: row.posting_to,
      journalFrom: row.journal_from,
      journalTo: row.journal_to,
      sourceType: row.source_type,
      sourceId: row.source_id,
    },
    throughJournalNumber: row.through_journal_number,
    journalCount: row.journal_count,
    rowCount: row.row_count,
    firstJournalNumber: row.first_journal_number,
    lastJournalNumber: row.last_journal_number,
    total: row.total_minor,
    createdBy: row.created_by,
    createdAt: iso(row.created_at),
  };
}
