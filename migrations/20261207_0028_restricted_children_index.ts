import type { Knex } from 'knex';
import { runStatements } from './support';

/**
 * The visibility fence (core/src/modules/children/visibility.ts) reads a tenant's restricted children
 * on views of money and of the audit trail. They are few among many, so a partial index finds them
 * without reading every child of the tenant.
 */
export async function up(knex: Knex): Promise<void> {
  await runStatements(knex, [`CREATE INDEX children_restricted ON children (tenant_id, id) WHERE restricted`]);
}
