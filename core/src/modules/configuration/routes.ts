import { defineOperations, type OperationResult, type TenantContext } from '../../http/operation';
import { ok } from '../../http/results';
import { todayIn } from '../../time';
import { effectiveConfiguration } from './effective';
import { evaluationOperations } from './evaluationRoutes';
import { formOperations } from './formRoutes';
import { overlayOperations } from './overlayRoutes';
import { tenantPack } from './tenantPack';

async function listPacks(ctx: TenantContext<'listPacks'>): Promise<OperationResult> {
  const data = ctx.services.packs.list().map((p) => ({
    id: p.manifest.id,
    version: p.manifest.version,
    name: p.manifest.name,
    jurisdiction: p.manifest.jurisdiction,
    currency: p.manifest.currency,
    ...(p.manifest.extends ? { extends: p.manifest.extends } : {}),
    chain: ctx.services.packs.resolve(p.manifest.id).chain,
  }));
  return ok({ data });
}

async function getEffectiveConfiguration(ctx: TenantContext<'getEffectiveConfiguration'>): Promise<OperationResult> {
  const { pack, timeZone, overlays } = await tenantPack(ctx);
  return ok(effectiveConfiguration(pack, overlays, ctx.query.asOf ?? todayIn(timeZone)));
}

/** The configuration module's operations, by operationId: packs and the effective configuration here, the rest by resource. */
export const configurationOperations = {
  ...defineOperations({
    listPacks: { access: { permission: 'configuration:read' }, handle: listPacks },
    getEffectiveConfiguration: { access: { permission: 'configuration:read' }, handle: getEffectiveConfiguration },
  }),
  ...overlayOperations,
  ...formOperations,
  ...evaluationOperations,
};
