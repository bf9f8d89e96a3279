import { formatMinor } from '../modules/ledger/money';

const SYMBOL: Record<'GBP' | 'USD', string> = { GBP: '£', USD: '$' };

/**
 * Money as a document shows it: 123456 GBP → "£1,234.56", -500 → "-£5.00". A hyphen-minus, not
 * U+2212, because the PDF's standard fonts have no minus sign, and because htmlToPdf right-aligns a
 * column whose cells all look like this.
 */
export function formatMoney(minor: number, currency: 'GBP' | 'USD'): string {
  const text = formatMinor(minor, currency);
  const negative = text.startsWith('-');
  const [whole, fraction] = (negative ? text.slice(1) : text).split('.') as [string, string];
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${negative ? '-' : ''}${SYMBOL[currency]}${grouped}.${fraction}`;
}

const DATE_STYLE = { GBP: 'en-GB', USD: 'en-US' } as const;

/**
 * A calendar date (YYYY-MM-DD) in words, as the tenant's country writes it: "24 October 2025" for a
 * GBP tenant, "October 24, 2025" for a USD one. Read in UTC so the day never shifts with the server's zone.
 */
export function formatDocumentDate(isoDate: string, currency: 'GBP' | 'USD', month: 'long' | 'short' = 'long'): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(isoDate) || Number.isNaN(Date.parse(`${isoDate}T00:00:00Z`)))
    throw new Error(`formatDocumentDate: "${isoDate}" is not a date (YYYY-MM-DD)`);
  return new Intl.DateTimeFormat(DATE_STYLE[currency], {
    timeZone: 'UTC',
    day: 'numeric',
    month,
    year: 'numeric',
  }).format(new Date(`${isoDate}T00:00:00Z`));
}
