import { TenantModel } from '../../db/baseModel';
import type { PricedMileage } from './pricing';

/* The claims module's tables (migration 0019), one model each: the one row shape every query of them reads. */

export type ClaimStatus = 'draft' | 'submitted' | 'approved' | 'rejected' | 'withdrawn' | 'paid';

export class Claim extends TenantModel {
  static override tableName = 'claims';
  static noun = 'claim';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  householdId!: string;
  description!: string | null;
  status!: ClaimStatus;
  currency!: 'GBP' | 'USD';
  /** In minor units (pence, cents). */
  total!: number;
  submittedBy!: string | null;
  submittedAt!: Date | null;
  decidedBy!: string | null;
  decidedAt!: Date | null;
  decidedOn!: string | null;
  decisionReasons!: string | null;
  withdrawnAt!: Date | null;
  paidInRunId!: string | null;
  paidOn!: string | null;
  version!: number;
  createdBy!: string | null;
  createdAt!: Date;
  updatedAt!: Date;
}

export class ClaimLine extends TenantModel {
  static override tableName = 'claim_lines';
  static override idColumn = ['tenant_id', 'id'];
  static override jsonAttributes = ['explanation'];

  id!: string;
  claimId!: string;
  position!: number;
  kind!: 'mileage' | 'expense';
  lineDate!: string;
  fromPlace!: string | null;
  toPlace!: string | null;
  purpose!: string | null;
  /** Mileage is kept in tenths of a mile, as an integer. */
  tenthsOfMile!: number | null;
  category!: string | null;
  description!: string | null;
  amount!: number;
  childId!: string | null;
  placementId!: string | null;
  explanation!: PricedMileage['explanation'] | null;
}

export class ClaimHistory extends TenantModel {
  static override tableName = 'claim_history';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  claimId!: string;
  fromStatus!: ClaimStatus | null;
  toStatus!: ClaimStatus;
  actorId!: string | null;
  at!: Date;
  reasons!: string | null;
}
