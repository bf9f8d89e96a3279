import { iso } from '../../time';

/** Rows of the placements module's tables, and how the API shows them. */

export const PLACEMENT_KINDS = ['emergency', 'short_term', 'long_term', 'respite', 'parent_and_child', 'remand', 'short_breaks'] as const;
export type PlacementKind = (typeof PLACEMENT_KINDS)[number];
export type PlacementStatus = 'proposed' | 'approved' | 'active' | 'ended' | 'cancelled';

export interface EndReason {
  list: string;
  code: string;
}

export interface PlacementRow {
  tenant_id: string;
  id: string;
  child_id: string;
  household_id: string;
  kind: PlacementKind;
  placement_type: string | null;
  status: PlacementStatus;
  workflow_key: string | null;
  workflow_state: string | null;
  start_date: string;
  planned_end_date: string | null;
  end_date: string | null;
  long_term: boolean;
  respite_of: string | null;
  matching_request_id: string | null;
  agreement_submission_id: string | null;
  end_reasons: EndReason[];
  end_outcome: string | null;
  end_notes: string | null;
  moved_to: string | null;
  occupied_until: string | null;
  version: number;
  created_by: string | null;
  created_at: Date;
  updated_at: Date;
  started_at: Date | null;
  ended_at: Date | null;
}

export function placementToApi(row: PlacementRow) {
  return {
    id: row.id,
    childId: row.child_id,
    householdId: row.household_id,
    kind: row.kind,
    placementType: row.placement_type,
    status: row.status,
    workflowKey: row.workflow_key,
    workflowState: row.workflow_state,
    startDate: row.start_date,
    plannedEndDate: row.planned_end_date,
    endDate: row.end_date,
    longTerm: row.long_term,
    respiteOf: row.respite_of,
    matchingRequestId: row.matching_request_id,
    agreementSubmissionId: row.agreement_submission_id,
    endReasons: row.end_reasons ?? [],
    endOutcome: row.end_outcome,
    endNotes: row.end_notes,
    movedTo: row.moved_to,
    version: row.version,
    createdBy: row.created_by,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
    startedAt: iso(row.started_at),
    endedAt: iso(row.ended_at),
  };
}

export type PlacementApi = ReturnType<typeof placementToApi>;

export interface MatchingRequestRow {
  tenant_id: string;
  id: string;
  child_id: string;
  placement_kind: PlacementKind;
  wanted_from: string;
  planned_end: string | null;
  child_count: number;
  sibling_ids: string[];
  required_skills: string[];
  language: string | null;
  location_lat: number | null;
  location_lon: number | null;
  max_distance_km: number | null;
  preferred_region: string | null;
  exclude_household_ids: string[];
  notes: string | null;
  status: 'open' | 'matched' | 'closed';
  version: number;
  created_by: string | null;
  created_at: Date;
  updated_at: Date;
}

export function matchingRequestToApi(row: MatchingRequestRow) {
  return {
    id: row.id,
    childId: row.child_id,
    placementKind: row.placement_kind,
    wantedFrom: row.wanted_from,
    plannedEnd: row.planned_end,
    childCount: row.child_count,
    siblingIds: row.sibling_ids ?? [],
    requiredSkills: row.required_skills ?? [],
    language: row.language,
    location: row.location_lat !== null && row.location_lon !== null ? { lat: Number(row.location_lat), lon: Number(row.location_lon) } : null,
    maxDistanceKm: row.max_distance_km === null ? null : Number(row.max_distance_km),
    preferredRegion: row.preferred_region,
    excludeHouseholdIds: row.exclude_household_ids ?? [],
    notes: row.notes,
    status: row.status,
    version: row.version,
    createdBy: row.created_by,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

export interface VisitRow {
  tenant_id: string;
  id: string;
  placement_id: string;
  kind: 'child_visit' | 'supervising_visit' | 'unannounced_visit';
  visit_date: string;
  visited_by: string | null;
  child_seen: boolean | null;
  child_seen_alone: boolean | null;
  notes: string | null;
  case_event_id: string | null;
  created_by: string | null;
  created_at: Date;
}

export function visitToApi(row: VisitRow) {
  return {
    id: row.id,
    placementId: row.placement_id,
    kind: row.kind,
    visitDate: row.visit_date,
    visitedBy: row.visited_by,
    childSeen: row.child_seen,
    childSeenAlone: row.child_seen_alone,
    notes: row.notes,
    createdBy: row.created_by,
    createdAt: iso(row.created_at),
  };
}

export interface ContactSessionRow {
  tenant_id: string;
  id: string;
  placement_id: string;
  with_whom: string;
  relationship: string | null;
  supervisor_id: string | null;
  venue: string | null;
  scheduled_start: Date;
  scheduled_end: Date | null;
  status: 'scheduled' | 'held' | 'cancelled';
  attendance: string | null;
  cancellation_reason: string | null;
  notes: string | null;
  version: number;
  created_by: string | null;
  created_at: Date;
  updated_at: Date;
}

export function contactSessionToApi(row: ContactSessionRow) {
  return {
    id: row.id,
    placementId: row.placement_id,
    withWhom: row.with_whom,
    relationship: row.relationship,
    supervisorId: row.supervisor_id,
    venue: row.venue,
    scheduledStart: iso(row.scheduled_start),
    scheduledEnd: iso(row.scheduled_end),
    status: row.status,
    attendance: row.attendance,
    cancellationReason: row.cancellation_reason,
    notes: row.notes,
    version: row.version,
    createdBy: row.created_by,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

/** The acting user's id, or null for an API key (the columns hold user ids). */
export function actorUserId(principal: { kind: string; id: string } | null): string | null {
  return principal && principal.kind === 'user' ? principal.id : null;
}
