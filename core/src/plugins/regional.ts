/** The order a regional edition writes a date's parts in: day/month/year (UK) or month/day/year (US). */
export type DateOrder = 'day-first' | 'month-first';

/**
 * The regional edition a finance system's import expects for a tenant, in facts of the region and
 * no vendor's words: the UK editions read dates day first, the US ones month first. Chosen by the
 * tenant's currency, the only thing the tenant row says of its edition. Core publishes it to plugins
 * (api.ts) so the export plugins agree; what a vendor calls things in an edition (Xero's name for the
 * zero tax rate) stays in that vendor's plugin.
 */
export interface Edition {
  /** ISO 3166-1 alpha-2 country of the edition (GB, US): what a plugin keys its own per-edition words by. */
  readonly country: string;
  readonly dateOrder: DateOrder;
  /** A `YYYY-MM-DD` date as the edition writes it, `31/10/2026` or `10/31/2026`. */
  readonly date: (iso: string) => string;
}

const dayFirst = (iso: string) => `${iso.slice(8, 10)}/${iso.slice(5, 7)}/${iso.slice(0, 4)}`;
const monthFirst = (iso: string) => `${iso.slice(5, 7)}/${iso.slice(8, 10)}/${iso.slice(0, 4)}`;

const EDITIONS: Record<string, Edition> = {
  GBP: { country: 'GB', dateOrder: 'day-first', date: dayFirst },
  USD: { country: 'US', dateOrder: 'month-first', date: monthFirst },
};

export function editionFor(currency: string): Edition {
  const edition = EDITIONS[currency];
  if (!edition) throw new Error(`No finance-system edition for currency ${currency}`);
  return edition;
}
