import type { PartialModelObject } from 'objection';
import { keysetPage } from '../../db/keyset';
import { patchVersioned } from '../../db/versioned';
import { assertIfMatch } from '../../http/etag';
import { actorId, defineOperations, type OperationResult, type TenantContext } from '../../http/operation';
import { Problem, type FieldError } from '../../http/problem';
import { created, ok } from '../../http/results';
import { newId } from '../../ids';
import { findPlacement } from '../placements/service';
import { Commissioner, PlacementCommission } from './models';
import { invoicingPolicy, saveInvoicingPolicy } from './policy';
import { commissionerToApi, commissionToApi, findCommissioner } from './present';

/** What a caller may set on a commissioner: every field an update may name (a create names some of them). */
type CommissionerFields = TenantContext<'updateCommissioner'>['body'];

const COMMISSIONER_FIELDS = [
  'name',
  'kind',
  'customerReference',
  'addressLines',
  'email',
  'paymentTermsDays',
  'status',
] as const;

/** Only the fields a caller may set; the contract has already refused any other. */
function commissionerFields(body: CommissionerFields): PartialModelObject<Commissioner> {
  const out: Record<string, unknown> = {};
  for (const field of COMMISSIONER_FIELDS) if (body[field] !== undefined) out[field] = body[field];
  return out as PartialModelObject<Commissioner>;
}

// ---------------------------------------------------------------------------------------------
// Commissioners

async function listCommissioners(ctx: TenantContext<'listCommissioners'>): Promise<OperationResult> {
  const q = ctx.query;
  const query = Commissioner.query(ctx.trx).where('tenant_id', ctx.tenantId);
  if (q.status) query.where('status', q.status);
  const page = await keysetPage(
    query,
    q,
    [
      { column: 'name', of: (r) => r.name },
      { column: 'id', of: (r) => r.id },
    ],
    commissionerToApi,
  );
  return ok({ data: page.data, nextCursor: page.nextCursor });
}

async function createCommissioner(ctx: TenantContext<'createCommissioner'>): Promise<OperationResult> {
  const row = await Commissioner.query(ctx.trx)
    .insert({ tenantId: ctx.tenantId, id: newId(), ...commissionerFields(ctx.body), createdBy: actorId(ctx) })
    .returning('*');
  const after = commissionerToApi(row);
  await ctx.audit({ action: 'commissioner.created', entityType: 'commissioner', entityId: row.id, after });
  return created(after, { location: `/v1/commissioners/${row.id}`, version: row.version });
}

async function getCommissioner(ctx: TenantContext<'getCommissioner'>): Promise<OperationResult> {
  const row = await findCommissioner(ctx, ctx.params.commissionerId);
  return ok(commissionerToApi(row), row.version);
}

async function updateCommissioner(ctx: TenantContext<'updateCommissioner'>): Promise<OperationResult> {
  const before = await findCommissioner(ctx, ctx.params.commissionerId, { lock: true });
  assertIfMatch(ctx.ifMatch, before.version);
  const row = await patchVersioned(ctx.trx, Commissioner, before, commissionerFields(ctx.body));
  const after = commissionerToApi(row);
  await ctx.audit({
    action: 'commissioner.updated',
    entityType: 'commissioner',
    entityId: before.id,
    before: commissionerToApi(before),
    after,
  });
  return ok(after, row.version);
}

// ---------------------------------------------------------------------------------------------
// Placement fees

async function listPlacementCommissions(ctx: TenantContext<'listPlacementCommissions'>): Promise<OperationResult> {
  // The placements module's finder: a placement of a restricted child exists only for those named on it.
  const placement = await findPlacement(ctx, ctx.params.placementId);
  const query = PlacementCommission.query(ctx.trx).where({ tenant_id: ctx.tenantId, placement_id: placement.id });
  const order = [
    { column: 'effective_from', of: (r: PlacementCommission) => r.effectiveFrom },
    { column: 'id', of: (r: PlacementCommission) => r.id },
  ];
  const page = await keysetPage(query, ctx.query, order, commissionToApi);
  return ok({ data: page.data, nextCursor: page.nextCursor });
}

