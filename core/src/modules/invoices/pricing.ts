import { addDays } from '../../dates';
import { inEffectOn } from '../../time';
import { prorate } from '../../rates/proration';

export type FeePeriod = 'week' | 'day';
export type InvoiceRounding = 'half_up_per_line' | 'half_even_per_line';

/** A placement as invoicing sees it: when the child arrived and, once ended, the day they left. */
export interface StayForInvoicing {
  placementId: string;
  childId: string;
  startDate: string;
  /** The day of departure, or null while the placement goes on. */
  endDate: string | null;
}

/** One recorded fee: who pays for the placement, and how much, from a date. */
export interface CommissionForInvoicing {
  id: string;
  placementId: string;
  commissionerId: string;
  feeAmount: number;
  feePeriod: FeePeriod;
  effectiveFrom: string;
  commissionerReference: string | null;
}

/** Consecutive nights of one placement at one recorded fee: one invoice line. */
export interface FeeSegment {
  placementId: string;
  childId: string;
  commissionId: string;
  commissionerId: string;
  commissionerReference: string | null;
  periodStart: string;
  periodEnd: string;
  nights: number;
  feeAmount: number;
  feePeriod: FeePeriod;
  amount: number;
}

/**
 * The nights of a stay that fall in a period and are charged: the day of arrival counts; the day of
 * departure counts only when the tenant charges it. Null when none do.
 */
export function chargedNights(
  stay: StayForInvoicing,
  period: { start: string; end: string },
  chargeDepartureDay: boolean,
): { first: string; last: string } | null {
  const first = stay.startDate > period.start ? stay.startDate : period.start;
  const lastCharged =
    stay.endDate === null ? period.end : chargeDepartureDay ? stay.endDate : addDays(stay.endDate, -1);
  const last = lastCharged < period.end ? lastCharged : period.end;
  return first <= last ? { first, last } : null;
}

/**
 * fee × nights ÷ 7 for a weekly fee, fee × nights for a daily one, rounded once to the minor unit in
 * integers: half up, or half to even when the tenant says so.
 */
export function lineAmount(feeAmount: number, feePeriod: FeePeriod, nights: number, rounding: InvoiceRounding): number {
  const numerator = feeAmount * nights;
  if (!Number.isSafeInteger(numerator)) throw new Error(`lineAmount: ${feeAmount} × ${nights} is not a safe integer`);
  // The same integer rounding as a carer's pay (rates/proration.ts).
  return prorate(feeAmount, nights, feePeriod === 'week' ? 7 : 1, rounding);
}

/**
 * A stay's invoice lines for a period: each charged night takes the fee in effect that night (the
 * latest effective on or before it; of two from the same date, the one recorded last), nights
 * already held by an issued invoice are left out, and consecutive nights at the same recorded fee
 * form one line, rounded once. Nights before the first fee, or at a fee of 0, are not charged.
 *
 * `commissions` are the stay's, ordered by effective date and then by when they were recorded.
 */
export function feeSegments(
  stay: StayForInvoicing,
  commissions: readonly CommissionForInvoicing[],
  period: { start: string; end: string },
  policy: { chargeDepartureDay: boolean; rounding: InvoiceRounding },
  held: ReadonlySet<string>,
): FeeSegment[] {
  const nights = chargedNights(stay, period, policy.chargeDepartureDay);
  if (!nights) return [];
  const segments: FeeSegment[] = [];
  let open: { commission: CommissionForInvoicing; from: string; to: string; nights: number } | null = null;
  const close = () => {
    if (!open) return;
    const c = open.commission;
    const amount = lineAmount(c.feeAmount, c.feePeriod, open.nights, policy.rounding);
    // A line that rounds to nothing charges nothing, and so holds no nights.
    if (amount > 0) {
      segments.push({
        placementId: stay.placementId,
        childId: stay.childId,
        commissionId: c.id,
        commissionerId: c.commissionerId,
        commissionerReference: c.commissionerReference,
        periodStart: open.from,
        periodEnd: open.to,
        nights: open.nights,
        feeAmount: c.feeAmount,
        feePeriod: c.feePeriod,
        amount,
      });
    }
    open = null;
  };
  for (let night = nights.first; night <= nights.last; night = addDays(night, 1)) {
    const commission = inEffectOn(commissions, night);
    if (!commission || commission.feeAmount === 0 || held.has(night)) {
      close();
      continue;
    }
    if (open && open.commission.id === commission.id && addDays(open.to, 1) === night) {
      open.to = night;
      open.nights++;
    } else {
      close();
      open = { commission, from: night, to: night, nights: 1 };
    }
  }
  close();
  return segments;
}
