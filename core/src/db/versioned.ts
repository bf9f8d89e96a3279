import type { Knex } from 'knex';
import type { Model, ModelClass, PartialModelObject } from 'objection';

interface Versioned extends Model {
  version: number;
}

/**
 * Writes changes to a row read (and locked) as `before`, moving its version on by one, which is its
 * next ETag, and its updated_at to now; answers the row as written. Every versioned write goes
 * through here, so no write forgets the version a client's If-Match is checked against.
 *
 * The row is found by `(tenant_id, id)`; a table keyed otherwise (by the tenant alone, by a list and
 * a code, the tenants table by id) names its key, and its model as the type argument.
 */
export async function patchVersioned<M extends Versioned>(
  trx: Knex.Transaction,
  model: ModelClass<NoInfer<M>>,
  before: M,
  changes: PartialModelObject<M>,
): Promise<M>;
export async function patchVersioned<M extends Versioned>(
  trx: Knex.Transaction,
  model: ModelClass<M>,
  before: Pick<M, 'version'>,
  changes: PartialModelObject<M>,
  key: Record<string, unknown>,
): Promise<M>;
export async function patchVersioned<M extends Versioned>(
  trx: Knex.Transaction,
  model: ModelClass<M>,
  before: Pick<M, 'version'>,
  changes: PartialModelObject<M>,
  key: Record<string, unknown> = defaultKey(before),
): Promise<M> {
  const rows = (await model
    .query(trx)
    .where(key)
    .patch({ ...changes, version: before.version + 1, updatedAt: trx.fn.now() } as PartialModelObject<M>)
    .returning('*')) as unknown as M[];
  const after = rows[0];
  if (!after) throw new Error(`patchVersioned: the ${JSON.stringify(key)} row read under lock is gone`);
  return after;
}

function defaultKey(row: { version: number }): Record<string, unknown> {
  const { tenantId, id } = row as { tenantId?: string; id?: string };
  if (tenantId === undefined || id === undefined)
    throw new Error('patchVersioned: a row without tenant_id and id names its key');
  return { tenant_id: tenantId, id };
}
