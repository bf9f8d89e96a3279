import { TenantModel } from '../../db/baseModel';

/**
 * The ledger's tables. Journals, entries and exports are append-only (the database refuses UPDATE
 * and DELETE of them to everyone), so these models are only ever read and inserted. Money is in
 * integer minor units; bigint columns read as numbers (core/src/db/database.ts).
 */

export class LedgerJournal extends TenantModel {
  static override tableName = 'ledger_journals';
  static noun = 'journal';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  number!: number;
  postingDate!: string;
  description!: string;
  sourceType!: string;
  sourceId!: string | null;
  currency!: string;
  createdBy!: string | null;
  createdAt!: Date;
}

/** A journal with its entries counted and its debits summed, as lists and reads show it. */
export type JournalWithTotals = LedgerJournal & { lineCount: number; totalMinor: number };

export class LedgerEntry extends TenantModel {
  static override tableName = 'ledger_entries';
  static noun = 'ledger entry';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  journalId!: string;
  lineNumber!: number;
  accountKey!: string;
  accountCode!: string;
  debit!: number;
  credit!: number;
  carerHouseholdId!: string | null;
  childId!: string | null;
  placementId!: string | null;
  periodStart!: string | null;
  periodEnd!: string | null;
  sourceLineId!: string | null;
  description!: string | null;
}

export class LedgerExport extends TenantModel {
  static override tableName = 'ledger_exports';
  static noun = 'export';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  format!: string;
  postingFrom!: string | null;
  postingTo!: string | null;
  journalFrom!: number | null;
  journalTo!: number | null;
  sourceType!: string | null;
  sourceId!: string | null;
  throughJournalNumber!: number;
  journalCount!: number;
  rowCount!: number;
  firstJournalNumber!: number | null;
  lastJournalNumber!: number | null;
  totalMinor!: number;
  createdBy!: string | null;
  createdAt!: Date;
}
