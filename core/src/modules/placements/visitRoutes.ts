import { keysetPage } from '../../db/keyset';
import {
  actorId,
  defineOperations,
  type BodyOf,
  type OperationResult,
  type TenantContext,
  type TenantScope,
} from '../../http/operation';
import { Problem, type FieldError } from '../../http/problem';
import { created, ok } from '../../http/results';
import { newId } from '../../ids';
import { recordCaseEvent } from '../tasks/events';
import { tenantToday } from '../tenants/today';
import { PlacementVisit, type Placement } from './models';
import { visitToApi } from './present';
import { findPlacement } from './service';

/** Visits to a placement: the records, and the case events visits are. */

/** An active user of the tenant, or an error naming the field. */
export async function activeUserErrors(
  ctx: Pick<TenantScope, 'trx' | 'tenantId'>,
  id: string | null | undefined,
  pointer: string,
): Promise<FieldError[]> {
  if (!id) return [];
  const user = await ctx.trx('users').where({ tenant_id: ctx.tenantId, id, status: 'active' }).first('id');
  return user ? [] : [{ pointer, message: 'is not an active user of this tenant' }];
}

type VisitInput = BodyOf<'createPlacementVisit'>;

/** Records a visit made to a started placement (locked by the caller); a child's or an unannounced visit is a case event too. */
async function recordVisit(ctx: TenantScope, placement: Placement, input: VisitInput): Promise<PlacementVisit> {
  const visitedBy = input.visitedBy !== undefined ? input.visitedBy : actorId(ctx);
  const errors = await activeUserErrors(ctx, visitedBy, '/body/visitedBy');
  if (!['active', 'ended'].includes(placement.status)) {
    throw new Problem('conflict', `The placement is ${placement.status}: visits are to a placement that has started`);
  }
  if (input.visitDate < placement.startDate)
    errors.push({ pointer: '/body/visitDate', message: `is before the placement started (${placement.startDate})` });
  if (placement.endDate && input.visitDate > placement.endDate) {
    errors.push({ pointer: '/body/visitDate', message: `is after the placement ended (${placement.endDate})` });
  }
  if (input.visitDate > (await tenantToday(ctx)))
    errors.push({ pointer: '/body/visitDate', message: 'is in the future; record a visit once it is made' });
  if (input.childSeenAlone && input.childSeen === false)
    errors.push({ pointer: '/body/childSeenAlone', message: 'the child was not seen' });
  if (errors.length) throw Problem.unprocessable(errors);
  const id = newId();
  const source = { type: 'placement_visit', id };
  let caseEventId: string | null = null;
  if (input.kind === 'child_visit') {
    const facts = { childSeen: input.childSeen ?? null, childSeenAlone: input.childSeenAlone ?? null };
    caseEventId = await recordCaseEvent(ctx, {
      name: 'placement.visit_held',
      subjectId: placement.id,
      occurredOn: input.visitDate,
      facts,
      source,
    });
  } else if (input.kind === 'unannounced_visit') {
    caseEventId = await recordCaseEvent(ctx, {
      name: 'carer.unannounced_visit_held',
      subjectId: placement.householdId,
      occurredOn: input.visitDate,
      facts: { placementId: placement.id },
      source,
    });
  }
  return PlacementVisit.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      id,
      placementId: placement.id,
      kind: input.kind,
      visitDate: input.visitDate,
      visitedBy,
      childSeen: input.childSeen ?? null,
      childSeenAlone: input.childSeenAlone ?? null,
      notes: input.notes ?? null,
      caseEventId,
      createdBy: actorId(ctx),
    })
    .returning('*');
}

async function createPlacementVisit(ctx: TenantContext<'createPlacementVisit'>): Promise<OperationResult> {
  const placement = await findPlacement(ctx, ctx.params.placementId, { lock: true });
  const row = await recordVisit(ctx, placement, ctx.body);
  const body = visitToApi(row);
  await ctx.audit({ action: 'placement_visit.recorded', entityType: 'placement', entityId: placement.id, after: body });
  return created(body, { location: `/v1/placements/${placement.id}/visits/${row.id}` });
}

async function listPlacementVisits(ctx: TenantContext<'listPlacementVisits'>): Promise<OperationResult> {
  const q = ctx.query;
  const placement = await findPlacement(ctx, ctx.params.placementId);
  const query = PlacementVisit.query(ctx.trx).where({ tenant_id: ctx.tenantId, placement_id: placement.id });
  if (q.kind) query.where('kind', q.kind);
  const columns = [
    { column: 'visit_date', of: (r: PlacementVisit) => r.visitDate },
    { column: 'id', of: (r: PlacementVisit) => r.id },
  ];
  const page = await keysetPage(query, q, columns, visitToApi);
  return ok({ data: page.data, nextCursor: page.nextCursor });
}

export const visitOperations = defineOperations({
  createPlacementVisit: { access: { permission: 'placements:manage' }, handle: createPlacementVisit },
  listPlacementVisits: { access: { permission: 'placements:read' }, handle: listPlacementVisits },
});
