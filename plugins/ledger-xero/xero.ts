import { editionFor, formatMinor, type LedgerExportFormat } from '../../core/src/plugins/api';

/**
 * Xero's name for the zero tax rate a journal line carries, by the country of the tenant's regional
 * edition: Xero UK calls it "No VAT", Xero US "Tax Exempt". Xero's words, so they live here, not in core.
 */
const ZERO_TAX_RATE: Record<string, string> = { GB: 'No VAT', US: 'Tax Exempt' };

function zeroTaxRate(country: string): string {
  const rate = ZERO_TAX_RATE[country];
  if (!rate) throw new Error(`No Xero zero tax rate known for the ${country} edition`);
  return rate;
}

/** Xero manual journal import: one narration per journal, debit positive, credit negative, so each journal sums to zero. */
export const xeroFormat: LedgerExportFormat = {
  key: 'xero',
  contentType: 'text/csv',
  columns: [
    '*Narration',
    '*Date',
    'Description',
    '*AccountCode',
    '*TaxRate',
    '*Amount',
    'TrackingName1',
    'TrackingOption1',
    'TrackingName2',
    'TrackingOption2',
  ],
  rowsFor: (entry, journal, tenant) => {
    const edition = editionFor(tenant.currency);
    return [
      [
        `Journal ${journal.number}: ${journal.description}`,
        edition.date(journal.postingDate),
        entry.description ?? journal.description,
        entry.accountCode,
        zeroTaxRate(edition.country),
        formatMinor(entry.amountMinor, journal.currency),
        '',
        '',
        '',
        '',
      ],
    ];
  },
};
