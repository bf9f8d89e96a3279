/** Digits after the decimal point of each currency a tenant can hold. */
export const MINOR_DIGITS: Record<string, number> = { GBP: 2, USD: 2 };

/**
 * Integer minor units as decimal major units, without floating point: 12345 → "123.45", -5 → "-0.05".
 */
export function formatMinor(minor: number, currency: string): string {
  if (!Number.isSafeInteger(minor)) throw new Error(`formatMinor: ${minor} is not a safe integer`);
  const digits = MINOR_DIGITS[currency];
  if (digits === undefined) throw new Error(`formatMinor: no minor digits known for ${currency}`);
  const negative = minor < 0;
  const text = String(Math.abs(minor)).padStart(digits + 1, '0');
  const major = digits === 0 ? text : `${text.slice(0, text.length - digits)}.${text.slice(text.length - digits)}`;
  return negative ? `-${major}` : major;
}
