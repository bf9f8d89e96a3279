import type { OperationContext, OperationMap, OperationResult } from '../../http/operation';
import { Problem, type FieldError } from '../../http/problem';
import { newId } from '../../ids';
import { iso } from '../../time';
import { hasLookupList } from '../carers/shared';
import { lookupCodeErrors } from '../lookups/service';
import { findPlacement } from '../placements/service';

interface LevelRow { id: string; placement_id: string; level: string; effective_from: string; assessed_on: string | null; notes: string | null; recorded_by: string | null; created_at: Date }

const levelToApi = (r: LevelRow) => ({ id: r.id, placementId: r.placement_id, level: r.level, effectiveFrom: r.effective_from, assessedOn: r.assessed_on, notes: r.notes, recordedBy: r.recorded_by, createdAt: iso(r.created_at) });

async function listLevelsOfCare(ctx: OperationContext): Promise<OperationResult> {
  const placement = await findPlacement(ctx, ctx.params.placementId!);
  const rows = (await ctx.trx('placement_levels_of_care').where({ tenant_id: ctx.tenantId, placement_id: placement.id }).orderBy([{ column: 'effective_from' }, { column: 'created_at' }])) as LevelRow[];
  return { status: 200, body: { data: rows.map(levelToApi) } };
}

async function recordLevelOfCare(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as { level: string; effectiveFrom: string; assessedOn?: string | null; notes?: string | null };
  const placement = await findPlacement(ctx, ctx.params.placementId!);
  const errors: FieldError[] = [];
  if (body.effectiveFrom < placement.startDate) errors.push({ pointer: '/body/effectiveFrom', message: `is before the placement started (${placement.startDate}); to pay from the first night, give that date` });
  if (placement.endDate && body.effectiveFrom >= placement.endDate) errors.push({ pointer: '/body/effectiveFrom', message: `is on or after the placement ended (${placement.endDate})` });
  if (await hasLookupList(ctx, 'level_of_care')) errors.push(...(await lookupCodeErrors(ctx.trx, ctx.tenantId!, [{ list: 'level_of_care', code: body.level, pointer: '/body/level' }])));
  if (errors.length) throw Problem.unprocessable(errors);
  const [row] = (await ctx.trx('placement_levels_of_care')
    .insert({ tenant_id: ctx.tenantId, id: newId(), placement_id: placement.id, level: body.level, effective_from: body.effectiveFrom, assessed_on: body.assessedOn ?? null, notes: body.notes ?? null, recorded_by: ctx.principal?.kind === 'user' ? ctx.principal.id : null })
    .returning('*')) as LevelRow[];
  const after = levelToApi(row!);
  await ctx.audit({ action: 'placement.level_of_care_recorded', entityType: 'placement', entityId: placement.id, after });
  return { status: 201, body: after };
}

export const levelOfCareOperations: OperationMap = {
  listLevelsOfCare: { access: { permission: 'placements:read' }, handle: listLevelsOfCare },
  recordLevelOfCare: { access: { permission: 'placements:manage' }, handle: recordLevelOfCare },
};
