import type { Knex } from 'knex';
import type { PackRegistry } from '../../packs/registry';
import { complianceOf, nonCompliantAmong, type HouseholdSelection } from './compliance';
import { CarerApprovalTerms, CarerHousehold } from './models';
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
  compliance: {
    compliant: boolean;
    issues: Array<{
      kind: 'missing' | 'expired' | 'unsatisfactory';
      checkType: string;
      memberId: string;
      detail: string;
    }>;
  };
}

type TermsOn = Pick<
  CarerApprovalTerms,
  'householdId' | 'maxChildren' | 'ageMin' | 'ageMax' | 'placementKinds' | 'carerLevel'
>;

/** Approved on a date: approval began on or before it and had not ended by it. */
export function approvedOn(household: Pick<CarerHousehold, 'approvedOn' | 'approvalEndedOn'>, asOf: string): boolean {
  const from = household.approvedOn;
  const to = household.approvalEndedOn;
  return from !== null && from <= asOf && (to === null || to > asOf);
}

/** The terms in effect for each household on a date (latest effective_from on or before it), in one query. */
async function termsOn(
  trx: Knex.Transaction,
  tenantId: string,
  question: { householdIds: string[]; asOf: string; householdQuery?: HouseholdSelection },
): Promise<Map<string, TermsOn>> {
  const { householdIds, asOf, householdQuery } = question;
  if (!householdIds.length) return new Map();
  const query = CarerApprovalTerms.query(trx).distinctOn('household_id').where({ tenant_id: tenantId });
  if (householdQuery) query.whereIn('household_id', householdQuery);
  else query.whereIn('household_id', householdIds);
  const rows = await query
    .where('effective_from', '<=', asOf)
    .orderBy([{ column: 'household_id' }, { column: 'effective_from', order: 'desc' }])
    .orderBy([
      { column: 'created_at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ])
    .select('household_id', 'max_children', 'age_min', 'age_max', 'placement_kinds', 'carer_level');
  return new Map(rows.map((r) => [r.householdId, r]));
}

/**
 * Households for matching on a date: the approved ones (approval in effect on asOf, the household
 * active), or exactly the given ids whatever their state. Three queries for households, terms and
 * compliance (members and checks), however many households there are.
 */
export async function householdsForMatching(
  trx: Knex.Transaction,
  tenantId: string,
  asOf: string,
  ids: string[] | undefined,
  packs: PackRegistry,
): Promise<HouseholdForMatching[]> {
  const chosen = (): HouseholdSelection => {
    const q = CarerHousehold.query(trx).where({ tenant_id: tenantId });
    if (ids) return q.whereIn('id', ids);
    return q
      .where('status', 'active')
      .where('approved_on', '<=', asOf)
      .where((w) => w.whereNull('approval_ended_on').orWhere('approval_ended_on', '>', asOf));
  };
  if (ids && !ids.length) return [];
  const rows = await chosen()
    .orderBy('id')
    .select(
      'id',
      'name',
      'region',
      'postcode',
      'latitude',
      'longitude',
      'carer_level',
      'skills',
      'languages',
      'supervising_worker_id',
    )
    .select('approval_state', 'approved_on', 'approval_ended_on', 'status');
  if (!rows.length) return [];
  const config = await carerConfig(trx, tenantId, packs, asOf);
  const householdIds = rows.map((r) => r.id);
  const scope = { trx, tenantId };
  const terms = await termsOn(trx, tenantId, {
    householdIds,
    asOf,
    householdQuery: ids ? undefined : chosen().select('id'),
  });
  // Compliance decided in SQL for all of them; the detail of what is wrong only for those it names.
  const failing = await nonCompliantAmong(scope, {
    households: ids ?? chosen().select('id'),
    requiredCheckTypes: config.requiredCheckTypes,
    asOf,
  });
  const detailed = householdIds.filter((id) => failing.has(id));
  const compliance = await complianceOf(scope, {
    householdIds: detailed,
    requiredCheckTypes: config.requiredCheckTypes,
    asOf,
  });
  return rows.map((r) => {
    const t = terms.get(r.id);
    const c = compliance.get(r.id) ?? { compliant: true, issues: [] };
    return {
      id: r.id,
      name: r.name,
      region: r.region,
      postcode: r.postcode,
      location:
        r.latitude !== null && r.longitude !== null ? { lat: Number(r.latitude), lon: Number(r.longitude) } : null,
      carerLevel: t?.carerLevel ?? r.carerLevel,
      skills: r.skills ?? [],
      languages: r.languages ?? [],
      supervisingWorkerId: r.supervisingWorkerId,
      approvalState: r.approvalState,
      approved: r.status === 'active' && approvedOn(r, asOf),
      terms: t
        ? { maxChildren: t.maxChildren, ageMin: t.ageMin, ageMax: t.ageMax, placementKinds: t.placementKinds }
        : null,
      compliance: { compliant: c.compliant, issues: c.issues },
    };
  });
}
