import { iso } from '../../time';
import type { PaymentLine, PaymentRun, PaymentRunStatus } from './models';

/** Statuses in which a run has a whole calculation to show: its lines, totals and documents. */
export const CALCULATED_STATUSES: readonly PaymentRunStatus[] = [
  'calculated',
  'submitted',
  'approved',
  'finalised',
  'exported',
];
/** Statuses in which a run has been paid into the ledger. */
export const FINAL_STATUSES: readonly PaymentRunStatus[] = ['finalised', 'exported'];

export function runSummaryToApi(r: PaymentRun, currency: string) {
  return {
    id: r.id,
    number: r.number,
    reference: r.reference,
    scheduleId: r.scheduleId,
    timing: r.timing,
    periodStart: r.periodStart,
    periodEnd: r.periodEnd,
    paymentDate: r.paymentDate,
    status: r.status,
    currency,
    total: Number(r.total),
    lineCount: r.lineCount,
    householdCount: r.householdCount,
    placementCount: r.placementCount,
    issueCount: r.issueCount,
    noticeCount: r.noticeCount,
    correctionCount: r.correctionCount,
    calculatedBy: r.calculatedBy,
    calculatedAt: iso(r.calculatedAt),
    approvedBy: r.approvedBy,
    approvedAt: iso(r.approvedAt),
    finalisedAt: iso(r.finalisedAt),
    journalId: r.journalId,
    exportedAt: iso(r.exportedAt),
    version: r.version,
    createdAt: iso(r.createdAt),
  };
}

export function lineToApi(r: PaymentLine, explanation: unknown) {
  return {
    id: r.id,
    runId: r.runId,
    householdId: r.householdId,
    placementId: r.placementId,
    childId: r.childId,
    kind: r.kind,
    component: r.component,
    periodStart: r.periodStart,
    periodEnd: r.periodEnd,
    nights: r.nights,
    amount: Number(r.amount),
    description: r.description,
    correctsRunId: r.correctsRunId,
    correctsLineIds: r.correctsLineIds ?? [],
    claimId: r.claimId,
    adjustmentId: r.adjustmentId,
    explanation: explanation ?? null,
  };
}
