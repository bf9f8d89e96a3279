import type { Schema } from '@hearth/sdk';
import { h } from './dom';

export type Currency = Schema<'Currency'>;

/** How a tenant's amounts and dates are written: the locale of its currency's country, its time zone. */
export interface Place {
  locale: string;
  currency: Currency;
  timeZone: string;
}

const LOCALE_OF: Record<Currency, string> = { GBP: 'en-GB', USD: 'en-US' };

export function placeOf(tenant: { currency: Currency; timeZone: string }): Place {
  return { locale: LOCALE_OF[tenant.currency], currency: tenant.currency, timeZone: tenant.timeZone };
}

/**
 * An amount in minor units (pence, cents), as the API sends every amount, written in its currency:
 * 43115 GBP is "£431.15". The integer is turned into an exact decimal string, never divided as a
 * float, and Intl formats that string (Intl.NumberFormat accepts decimal strings exactly).
 */
export function formatMoney(minorUnits: number, currency: Currency, locale: string = LOCALE_OF[currency]): string {
  if (!Number.isSafeInteger(minorUnits))
    throw new RangeError(`an amount in minor units must be an integer, not ${minorUnits}`);
  const format = new Intl.NumberFormat(locale, { style: 'currency', currency });
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  const units = String(Math.abs(minorUnits)).padStart(digits + 1, '0');
  const whole = units.slice(0, units.length - digits);
  const decimal = `${minorUnits < 0 ? '-' : ''}${whole}${digits > 0 ? `.${units.slice(units.length - digits)}` : ''}`;
  return format.format(decimal as Intl.StringNumericLiteral);
}

/** A calendar date (`2026-11-30`) as its locale writes it. Read and written in UTC, so no time zone moves it a day. */
export function formatDate(isoDate: string, locale: string): string {
  return new Intl.DateTimeFormat(locale, { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' }).format(
    new Date(`${isoDate}T00:00:00Z`),
  );
}

/** A date for the page: its words for people, its ISO form for machines (`<time datetime>`). */
export function dateElement(isoDate: string, locale: string): HTMLTimeElement {
  return h('time', { datetime: isoDate }, formatDate(isoDate, locale));
}

/** An amount for the page: written in its currency, with the exact minor units kept beside it (`<data value>`). */
export function moneyElement(minorUnits: number, currency: Currency, locale: string): HTMLDataElement {
  return h('data', { value: minorUnits }, formatMoney(minorUnits, currency, locale));
}

/** Today's date in a time zone, as `YYYY-MM-DD` (the tenant's day decides what is overdue and how old a child is). */
export function todayIn(timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(
    new Date(),
  );
}

/** Whole years from a date of birth to a day, both `YYYY-MM-DD`. */
export function ageOn(dateOfBirth: string, day: string): number {
  const [by, bm, bd] = dateOfBirth.split('-').map(Number) as [number, number, number];
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  return y - by - (m < bm || (m === bm && d < bd) ? 1 : 0);
}

/** A code as words: `in_care` is "In care". The packs' own terminology is for a fuller app. */
export function words(code: string): string {
  const spaced = code.replace(/[_-]+/g, ' ');
  return spaced.charAt(0).toUpperCase() + spaced.slice(1);
}
