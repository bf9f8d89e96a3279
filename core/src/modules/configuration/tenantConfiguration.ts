import type { Knex } from 'knex';
import type { PackRegistry, ResolvedPack } from '../../packs/registry';
import { iso, todayIn } from '../../time';
import { findOne, type FindScope } from '../../db/find';
import { effectiveConfiguration, type Overlay } from './effective';
import { ConfigOverlay } from './models';

export function overlayToApi(row: ConfigOverlay): Overlay {
  return {
    id: row.id,
    version: row.version,
    effectiveFrom: String(row.effectiveFrom),
    description: row.description,
    changes: row.changes,
    createdBy: row.createdBy,
    createdAt: iso(row.createdAt),
  };
}

/** The tenant's overlays, oldest first. */
export async function tenantOverlays(trx: Knex.Transaction, tenantId: string): Promise<Overlay[]> {
  const rows = await ConfigOverlay.query(trx).where({ tenant_id: tenantId }).orderBy('version');
  return rows.map(overlayToApi);
}

/** One of the tenant's overlays, or not found. */
export function findOverlay(scope: FindScope, id: string): Promise<ConfigOverlay> {
  return findOne<ConfigOverlay>(scope, ConfigOverlay, id);
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
export async function tenantConfiguration(
  trx: Knex.Transaction,
  tenantId: string,
  packs: PackRegistry,
  asOf?: string,
): Promise<TenantConfiguration> {
  const tenant = (await trx('tenants').where({ id: tenantId }).first('pack_id', 'time_zone', 'currency')) as {
    pack_id: string;
    time_zone: string;
    currency: 'GBP' | 'USD';
  };
  const today = todayIn(tenant.time_zone);
  const base = { packId: tenant.pack_id, timeZone: tenant.time_zone, currency: tenant.currency, today };
  if (!packs.has(tenant.pack_id)) return { ...base, pack: null, overlays: [], effective: null };
  const pack = packs.resolve(tenant.pack_id);
  const overlays = await tenantOverlays(trx, tenantId);
  return { ...base, pack, overlays, effective: effectiveConfiguration(pack, overlays, asOf ?? today) };
}
