import { keysetPage } from '../../db/keyset';
import {
  actorId,
  defineOperations,
  type OperationResult,
  type TenantContext,
  type TenantScope,
} from '../../http/operation';
import { Problem, type FieldError } from '../../http/problem';
import { created, ok } from '../../http/results';
import { newId } from '../../ids';
import { checkOverlay, type OverlayChanges } from './effective';
import { ConfigOverlay } from './models';
import { findOverlay, overlayToApi } from './tenantConfiguration';
import { tenantPack } from './tenantPack';

type OverlayInput = TenantContext<'createOverlay'>['body'];

/**
 * An overlay's changes in the configuration's own terms. The contract leaves rule definitions and
 * form fields free-form (its generated type says nothing of them); checkOverlay checks them against
 * the pack before anything is stored.
 */
const changesOf = (input: OverlayInput): OverlayChanges => input.changes as OverlayChanges;

/** Stores overlays as the next versions, in order; the caller holds the tenant row lock. */
async function insertOverlays(ctx: TenantScope, overlays: OverlayInput[]): Promise<ConfigOverlay[]> {
  if (!overlays.length) return [];
  const last = await ConfigOverlay.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId })
    .max('version as version')
    .first()
    .castTo<{ version: number | null }>();
  return ConfigOverlay.query(ctx.trx)
    .insert(
      overlays.map((overlay, i) => ({
        tenantId: ctx.tenantId,
        id: newId(),
        version: (last?.version ?? 0) + i + 1,
        effectiveFrom: overlay.effectiveFrom,
        description: overlay.description,
        changes: changesOf(overlay),
        createdBy: actorId(ctx),
      })),
    )
    .returning('*');
}

/** The tenant row is locked so overlay versions are handed out one at a time. */
async function lockTenant(ctx: TenantScope): Promise<void> {
  await ctx.trx('tenants').where({ id: ctx.tenantId }).forUpdate().first('id');
}

async function listOverlays(ctx: TenantContext<'listOverlays'>): Promise<OperationResult> {
  const query = ConfigOverlay.query(ctx.trx).where({ tenant_id: ctx.tenantId });
  const page = await keysetPage(query, ctx.query, [{ column: 'version', of: (r) => r.version }], overlayToApi, 'desc');
  return ok({ data: page.data, nextCursor: page.nextCursor });
}

async function getOverlay(ctx: TenantContext<'getOverlay'>): Promise<OperationResult> {
  return ok(overlayToApi(await findOverlay(ctx, ctx.params.overlayId)));
}

async function createOverlay(ctx: TenantContext<'createOverlay'>): Promise<OperationResult> {
  const body = ctx.body;
  await lockTenant(ctx);
  const { pack } = await tenantPack(ctx);
  const { errors, floor } = checkOverlay(pack, changesOf(body), body.effectiveFrom);
  if (errors.length) throw Problem.unprocessable(errors);
  if (floor) {
    const where = Object.entries(floor.dimensions)
      .map(([d, v]) => `${d} ${v}`)
      .join(', ');
    const detail = `${floor.table}: ${floor.offered} is below the floor of ${floor.floorAmount} (${where}) in effect on ${body.effectiveFrom}, from ${floor.floorLayer}`;
    const pointer = `/body/changes/rates/${floor.table}/amounts/${Object.values(floor.dimensions).join('/')}`;
    throw new Problem('unprocessable', detail, {
      errors: [{ pointer, message: `is below the floor of ${floor.floorAmount}` }],
      floor,
    });
  }
  const [row] = await insertOverlays(ctx, [body]);
  const overlay = overlayToApi(row!);
  await ctx.audit({
    action: 'configuration.overlay_added',
    entityType: 'configuration_overlay',
    entityId: overlay.id,
    after: overlay,
  });
  return created(overlay, { location: `/v1/configuration/overlays/${overlay.id}` });
}

async function exportConfiguration(ctx: TenantContext<'exportConfiguration'>): Promise<OperationResult> {
  const { pack, overlays } = await tenantPack(ctx);
  return ok({
    format: 'hearth.configuration',
    formatVersion: 1,
    packId: pack.manifest.id,
    exportedAt: new Date().toISOString(),
    overlays: overlays.map((o) => ({ effectiveFrom: o.effectiveFrom, description: o.description, changes: o.changes })),
  });
}

async function importConfiguration(ctx: TenantContext<'importConfiguration'>): Promise<OperationResult> {
  const body = ctx.body;
  await lockTenant(ctx);
  const { pack } = await tenantPack(ctx);
  if (body.packId !== pack.manifest.id)
    throw Problem.unprocessable([
      { pointer: '/body/packId', message: `the tenant is on the pack "${pack.manifest.id}"` },
    ]);
  // Every overlay is checked before any is stored: all or nothing.
  const errors: FieldError[] = [];
  body.overlays.forEach((overlay, i) => {
    const checked = checkOverlay(pack, changesOf(overlay), overlay.effectiveFrom);
    errors.push(...checked.errors.map((e) => ({ ...e, pointer: e.pointer.replace('/body/', `/body/overlays/${i}/`) })));
    if (checked.floor) {
      const { table, dimensions, floorAmount, floorLayer } = checked.floor;
      const pointer = `/body/overlays/${i}/changes/rates/${table}/amounts/${Object.values(dimensions).join('/')}`;
      errors.push({ pointer, message: `is below the floor of ${floorAmount} from ${floorLayer}` });
    }
  });
  if (errors.length) throw Problem.unprocessable(errors);
  const versions = (await insertOverlays(ctx, body.overlays)).map((row) => row.version);
  await ctx.audit({
    action: 'configuration.imported',
    entityType: 'configuration',
    entityId: ctx.tenantId,
    after: { packId: body.packId, versions },
  });
  return created({ imported: versions.length, versions });
}

export const overlayOperations = defineOperations({
  listOverlays: { access: { permission: 'configuration:read' }, handle: listOverlays },
  getOverlay: { access: { permission: 'configuration:read' }, handle: getOverlay },
  createOverlay: { access: { permission: 'configuration:manage' }, handle: createOverlay },
  exportConfiguration: { access: { permission: 'configuration:read' }, handle: exportConfiguration },
  importConfiguration: { access: { permission: 'configuration:manage' }, handle: importConfiguration },
});
