import type { OperationContext } from '../../http/operation';
import { Problem } from '../../http/problem';
import { childVisible } from '../children/visibility';

/**
 * What the placements module needs of a child: its date of birth (for the age range) and its
 * allocated worker (for lists). Which children the caller may see is the children module's rule
 * (`visibleChildren` in core/src/modules/children/visibility.ts): a restricted child, and so its
 * placements, matching requests and visits, exists only for the users named on it.
 */
export interface ChildForPlacement {
  id: string;
  dateOfBirth: string;
  allocatedWorkerId: string | null;
}

/** A where-clause fragment limiting `<alias>.id` (a child id) to the children the caller may see. */
export function visibleChildSql(ctx: OperationContext, alias = 'c'): { sql: string; bindings: string[] } {
  const visible = childVisible(ctx, `${alias}.id`).toSQL();
  return { sql: visible.sql, bindings: visible.bindings as string[] };
}

export async function findChild(ctx: OperationContext, childId: string, pointer?: string): Promise<ChildForPlacement> {
  const visible = visibleChildSql(ctx);
  const row = (await ctx.trx('children as c')
    .where('c.tenant_id', ctx.tenantId!)
    .where('c.id', childId)
    .whereNull('c.deleted_at')
    .whereRaw(visible.sql, visible.bindings)
    .first('c.id', 'c.date_of_birth', 'c.allocated_worker_id')) as { id: string; date_of_birth: string; allocated_worker_id: string | null } | undefined;
  if (!row) {
    if (pointer) throw Problem.unprocessable([{ pointer, message: 'is not a child of this tenant' }]);
    throw Problem.notFound('The child');
  }
  return { id: row.id, dateOfBirth: row.date_of_birth, allocatedWorkerId: row.allocated_worker_id };
}

