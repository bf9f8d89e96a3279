import { defineOperations, type OperationResult, type TenantContext } from '../../http/operation';
import { assertIfMatch } from '../../http/etag';
import { Problem, type FieldError } from '../../http/problem';
import { ok } from '../../http/results';
import { placementSettings, saveSettings, tenantLookupLists } from './settings';
import { tenantPlacementWorkflow } from './workflow';

async function getPlacementSettings(ctx: TenantContext<'getPlacementSettings'>): Promise<OperationResult> {
  const settings = await placementSettings(ctx);
  return ok(settings, settings.version);
}

async function updatePlacementSettings(ctx: TenantContext<'updatePlacementSettings'>): Promise<OperationResult> {
  const body = ctx.body;
  // The row may not exist yet (a tenant on the defaults): the advisory lock serialises its first write.
  await ctx.trx.raw('SELECT pg_advisory_xact_lock(?::int, hashtext(?::text))', [140014, `settings:${ctx.tenantId}`]);
  const before = await placementSettings(ctx, { lock: true });
  assertIfMatch(ctx.ifMatch, before.version);
  const errors: FieldError[] = [];
  if (body.endReasonLists) {
    const have = await tenantLookupLists(ctx);
    body.endReasonLists.forEach((list, i) => {
      if (!have.has(list))
        errors.push({ pointer: `/body/endReasonLists/${i}`, message: "is not one of the tenant's lookup lists" });
    });
  }
  if (body.approvalRequired && !(await tenantPlacementWorkflow(ctx))) {
    errors.push({ pointer: '/body/approvalRequired', message: "the tenant's pack has no placement workflow" });
  }
  if (errors.length) throw Problem.unprocessable(errors);
  const after = await saveSettings(ctx, before, body);
  await ctx.audit({
    action: 'placement_settings.updated',
    entityType: 'placement_settings',
    entityId: ctx.tenantId,
    before,
    after,
  });
  return ok(after, after.version);
}

export const settingsOperations = defineOperations({
  getPlacementSettings: { access: { permission: 'placements:read' }, handle: getPlacementSettings },
  updatePlacementSettings: { access: { permission: 'placements:approve' }, handle: updatePlacementSettings },
});
