import type { Knex } from 'knex';
import type { PackRegistry, ResolvedPack } from '../../packs/registry';
import { iso, todayIn } from '../../time';
import { effectiveConfiguration, type Overlay, type OverlayChanges } from './effective';

export interface OverlayRow {
  id: string;
  version: number;
  effective_from: string;
  description: string;
  changes: OverlayChanges;
  created_by: string | null;
  created_at: Date;
}

export function overlayToApi(row: OverlayRow): Overlay {
  return { id: row.id, version: row.version, effectiveFrom: String(row.effective_from), description: row.description, changes: row.changes, createdBy: row.created_by, createdAt: iso(row.created_at) };
}

/** The tenant's overlays, oldest first. */
export async function tenantOverlays(trx: Knex.Transaction, tenantId: string): Promise<Overlay[]> {
  const rows = (await trx('tenant_config_overlays').where({ tenant_id: tenantId }).orderBy('version')) as OverlayRow[];
  return rows.map(overlayToApi);
}

export interface TenantConfiguration {
  packId: string;
  timeZone: string;
  currency: 'GBP' | 'USD';
  /** Today where the tenant is. */
  today: string;
  /** The tenant's pack (with its sub-pack chain), or null when this platform has not loaded it. */
  pack: ResolvedPack | null;
  overlays: Overlay[];
  /** pack ⊕ sub-pack ⊕ overlays on `asOf` (today unless asked), or null without the pack. */
  effective: ReturnType<typeof effectiveConfiguration> | null;
}

/**
 * The tenant's configuration as every module reads it: its pack, its overlays, and the effective
 * configuration on a date. Modules read the tenant's workflows, forms, cycles and rates from here,
 * never from the pack alone, so an overlay applies everywhere at once.
 */
export async function tenantConfiguration(trx: Knex.Transaction, tenantId: string, packs: PackRegistry, asOf?: string): Promise<TenantConfiguration> {
  const tenant = (await trx('tenants').where({ id: tenantId }).first('pack_id', 'time_zone', 'currency')) as { pack_id: string; time_zone: string; currency: 'GBP' | 'USD' };
  const today = todayIn(tenant.time_zone);
  const base = { packId: tenant.pack_id, timeZone: tenant.time_zone, currency: tenant.currency, today };
  if (!packs.has(tenant.pack_id)) return { ...base, pack: null, overlays: [], effective: null };
  const pack = packs.resolve(tenant.pack_id);
  const overlays = await tenantOverlays(trx, tenantId);
  return { ...base, pack, overlays, effective: effectiveConfiguration(pack, overlays, asOf ?? today) };
}
