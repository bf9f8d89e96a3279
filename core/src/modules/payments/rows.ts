import { iso } from '../../time';
import type { PayFrequency, PayTiming } from './periods';

export type PaymentRunStatus = 'draft' | 'calculating' | 'calculated' | 'submitted' | 'approved' | 'finalised' | 'exported' | 'cancelled';

/** Statuses in which a run has a whole calculation to show: its lines, totals and documents. */
export const CALCULATED_STATUSES: readonly PaymentRunStatus[] = ['calculated', 'submitted', 'approved', 'finalised', 'exported'];
/** Statuses in which a run has been paid into the ledger. */
export const FINAL_STATUSES: readonly PaymentRunStatus[] = ['finalised', 'exported'];

export interface ScheduleRow {
  tenant_id: string;
  id: string;
  key: string;
  name: string;
  frequency: PayFrequency;
  timing: PayTiming;
  anchor_date: string;
  payment_lag_days: number;
  correction_lookback_days: number;
  status: 'active' | 'retired';
  version: number;
  created_by: string | null;
  created_at: Date;
  updated_by: string | null;
  updated_at: Date;
}

export interface RunRow {
  tenant_id: string;
  id: string;
  number: number;
  reference: string;
  schedule_id: string;
  timing: PayTiming;
  period_start: string;
  period_end: string;
  payment_date: string;
  status: PaymentRunStatus;
  workflow_key: string;
  calculation_number: number;
  calculation_job_id: string | null;
  calculation_requested_by: string | null;
  calculation_requested_at: Date | null;
  calculated_by: string | null;
  calculated_at: Date | null;
  calculation_error: string | null;
  inputs: RunInputs | null;
  total: number;
  line_count: number;
  household_count: number;
  placement_count: number;
  issue_count: number;
  notice_count: number;
  correction_count: number;
  submitted_by: string | null;
  submitted_at: Date | null;
  approved_by: string | null;
  approved_at: Date | null;
  finalised_by: string | null;
  finalised_at: Date | null;
  journal_id: string | null;
  exported_at: Date | null;
  cancelled_by: string | null;
  cancelled_at: Date | null;
  notes: string | null;
  version: number;
  created_by: string | null;
  created_at: Date;
  updated_at: Date;
}

/** What a calculation read and used, kept on the run: to find what changed since, and who may not approve it. */
export interface RunInputs {
  packVersions: Record<string, string>;
  overlayVersion: number;
  /** Rate tables and rule sets the lines were priced by. */
  tablesUsed: string[];
  ruleSetsUsed: string[];
  readAt: string;
  placementsPriced: number;
  corrections: { settledRuns: number; placementsChecked: number };
  claims: number;
  adjustments: number;
}

export interface LineRow {
  tenant_id: string;
  id: string;
  run_id: string;
  calculation: number;
  position: number;
  household_id: string;
  placement_id: string | null;
  child_id: string | null;
  kind: 'rate' | 'extra' | 'arrears' | 'recovery' | 'claim' | 'adjustment';
  component: string;
  period_start: string | null;
  period_end: string | null;
  nights: number | null;
  amount: number;
  explanation_key: number | null;
  corrects_run_id: string | null;
  corrects_line_ids: string[] | null;
  claim_id: string | null;
  adjustment_id: string | null;
  description: string;
}

export function runSummaryToApi(r: RunRow, currency: string) {
  return {
    id: r.id,
    number: r.number,
    reference: r.reference,
    scheduleId: r.schedule_id,
    timing: r.timing,
    periodStart: r.period_start,
    periodEnd: r.period_end,
    paymentDate: r.payment_date,
    status: r.status,
    currency,
    total: Number(r.total),
    lineCount: r.line_count,
    householdCount: r.household_count,
    placementCount: r.placement_count,
    issueCount: r.issue_count,
    noticeCount: r.notice_count,
    correctionCount: r.correction_count,
    calculatedBy: r.calculated_by,
    calculatedAt: iso(r.calculated_at),
    approvedBy: r.approved_by,
    approvedAt: iso(r.approved_at),
    finalisedAt: iso(r.finalised_at),
    journalId: r.journal_id,
    exportedAt: iso(r.exported_at),
    version: r.version,
    createdAt: iso(r.created_at),
  };
}

export function lineToApi(r: LineRow, explanation: unknown) {
  return {
    id: r.id,
    runId: r.run_id,
    householdId: r.household_id,
    placementId: r.placement_id,
    childId: r.child_id,
    kind: r.kind,
    component: r.component,
    periodStart: r.period_start,
    periodEnd: r.period_end,
    nights: r.nights,
    amount: Number(r.amount),
    description: r.description,
    correctsRunId: r.corrects_run_id,
    correctsLineIds: r.corrects_line_ids ?? [],
    claimId: r.claim_id,
    adjustmentId: r.adjustment_id,
    explanation: explanation ?? null,
  };
}
