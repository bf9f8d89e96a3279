import type { Knex } from 'knex';
import type { OperationContext, OperationResult } from '../../http/operation';
import { Problem, type FieldError } from '../../http/problem';
import { newId } from '../../ids';
import { iso } from '../../time';
import { actorId, configFor, findHousehold, householdToApi, type HouseholdRow } from './shared';

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

interface RegionRow { id: string; household_id: string; region: string | null; effective_from: string | null; notes: string | null; recorded_by: string | null; created_at: Date }

const regionToApi = (r: RegionRow) => ({ id: r.id, householdId: r.household_id, region: r.region, effectiveFrom: r.effective_from, notes: r.notes, recordedBy: r.recorded_by, createdAt: iso(r.created_at) });

/** A household's region rows in the order they apply: undated first, then by date, each as recorded. */
async function regionRows(trx: Knex.Transaction, tenantId: string, householdId: string): Promise<RegionRow[]> {
  return (await trx('carer_household_regions')
    .where({ tenant_id: tenantId, household_id: householdId })
    .orderByRaw('effective_from ASC NULLS FIRST, created_at, id')) as RegionRow[];
}

/** The region in effect on a date, from rows in order (see above). */
function regionOn(rows: RegionRow[], date: string): string | null {
  let region = rows[0]?.region ?? null;
  for (const row of rows) if (row.effective_from === null || row.effective_from <= date) region = row.region;
  return region;
}

/** The region must be one the tenant's rate tables price (where they have that dimension). */
export async function regionErrors(ctx: OperationContext, region: string | null | undefined, pointer: string): Promise<FieldError[]> {
  if (typeof region !== 'string') return [];
  const { regions } = await configFor(ctx);
  return regions && !regions.includes(region) ? [{ pointer, message: `is not a region of the tenant's rate tables (${regions.join(', ')})` }] : [];
}

/**
 * Adds a row of the household's region (from a date, or from the start when `effectiveFrom` is
 * null), in the caller's transaction (the caller holds the household's row lock and audits). A
 * household recorded before regions were dated, with no rows, first gets the region it had as its
 * undated row, so a move does not reach back over the nights before it.
 */
export async function insertRegionRow(ctx: OperationContext, household: HouseholdRow, entry: { region: string | null; effectiveFrom: string | null; notes?: string | null }): Promise<RegionRow> {
  const t = ctx.tenantId!;
  const known = await ctx.trx('carer_household_regions').where({ tenant_id: t, household_id: household.id }).first('id');
  if (!known && household.region !== null) {
    await ctx.trx('carer_household_regions').insert({ tenant_id: t, id: newId(), household_id: household.id, region: household.region, effective_from: null, notes: 'The region the household had before this change' });
  }
  const [row] = (await ctx.trx('carer_household_regions')
    .insert({ tenant_id: t, id: newId(), household_id: household.id, region: entry.region, effective_from: entry.effectiveFrom, notes: entry.notes ?? null, recorded_by: actorId(ctx) })
    .returning('*')) as RegionRow[];
  return row!;
}

/** Keeps the household's `region` column on the region its rows give for today. Returns the household as it now stands. */
async function syncCurrentRegion(ctx: OperationContext, household: HouseholdRow, today: string): Promise<HouseholdRow> {
  const current = regionOn(await regionRows(ctx.trx, ctx.tenantId!, household.id), today);
  if (current === household.region) return household;
  const [after] = (await ctx.trx('carer_households')
    .where({ tenant_id: ctx.tenantId!, id: household.id })
    .update({ region: current, version: household.version + 1, updated_at: ctx.trx.fn.now() })
    .returning('*')) as HouseholdRow[];
  return after!;
}

export async function listCarerHouseholdRegions(ctx: OperationContext): Promise<OperationResult> {
  const household = await findHousehold(ctx);
  const rows = await regionRows(ctx.trx, ctx.tenantId!, household.id);
  return { status: 200, body: { region: household.region, data: rows.map(regionToApi) } };
}

export async function recordCarerHouseholdRegion(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as { region: string; effectiveFrom: string | null; notes?: string | null };
  const before = await findHousehold(ctx, { lock: true });
  const { today } = await configFor(ctx);
  const errors = await regionErrors(ctx, body.region, '/body/region');
  if (body.effectiveFrom !== null && body.effectiveFrom > today) errors.push({ pointer: '/body/effectiveFrom', message: 'is in the future: record a move once it has happened' });
  if (errors.length) throw Problem.unprocessable(errors);
  const row = await insertRegionRow(ctx, before, body);
  const household = await syncCurrentRegion(ctx, before, today);
  const entry = regionToApi(row);
  await ctx.audit({ action: 'carer_household.region_recorded', entityType: 'carer_household', entityId: before.id, before: householdToApi(before), after: { ...householdToApi(household), regionRecorded: entry } });
  return { status: 201, body: entry, headers: { Location: `/v1/carer-households/${before.id}/regions` } };
}
