import { defineOperations, type OperationResult, type TenantContext } from '../../http/operation';
import { ok } from '../../http/results';
import { judge, stepToApi, takeStep, workflowSteps } from './approval';
import { endStateFor, moveChild } from './lifecycle';
import { placementToApi } from './present';
import { endRunningPlacement, findPlacement } from './service';

async function getPlacementWorkflow(ctx: TenantContext<'getPlacementWorkflow'>): Promise<OperationResult> {
  const row = await findPlacement(ctx, ctx.params.placementId);
  const history = (await workflowSteps(ctx, row.id)).map(stepToApi);
  const open = row.workflowKey && row.workflowState && !['ended', 'cancelled'].includes(row.status);
  const verdicts = open ? (await judge(ctx, row)).verdicts : [];
  const available = verdicts.map((v) => ({
    transition: v.transition,
    to: v.to,
    allowed: v.allowed,
    blockers: v.blockers.map((b) => ({
      kind: b.kind,
      detail: b.detail,
      ...(b.evidence ? { evidence: b.evidence } : {}),
    })),
  }));
  return ok({ placementId: row.id, workflowKey: row.workflowKey, state: row.workflowState, available, history });
}

async function transitionPlacement(ctx: TenantContext<'transitionPlacement'>): Promise<OperationResult> {
  const step = ctx.body;
  const before = await findPlacement(ctx, ctx.params.placementId, { lock: true });
  const after = await takeStep(ctx, before, step);
  const body = placementToApi(after);
  await ctx.audit({
    action: 'placement.transitioned',
    entityType: 'placement',
    entityId: before.id,
    before: placementToApi(before),
    after: { ...body, transition: step.transition, evidence: step.evidence ?? [] },
  });
  return ok(body, after.version);
}

async function endPlacement(ctx: TenantContext<'endPlacement'>): Promise<OperationResult> {
  const before = await findPlacement(ctx, ctx.params.placementId, { lock: true });
  const endedState = await endStateFor(ctx, before);
  const after = await endRunningPlacement(ctx, before, ctx.body, {
    pointers: { date: '/body/endDate', reasons: '/body/reasons' },
    endedState,
  });
  const body = placementToApi(after);
  await ctx.audit({
    action: 'placement.ended',
    entityType: 'placement',
    entityId: before.id,
    before: placementToApi(before),
    after: body,
  });
  return ok(body, after.version);
}

async function movePlacement(ctx: TenantContext<'movePlacement'>): Promise<OperationResult> {
  const { current, ended, started } = await moveChild(ctx, ctx.params.placementId, ctx.body);
  const result = { ended: placementToApi(ended), started: placementToApi(started) };
  await ctx.audit({
    action: 'placement.moved',
    entityType: 'placement',
    entityId: current.id,
    before: placementToApi(current),
    after: result,
  });
  return ok(result);
}

export const lifecycleOperations = defineOperations({
  getPlacementWorkflow: { access: { permission: 'placements:read' }, handle: getPlacementWorkflow },
  // Each step names its own permission in the pack's workflow; reading placements is the floor.
  transitionPlacement: { access: { permission: 'placements:read' }, handle: transitionPlacement },
  endPlacement: { access: { permission: 'placements:end' }, handle: endPlacement },
  movePlacement: { access: { permission: 'placements:end' }, handle: movePlacement },
});
