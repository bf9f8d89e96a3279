import { Model, snakeCaseMappers } from 'objection';

/**
 * Objection models map snake_case columns to camelCase properties of the rows they read and write
 * (query-builder clauses still name columns in snake_case). They are always used with the
 * request's transaction (`Model.query(ctx.trx)`), never with a global knex, so every query runs
 * under the tenant scope and role that transaction set.
 */
export class TenantModel extends Model {
  tenantId!: string;

  static override get columnNameMappers() {
    return snakeCaseMappers();
  }
}
