/** A line a calculation produces, before it is stored. Amounts are minor units; a recovery is negative. */
export interface DraftLine {
  householdId: string;
  placementId: string | null;
  childId: string | null;
  kind: 'rate' | 'extra' | 'arrears' | 'recovery' | 'claim' | 'adjustment';
  component: string;
  periodStart: string | null;
  periodEnd: string | null;
  nights: number | null;
  amount: number;
  explanation: object | null;
  correctsRunId: string | null;
  correctsLineIds: string[] | null;
  claimId: string | null;
  adjustmentId: string | null;
  description: string;
}

/**
 * What a calculation could not price (an error, for a person to put right before the run is
 * approved), or a placement in care that it priced to nothing (a notice: no rule pays its nights,
 * or the tenant's pack sets no rates), so nobody goes unpaid without anyone being told. A placement
 * without a placement type that is paid nothing is an error (no_placement_type): it is not policy.
 */
export interface CalculationIssue {
  householdId: string | null;
  placementId: string | null;
  childId: string | null;
  severity: 'error' | 'notice';
  code: 'rate_configuration' | 'no_posting' | 'not_paid' | 'no_rates' | 'no_placement_type';
  message: string;
}

export const NO_LINKS = { correctsRunId: null, correctsLineIds: null, claimId: null, adjustmentId: null } as const;
