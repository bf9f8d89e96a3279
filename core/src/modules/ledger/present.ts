import type { ModelObject } from 'objection';
import { iso } from '../../time';
import type { LedgerEntry, LedgerExport, LedgerJournal } from './models';

export function entryToApi(row: ModelObject<LedgerEntry>) {
  return {
    id: row.id,
    lineNumber: row.lineNumber,
    accountKey: row.accountKey,
    accountCode: row.accountCode,
    debit: row.debit,
    credit: row.credit,
    carerHouseholdId: row.carerHouseholdId,
    childId: row.childId,
    placementId: row.placementId,
    periodStart: row.periodStart,
    periodEnd: row.periodEnd,
    sourceLineId: row.sourceLineId,
    description: row.description,
  };
}

/** A journal with its line count and total (the sum of its debits, in minor units). */
export function journalToApi(row: ModelObject<LedgerJournal>, totals: { lineCount: number; total: number }) {
  return {
    id: row.id,
    number: row.number,
    postingDate: row.postingDate,
    description: row.description,
    source: { type: row.sourceType, id: row.sourceId },
    currency: row.currency,
    lineCount: Number(totals.lineCount),
    total: Number(totals.total),
    createdBy: row.createdBy,
    createdAt: iso(row.createdAt),
  };
}

export function exportToApi(row: ModelObject<LedgerExport>) {
  return {
    id: row.id,
    format: row.format,
    filters: {
      from: row.postingFrom,
      to: row.postingTo,
      journalFrom: row.journalFrom,
      journalTo: row.journalTo,
      sourceType: row.sourceType,
      sourceId: row.sourceId,
    },
    throughJournalNumber: row.throughJournalNumber,
    journalCount: row.journalCount,
    rowCount: row.rowCount,
    firstJournalNumber: row.firstJournalNumber,
    lastJournalNumber: row.lastJournalNumber,
    total: row.totalMinor,
    createdBy: row.createdBy,
    createdAt: iso(row.createdAt),
  };
}
