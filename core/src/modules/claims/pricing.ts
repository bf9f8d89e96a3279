import type { FindScope } from '../../db/find';
import type { ResolvedPack } from '../../packs/registry';
import type { MileageTable } from '../../packs/types';
import { mileagePayment, thresholdPeriodStart } from '../../rates/mileage';

/** The tenant's mileage table: the pack's (a sub-pack's wins), with the layer it came from. */
export function mileageTableOf(pack: ResolvedPack): { table: MileageTable; layer: string } | null {
  for (const item of pack.points.rates.values()) {
    const value = item.value as { kind?: string };
    if (value.kind === 'mileage') return { table: item.value as MileageTable, layer: `pack:${item.layer}` };
  }
  return null;
}

/** The first day after the threshold period that starts on `start`. */
function periodEnd(resets: MileageTable['thresholdResets'], start: string): string {
  if (resets === 'never') return '9999-12-31';
  return `${Number(start.slice(0, 4)) + 1}${start.slice(4)}`;
}

export interface PricedMileage {
  position: number;
  amount: number;
  explanation: {
    table: string;
    layer: string;
    effectiveFrom: string;
    source: string;
    thresholdPeriodStart: string;
    milesBefore: number;
    bands: Array<{ miles: number; amountPerMile: number; amount: number }>;
  };
}

/**
 * Prices a claim's mileage lines. Each line is banded by the household's miles already counted in
 * its threshold period: every mileage line of the household's APPROVED or PAID claims in the period
 * (whatever its date: an approved claim keeps its bands, so a later one cannot take its miles), then
 * this claim's own earlier lines in date order. Submitted claims are not counted: they may yet be
 * rejected, and every claim is priced again when it is approved. Miles are counted in tenths.
 */
export async function priceMileage(
  ctx: FindScope,
  claim: {
    householdId: string;
    claimId: string;
    mileage: { table: MileageTable; layer: string };
    lines: Array<{ position: number; date: string; tenths: number }>;
  },
): Promise<PricedMileage[]> {
  const { trx, tenantId } = ctx;
  const { householdId, claimId, mileage, lines } = claim;
  const { table, layer } = mileage;
  const counted = new Map<string, number>();
  const out: PricedMileage[] = [];
  const ordered = [...lines].sort((a, b) => a.date.localeCompare(b.date) || a.position - b.position);
  for (const line of ordered) {
    const start = thresholdPeriodStart(table.thresholdResets, line.date);
    if (!counted.has(start)) {
      const row = (await trx('claim_lines as l')
        .join('claims as c', function on() {
          this.on('c.tenant_id', 'l.tenant_id').andOn('c.id', 'l.claim_id');
        })
        .where({ 'l.tenant_id': tenantId, 'c.tenant_id': tenantId, 'c.household_id': householdId, 'l.kind': 'mileage' })
        .whereIn('c.status', ['approved', 'paid'])
        .whereNot('c.id', claimId)
        .where('l.line_date', '>=', start)
        .where('l.line_date', '<', periodEnd(table.thresholdResets, start))
        .sum({ tenths: 'l.tenths_of_mile' })
        .first()) as { tenths: string | number | null } | undefined;
      counted.set(start, Number(row?.tenths ?? 0));
    }
    const before = counted.get(start)!;
    const payment = mileagePayment(table, line.date, line.tenths / 10, before / 10);
    counted.set(start, before + line.tenths);
    out.push({
      position: line.position,
      amount: payment.amount,
      explanation: {
        table: table.key,
        layer,
        effectiveFrom: payment.effectiveFrom,
        source: payment.source,
        thresholdPeriodStart: payment.thresholdPeriodStart,
        milesBefore: before / 10,
        bands: payment.bands.map((b) => ({ ...b, miles: Math.round(b.miles * 10) / 10 })),
      },
    });
  }
  return out;
}
