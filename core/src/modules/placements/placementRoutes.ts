import { keysetPage } from '../../db/keyset';
import { defineOperations, type OperationResult, type TenantContext } from '../../http/operation';
import { assertIfMatch } from '../../http/etag';
import { created, ok } from '../../http/results';
import { childVisible } from '../children/visibility';
import { addRespiteStay, changePlacement, linkAgreement, placeChild } from './lifecycle';
import { Placement } from './models';
import { placementToApi } from './present';
import { findPlacement } from './service';

async function createPlacement(ctx: TenantContext<'createPlacement'>): Promise<OperationResult> {
  const row = await placeChild(ctx, ctx.params.childId, ctx.body, (f) => `/body/${f}`);
  const body = placementToApi(row);
  await ctx.audit({
    action: row.status === 'active' ? 'placement.started' : 'placement.proposed',
    entityType: 'child',
    entityId: row.childId,
    after: body,
  });
  return created(body, { location: `/v1/placements/${row.id}`, version: row.version });
}

async function listPlacements(ctx: TenantContext<'listPlacements'>): Promise<OperationResult> {
  const q = ctx.query;
  const query = Placement.query(ctx.trx)
    .alias('p')
    .join('children as c', (j) => j.on('c.tenant_id', 'p.tenant_id').andOn('c.id', 'p.child_id'))
    .where('p.tenant_id', ctx.tenantId)
    .where(childVisible(ctx, 'c.id'))
    .select('p.*');
  if (q.childId) query.where('p.child_id', q.childId);
  if (q.householdId) query.where('p.household_id', q.householdId);
  if (q.status) query.where('p.status', q.status);
  if (q.kind) query.where('p.kind', q.kind);
  if (q.workerId) query.where('c.allocated_worker_id', q.workerId);
  if (q.to) query.where('p.start_date', '<=', q.to);
  const from = q.from;
  if (from) query.where((w) => w.whereNull('p.occupied_until').orWhere('p.occupied_until', '>', from));
  const page = await keysetPage(query, q, [{ column: 'p.id', of: (r) => r.id }], placementToApi);
  return ok({ data: page.data, nextCursor: page.nextCursor });
}

async function getPlacement(ctx: TenantContext<'getPlacement'>): Promise<OperationResult> {
  const row = await findPlacement(ctx, ctx.params.placementId);
  return ok(placementToApi(row), row.version);
}

async function updatePlacement(ctx: TenantContext<'updatePlacement'>): Promise<OperationResult> {
  const before = await findPlacement(ctx, ctx.params.placementId, { lock: true });
  assertIfMatch(ctx.ifMatch, before.version);
  const after = await changePlacement(ctx, before, ctx.body);
  const body = placementToApi(after);
  await ctx.audit({
    action: 'placement.updated',
    entityType: 'placement',
    entityId: before.id,
    before: placementToApi(before),
    after: body,
  });
  return ok(body, after.version);
}

async function createRespitePlacement(ctx: TenantContext<'createRespitePlacement'>): Promise<OperationResult> {
  const main = await findPlacement(ctx, ctx.params.placementId, { lock: true });
  const row = await addRespiteStay(ctx, main, ctx.body);
  const body = placementToApi(row);
  await ctx.audit({ action: 'placement.respite_created', entityType: 'placement', entityId: main.id, after: body });
  return created(body, { location: `/v1/placements/${row.id}`, version: row.version });
}

async function setPlacementAgreement(ctx: TenantContext<'setPlacementAgreement'>): Promise<OperationResult> {
  const before = await findPlacement(ctx, ctx.params.placementId, { lock: true });
  assertIfMatch(ctx.ifMatch, before.version);
  const after = await linkAgreement(ctx, before, ctx.body.submissionId);
  const body = placementToApi(after);
  await ctx.audit({
    action: 'placement.agreement_linked',
    entityType: 'placement',
    entityId: before.id,
    before: placementToApi(before),
    after: body,
  });
  return ok(body, after.version);
}

export const placementRecordOperations = defineOperations({
  createPlacement: { access: { permission: 'placements:manage' }, handle: createPlacement },
  listPlacements: { access: { permission: 'placements:read' }, handle: listPlacements },
  getPlacement: { access: { permission: 'placements:read' }, handle: getPlacement },
  updatePlacement: { access: { permission: 'placements:manage' }, handle: updatePlacement },
  createRespitePlacement: { access: { permission: 'placements:manage' }, handle: createRespitePlacement },
  setPlacementAgreement: { access: { permission: 'placements:manage' }, handle: setPlacementAgreement },
});
