import { patchVersioned } from '../../db/versioned';
import { actorId, type OperationResult, type TenantContext, type TenantScope } from '../../http/operation';
import { created, ok } from '../../http/results';
import { Problem, type FieldError } from '../../http/problem';
import { newId } from '../../ids';
import { iso } from '../../time';
import { CarerHousehold, CarerHouseholdRegion } from './models';
import { configFor, findHousehold, householdToApi } from './shared';

/*
 * A carer household's region by date. The allowance differs by region (the carer household's, not
 * the child's), so a household that moves is paid at the old region's rate up to the day before the
 * move and at the new one's from the day of the move.
 *
 * Rows are never edited. A row without a date is where the household has been from the start (the
 * region it was recorded with); a dated row is a move from its date until a later one. The last
 * recorded wins among rows for the same date (or among undated rows), so a wrong row is put right by
 * another for its date. Nights before the first dated row are paid at the undated region, or, where
 * there is none (a household recorded without a region), at the first dated row's: nothing earlier
 * is known.
 *
 * The household's `region` column is the region in effect today, kept by every write here.
 */

const regionToApi = (r: CarerHouseholdRegion) => ({
  id: r.id,
  householdId: r.householdId,
  region: r.region,
  effectiveFrom: r.effectiveFrom,
  notes: r.notes,
  recordedBy: r.recordedBy,
  createdAt: iso(r.createdAt),
});

/** A household's region rows in the order they apply: undated first, then by date, each as recorded. */
async function regionRows(
  ctx: Pick<TenantScope, 'trx' | 'tenantId'>,
  householdId: string,
): Promise<CarerHouseholdRegion[]> {
  return CarerHouseholdRegion.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, household_id: householdId })
    .orderByRaw('effective_from ASC NULLS FIRST, created_at, id');
}

/** The region in effect on a date, from rows in order (see above). */
function regionOn(rows: CarerHouseholdRegion[], date: string): string | null {
  let region = rows[0]?.region ?? null;
  for (const row of rows) if (row.effectiveFrom === null || row.effectiveFrom <= date) region = row.region;
  return region;
}

/** The region must be one the tenant's rate tables price (where they have that dimension). */
export async function regionErrors(
  ctx: TenantScope,
  region: string | null | undefined,
  pointer: string,
): Promise<FieldError[]> {
  if (typeof region !== 'string') return [];
  const { regions } = await configFor(ctx);
  return regions && !regions.includes(region)
    ? [{ pointer, message: `is not a region of the tenant's rate tables (${regions.join(', ')})` }]
    : [];
}

/**
 * Adds a row of the household's region (from a date, or from the start when `effectiveFrom` is
 * null), in the caller's transaction (the caller holds the household's row lock and audits). A
 * household recorded before regions were dated, with no rows, first gets the region it had as its
 * undated row, so a move does not reach back over the nights before it.
 */
export async function insertRegionRow(
  ctx: TenantScope,
  entry: {
    household: Pick<CarerHousehold, 'id' | 'region'>;
    region: string | null;
    effectiveFrom: string | null;
    notes?: string | null;
  },
): Promise<CarerHouseholdRegion> {
  const { household } = entry;
  const known = await CarerHouseholdRegion.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, household_id: household.id })
    .select('id')
    .first();
  if (!known && household.region !== null) {
    await CarerHouseholdRegion.query(ctx.trx).insert({
      tenantId: ctx.tenantId,
      id: newId(),
      householdId: household.id,
      region: household.region,
      effectiveFrom: null,
      notes: 'The region the household had before this change',
    });
  }
  return CarerHouseholdRegion.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      id: newId(),
      householdId: household.id,
      region: entry.region,
      effectiveFrom: entry.effectiveFrom,
      notes: entry.notes ?? null,
      recordedBy: actorId(ctx),
    })
    .returning('*');
}

/** Keeps the household's `region` column on the region its rows give for today. Returns the household as it now stands. */
async function syncCurrentRegion(ctx: TenantScope, household: CarerHousehold, today: string): Promise<CarerHousehold> {
  const current = regionOn(await regionRows(ctx, household.id), today);
  if (current === household.region) return household;
  return patchVersioned(ctx.trx, CarerHousehold, household, { region: current });
}

export async function listCarerHouseholdRegions(
  ctx: TenantContext<'listCarerHouseholdRegions'>,
): Promise<OperationResult> {
  const household = await findHousehold(ctx, ctx.params.householdId);
  const rows = await regionRows(ctx, household.id);
  return ok({ region: household.region, data: rows.map(regionToApi) });
}

export async function recordCarerHouseholdRegion(
  ctx: TenantContext<'recordCarerHouseholdRegion'>,
): Promise<OperationResult> {
  const input = ctx.body;
  const before = await findHousehold(ctx, ctx.params.householdId, { lock: true });
  const { today } = await configFor(ctx);
  const errors = await regionErrors(ctx, input.region, '/body/region');
  if (input.effectiveFrom !== null && input.effectiveFrom > today) {
    errors.push({ pointer: '/body/effectiveFrom', message: 'is in the future: record a move once it has happened' });
  }
  if (errors.length) throw Problem.unprocessable(errors);
  const row = await insertRegionRow(ctx, {
    household: before,
    region: input.region,
    effectiveFrom: input.effectiveFrom,
    notes: input.notes,
  });
  const household = await syncCurrentRegion(ctx, before, today);
  const entry = regionToApi(row);
  const event = { action: 'carer_household.region_recorded', entityType: 'carer_household', entityId: before.id };
  await ctx.audit({
    ...event,
    before: householdToApi(before),
    after: { ...householdToApi(household), regionRecorded: entry },
  });
  return created(entry, { location: `/v1/carer-households/${before.id}/regions` });
}
