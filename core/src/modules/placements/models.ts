import { TenantModel } from '../../db/baseModel';

/** The placements module's tables: placements and their workflow steps, matching requests, visits, contact sessions, settings. */

export const PLACEMENT_KINDS = [
  'emergency',
  'short_term',
  'long_term',
  'respite',
  'parent_and_child',
  'remand',
  'short_breaks',
] as const;
export type PlacementKind = (typeof PLACEMENT_KINDS)[number];
export type PlacementStatus = 'proposed' | 'approved' | 'active' | 'ended' | 'cancelled';

export interface EndReason {
  list: string;
  code: string;
}

export class Placement extends TenantModel {
  static override tableName = 'placements';
  static noun = 'placement';
  static override idColumn = ['tenant_id', 'id'];
  // jsonb: written as JSON text (a JS array would reach PostgreSQL as an array literal).
  static override jsonAttributes = ['endReasons'];

  id!: string;
  childId!: string;
  householdId!: string;
  kind!: PlacementKind;
  placementType!: string | null;
  status!: PlacementStatus;
  workflowKey!: string | null;
  workflowState!: string | null;
  startDate!: string;
  plannedEndDate!: string | null;
  endDate!: string | null;
  longTerm!: boolean;
  respiteOf!: string | null;
  matchingRequestId!: string | null;
  agreementSubmissionId!: string | null;
  endReasons!: EndReason[];
  endOutcome!: string | null;
  endNotes!: string | null;
  movedTo!: string | null;
  /** Generated: the end date once ended, a respite stay's planned end, null while open. */
  occupiedUntil!: string | null;
  version!: number;
  createdBy!: string | null;
  createdAt!: Date;
  updatedAt!: Date;
  startedAt!: Date | null;
  endedAt!: Date | null;
}

export interface EvidenceInput {
  kind: 'decision' | 'document' | 'check';
  key: string;
  note?: string | null;
  reference?: string | null;
}

export class PlacementWorkflowStep extends TenantModel {
  static override tableName = 'placement_workflow_steps';
  static override idColumn = ['tenant_id', 'id'];
  static override jsonAttributes = ['evidence', 'conditions'];

  id!: string;
  placementId!: string;
  transition!: string;
  fromState!: string;
  toState!: string;
  evidence!: EvidenceInput[];
  conditions!: unknown;
  notes!: string | null;
  takenBy!: string | null;
  takenAt!: Date;
}

export type MatchingRequestStatus = 'open' | 'matched' | 'closed';

export class MatchingRequest extends TenantModel {
  static override tableName = 'matching_requests';
  static noun = 'matching request';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  childId!: string;
  placementKind!: PlacementKind;
  wantedFrom!: string;
  plannedEnd!: string | null;
  childCount!: number;
  siblingIds!: string[];
  requiredSkills!: string[];
  language!: string | null;
  locationLat!: number | null;
  locationLon!: number | null;
  maxDistanceKm!: number | null;
  preferredRegion!: string | null;
  excludeHouseholdIds!: string[];
  notes!: string | null;
  status!: MatchingRequestStatus;
  version!: number;
  createdBy!: string | null;
  createdAt!: Date;
  updatedAt!: Date;
}

export type VisitKind = 'child_visit' | 'supervising_visit' | 'unannounced_visit';

export class PlacementVisit extends TenantModel {
  static override tableName = 'placement_visits';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  placementId!: string;
  kind!: VisitKind;
  visitDate!: string;
  visitedBy!: string | null;
  childSeen!: boolean | null;
  childSeenAlone!: boolean | null;
  notes!: string | null;
  caseEventId!: string | null;
  createdBy!: string | null;
  createdAt!: Date;
}

export type ContactSessionStatus = 'scheduled' | 'held' | 'cancelled';

export class ContactSession extends TenantModel {
  static override tableName = 'placement_contact_sessions';
  static noun = 'contact session';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  placementId!: string;
  withWhom!: string;
  relationship!: string | null;
  supervisorId!: string | null;
  venue!: string | null;
  scheduledStart!: Date;
  scheduledEnd!: Date | null;
  status!: ContactSessionStatus;
  attendance!: string | null;
  cancellationReason!: string | null;
  notes!: string | null;
  version!: number;
  createdBy!: string | null;
  createdAt!: Date;
  updatedAt!: Date;
}

/** One row per tenant (keyed by the tenant alone), made by the first change to the defaults. */
export class StoredPlacementSettings extends TenantModel {
  static override tableName = 'placement_settings';
  static override idColumn = 'tenant_id';

  approvalRequired!: boolean;
  endReasonLists!: string[] | null;
  version!: number;
  updatedBy!: string | null;
  updatedAt!: Date;
}
