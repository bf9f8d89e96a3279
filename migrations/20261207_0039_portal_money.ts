import type { Knex } from 'knex';
import { portalFence, runStatements } from './support';

/**
 * The portal's money section (expected payment) prices the household's placements as a payment run
 * would, so a carer's request must read the facts a run prices by. Migration 0038 left three of their
 * tables invisible to the portal's role; what a carer may see of each:
 *
 * - `pay_schedules`: the tenant's pay periods are the service's terms of payment, told to every
 *   carer; they name no person. Tenant fence only (the role sees every row of its tenant).
 * - `placement_levels_of_care`: the level of care assessed for a placement with the household sets
 *   what the household is paid for it, and carers are told it; only for placements the role sees.
 * - `child_occasions`: the birthdays and festivals a child in the household's care is paid extras
 *   for, only for children the role sees (RLS on `children` applies inside the subquery).
 */
const via = (table: string, column: string) =>
  `EXISTS (SELECT 1 FROM ${table} v WHERE v.tenant_id = hearth_current_tenant() AND v.id = ${column})`;

export async function up(knex: Knex): Promise<void> {
  await runStatements(knex, [
    `DROP POLICY IF EXISTS pay_schedules_portal ON pay_schedules`,
    `DROP POLICY IF EXISTS placement_levels_of_care_portal ON placement_levels_of_care`,
    ...portalFence('placement_levels_of_care', via('placements', 'placement_id')),
    `DROP POLICY IF EXISTS child_occasions_portal ON child_occasions`,
    ...portalFence('child_occasions', via('children', 'child_id')),
  ]);
}
