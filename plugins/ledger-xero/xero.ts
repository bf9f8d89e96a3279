import { editionFor, formatMinor, type LedgerExportFormat } from '../../core/src/plugins/api';

/** Xero manual journal import: one narration per journal, debit positive, credit negative, so each journal sums to zero. */
export const xeroFormat: LedgerExportFormat = {
  key: 'xero',
  contentType: 'text/csv',
  columns: ['*Narration', '*Date', 'Description', '*AccountCode', '*TaxRate', '*Amount', 'TrackingName1', 'TrackingOption1', 'TrackingName2', 'TrackingOption2'],
  rowsFor: (entry, journal, tenant) => {
    const edition = editionFor(tenant.currency);
    const amount = entry.debit > 0 ? entry.debit : -entry.credit;
    return [[`Journal ${journal.number}: ${journal.description}`, edition.date(journal.posting_date), entry.description ?? journal.description, entry.account_code, edition.xeroTaxRate, formatMinor(amount, journal.currency), '', '', '', '']];
  },
};
