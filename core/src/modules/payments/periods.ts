import { addDays, addMonths, daysBetween } from '../../dates';

export type PayFrequency = 'weekly' | 'fortnightly' | 'four_weekly' | 'monthly';
export type PayTiming = 'advance' | 'arrears';

/** What of a schedule decides its periods and payment dates. */
export interface ScheduleShape {
  frequency: PayFrequency;
  timing: PayTiming;
  anchorDate: string;
  paymentLagDays: number;
}

export interface PayPeriod {
  start: string;
  /** The last night of the period. */
  end: string;
  paymentDate: string;
}

const LENGTH_IN_DAYS: Record<Exclude<PayFrequency, 'monthly'>, number> = {
  weekly: 7,
  fortnightly: 14,
  four_weekly: 28,
};

/** Whether a date begins one of the schedule's periods (a whole number of periods from the anchor, before or after it). */
export function isPeriodStart(schedule: ScheduleShape, date: string): boolean {
  if (schedule.frequency === 'monthly') return date.slice(8, 10) === schedule.anchorDate.slice(8, 10);
  const length = LENGTH_IN_DAYS[schedule.frequency];
  return ((daysBetween(schedule.anchorDate, date) % length) + length) % length === 0;
}

/** The period that begins on `start` (which must be a period start) and the day it is paid. */
export function periodFrom(schedule: ScheduleShape, start: string): PayPeriod {
  const next =
    schedule.frequency === 'monthly' ? addMonths(start, 1) : addDays(start, LENGTH_IN_DAYS[schedule.frequency]);
  const end = addDays(next, -1);
  const paymentDate =
    schedule.timing === 'arrears' ? addDays(end, schedule.paymentLagDays) : addDays(start, -schedule.paymentLagDays);
  return { start, end, paymentDate };
}

/** The first period start on or after a date. */
export function firstPeriodStartOnOrAfter(schedule: ScheduleShape, date: string): string {
  let day = date;
  // At most a month of days to look through.
  for (let i = 0; i < 31 && !isPeriodStart(schedule, day); i++) day = addDays(day, 1);
  return day;
}
