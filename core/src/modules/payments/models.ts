import { TenantModel } from '../../db/baseModel';
import type { PayFrequency, PayTiming } from './periods';

/**
 * The payments module's tables, one row shape each (see migrations/20261202_0021_payments.ts).
 * Handlers and services read and write them through these models; the calculation's set-based work
 * (COPY of a run's lines, slice queries) stays knex and SQL for speed, its columns named as here.
 * bigint columns arrive as numbers and dates as ISO strings (core/src/db/database.ts).
 */

export type PaymentRunStatus =
  'draft' | 'calculating' | 'calculated' | 'submitted' | 'approved' | 'finalised' | 'exported' | 'cancelled';
export type PaymentLineKind = 'rate' | 'extra' | 'arrears' | 'recovery' | 'claim' | 'adjustment';
export type IssueSeverity = 'error' | 'notice';

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

export class PaySchedule extends TenantModel {
  static override tableName = 'pay_schedules';
  static noun = 'pay schedule';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  key!: string;
  name!: string;
  frequency!: PayFrequency;
  timing!: PayTiming;
  anchorDate!: string;
  paymentLagDays!: number;
  correctionLookbackDays!: number;
  status!: 'active' | 'retired';
  version!: number;
  createdBy!: string | null;
  createdAt!: Date;
  updatedBy!: string | null;
  updatedAt!: Date;
}

export class PaymentRun extends TenantModel {
  static override tableName = 'payment_runs';
  static noun = 'payment run';
  static override idColumn = ['tenant_id', 'id'];
  // jsonb written from an object (objection stringifies it); read back parsed by pg.
  static override jsonAttributes = ['inputs'];

  id!: string;
  number!: number;
  reference!: string;
  scheduleId!: string;
  timing!: PayTiming;
  periodStart!: string;
  periodEnd!: string;
  paymentDate!: string;
  status!: PaymentRunStatus;
  workflowKey!: string;
  calculationNumber!: number;
  calculationJobId!: string | null;
  calculationRequestedBy!: string | null;
  calculationRequestedAt!: Date | null;
  calculatedBy!: string | null;
  calculatedAt!: Date | null;
  calculationError!: string | null;
  inputs!: RunInputs | null;
  total!: number;
  lineCount!: number;
  householdCount!: number;
  placementCount!: number;
  issueCount!: number;
  noticeCount!: number;
  correctionCount!: number;
  submittedBy!: string | null;
  submittedAt!: Date | null;
  approvedBy!: string | null;
  approvedAt!: Date | null;
  finalisedBy!: string | null;
  finalisedAt!: Date | null;
  journalId!: string | null;
  exportedAt!: Date | null;
  cancelledBy!: string | null;
  cancelledAt!: Date | null;
  notes!: string | null;
  version!: number;
  createdBy!: string | null;
  createdAt!: Date;
  updatedAt!: Date;
}

/** A run's history, append-only: who moved it from which status to which. */
export class PaymentRunStep extends TenantModel {
  static override tableName = 'payment_run_steps';
  static override idColumn = ['tenant_id', 'id'];
  static override jsonAttributes = ['detail'];

  id!: string;
  runId!: string;
  action!: string;
  fromStatus!: string | null;
  toStatus!: string;
  actorType!: 'user' | 'api_key' | 'system';
  actorId!: string | null;
  at!: Date;
  notes!: string | null;
  detail!: unknown;
}

/** A calculation's distinct explanations, each stored once and named by its key from the lines. */
export class PaymentExplanation extends TenantModel {
  static override tableName = 'payment_explanations';
  static override idColumn = ['tenant_id', 'run_id', 'calculation', 'key'];

  runId!: string;
  calculation!: number;
  key!: number;
  body!: unknown;
}

/** A line of a run's calculation (written by the calculation's COPY, never through the model). */
export class PaymentLine extends TenantModel {
  static override tableName = 'payment_lines';
  static noun = 'payment line';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  runId!: string;
  calculation!: number;
  position!: number;
  householdId!: string;
  placementId!: string | null;
  childId!: string | null;
  kind!: PaymentLineKind;
  component!: string;
  periodStart!: string | null;
  periodEnd!: string | null;
  nights!: number | null;
  amount!: number;
  explanationKey!: number | null;
  correctsRunId!: string | null;
  correctsLineIds!: string[] | null;
  claimId!: string | null;
  adjustmentId!: string | null;
  description!: string;
}

/** What a calculation could not price (an error) or priced to nothing (a notice). */
export class PaymentRunIssue extends TenantModel {
  static override tableName = 'payment_run_issues';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  runId!: string;
  calculation!: number;
  householdId!: string | null;
  placementId!: string | null;
  childId!: string | null;
  severity!: IssueSeverity;
  code!: string;
  message!: string;
}

export class PaymentAdjustment extends TenantModel {
  static override tableName = 'payment_adjustments';
  static noun = 'adjustment';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  householdId!: string;
  placementId!: string | null;
  childId!: string | null;
  component!: string;
  amount!: number;
  reason!: string;
  source!: 'manual' | 'dispute';
  disputeId!: string | null;
  correctsLineId!: string | null;
  status!: 'proposed' | 'approved' | 'rejected' | 'paid';
  proposedBy!: string | null;
  proposedAt!: Date;
  decidedBy!: string | null;
  decidedAt!: Date | null;
  decisionReasons!: string | null;
  paidInRunId!: string | null;
  version!: number;
  updatedAt!: Date;
}

export class PaymentDispute extends TenantModel {
  static override tableName = 'payment_disputes';
  static noun = 'dispute';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  lineId!: string;
  runId!: string;
  householdId!: string;
  reason!: string;
  expectedAmount!: number | null;
  status!: 'open' | 'upheld' | 'rejected' | 'withdrawn';
  raisedBy!: string | null;
  raisedAt!: Date;
  resolution!: string | null;
  resolvedBy!: string | null;
  resolvedAt!: Date | null;
  adjustmentId!: string | null;
  version!: number;
  updatedAt!: Date;
}

/** A placement's level of care from a date (append-only: a change is a later row). */
export class PlacementLevelOfCare extends TenantModel {
  static override tableName = 'placement_levels_of_care';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  placementId!: string;
  level!: string;
  effectiveFrom!: string;
  assessedOn!: string | null;
  notes!: string | null;
  recordedBy!: string | null;
  createdAt!: Date;
}