async function recordPlacementCommission(ctx: TenantContext<'recordPlacementCommission'>): Promise<OperationResult> {
  const body = ctx.body;
  const placement = await findPlacement(ctx, ctx.params.placementId);
  if (placement.status === 'cancelled')
    throw new Problem('conflict', 'The placement was cancelled: nothing is charged for it');
  const errors: FieldError[] = [];
  // Read rather than found: an unknown commissioner is one refusal among the body's others.
  const commissioner = await Commissioner.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, id: body.commissionerId })
    .first();
  if (!commissioner) errors.push({ pointer: '/body/commissionerId', message: 'is not a commissioner of this tenant' });
  else if (commissioner.status === 'archived') {
    errors.push({
      pointer: '/body/commissionerId',
      message: 'is archived; make it active again to record fees it pays',
    });
  }
  if (placement.endDate && body.effectiveFrom > placement.endDate) {
    errors.push({ pointer: '/body/effectiveFrom', message: `is after the placement ended (${placement.endDate})` });
  }
  if (errors.length) throw Problem.unprocessable(errors);
  const row = await PlacementCommission.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      id: newId(),
      placementId: placement.id,
      commissionerId: body.commissionerId,
      feeAmount: body.feeAmount,
      feePeriod: body.feePeriod,
      effectiveFrom: body.effectiveFrom,
      commissionerReference: body.commissionerReference ?? null,
      notes: body.notes ?? null,
      createdBy: actorId(ctx),
    })
    .returning('*');
  const after = commissionToApi(row);
  // The event names the placement in the path; `after` carries the new fee's id.
  await ctx.audit({ action: 'placement_commission.recorded', entityType: 'placement', entityId: placement.id, after });
  // No Location: a fee has no path of its own.
  return created(after);
}

// ---------------------------------------------------------------------------------------------
// Policy

async function getInvoicingPolicy(ctx: TenantContext<'getInvoicingPolicy'>): Promise<OperationResult> {
  const policy = await invoicingPolicy(ctx.trx, ctx.tenantId);
  return ok(policy, policy.version);
}

async function updateInvoicingPolicy(ctx: TenantContext<'updateInvoicingPolicy'>): Promise<OperationResult> {
  const body = ctx.body;
  const before = await invoicingPolicy(ctx.trx, ctx.tenantId, { lock: true });
  assertIfMatch(ctx.ifMatch, before.version);
  if (body.invoicePrefix === body.creditNotePrefix) {
    const message = 'must differ from invoicePrefix, so an invoice and a credit note never share a printed number';
    throw Problem.unprocessable([{ pointer: '/body/creditNotePrefix', message }]);
  }
  const settings = {
    frequency: body.frequency,
    chargeDepartureDay: body.chargeDepartureDay,
    rounding: body.rounding,
    paymentTermsDays: body.paymentTermsDays,
    invoicePrefix: body.invoicePrefix,
    creditNotePrefix: body.creditNotePrefix,
  };
  await saveInvoicingPolicy(ctx.trx, ctx.tenantId, { before, settings, updatedBy: actorId(ctx) });
  const after = await invoicingPolicy(ctx.trx, ctx.tenantId);
  await ctx.audit({
    action: 'invoicing_policy.updated',
    entityType: 'invoicing_policy',
    entityId: ctx.tenantId,
    before,
    after,
  });
  return ok(after, after.version);
}

export const commissionerOperations = defineOperations({
  listCommissioners: { access: { permission: 'invoices:read' }, handle: listCommissioners },
  createCommissioner: { access: { permission: 'invoices:manage' }, handle: createCommissioner },
  getCommissioner: { access: { permission: 'invoices:read' }, handle: getCommissioner },
  updateCommissioner: { access: { permission: 'invoices:manage' }, handle: updateCommissioner },
  listPlacementCommissions: { access: { permission: 'invoices:read' }, handle: listPlacementCommissions },
  recordPlacementCommission: { access: { permission: 'invoices:manage' }, handle: recordPlacementCommission },
  getInvoicingPolicy: { access: { permission: 'invoices:read' }, handle: getInvoicingPolicy },
  updateInvoicingPolicy: { access: { permission: 'invoices:manage' }, handle: updateInvoicingPolicy },
});
