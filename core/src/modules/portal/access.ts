import type { TenantScope } from '../../http/operation';

export interface ChildRead {
  childId: string;
  /** The group of fields read: the shared profile, the name alone, daily logs. */
  group: 'profile' | 'name' | 'daily_logs';
  /** The profile's fields by name, as the tenant shared them. */
  fields?: readonly string[];
  placementId?: string;
}

/**
 * Every read of a child's data through the portal is audited as an access, since carers' reads are
 * as accountable as staff's: who (the audit actor), which children, and which group of fields. One
 * event per request, on what was read (the placement, the log, or the household for a list), listing
 * each child read; a list that held no child says so with an empty list.
 */
export async function auditChildAccess(
  ctx: Pick<TenantScope, 'audit'>,
  entity: { type: 'carer_household' | 'placement' | 'daily_log' | 'payment_run'; id: string },
  reads: ChildRead[],
): Promise<void> {
  const seen = new Map<string, ChildRead>();
  for (const read of reads) {
    const key = `${read.childId}|${read.group}`;
    if (!seen.has(key)) seen.set(key, read);
  }
  await ctx.audit({
    action: 'portal.children_accessed',
    entityType: entity.type,
    entityId: entity.id,
    after: {
      reads: [...seen.values()].map((r) => ({
        childId: r.childId,
        group: r.group,
        ...(r.fields ? { fields: [...r.fields] } : {}),
        ...(r.placementId ? { placementId: r.placementId } : {}),
      })),
    },
  });
}
