import type { TenantScope } from '../../http/operation';

/**
 * Every read of a child's data through the portal is audited as an access: who (the audit actor),
 * which child, and which group of fields (the shared profile fields by name, or a named group such as
 * `name` or `daily_logs`), since carers' reads are as accountable as staff's. Returns how many
 * events it appended: a read that showed no child's data appends none (and its result says so).
 */
export async function auditChildAccess(
  ctx: Pick<TenantScope, 'audit'>,
  reads: Array<{ childId: string; group: string; fields?: readonly string[]; placementId?: string }>,
): Promise<number> {
  const seen = new Set<string>();
  for (const read of reads) {
    const key = `${read.childId}|${read.group}`;
    if (seen.has(key)) continue;
    seen.add(key);
    await ctx.audit({
      action: 'portal.child_accessed',
      entityType: 'child',
      entityId: read.childId,
      after: {
        group: read.group,
        ...(read.fields ? { fields: [...read.fields] } : {}),
        ...(read.placementId ? { placementId: read.placementId } : {}),
      },
    });
  }
  return seen.size;
}
