import type { Knex } from 'knex';
import type { ModelClass, QueryBuilderType } from 'objection';
import { Problem } from '../http/problem';
import type { TenantModel } from './baseModel';

export interface FindOptions {
  /** Takes the row's lock (FOR UPDATE) for a write that follows. */
  lock?: boolean;
  /**
   * Where the id came from when it is not the resource in the path: a body field's pointer
   * (`/body/placementId`). Not found is then a 422 naming that field rather than a 404.
   */
  pointer?: string;
  /** A soft-deleted row is found too (reading it to restore it, say). */
  allowDeleted?: boolean;
}

/** What a finder is given: the request's transaction and tenant. */
export interface FindScope {
  trx: Knex.Transaction;
  tenantId: string;
}

/** How the thing is named in a not-found answer: "The placement was not found", "is not a placement of this tenant". */
export interface Described {
  /** "placement", "carer household". */
  noun: string;
}

/**
 * The one tenant-scoped find-or-fail every module's `findX(ctx, id, options)` is built on. `narrow`
 * adds the module's fence (a restricted child's records are outside it for most callers): a row
 * outside the fence is not found, exactly like a row of another tenant, so nothing tells them apart.
 */
export async function findOne<M extends TenantModel>(
  scope: FindScope,
  model: ModelClass<M> & Described,
  id: string,
  options: FindOptions & { narrow?: (query: QueryBuilderType<M>) => void; softDeleted?: boolean } = {},
): Promise<M> {
  const query = model.query(scope.trx).where('tenant_id', scope.tenantId).where('id', id);
  options.narrow?.(query);
  if (options.softDeleted && !options.allowDeleted) query.whereNull('deleted_at');
  if (options.lock) query.forUpdate();
  const row = await query.first();
  if (!row) throw notFound(model.noun, options.pointer);
  return row as M;
}

/** Not found, as the caller should hear it: a 404 for the resource in the path, a 422 naming the field for one in the body. */
export function notFound(noun: string, pointer?: string): Problem {
  if (pointer) return Problem.unprocessable([{ pointer, message: `is not a ${noun} of this tenant` }]);
  return Problem.notFound(`The ${noun}`);
}
