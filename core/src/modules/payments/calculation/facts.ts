import type { Knex } from 'knex';
import type { Occasion, PlacementFactChange, PlacementForRates } from '../../../rates/engine';
import type { TenantConfiguration } from '../../configuration/tenantConfiguration';

/** A placement as a payment run prices it: who is paid, for whom, from when, and the facts that change along the way. */
export interface PricedPlacement {
  placementId: string;
  childId: string;
  householdId: string;
  rates: PlacementForRates;
}

interface PlacementRow {
  id: string;
  child_id: string;
  household_id: string;
  start_date: string;
  end_date: string | null;
  planned_end_date: string | null;
  respite_of: string | null;
  placement_type: string | null;
  date_of_birth: string;
  region: string | null;
}

/**
 * Placement type codes (SSDA903 U1-U6, AFCARS settings) to the platform's categories the packs'
 * rules pay by (foster_family_friends, foster_unrelated…), from the tenant's placement_type list.
 * Levels of care and carer levels are not mapped: their rate tables are keyed by the codes themselves.
 */
export function placementCategories(config: TenantConfiguration): Map<string, string> {
  const list = config.effective?.lookups.find((l) => l.key === 'placement_type')?.value;
  return new Map((list?.values ?? []).filter((v) => v.normalised).map((v) => [v.code, v.normalised!]));
}

/**
 * A slice of the tenant's carer households, by id: those after `after` (from the first when null)
 * up to and including `through` (to the last when null). A run works through its households a slice
 * at a time, so what it holds grows with a slice, not with the service.
 */
export interface HouseholdRange {
  after: string | null;
  through: string | null;
}

/** Limits a query to the households of a range, by the column naming them. */
export function inHouseholds<Q extends Knex.QueryBuilder>(
  query: Q,
  column: string,
  range: HouseholdRange | undefined,
): Q {
  if (range?.after != null) query.where(column, '>', range.after);
  if (range?.through != null) query.where(column, '<=', range.through);
  return query;
}

/**
 * Households per slice of a run's calculation (or a report's pricing): about 800 placements and
 * 2,200 lines held at a time, whatever the service's size. Small enough that most of a slice's
 * objects are gone before the collector moves them to the old generation: at 2,000 households a
 * slice, the dead slices piled up there until a full collection, and a run of 50,000 placements
 * peaked at 340-375 MB of RSS instead of 280.
 */
export const HOUSEHOLDS_PER_SLICE = 500;

/**
 * The tenant's carer households in slices of `size`, in id order (the order a run's lines are in),
 * each slice read when the one before it is done: the last slice runs on to the last household.
 */
export async function* householdRanges(
  trx: Knex.Transaction,
  tenantId: string,
  size: number,
): AsyncGenerator<HouseholdRange> {
  let after: string | null = null;
  for (;;) {
    const next = trx('carer_households')
      .where('tenant_id', tenantId)
      .orderBy('id')
      .offset(size - 1)
      .first('id');
    if (after !== null) next.where('id', '>', after);
    const through = ((await next) as { id: string } | undefined)?.id ?? null;
    yield { after, through };
    if (through === null) return;
    after = through;
  }
}

export interface PlacementSelection {
  placementIds?: string[];
  households?: HouseholdRange;
}

/**
 * The placements with a night in `[from, to]` (the day of departure may be paid, so one ending on
 * `from` is read too): ongoing and ended ones, a respite stay up to the day the child is due back.
 */
function placementsInCare(
  trx: Knex.Transaction,
  tenantId: string,
  window: { from: string; to: string },
  options: PlacementSelection,
): Knex.QueryBuilder {
  const query = trx('placements as p')
    .where('p.tenant_id', tenantId)
    .whereIn('p.status', ['active', 'ended'])
    .where('p.start_date', '<=', window.to)
    .whereRaw(
      'coalesce(p.end_date, CASE WHEN p.respite_of IS NOT NULL THEN p.planned_end_date END, ?::date) >= ?::date',
      [window.from, window.from],
    );
  if (options.placementIds) query.whereIn('p.id', options.placementIds);
  return inHouseholds(query, 'p.household_id', options.households);
}

/** How many placements a run over `window` prices (in the given households). */
export async function countPlacementsToPrice(
  trx: Knex.Transaction,
  tenantId: string,
  window: { from: string; to: string },
  options: PlacementSelection = {},
): Promise<number> {
  const row = (await placementsInCare(trx, tenantId, window, options).first(trx.raw('count(*)::int AS n'))) as {
    n: number;
  };
  return row.n;
}

