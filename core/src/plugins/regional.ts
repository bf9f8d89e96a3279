/**
 * How the finance system's regional edition expects a journal: Xero UK calls a zero-rated journal
 * line "No VAT", Xero US "Tax Exempt"; the UK editions read dates day first, the US ones month first.
 * Chosen by the tenant's currency, the only thing the tenant row says of its edition. Two export
 * plugins (Xero, QuickBooks) need it, so core publishes it to plugins (api.ts) rather than each keeping a copy.
 */
export interface Edition {
  xeroTaxRate: string;
  date(iso: string): string;
}

const dayFirst = (iso: string) => `${iso.slice(8, 10)}/${iso.slice(5, 7)}/${iso.slice(0, 4)}`;
const monthFirst = (iso: string) => `${iso.slice(5, 7)}/${iso.slice(8, 10)}/${iso.slice(0, 4)}`;

const EDITIONS: Record<string, Edition> = {
  GBP: { xeroTaxRate: 'No VAT', date: dayFirst },
  USD: { xeroTaxRate: 'Tax Exempt', date: monthFirst },
};

export function editionFor(currency: string): Edition {
  const edition = EDITIONS[currency];
  if (!edition) throw new Error(`No finance-system edition for currency ${currency}`);
  return edition;
}
