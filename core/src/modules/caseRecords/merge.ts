import type { OperationContext } from '../../http/operation';

/** Every table that keeps something on a child, so a merge carries all of it. */
export const CASE_RECORD_TABLES = ['child_legal_statuses', 'child_care_episodes', 'child_alerts', 'child_family_members', 'child_key_contacts', 'child_case_records', 'child_occasions'] as const;

/**
 * A duplicate child merged into its survivor: every row kept on the duplicate (deleted ones too)
 * moves to the survivor in the merge's transaction, with its id, version and dates unchanged, so
 * its own audit trail still reads from start to end. Returns how many rows of each table moved.
 */
export async function moveCaseRecords(ctx: OperationContext, fromChildId: string, toChildId: string): Promise<Record<string, number>> {
  const moved: Record<string, number> = {};
  for (const table of CASE_RECORD_TABLES) {
    moved[table] = await ctx.trx(table).where({ tenant_id: ctx.tenantId!, child_id: fromChildId }).update({ child_id: toChildId });
  }
  return moved;
}