/** The ids of the placements a run over `window` prices (in the given households), without their facts. */
export async function placementIdsToPrice(
  trx: Knex.Transaction,
  tenantId: string,
  window: { from: string; to: string },
  options: PlacementSelection = {},
): Promise<string[]> {
  return ((await placementsInCare(trx, tenantId, window, options).select('p.id')) as Array<{ id: string }>).map(
    (r) => r.id,
  );
}

/**
 * The placements with a night in `[from, to]` (see placementsInCare), with the facts a run prices
 * them by, each as it was on each night: the child's date of birth and the occasions recorded for the
 * child in the window; the carer household's region from its dated regions; the carer's level from
 * the household's terms of approval; the placement's category; respite; and the levels of care
 * assessed. In household order, then by start.
 *
 * Nights before a household's first dated region are paid at that first region (nothing earlier is
 * known; a household recorded before regions were dated, with no rows, at its region column). Nights
 * before the first terms of approval that name a level have no carer level, so no rule pays a fee by
 * level for them: a level is what an approval decision or review sets, and before one there is none
 * (the allowance, which is the child's, is paid all the same).
 *
 * These are the placements, carers and children modules' tables, read here in one statement per
 * table rather than through each module's service: a run reads tens of thousands of placements,
 * and a call per placement would be most of its time. Every query is filtered by tenant (RLS too).
 */
export async function placementsToPrice(
  trx: Knex.Transaction,
  tenantId: string,
  window: { from: string; to: string },
  categories: Map<string, string>,
  options: PlacementSelection = {},
): Promise<PricedPlacement[]> {
  const query = placementsInCare(trx, tenantId, window, options)
    .join('children as c', function joinChild() {
      this.on('c.tenant_id', 'p.tenant_id').andOn('c.id', 'p.child_id');
    })
    .join('carer_households as h', function joinHousehold() {
      this.on('h.tenant_id', 'p.tenant_id').andOn('h.id', 'p.household_id');
    })
    .orderBy([{ column: 'p.household_id' }, { column: 'p.start_date' }, { column: 'p.id' }])
    .select(
      'p.id',
      'p.child_id',
      'p.household_id',
      'p.start_date',
      'p.end_date',
      'p.planned_end_date',
      'p.respite_of',
      'p.placement_type',
      'c.date_of_birth',
      'h.region',
    );
  const rows = (await query) as PlacementRow[];
  if (!rows.length) return [];

  const householdIds = [...new Set(rows.map((r) => r.household_id))];
  const placementIds = rows.map((r) => r.id);
  const regions = await regionTimelines(trx, tenantId, householdIds);
  const levels = await carerLevelTimelines(trx, tenantId, householdIds);
  const care = await levelOfCareTimelines(trx, tenantId, placementIds);
  const occasions = await occasionsOf(trx, tenantId, [...new Set(rows.map((r) => r.child_id))], window);

  return rows.map((r) => {
    const respite = r.respite_of !== null;
    // A respite stay ends on the day the child is due back unless it ended otherwise (as occupancy counts it); any other open placement runs on.
    const endDate = r.end_date ?? (respite ? r.planned_end_date : null);
    const region = regions.get(r.household_id);
    const changes: PlacementFactChange[] = [
      ...(region?.moves ?? []).map((l) => ({ from: l.from, region: l.value })),
      ...(levels.get(r.household_id) ?? []).map((l) => ({ from: l.from, carerLevel: l.value })),
      ...(care.get(r.id) ?? []).map((l) => ({ from: l.from, levelOfCare: l.value })),
    ].sort((a, b) => a.from.localeCompare(b.from));
    const recorded = occasions.get(r.child_id);
    return {
      placementId: r.id,
      childId: r.child_id,
      householdId: r.household_id,
      rates: {
        startDate: r.start_date,
        endDate,
        childDateOfBirth: r.date_of_birth,
        region: region ? region.from : r.region,
        carerLevel: null,
        placementType: r.placement_type === null ? null : (categories.get(r.placement_type) ?? r.placement_type),
        levelOfCare: null,
        respite,
        ...(changes.length ? { changes } : {}),
        ...(recorded ? { occasions: recorded } : {}),
      },
    };
  });
}

type Timeline<V = string> = Map<string, Array<{ from: string; value: V }>>;

/**
 * Each household's region (carers/regions.ts): where it was from the start (the last undated row,
 * else the first move's region) and its moves by date (the latest recorded wins for a date).
 * Households recorded before regions were dated, with no rows, are missing: their column stands.
 */
