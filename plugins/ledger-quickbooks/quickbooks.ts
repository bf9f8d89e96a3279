import { editionFor, formatMinor, type LedgerExportFormat } from '../../core/src/plugins/api';

/** QuickBooks Online journal entry import: a journal's lines share its number and date; one of Debits or Credits per line. */
export const quickbooksFormat: LedgerExportFormat = {
  key: 'quickbooks',
  contentType: 'text/csv',
  columns: ['Journal No', 'Journal Date', 'Account', 'Debits', 'Credits', 'Description', 'Name'],
  rowsFor: (entry, journal, tenant) => [
    [
      String(journal.number),
      editionFor(tenant.currency).date(journal.postingDate),
      entry.accountCode,
      entry.debitMinor > 0 ? formatMinor(entry.debitMinor, journal.currency) : '',
      entry.creditMinor > 0 ? formatMinor(entry.creditMinor, journal.currency) : '',
      entry.description ?? journal.description,
      '',
    ],
  ],
};
