import type { OperationContext } from '../../http/operation';
import { iso } from '../../time';

/**
 * Lookup lists an end reason may come from unless the tenant names its own: the placement-change
 * and leaving-care lists the packs ship (UK SSDA903 REASON_PLACE_CHANGE and REC, USA AFCARS discharge
 * reason). Only those the tenant actually has are offered; a tenant changes them in its settings.
 */
const DEFAULT_END_REASON_LISTS = ['reason_place_change', 'episode_end_reason', 'discharge_reason'];

export interface PlacementSettings {
  approvalRequired: boolean;
  endReasonLists: string[];
  version: number;
  updatedAt: string | null;
}

interface SettingsRow {
  approval_required: boolean;
  end_reason_lists: string[] | null;
  version: number;
  updated_at: Date;
}

export async function tenantLookupLists(ctx: OperationContext): Promise<Set<string>> {
  const rows = (await ctx.trx('lookup_values').where({ tenant_id: ctx.tenantId }).distinct('list_key')) as Array<{ list_key: string }>;
  return new Set(rows.map((r) => r.list_key));
}

export async function placementSettings(ctx: OperationContext, options: { lock?: boolean } = {}): Promise<PlacementSettings> {
  const query = ctx.trx('placement_settings').where({ tenant_id: ctx.tenantId }).first();
  if (options.lock) query.forUpdate();
  const row = (await query) as SettingsRow | undefined;
  let lists = row?.end_reason_lists ?? null;
  if (!lists) {
    const have = await tenantLookupLists(ctx);
    lists = DEFAULT_END_REASON_LISTS.filter((l) => have.has(l));
  }
  return { approvalRequired: row?.approval_required ?? false, endReasonLists: lists, version: row?.version ?? 0, updatedAt: row ? iso(row.updated_at) : null };
}
