import type { Knex } from 'knex';
import type { ModelClass, PartialModelObject } from 'objection';
import type { TenantModel } from './baseModel';

interface Versioned extends TenantModel {
  id: string;
  version: number;
}

/**
 * Writes changes to a row read (and locked) as `before`, moving its version on by one, which is its
 * next ETag, and its updated_at to now; answers the row as written. Every versioned write goes
 * through here, so no write forgets the version a client's If-Match is checked against.
 */
export async function patchVersioned<M extends Versioned>(
  trx: Knex.Transaction,
  model: ModelClass<NoInfer<M>>,
  before: M,
  changes: PartialModelObject<M>,
): Promise<M> {
  const rows = (await model
    .query(trx)
    .where('tenant_id', before.tenantId)
    .where('id', before.id)
    .patch({ ...changes, version: before.version + 1, updatedAt: trx.fn.now() } as PartialModelObject<M>)
    .returning('*')) as unknown as M[];
  const after = rows[0];
  if (!after) throw new Error(`patchVersioned: the ${before.id} row read under lock is gone`);
  return after;
}
