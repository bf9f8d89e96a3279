import type { Knex } from 'knex';
import { claimPaymentsDue } from '../../claims/service';
import type { HouseholdRange } from './facts';
import { NO_LINKS, type DraftLine } from './lines';
import { PaymentAdjustment } from '../models';

/**
 * What a run pays besides care: approved claims dated on or before the run's last night (a line per
 * claim and kind; see claimPaymentsDue for the rule) and approved adjustments, waiting for a run.
 * They are few beside a run's care lines (a claim a carer makes, an adjustment finance approves), so
 * they are read whole, then handed out with the households they belong to, a slice at a time
 * (`through`), in the order they were read.
 */
export class ClaimsAndAdjustments {
  private next = 0;

  private constructor(
    private readonly lines: DraftLine[],
    readonly claims: number,
    readonly adjustments: number,
  ) {}

  static async read(trx: Knex.Transaction, tenantId: string, period: { to: string }): Promise<ClaimsAndAdjustments> {
    const claims = await claimPaymentsDue(trx, tenantId, period.to);
    const adjustments = await PaymentAdjustment.query(trx)
      .where({ tenant_id: tenantId, status: 'approved' })
      .orderBy('id');
    const lines: DraftLine[] = [];
    for (const c of claims) {
      lines.push({
        householdId: c.householdId,
        placementId: null,
        childId: null,
        kind: 'claim',
        component: c.kind,
        periodStart: c.firstDate,
        periodEnd: c.lastDate,
        nights: null,
        amount: c.amount,
        explanation: {
          kind: 'claim',
          claimId: c.claimId,
          lines: c.lines,
          approvedBy: c.decidedBy,
          approvedOn: c.decidedOn,
          from: c.firstDate,
          to: c.lastDate,
          claimDate: c.claimDate,
          paidThrough: period.to,
        },
        ...NO_LINKS,
        claimId: c.claimId,
        description: `${c.kind === 'mileage' ? 'Mileage' : 'Expenses'} claim${c.description ? ` "${c.description}"` : ''}: ${c.lines} line${c.lines === 1 ? '' : 's'}, ${c.firstDate} to ${c.lastDate}`,
      });
    }
    for (const a of adjustments) {
      lines.push({
        householdId: a.householdId,
        placementId: a.placementId,
        childId: a.childId,
        kind: 'adjustment',
        component: a.component,
        periodStart: null,
        periodEnd: null,
        nights: null,
        amount: Number(a.amount),
        explanation: {
          kind: 'adjustment',
          adjustmentId: a.id,
          source: a.source,
          reason: a.reason,
          proposedBy: a.proposedBy,
          approvedBy: a.decidedBy,
          decisionReasons: a.decisionReasons,
          disputeId: a.disputeId,
          correctsLineId: a.correctsLineId,
        },
        ...NO_LINKS,
        correctsLineIds: a.correctsLineId ? [a.correctsLineId] : null,
        adjustmentId: a.id,
        description: `Adjustment: ${a.reason}`,
      });
    }
    // By household, and (the sort is stable) claims before adjustments within one, each in the order read.
    lines.sort((a, b) => (a.householdId < b.householdId ? -1 : a.householdId > b.householdId ? 1 : 0));
    return new ClaimsAndAdjustments(lines, claims.length, adjustments.length);
  }

  /** The lines of the households up to the end of `range` not handed out yet (slices come in household order). */
  through(range: HouseholdRange): DraftLine[] {
    const from = this.next;
    while (
      this.next < this.lines.length &&
      (range.through === null || this.lines[this.next]!.householdId <= range.through)
    )
      this.next++;
    return this.lines.slice(from, this.next);
  }
}
