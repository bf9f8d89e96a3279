import { TenantModel } from '../../db/baseModel';

/*
 * The carers module's tables (migrations 0013 and 0029), one model each: the one row shape every
 * query of them reads. Dates are ISO strings (the pg date parser keeps them so), instants are Dates.
 */

export class CarerHousehold extends TenantModel {
  static override tableName = 'carer_households';
  static noun = 'carer household';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  name!: string;
  address!: string | null;
  postcode!: string | null;
  /** Where the household's own messages go; never a message about a child. */
  email!: string | null;
  region!: string | null;
  latitude!: number | null;
  longitude!: number | null;
  languages!: string[];
  skills!: string[];
  carerLevel!: string | null;
  supervisingWorkerId!: string | null;
  status!: 'active' | 'on_hold' | 'closed';
  workflowKey!: string;
  approvalState!: string;
  /** The state the approval decision took the household into: a step back into it is a review. */
  approvedState!: string | null;
  approvedOn!: string | null;
  approvalEndedOn!: string | null;
  version!: number;
  createdAt!: Date;
  updatedAt!: Date;
}

export class CarerHouseholdMember extends TenantModel {
  static override tableName = 'carer_household_members';
  static noun = 'household member';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  householdId!: string;
  name!: string;
  dateOfBirth!: string;
  role!: 'applicant' | 'household_member';
  relationship!: string | null;
  leftOn!: string | null;
  version!: number;
  createdAt!: Date;
  updatedAt!: Date;
}

export type CheckStatus = 'requested' | 'received' | 'satisfactory' | 'unsatisfactory';

export class CarerCheck extends TenantModel {
  static override tableName = 'carer_checks';
  static noun = 'check';
  static override idColumn = ['tenant_id', 'id'];
  static override jsonAttributes = ['facts'];

  id!: string;
  householdId!: string;
  memberId!: string | null;
  checkType!: string;
  status!: CheckStatus;
  requestedOn!: string | null;
  completedOn!: string | null;
  expiresOn!: string | null;
  reference!: string | null;
  /** numeric(7, 2): read as a string, written as a number. */
  hours!: string | number | null;
  facts!: Record<string, unknown>;
  notes!: string | null;
  version!: number;
  createdAt!: Date;
  updatedAt!: Date;
}

export class CarerDecision extends TenantModel {
  static override tableName = 'carer_decisions';
  static override idColumn = ['tenant_id', 'id'];
  static override jsonAttributes = ['facts', 'details'];

  id!: string;
  householdId!: string;
  key!: string;
  outcome!: string | null;
  decidedOn!: string;
  reasons!: string | null;
  facts!: Record<string, unknown>;
  details!: Record<string, unknown>;
  panelId!: string | null;
  recordedBy!: string | null;
  createdAt!: Date;
}

export class CarerPanel extends TenantModel {
  static override tableName = 'carer_panels';
  static noun = 'panel';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  panelDate!: string;
  name!: string | null;
  chairId!: string;
  memberIds!: string[];
  status!: 'scheduled' | 'held' | 'cancelled';
  version!: number;
  createdAt!: Date;
  updatedAt!: Date;
}

export class CarerPanelAgendaItem extends TenantModel {
  static override tableName = 'carer_panel_agenda_items';
  static noun = 'agenda item';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  panelId!: string;
  householdId!: string;
  purpose!: string | null;
  status!: 'listed' | 'recommended';
  decisionId!: string | null;
  version!: number;
  createdAt!: Date;
  updatedAt!: Date;
}

export class CarerApprovalStep extends TenantModel {
  static override tableName = 'carer_approval_steps';
  static override idColumn = ['tenant_id', 'id'];
  static override jsonAttributes = ['evidence', 'facts', 'conditions'];

  id!: string;
  householdId!: string;
  workflowKey!: string;
  transition!: string;
  fromState!: string;
  toState!: string;
  occurredOn!: string;
  note!: string | null;
  decisionId!: string | null;
  evidence!: unknown[];
  facts!: Record<string, unknown>;
  conditions!: unknown;
  actorId!: string | null;
  createdAt!: Date;
}

export class CarerApprovalTerms extends TenantModel {
  static override tableName = 'carer_approval_terms';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  householdId!: string;
  effectiveFrom!: string;
  maxChildren!: number;
  ageMin!: number;
  ageMax!: number;
  placementKinds!: string[];
  carerLevel!: string | null;
  notes!: string | null;
  decisionId!: string | null;
  stepId!: string | null;
  createdAt!: Date;
}

/** Append-only (a trigger refuses changes): see regions.ts. */
export class CarerHouseholdRegion extends TenantModel {
  static override tableName = 'carer_household_regions';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  householdId!: string;
  region!: string | null;
  effectiveFrom!: string | null;
  notes!: string | null;
  recordedBy!: string | null;
  createdAt!: Date;
}
