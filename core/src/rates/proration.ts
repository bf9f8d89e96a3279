import type { PaymentPolicy, RateTable } from '../packs/types';

export function daysInMonth(iso: string): number {
  const [y, m] = iso.split('-').map(Number) as [number, number];
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}

/** What a table's period amount is divided by to pay one night: 7 a week, 1 a day, the month's days, 365 a year. */
export function nightlyDivisor(table: RateTable, night: string): number {
  if (table.period === 'week') return 7;
  if (table.period === 'day') return 1;
  if (table.period === 'month') return daysInMonth(night);
  if (table.period === 'year') return 365;
  throw new Error(`a "${table.period}" table cannot be paid per night`);
}

/** amount = periodAmount × nights ÷ divisor, rounded to the minor unit, half up (or half even), in integers. */
export function prorate(
  periodAmount: number,
  nights: number,
  divisor: number,
  rounding: PaymentPolicy['rounding'],
): number {
  const numerator = periodAmount * nights;
  const whole = Math.floor(numerator / divisor);
  const twiceRemainder = 2 * (numerator - whole * divisor);
  if (twiceRemainder > divisor) return whole + 1;
  if (twiceRemainder < divisor) return whole;
  return rounding === 'half_up_per_line' || whole % 2 === 1 ? whole + 1 : whole;
}
