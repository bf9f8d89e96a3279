import type { TenantScope } from '../../http/operation';
import { Problem } from '../../http/problem';
import type { ResolvedPack } from '../../packs/registry';
import type { Overlay } from './effective';
import { tenantOverlays } from './tenantConfiguration';

export interface TenantPack {
  pack: ResolvedPack;
  timeZone: string;
  currency: 'GBP' | 'USD';
  overlays: Overlay[];
}

/**
 * The tenant's pack and overlays, for the configuration operations that cannot answer without the
 * pack (where tenantConfiguration gives null, these refuse: the pack is not loaded on this platform).
 */
export async function tenantPack(ctx: Pick<TenantScope, 'trx' | 'tenantId' | 'services'>): Promise<TenantPack> {
  const tenant = (await ctx.trx('tenants').where({ id: ctx.tenantId }).first('pack_id', 'time_zone', 'currency')) as {
    pack_id: string;
    time_zone: string;
    currency: 'GBP' | 'USD';
  };
  if (!ctx.services.packs.has(tenant.pack_id))
    throw new Problem('unprocessable', `The tenant's pack "${tenant.pack_id}" is not loaded on this platform`);
  return {
    pack: ctx.services.packs.resolve(tenant.pack_id),
    timeZone: tenant.time_zone,
    currency: tenant.currency,
    overlays: await tenantOverlays(ctx.trx, ctx.tenantId),
  };
}
