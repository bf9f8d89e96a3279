import { actorId, defineOperations, type OperationResult, type TenantContext } from '../../http/operation';
import { Problem, type FieldError } from '../../http/problem';
import { created, ok } from '../../http/results';
import { newId } from '../../ids';
import { iso } from '../../time';
import { hasLookupList } from '../carers/shared';
import { lookupCodeErrors } from '../lookups/service';
import { findPlacement } from '../placements/service';
import { PlacementLevelOfCare } from './models';

const levelToApi = (r: PlacementLevelOfCare) => ({
  id: r.id,
  placementId: r.placementId,
  level: r.level,
  effectiveFrom: r.effectiveFrom,
  assessedOn: r.assessedOn,
  notes: r.notes,
  recordedBy: r.recordedBy,
  createdAt: iso(r.createdAt),
});

async function listLevelsOfCare(ctx: TenantContext<'listLevelsOfCare'>): Promise<OperationResult> {
  const placement = await findPlacement(ctx, ctx.params.placementId);
  const rows = await PlacementLevelOfCare.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, placement_id: placement.id })
    .orderBy([{ column: 'effective_from' }, { column: 'created_at' }]);
  return ok({ data: rows.map(levelToApi) });
}

async function recordLevelOfCare(ctx: TenantContext<'recordLevelOfCare'>): Promise<OperationResult> {
  const body = ctx.body;
  const placement = await findPlacement(ctx, ctx.params.placementId);
  const errors: FieldError[] = [];
  if (body.effectiveFrom < placement.startDate) {
    errors.push({
      pointer: '/body/effectiveFrom',
      message: `is before the placement started (${placement.startDate}); to pay from the first night, give that date`,
    });
  }
  if (placement.endDate && body.effectiveFrom >= placement.endDate) {
    errors.push({
      pointer: '/body/effectiveFrom',
      message: `is on or after the placement ended (${placement.endDate})`,
    });
  }
  if (await hasLookupList(ctx, 'level_of_care')) {
    errors.push(
      ...(await lookupCodeErrors(ctx.trx, ctx.tenantId, [
        { list: 'level_of_care', code: body.level, pointer: '/body/level' },
      ])),
    );
  }
  if (errors.length) throw Problem.unprocessable(errors);
  const row = await PlacementLevelOfCare.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      id: newId(),
      placementId: placement.id,
      level: body.level,
      effectiveFrom: body.effectiveFrom,
      assessedOn: body.assessedOn ?? null,
      notes: body.notes ?? null,
      recordedBy: actorId(ctx),
    })
    .returning('*');
  const after = levelToApi(row);
  await ctx.audit({
    action: 'placement.level_of_care_recorded',
    entityType: 'placement',
    entityId: placement.id,
    after,
  });
  // The contract gives this answer no Location: a level of care is read through its placement's list.
  return created(after);
}

export const levelOfCareOperations = defineOperations({
  listLevelsOfCare: { access: { permission: 'placements:read' }, handle: listLevelsOfCare },
  recordLevelOfCare: { access: { permission: 'placements:manage' }, handle: recordLevelOfCare },
});
