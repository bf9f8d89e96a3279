import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';

/**
 * Care that happened before the tests ran: carer households with their region and terms (carer
 * level from a date), children with dates of birth, and placements with the dates they began and
 * ended, written by the owner as an operator's migration from a legacy system would write them. The
 * API only places children from today on; payment runs over published past rate years need history.
 */
export interface HistoryHousehold {
  key: string;
  region: string | null;
  /** Carer levels from dates (terms of approval); the first also becomes the household's level. */
  levels?: Array<{ from: string; level: string }>;
}

export interface HistoryChild {
  key: string;
  dateOfBirth: string;
}

export interface HistoryPlacement {
  key: string;
  child: string;
  household: string;
  start: string;
  /** The day of departure. */
  end?: string | null;
  placementType: string | null;
  /** A respite stay: the main placement's key, and the day the child is due back. */
  respiteOf?: string;
  plannedEnd?: string;
}

export interface History {
  households: HistoryHousehold[];
  children: HistoryChild[];
  placements: HistoryPlacement[];
}

export type HistoryIds = Record<string, string>;

export async function seedCareHistory(
  db: Knex,
  tenantId: string,
  history: History,
  workflowKey = 'carer-approval',
): Promise<HistoryIds> {
  const ids: HistoryIds = {};
  const id = (key: string) => (ids[key] ??= randomUUID());
  await db.transaction(async (trx) => {
    await trx.raw(`SELECT set_config('app.tenant_id', ?, true)`, [tenantId]);
    for (const h of history.households) {
      await trx('carer_households').insert({
        tenant_id: tenantId,
        id: id(h.key),
        name: `Household ${h.key}`,
        region: h.region,
        carer_level: h.levels?.[0]?.level ?? null,
        workflow_key: workflowKey,
        approval_state: 'approved',
        approved_state: 'approved',
        approved_on: h.levels?.[0]?.from ?? '2020-01-01',
      });
      for (const l of h.levels ?? []) {
        await trx('carer_approval_terms').insert({
          tenant_id: tenantId,
          id: randomUUID(),
          household_id: id(h.key),
          effective_from: l.from,
          max_children: 3,
          age_min: 0,
          age_max: 17,
          placement_kinds: ['short_term', 'long_term', 'respite'],
          carer_level: l.level,
        });
      }
    }
    for (const c of history.children) {
      await trx('children').insert({
        tenant_id: tenantId,
        id: id(c.key),
        given_name: `Child`,
        family_name: c.key,
        date_of_birth: c.dateOfBirth,
        sex: 'female',
        status: 'in_care',
      });
    }
    for (const p of history.placements) {
      await trx('placements').insert({
        tenant_id: tenantId,
        id: id(p.key),
        child_id: id(p.child),
        household_id: id(p.household),
        kind: p.respiteOf ? 'respite' : 'long_term',
        placement_type: p.placementType,
        status: p.end ? 'ended' : 'active',
        start_date: p.start,
        end_date: p.end ?? null,
        planned_end_date: p.plannedEnd ?? null,
        respite_of: p.respiteOf ? id(p.respiteOf) : null,
      });
    }
  });
  return ids;
}
