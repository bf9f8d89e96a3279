import crypto from 'node:crypto';
import type { Knex } from 'knex';
import type { TenantScope } from '../../http/operation';

/**
 * A household's occupancy is read from placements alone: a placement that is not cancelled holds a
 * place on the nights [start_date, occupied_until) (open when occupied_until is null). Proposed and
 * approved placements hold their place too, so a proposal cannot be overtaken by a later one.
 */
const HOLDS_A_PLACE = `status <> 'cancelled'`;

/** Advisory-lock keys: one namespace for this module, then a hash of (tenant, record). */
const LOCK_NAMESPACE = 14_0014;

function lockKey(tenantId: string, id: string): number {
  return crypto.createHash('sha256').update(`${tenantId}:${id}`).digest().readInt32BE(0);
}

/**
 * Serialises writes to the occupancy of these households and the placements of these children until
 * the transaction ends, so two requests cannot both take a household's last place (or both place one
 * child). Keys are taken in one order, so two requests never wait on each other in a circle.
 */
export async function lockOccupancy(ctx: Pick<TenantScope, 'trx' | 'tenantId'>, ids: string[]): Promise<void> {
  const keys = [...new Set(ids.map((id) => lockKey(ctx.tenantId, id)))].sort((a, b) => a - b);
  for (const key of keys) await ctx.trx.raw('SELECT pg_advisory_xact_lock(?::int, ?::int)', [LOCK_NAMESPACE, key]);
}

/**
 * For each household, the most children placed there on any night of [from, to) (to null: open),
 * in one query for all of them. Occupancy only rises on a start date, so the peak is on `from` or on
 * a start date inside the range.
 */
export async function peakOccupancy(
  trx: Knex.Transaction,
  tenantId: string,
  householdIds: string[] | null,
  from: string,
  to: string | null,
  excludePlacementIds: string[] = [],
): Promise<Map<string, number>> {
  const bindings: unknown[] = [from, tenantId, to, to, from];
  let filter = '';
  if (householdIds) {
    if (!householdIds.length) return new Map();
    filter += ' AND household_id = ANY(?::uuid[])';
    bindings.push(householdIds);
  }
  if (excludePlacementIds.length) {
    filter += ' AND NOT (id = ANY(?::uuid[]))';
    bindings.push(excludePlacementIds);
  }
  // Each placement adds one on its first night in the range and takes one away on the day it
  // leaves; a running sum per household (departures first on a day) is the occupancy, and its
  // maximum the peak. One pass, sorted once: no row is compared with every other.
  const sql = `
    WITH occ AS (
      SELECT household_id, greatest(start_date, ?::date) AS from_night, occupied_until
        FROM placements
       WHERE tenant_id = ? AND ${HOLDS_A_PLACE}
         AND (?::date IS NULL OR start_date < ?::date)
         AND (occupied_until IS NULL OR occupied_until > ?::date)${filter}
    ), ev AS (
      SELECT household_id, from_night AS night, 1 AS delta FROM occ
      UNION ALL
      SELECT household_id, occupied_until, -1 FROM occ WHERE occupied_until IS NOT NULL
    ), run AS (
      SELECT household_id, delta, sum(delta) OVER (PARTITION BY household_id ORDER BY night, delta ROWS UNBOUNDED PRECEDING) AS placed FROM ev
    )
    SELECT household_id, max(placed)::int AS peak FROM run WHERE delta = 1 GROUP BY household_id`;
  const result = (await trx.raw(sql, bindings as never[])) as { rows: Array<{ household_id: string; peak: number }> };
  return new Map(result.rows.map((r) => [r.household_id, r.peak]));
}

/** Children placed in each household on one night. */
export async function placedOn(
  trx: Knex.Transaction,
  tenantId: string,
  householdIds: string[] | null,
  night: string,
): Promise<Map<string, number>> {
  const query = trx('placements')
    .where({ tenant_id: tenantId })
    .whereNot('status', 'cancelled')
    .where('start_date', '<=', night)
    .where((w) => w.whereNull('occupied_until').orWhere('occupied_until', '>', night))
    .groupBy('household_id')
    .select('household_id')
    .count({ placed: '*' });
  if (householdIds) query.whereIn('household_id', householdIds);
  const rows = (await query) as Array<{ household_id: string; placed: number | string }>;
  return new Map(rows.map((r) => [r.household_id, Number(r.placed)]));
}
