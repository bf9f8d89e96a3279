import { patchVersioned } from '../../db/versioned';
import { actorId, type TenantScope } from '../../http/operation';
import { iso } from '../../time';
import { StoredPlacementSettings } from './models';

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

export async function tenantLookupLists(ctx: Pick<TenantScope, 'trx' | 'tenantId'>): Promise<Set<string>> {
  const rows = (await ctx.trx('lookup_values').where({ tenant_id: ctx.tenantId }).distinct('list_key')) as Array<{
    list_key: string;
  }>;
  return new Set(rows.map((r) => r.list_key));
}

/** The tenant's settings, its defaults (version 0) until it first changes them. */
export async function placementSettings(
  ctx: Pick<TenantScope, 'trx' | 'tenantId'>,
  options: { lock?: boolean } = {},
): Promise<PlacementSettings> {
  const query = StoredPlacementSettings.query(ctx.trx).where('tenant_id', ctx.tenantId).first();
  if (options.lock) query.forUpdate();
  const row = await query;
  let lists = row?.endReasonLists ?? null;
  if (!lists) {
    const have = await tenantLookupLists(ctx);
    lists = DEFAULT_END_REASON_LISTS.filter((l) => have.has(l));
  }
  return {
    approvalRequired: row?.approvalRequired ?? false,
    endReasonLists: lists,
    version: row?.version ?? 0,
    updatedAt: row ? iso(row.updatedAt) : null,
  };
}

/** Writes the settings read (and locked) as `before`; the table is keyed by the tenant alone. */
export async function saveSettings(
  ctx: TenantScope,
  before: PlacementSettings,
  changes: { approvalRequired?: boolean; endReasonLists?: string[] },
): Promise<PlacementSettings> {
  const values = {
    approvalRequired: changes.approvalRequired ?? before.approvalRequired,
    ...(changes.endReasonLists ? { endReasonLists: changes.endReasonLists } : {}),
    updatedBy: actorId(ctx),
  };
  // The first change makes the row (a tenant without one reads the defaults at version 0).
  if (before.version === 0) {
    await StoredPlacementSettings.query(ctx.trx).insert({
      tenantId: ctx.tenantId,
      ...values,
      version: 1,
      updatedAt: ctx.trx.fn.now(),
    });
  } else {
    await patchVersioned<StoredPlacementSettings>(ctx.trx, StoredPlacementSettings, before, values, {
      tenant_id: ctx.tenantId,
    });
  }
  return placementSettings(ctx);
}
