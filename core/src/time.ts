/** Timestamps leave the API as ISO 8601 in UTC; calendar dates (date columns) stay YYYY-MM-DD strings. */
export function iso(value: Date | string): string;
export function iso(value: Date | string | null): string | null;
export function iso(value: Date | string | null): string | null {
  return value === null ? null : new Date(value).toISOString();
}

/** The entry in effect on a date: the last whose effectiveFrom is on or before it (entries in date order). */
export function inEffectOn<T extends { effectiveFrom: string }>(entries: readonly T[], date: string): T | null {
  let found: T | null = null;
  for (const entry of entries) if (entry.effectiveFrom <= date) found = entry;
  return found;
}

// Making a formatter costs a quarter of a millisecond (the zone's rules are loaded each time); one per zone is kept.
const dayFormats = new Map<string, Intl.DateTimeFormat>();

/** Today's calendar date where a tenant is: a day that has begun in London may not have in UTC. */
export function todayIn(timeZone: string): string {
  let format = dayFormats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    dayFormats.set(timeZone, format);
  }
  return format.format(new Date());
}
