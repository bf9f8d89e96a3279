import { iso } from '../../time';
import type { ContactSession, MatchingRequest, Placement, PlacementVisit } from './models';

/** How the API shows the placements module's records. */

export function placementToApi(row: Placement) {
  return {
    id: row.id,
    childId: row.childId,
    householdId: row.householdId,
    kind: row.kind,
    placementType: row.placementType,
    status: row.status,
    workflowKey: row.workflowKey,
    workflowState: row.workflowState,
    startDate: row.startDate,
    plannedEndDate: row.plannedEndDate,
    endDate: row.endDate,
    longTerm: row.longTerm,
    respiteOf: row.respiteOf,
    matchingRequestId: row.matchingRequestId,
    agreementSubmissionId: row.agreementSubmissionId,
    endReasons: row.endReasons ?? [],
    endOutcome: row.endOutcome,
    endNotes: row.endNotes,
    movedTo: row.movedTo,
    version: row.version,
    createdBy: row.createdBy,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
    startedAt: iso(row.startedAt),
    endedAt: iso(row.endedAt),
  };
}

export function matchingRequestToApi(row: MatchingRequest) {
  return {
    id: row.id,
    childId: row.childId,
    placementKind: row.placementKind,
    wantedFrom: row.wantedFrom,
    plannedEnd: row.plannedEnd,
    childCount: row.childCount,
    siblingIds: row.siblingIds ?? [],
    requiredSkills: row.requiredSkills ?? [],
    language: row.language,
    location:
      row.locationLat !== null && row.locationLon !== null
        ? { lat: Number(row.locationLat), lon: Number(row.locationLon) }
        : null,
    maxDistanceKm: row.maxDistanceKm === null ? null : Number(row.maxDistanceKm),
    preferredRegion: row.preferredRegion,
    excludeHouseholdIds: row.excludeHouseholdIds ?? [],
    notes: row.notes,
    status: row.status,
    version: row.version,
    createdBy: row.createdBy,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
  };
}

export function visitToApi(row: PlacementVisit) {
  return {
    id: row.id,
    placementId: row.placementId,
    kind: row.kind,
    visitDate: row.visitDate,
    visitedBy: row.visitedBy,
    childSeen: row.childSeen,
    childSeenAlone: row.childSeenAlone,
    notes: row.notes,
    createdBy: row.createdBy,
    createdAt: iso(row.createdAt),
  };
}

export function contactSessionToApi(row: ContactSession) {
  return {
    id: row.id,
    placementId: row.placementId,
    withWhom: row.withWhom,
    relationship: row.relationship,
    supervisorId: row.supervisorId,
    venue: row.venue,
    scheduledStart: iso(row.scheduledStart),
    scheduledEnd: iso(row.scheduledEnd),
    status: row.status,
    attendance: row.attendance,
    cancellationReason: row.cancellationReason,
    notes: row.notes,
    version: row.version,
    createdBy: row.createdBy,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
  };
}
