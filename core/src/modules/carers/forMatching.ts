import type { Knex } from 'knex';
import type { PackRegistry } from '../../packs/registry';
import { complianceOf, nonCompliantAmong } from './compliance';
import { carerConfig } from './tenantConfig';

/** A carer household as the placements module's matching sees it. */
export interface HouseholdForMatching {
  id: string;
  name: string;
  region: string | null;
  postcode: string | null;
  location: { lat: number; lon: number } | null;
  carerLevel: string | null;
  skills: string[];
  languages: string[];
  supervisingWorkerId: string | null;
  /** The workflow state. */
  approvalState: string;
  /** In an approved (placeable) state on asOf. */
  approved: boolean;
  terms: { maxChildren: number; ageMin: number; ageMax: number; placementKinds: string[] } | null;
  compliance: { compliant: boolean; issues: Array<{ kind: 'missing' | 'expired' | 'unsatisfactory'; checkType: string; memberId: string; detail: string }> };
}

interface HouseholdRow {
  id: string; name: string; region: string | null; postcode: string | null; latitude: number | null; longitude: number | null;
  carer_level: string | null; skills: string[]; languages: string[]; supervising_worker_id: string | null; approval_state: string;
  approved_on: string | Date | null; approval_ended_on: string | Date | null; status: string;
}

interface TermsRow { household_id: string; max_children: number; age_min: number; age_max: number; placement_kinds: string[]; carer_level: string | null }

const asDate = (v: string | Date | null): string | null => (v === null ? null : v instanceof Date ? v.toISOString().slice(0, 10) : String(v).slice(0, 10));

/** Approved on a date: approval began on or before it and had not ended by it. */
export function approvedOn(row: { approved_on: string | Date | null; approval_ended_on: string | Date | null }, asOf: string): boolean {
  const from = asDate(row.approved_on);
  const to = asDate(row.approval_ended_on);
  return from !== null && from <= asOf && (to === null || to > asOf);
}

/** The terms in effect for each household on a date (latest effective_from on or before it), in one query. */
export async function termsOn(trx: Knex.Transaction, tenantId: string, householdIds: string[], asOf: string, householdQuery?: Knex.QueryBuilder): Promise<Map<string, TermsRow>> {
  if (!householdIds.length) return new Map();
  const rows = (await trx('carer_approval_terms')
    .distinctOn('household_id')
    .where({ tenant_id: tenantId })
    .whereIn('household_id', householdQuery ?? householdIds)
    .where('effective_from', '<=', asOf)
    .orderBy([{ column: 'household_id' }, { column: 'effective_from', order: 'desc' }, { column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }])
    .select('household_id', 'max_children', 'age_min', 'age_max', 'placement_kinds', 'carer_level')) as TermsRow[];
  return new Map(rows.map((r) => [r.household_id, r]));
}

/**
 * Households for matching on a date: the approved ones (approval in effect on asOf, the household
 * active), or exactly the given ids whatever their state. Three queries for households, terms and
 * compliance (members and checks), however many households there are.
 */
export async function householdsForMatching(trx: Knex.Transaction, tenantId: string, asOf: string, ids: string[] | undefined, packs: PackRegistry): Promise<HouseholdForMatching[]> {
  const chosen = () => {
    const q = trx('carer_households').where({ tenant_id: tenantId });
    return ids ? q.whereIn('id', ids) : q.where('status', 'active').where('approved_on', '<=', asOf).where((w) => w.whereNull('approval_ended_on').orWhere('approval_ended_on', '>', asOf));
  };
  if (ids && !ids.length) return [];
  const rows = (await chosen().orderBy('id').select('id', 'name', 'region', 'postcode', 'latitude', 'longitude', 'carer_level', 'skills', 'languages', 'supervising_worker_id', 'approval_state', 'approved_on', 'approval_ended_on', 'status')) as HouseholdRow[];
  if (!rows.length) return [];
  const config = await carerConfig(trx, tenantId, packs, asOf);
  const householdIds = rows.map((r) => r.id);
  const terms = await termsOn(trx, tenantId, householdIds, asOf, ids ? undefined : chosen().select('id'));
  // Compliance decided in SQL for all of them; the detail of what is wrong only for those it names.
  const failing = await nonCompliantAmong(trx, tenantId, ids ?? chosen().select('id'), config.requiredCheckTypes, asOf);
  const compliance = await complianceOf(trx, tenantId, householdIds.filter((id) => failing.has(id)), config.requiredCheckTypes, asOf);
  return rows.map((r) => {
    const t = terms.get(r.id);
    const c = compliance.get(r.id) ?? { compliant: true, issues: [] };
    return {
      id: r.id,
      name: r.name,
      region: r.region,
      postcode: r.postcode,
      location: r.latitude !== null && r.longitude !== null ? { lat: Number(r.latitude), lon: Number(r.longitude) } : null,
      carerLevel: t?.carer_level ?? r.carer_level,
      skills: r.skills ?? [],
      languages: r.languages ?? [],
      supervisingWorkerId: r.supervising_worker_id,
      approvalState: r.approval_state,
      approved: r.status === 'active' && approvedOn(r, asOf),
      terms: t ? { maxChildren: t.max_children, ageMin: t.age_min, ageMax: t.age_max, placementKinds: t.placement_kinds } : null,
      compliance: { compliant: c.compliant, issues: c.issues },
    };
  });
}
