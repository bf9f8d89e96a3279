import type { QuietHours } from './models';

const minutesOf = (hhmm: string) => {
  const [h, m] = hhmm.split(':').map(Number);
  return h! * 60 + m!;
};

// One formatter per zone: making one loads the zone's rules, a cost every message would pay.
const minuteFormats = new Map<string, Intl.DateTimeFormat>();

/** The wall-clock minute of the day at `now` in a time zone. */
function minuteInZone(now: Date, timeZone: string): number {
  let format = minuteFormats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    minuteFormats.set(timeZone, format);
  }
  const parts = format
    .formatToParts(now)
    .reduce<Record<string, string>>((acc, p) => ({ ...acc, [p.type]: p.value }), {});
  return Number(parts.hour) * 60 + Number(parts.minute);
}

/**
 * When quiet hours end, if `now` falls inside them in the tenant's time zone; else null. A window
 * whose end is before its start runs over midnight (21:00 to 08:00). Counted in minutes from now, so
 * a clock change inside the window moves the end by its hour at most.
 */
export function quietUntil(now: Date, timeZone: string, quiet: QuietHours | null): Date | null {
  if (!quiet) return null;
  const start = minutesOf(quiet.start);
  const end = minutesOf(quiet.end);
  if (start === end) return null;
  const minute = minuteInZone(now, timeZone);
  const inside = start < end ? minute >= start && minute < end : minute >= start || minute < end;
  if (!inside) return null;
  const wait = (end - minute + 24 * 60) % (24 * 60);
  const at = new Date(now.getTime() + wait * 60_000);
  at.setUTCSeconds(0, 0);
  return at;
}
