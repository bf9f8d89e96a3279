import { firstPeriodStartOnOrAfter, isPeriodStart, periodFrom, type ScheduleShape } from './periods';

const shape = (
  frequency: ScheduleShape['frequency'],
  timing: ScheduleShape['timing'],
  anchorDate: string,
  paymentLagDays = 0,
): ScheduleShape => ({ frequency, timing, anchorDate, paymentLagDays });

describe('pay periods', () => {
  it.each([
    ['weekly', 7, '2025-04-07', '2025-04-13'],
    ['fortnightly', 14, '2025-04-07', '2025-04-20'],
    ['four_weekly', 28, '2025-04-07', '2025-05-04'],
  ] as const)(
    '%s periods are %i nights, counted from the anchor forwards and backwards',
    (frequency, length, start, end) => {
      const s = shape(frequency, 'arrears', '2025-04-07');
      expect(periodFrom(s, start)).toEqual({ start, end, paymentDate: end });
      const day = (iso: string, n: number) =>
        new Date(Date.parse(`${iso}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
      expect(
        [day(start, -length), start, day(start, length), day(start, 10 * length)].every((d) => isPeriodStart(s, d)),
      ).toBe(true);
      expect(isPeriodStart(s, day(start, 1))).toBe(false);
      expect(isPeriodStart(s, day(start, -1))).toBe(false);
    },
  );

  it('makes monthly periods from the anchor day to the day before it next month, over year ends and February', () => {
    const s = shape('monthly', 'arrears', '2025-01-28');
    expect(periodFrom(s, '2025-01-28')).toMatchObject({ start: '2025-01-28', end: '2025-02-27' });
    expect(periodFrom(s, '2025-12-28')).toMatchObject({ start: '2025-12-28', end: '2026-01-27' });
    expect(periodFrom(shape('monthly', 'arrears', '2024-01-01'), '2024-02-01')).toMatchObject({ end: '2024-02-29' });
    expect(isPeriodStart(s, '2025-03-28')).toBe(true);
    expect(isPeriodStart(s, '2025-03-27')).toBe(false);
    expect(firstPeriodStartOnOrAfter(s, '2025-03-29')).toBe('2025-04-28');
  });

  it('pays in arrears after the period ends, and in advance before it starts, by the schedule lag', () => {
    expect(periodFrom(shape('weekly', 'arrears', '2025-04-07', 4), '2025-04-07').paymentDate).toBe('2025-04-17');
    expect(periodFrom(shape('weekly', 'advance', '2025-04-07', 4), '2025-04-07').paymentDate).toBe('2025-04-03');
    expect(periodFrom(shape('monthly', 'advance', '2025-01-01', 0), '2025-03-01').paymentDate).toBe('2025-03-01');
  });
});
