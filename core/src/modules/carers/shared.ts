import type { OperationContext } from '../../http/operation';
import { Problem } from '../../http/problem';
import { iso } from '../../time';
import { carerConfig, type CarerConfig } from './tenantConfig';

export interface HouseholdRow {
  tenant_id: string; id: string; name: string; address: string | null; postcode: string | null; region: string | null;
  latitude: number | null; longitude: number | null; languages: string[]; skills: string[]; carer_level: string | null;
  supervising_worker_id: string | null; status: string; workflow_key: string; approval_state: string; approved_state: string | null;
  approved_on: string | null; approval_ended_on: string | null; version: number; created_at: Date; updated_at: Date;
}

export interface MemberRow { id: string; household_id: string; name: string; date_of_birth: string; role: string; relationship: string | null; left_on: string | null; version: number; created_at: Date; updated_at: Date }

export interface CheckRow {
  id: string; household_id: string; member_id: string | null; check_type: string; status: string; requested_on: string | null; completed_on: string | null;
  expires_on: string | null; reference: string | null; hours: string | number | null; facts: Record<string, unknown>; notes: string | null; version: number; created_at: Date; updated_at: Date;
}

export interface DecisionRow { id: string; household_id: string; key: string; outcome: string | null; decided_on: string; reasons: string | null; facts: Record<string, unknown>; details: Record<string, unknown>; panel_id: string | null; recorded_by: string | null; created_at: Date }

export interface DocumentRow { id: string; household_id: string; key: string; title: string; received_on: string; notes: string | null; recorded_by: string | null; created_at: Date }

export function householdToApi(r: HouseholdRow) {
  return {
    id: r.id, name: r.name, address: r.address, postcode: r.postcode, region: r.region,
    location: r.latitude !== null && r.longitude !== null ? { lat: Number(r.latitude), lon: Number(r.longitude) } : null,
    languages: r.languages ?? [], skills: r.skills ?? [], carerLevel: r.carer_level, supervisingWorkerId: r.supervising_worker_id, status: r.status,
    workflowKey: r.workflow_key, approvalState: r.approval_state, approvedOn: r.approved_on, approvalEndedOn: r.approval_ended_on,
    version: r.version, createdAt: iso(r.created_at), updatedAt: iso(r.updated_at),
  };
}

export function memberToApi(r: MemberRow) {
  return { id: r.id, householdId: r.household_id, name: r.name, dateOfBirth: r.date_of_birth, role: r.role, relationship: r.relationship, leftOn: r.left_on, version: r.version, createdAt: iso(r.created_at), updatedAt: iso(r.updated_at) };
}

export function checkToApi(r: CheckRow) {
  return {
    id: r.id, householdId: r.household_id, memberId: r.member_id, checkType: r.check_type, status: r.status, requestedOn: r.requested_on, completedOn: r.completed_on,
    expiresOn: r.expires_on, reference: r.reference, hours: r.hours === null ? null : Number(r.hours), facts: r.facts ?? {}, notes: r.notes, version: r.version, createdAt: iso(r.created_at), updatedAt: iso(r.updated_at),
  };
}

export function decisionToApi(r: DecisionRow) {
  return { id: r.id, householdId: r.household_id, key: r.key, outcome: r.outcome, decidedOn: r.decided_on, reasons: r.reasons, facts: r.facts ?? {}, details: r.details ?? {}, panelId: r.panel_id, recordedBy: r.recorded_by, createdAt: iso(r.created_at) };
}

export function documentToApi(r: DocumentRow) {
  return { id: r.id, householdId: r.household_id, key: r.key, title: r.title, receivedOn: r.received_on, notes: r.notes, recordedBy: r.recorded_by, createdAt: iso(r.created_at) };
}

export { actorId } from '../../http/operation';

export async function findHousehold(ctx: OperationContext, options: { lock?: boolean; id?: string } = {}): Promise<HouseholdRow> {
  const query = ctx.trx('carer_households').where({ tenant_id: ctx.tenantId, id: options.id ?? ctx.params.householdId }).first();
  if (options.lock) query.forUpdate();
  const row = (await query) as HouseholdRow | undefined;
  if (!row) throw Problem.notFound('The carer household');
  return row;
}

/** The tenant's effective configuration as this module reads it. */
export async function configFor(ctx: OperationContext, asOf?: string): Promise<CarerConfig> {
  return carerConfig(ctx.trx, ctx.tenantId!, ctx.services.packs, asOf);
}

/** Users that exist and are active in the tenant, of those given. */
export async function activeUserIds(ctx: OperationContext, ids: string[]): Promise<Set<string>> {
  if (!ids.length) return new Set();
  const rows = (await ctx.trx('users').where({ tenant_id: ctx.tenantId, status: 'active' }).whereIn('id', ids).select('id')) as Array<{ id: string }>;
  return new Set(rows.map((r) => r.id));
}

/** Whether the tenant has a lookup list of the key (the pack may not define it). */
export async function hasLookupList(ctx: OperationContext, key: string): Promise<boolean> {
  return Boolean(await ctx.trx('lookup_lists').where({ tenant_id: ctx.tenantId, key }).first('key'));
}

export function likeEscape(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}