async function regionTimelines(
  trx: Knex.Transaction,
  tenantId: string,
  householdIds: string[],
): Promise<Map<string, { from: string | null; moves: Array<{ from: string; value: string | null }> }>> {
  const rows = (await trx('carer_household_regions')
    .where('tenant_id', tenantId)
    .whereRaw('household_id = ANY(?::uuid[])', [householdIds])
    .orderBy('household_id')
    .orderByRaw('effective_from ASC NULLS FIRST, created_at, id')
    .select('household_id', 'effective_from', 'region')) as Array<{
    household_id: string;
    effective_from: string | null;
    region: string | null;
  }>;
  const start = new Map<string, string | null>();
  for (const r of rows) if (r.effective_from === null) start.set(r.household_id, r.region);
  const moves = timeline(
    rows
      .filter((r) => r.effective_from !== null)
      .map((r) => ({ owner: r.household_id, from: r.effective_from!, value: r.region })),
  );
  const out = new Map<string, { from: string | null; moves: Array<{ from: string; value: string | null }> }>();
  for (const id of new Set(rows.map((r) => r.household_id))) {
    const dated = moves.get(id) ?? [];
    out.set(id, { from: start.has(id) ? start.get(id)! : dated[0]!.value, moves: dated });
  }
  return out;
}

/** Each household's carer level by date, from its terms of approval (the latest recorded wins for a date; terms naming no level leave it as it was). */
async function carerLevelTimelines(trx: Knex.Transaction, tenantId: string, householdIds: string[]): Promise<Timeline> {
  const rows = (await trx('carer_approval_terms')
    .where('tenant_id', tenantId)
    .whereRaw('household_id = ANY(?::uuid[])', [householdIds])
    .whereNotNull('carer_level')
    .orderBy([{ column: 'household_id' }, { column: 'effective_from' }, { column: 'created_at' }, { column: 'id' }])
    .select('household_id', 'effective_from', 'carer_level')) as Array<{
    household_id: string;
    effective_from: string;
    carer_level: string;
  }>;
  return timeline(rows.map((r) => ({ owner: r.household_id, from: r.effective_from, value: r.carer_level })));
}

async function levelOfCareTimelines(
  trx: Knex.Transaction,
  tenantId: string,
  placementIds: string[],
): Promise<Timeline> {
  const rows = (await trx('placement_levels_of_care')
    .where('tenant_id', tenantId)
    .whereRaw('placement_id = ANY(?::uuid[])', [placementIds])
    .orderBy([{ column: 'placement_id' }, { column: 'effective_from' }, { column: 'created_at' }, { column: 'id' }])
    .select('placement_id', 'effective_from', 'level')) as Array<{
    placement_id: string;
    effective_from: string;
    level: string;
  }>;
  return timeline(rows.map((r) => ({ owner: r.placement_id, from: r.effective_from, value: r.level })));
}

/**
 * The occasions recorded for each child in the window (not deleted), one per kind and day: two
 * records of one festival on one day (a merge of duplicate children can bring that about) are one
 * occasion, paid once.
 */
async function occasionsOf(
  trx: Knex.Transaction,
  tenantId: string,
  childIds: string[],
  window: { from: string; to: string },
): Promise<Map<string, Occasion[]>> {
  const rows = (await trx('child_occasions')
    .distinctOn(['child_id', 'occasion_date', 'kind'])
    .where('tenant_id', tenantId)
    .whereRaw('child_id = ANY(?::uuid[])', [childIds])
    .whereNull('deleted_at')
    .whereBetween('occasion_date', [window.from, window.to])
    .orderBy([
      { column: 'child_id' },
      { column: 'occasion_date' },
      { column: 'kind' },
      { column: 'created_at' },
      { column: 'id' },
    ])
    .select('child_id', 'id', 'kind', 'occasion_date', 'name')) as Array<{
    child_id: string;
    id: string;
    kind: string;
    occasion_date: string;
    name: string;
  }>;
  const out = new Map<string, Occasion[]>();
  for (const r of rows)
    (out.get(r.child_id) ?? out.set(r.child_id, []).get(r.child_id)!).push({
      kind: r.kind,
      date: r.occasion_date,
      name: r.name,
      id: r.id,
    });
  return out;
}

/** Entries in date order, one per date: a later-recorded entry for the same date replaces the earlier. */
function timeline<V>(entries: Array<{ owner: string; from: string; value: V }>): Timeline<V> {
  const out: Timeline<V> = new Map();
  for (const e of entries) {
    const list = out.get(e.owner) ?? out.set(e.owner, []).get(e.owner)!;
    const last = list[list.length - 1];
    if (last && last.from === e.from) last.value = e.value;
    else list.push({ from: e.from, value: e.value });
  }
  return out;
}
