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

/** Today's calendar date where a tenant is: a day that has begun in London may not have in UTC. */
export function todayIn(timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(
    new Date(),
  );
}
