import type { Knex } from 'knex';
import { findOne, type FindOptions, type FindScope } from '../../db/find';
import type { TenantScope } from '../../http/operation';
import { iso } from '../../time';
import { CarerHousehold, type CarerCheck, type CarerDecision, type CarerHouseholdMember } from './models';
import type { Document } from '../documents/models';
import { carerConfig, type CarerConfig } from './tenantConfig';

export function householdToApi(r: CarerHousehold) {
  return {
    id: r.id,
    name: r.name,
    address: r.address,
    postcode: r.postcode,
    email: r.email,
    region: r.region,
    location:
      r.latitude !== null && r.longitude !== null ? { lat: Number(r.latitude), lon: Number(r.longitude) } : null,
    languages: r.languages ?? [],
    skills: r.skills ?? [],
    carerLevel: r.carerLevel,
    supervisingWorkerId: r.supervisingWorkerId,
    status: r.status,
    workflowKey: r.workflowKey,
    approvalState: r.approvalState,
    approvedOn: r.approvedOn,
    approvalEndedOn: r.approvalEndedOn,
    version: r.version,
    createdAt: iso(r.createdAt),
    updatedAt: iso(r.updatedAt),
  };
}

export function memberToApi(r: CarerHouseholdMember) {
  return {
    id: r.id,
    householdId: r.householdId,
    name: r.name,
    dateOfBirth: r.dateOfBirth,
    role: r.role,
    relationship: r.relationship,
    leftOn: r.leftOn,
    version: r.version,
    createdAt: iso(r.createdAt),
    updatedAt: iso(r.updatedAt),
  };
}

export function checkToApi(r: CarerCheck) {
  return {
    id: r.id,
    householdId: r.householdId,
    memberId: r.memberId,
    checkType: r.checkType,
    status: r.status,
    requestedOn: r.requestedOn,
    completedOn: r.completedOn,
    expiresOn: r.expiresOn,
    reference: r.reference,
    hours: r.hours === null ? null : Number(r.hours),
    facts: r.facts ?? {},
    notes: r.notes,
    version: r.version,
    createdAt: iso(r.createdAt),
    updatedAt: iso(r.updatedAt),
  };
}

export function decisionToApi(r: CarerDecision) {
  return {
    id: r.id,
    householdId: r.householdId,
    key: r.key,
    outcome: r.outcome,
    decidedOn: r.decidedOn,
    reasons: r.reasons,
    facts: r.facts ?? {},
    details: r.details ?? {},
    panelId: r.panelId,
    recordedBy: r.recordedBy,
    createdAt: iso(r.createdAt),
  };
}

/** A household's evidence document as the carers API has always shown it, with the document's category and version. */
export function documentToApi(d: Document) {
  return {
    id: d.id,
    householdId: d.householdId!,
    key: d.evidenceKey!,
    title: d.title,
    receivedOn: d.receivedOn!,
    notes: d.notes,
    recordedBy: d.createdBy,
    createdAt: iso(d.createdAt),
    category: d.category,
    currentVersion: d.currentVersion,
  };
}

/** The carer household of this tenant with that id: a 404, or a 422 naming `pointer` for an id from a body. */
export async function findHousehold(
  ctx: FindScope,
  householdId: string,
  options: FindOptions = {},
): Promise<CarerHousehold> {
  return findOne<CarerHousehold>(ctx, CarerHousehold, householdId, options);
}

/** The tenant's effective configuration as this module reads it. */
export async function configFor(
  ctx: Pick<TenantScope, 'trx' | 'tenantId' | 'services'>,
  asOf?: string,
): Promise<CarerConfig> {
  return carerConfig(ctx.trx, ctx.tenantId, ctx.services.packs, asOf);
}

/** Users that exist and are active in the tenant, of those given. */
export async function activeUserIds(ctx: FindScope, ids: string[]): Promise<Set<string>> {
  if (!ids.length) return new Set();
  return new Set<string>(
    await ctx.trx('users').where({ tenant_id: ctx.tenantId, status: 'active' }).whereIn('id', ids).pluck('id'),
  );
}

/**
 * Whether the tenant has a lookup list of the key (the pack may not define it). The tenant may be
 * null in the type only: payments calls this from a context not yet typed by its operation.
 */
export async function hasLookupList(
  ctx: { trx: Knex.Transaction; tenantId: string | null },
  key: string,
): Promise<boolean> {
  return Boolean(await ctx.trx('lookup_lists').where({ tenant_id: ctx.tenantId, key }).first('key'));
}

export function likeEscape(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}
