import type { MileageTable } from '../packs/types';
import { inEffectOn } from '../time';

export interface MileagePayment {
  amount: number;
  /** The period the threshold counts in (a UK tax year runs 6 April - 5 April). */
  thresholdPeriodStart: string;
  bands: Array<{ miles: number; amountPerMile: number; amount: number }>;
  effectiveFrom: string;
  source: string;
}

export function thresholdPeriodStart(resets: MileageTable['thresholdResets'], date: string): string {
  const year = Number(date.slice(0, 4));
  if (resets === 'uk_tax_year') return date >= `${year}-04-06` ? `${year}-04-06` : `${year - 1}-04-06`;
  if (resets === 'calendar_year') return `${year}-01-01`;
  return '0001-01-01';
}

/**
 * Pays a journey by the pack's mileage bands, counting the carer's miles already claimed in the same
 * threshold period (HMRC: 45p a mile for the first 10,000 business miles in the tax year, 25p after),
 * so a journey that crosses the threshold is split between the bands. Rounded once, half up.
 */
export function mileagePayment(
  table: MileageTable,
  date: string,
  miles: number,
  milesAlreadyInPeriod: number,
): MileagePayment {
  const value = inEffectOn(table.values, date);
  if (!value) throw new Error(`mileage table "${table.key}" has no rate on ${date}`);
  const bands: MileagePayment['bands'] = [];
  let position = milesAlreadyInPeriod;
  let remaining = miles;
  let exact = 0;
  for (const band of value.bands) {
    if (remaining <= 0) break;
    const room = band.upToMiles === undefined ? remaining : Math.max(0, band.upToMiles - position);
    const inBand = Math.min(room, remaining);
    if (inBand <= 0) continue;
    const bandExact = inBand * band.amountPerMile;
    exact += bandExact;
    bands.push({ miles: inBand, amountPerMile: band.amountPerMile, amount: Math.floor(bandExact + 0.5 + 1e-9) });
    position += inBand;
    remaining -= inBand;
  }
  return {
    amount: Math.floor(exact + 0.5 + 1e-9),
    thresholdPeriodStart: thresholdPeriodStart(table.thresholdResets, date),
    bands,
    effectiveFrom: value.effectiveFrom,
    source: value.source,
  };
}
