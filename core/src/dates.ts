/**
 * Calendar dates as ISO strings (YYYY-MM-DD), computed in UTC so no time zone can move a day. The
 * one place day arithmetic lives: a date a tenant sees is the tenant's local date, found once by
 * `todayIn` (core/src/time.ts); everything after is arithmetic on these strings.
 */

/** Milliseconds in a day of UTC, where every day has 24 hours. */
export const DAY_MS = 86_400_000;

export function toDate(iso: string): Date {
  const [y, m, d] = iso.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d));
}

export function toIso(date: Date): string {
  return date.toISOString().slice(0, 10);
}

export function addDays(iso: string, days: number): string {
  const date = toDate(iso);
  date.setUTCDate(date.getUTCDate() + days);
  return toIso(date);
}

export const dayBefore = (iso: string): string => addDays(iso, -1);
export const dayAfter = (iso: string): string => addDays(iso, 1);

/** Days from one date to another: 0 for the same day, negative when `to` is earlier. */
export function daysBetween(from: string, to: string): number {
  return Math.round((toDate(to).getTime() - toDate(from).getTime()) / DAY_MS);
}

/** Adds calendar months, keeping the day of the month where it exists (31 January + 1 month = 28 or 29 February). */
export function addMonths(iso: string, months: number): string {
  const date = toDate(iso);
  const day = date.getUTCDate();
  const target = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + months, 1));
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(day, lastDay));
  return toIso(target);
}

/**
 * Whole years from one date to another: a person's age on a day. Compared as strings (the year,
 * then "MM-DD"), which is exact for ISO dates and cheap enough for the rate engine's every segment;
 * someone born on 29 February is a year older from 1 March in other years.
 */
export function ageOn(dateOfBirth: string, on: string): number {
  const years = Number(on.slice(0, 4)) - Number(dateOfBirth.slice(0, 4));
  return on.slice(5) < dateOfBirth.slice(5) ? years - 1 : years;
}
