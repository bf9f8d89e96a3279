import type { QueryBuilder } from 'objection';
import type { OperationContext, Principal } from '../../http/operation';
import { Problem } from '../../http/problem';
import { Child, ChildAccessGrant } from './models';

/**
 * Who may see which child. Restricted records are visible only to the users named on them; to
 * anyone else they do not exist. Everything kept on a child (its case records) is visible exactly
 * when the child is, so other modules find the child through here, never through the table.
 */
export function visibleChildren(ctx: OperationContext): QueryBuilder<Child> {
  const principal: Principal = ctx.principal!;
  return Child.query(ctx.trx)
    .alias('c')
    .where('c.tenant_id', ctx.tenantId!)
    .where((w) => {
      w.where('c.restricted', false);
      if (principal.kind === 'user') {
        w.orWhereExists(ChildAccessGrant.query(ctx.trx).alias('g').whereColumn('g.tenant_id', 'c.tenant_id').whereColumn('g.child_id', 'c.id').where('g.user_id', principal.id));
      }
    });
}

/** The child in the path (`childId`) as the caller may see it, or 404; `lock` takes its row lock for the write. */
export async function findChild(ctx: OperationContext, options: { lock?: boolean; allowDeleted?: boolean } = {}): Promise<Child> {
  const query = visibleChildren(ctx).where('c.id', ctx.params.childId!).select('c.*').first();
  if (options.lock) query.forUpdate();
  const row = await query;
  if (!row || (row.deletedAt && !options.allowDeleted)) throw Problem.notFound('The child');
  return row;
}

/** Each read of a restricted child's record is audited (the named users' reads are the trail). */
export async function logRestrictedRead(ctx: OperationContext, rows: Child[]): Promise<void> {
  for (const row of rows) if (row.restricted) await ctx.audit({ action: 'child.restricted_read', entityType: 'child', entityId: row.id });
}

/**
 * Sets the child's normalised status as a case record changed it (a care episode opened or ended);
 * the version moves, so a client holding the child's ETag re-reads it. The caller audits its write.
 */
export async function setChildStatus(ctx: OperationContext, child: Child, status: Child['status']): Promise<void> {
  if (child.status === status) return;
  await Child.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId!, id: child.id })
    .patch({ status, version: child.version + 1, updatedAt: ctx.trx.fn.now() });
  child.status = status;
  child.version += 1;
}
