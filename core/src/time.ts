/** Timestamps leave the API as ISO 8601 in UTC; calendar dates (date columns) stay YYYY-MM-DD strings. */
export function iso(value: Date | string): string;
export function iso(value: Date | string | null): string | null;
export function iso(value: Date | string | null): string | null {
  return value === null ? null : new Date(value).toISOString();
}
