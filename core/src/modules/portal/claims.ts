import type { OperationResult, TenantContext, TenantScope } from '../../http/operation';
import { actorId } from '../../http/operation';
import { assertIfMatch } from '../../http/etag';
import { Problem } from '../../http/problem';
import { created, ok } from '../../http/results';
import { newId } from '../../ids';
import { findHousehold } from '../carers/shared';
import {
  assertStatus,
  createDraftClaim,
  submitDraftClaim,
  tenantPack,
  withdrawUndecidedClaim,
  updateDraftClaim,
} from '../claims/domain';
import type { Claim } from '../claims/models';
import { findClaim, presentClaim } from '../claims/service';
import { evidenceCategory } from '../documents/evidence';
import { Document } from '../documents/models';
import { documentToApi, insertVersion } from '../documents/service';
import { carerOf, portalSettings, requireFeature } from './settings';

/**
 * Claims from the portal: the claims domain's own functions (the same checks, pricing, history and
 * audit events as staff's), for the carer's household only. The household is the carer's, never a
 * parameter; a claim of any other household is not found, exactly like another tenant's. What a
 * carer is shown of a claim is what the portal's database role lets them read: its lines, its history
 * with each decision's reasons, and the evidence shared with the household.
 */
async function ownClaim(ctx: TenantScope, claimId: string, lock = false): Promise<Claim> {
  const carer = carerOf(ctx);
  requireFeature(await portalSettings(ctx), 'claims');
  const claim = await findClaim(ctx, claimId, { lock });
  if (claim.householdId !== carer.householdId) throw Problem.notFound('The claim');
  return claim;
}

async function createPortalClaim(ctx: TenantContext<'createPortalClaim'>): Promise<OperationResult> {
  const carer = carerOf(ctx);
  requireFeature(await portalSettings(ctx), 'claims');
  const household = await findHousehold(ctx, carer.householdId);
  const { row, whole } = await createDraftClaim(ctx, {
    household,
    // The carer names no household: a fault of the household's own is about the claim's lines.
    householdPointer: '/body/lines',
    auditOn: 'claim',
    description: ctx.body.description ?? null,
    lines: ctx.body.lines,
    evidence: [],
  });
  return created(whole, { location: `/v1/portal/claims/${row.id}`, version: row.version });
}

async function getPortalClaim(ctx: TenantContext<'getPortalClaim'>): Promise<OperationResult> {
  const claim = await ownClaim(ctx, ctx.params.claimId);
  return ok(await presentClaim(ctx, claim), claim.version);
}

async function updatePortalClaim(ctx: TenantContext<'updatePortalClaim'>): Promise<OperationResult> {
  const before = await ownClaim(ctx, ctx.params.claimId, true);
  assertIfMatch(ctx.ifMatch, before.version);
  const { row, whole } = await updateDraftClaim(ctx, before, ctx.body);
  return ok(whole, row.version);
}

/**
 * A file kept as evidence of the household's claim: a document of the claim, shared with the
 * household (the only documents the portal's role may write or read), received today. Audited once,
 * on the claim, with the document it now has.
 */
async function uploadPortalClaimEvidence(ctx: TenantContext<'uploadPortalClaimEvidence'>): Promise<OperationResult> {
  const claim = await ownClaim(ctx, ctx.params.claimId, true);
  assertStatus(claim, ['draft', 'submitted'], 'given evidence');
  const { today } = await tenantPack(ctx);
  const before = await presentClaim(ctx, claim);
  const document = await Document.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      id: newId(),
      subjectType: 'claim',
      subjectId: claim.id,
      childId: null,
      householdId: claim.householdId,
      category: await evidenceCategory(ctx, 'receipt', 'other'),
      title: ctx.body.title,
      sensitivity: 'shared_with_household',
      expiresOn: null,
      currentVersion: 1,
      evidenceKey: ctx.body.key,
      receivedOn: today,
      notes: null,
      createdBy: actorId(ctx),
    })
    .returning('*');
  const version = await insertVersion(ctx, document, 1, ctx.upload);
  const after = await presentClaim(ctx, claim);
  await ctx.audit({
    action: 'claim.evidence_uploaded',
    entityType: 'claim',
    entityId: claim.id,
    before,
    after: { ...after, document: documentToApi(document, version) },
  });
  return created(after, { version: claim.version });
}

async function submitPortalClaim(ctx: TenantContext<'submitPortalClaim'>): Promise<OperationResult> {
  const before = await ownClaim(ctx, ctx.params.claimId, true);
  const { row, whole } = await submitDraftClaim(ctx, before, ctx.body?.reasons ?? null);
  return ok(whole, row.version);
}

async function withdrawPortalClaim(ctx: TenantContext<'withdrawPortalClaim'>): Promise<OperationResult> {
  const before = await ownClaim(ctx, ctx.params.claimId, true);
  const { row, whole } = await withdrawUndecidedClaim(ctx, before, ctx.body?.reasons ?? null);
  return ok(whole, row.version);
}

export const portalClaimOperations = {
  createPortalClaim: { access: { carer: true }, handle: createPortalClaim },
  getPortalClaim: { access: { carer: true }, handle: getPortalClaim },
  updatePortalClaim: { access: { carer: true }, handle: updatePortalClaim },
  uploadPortalClaimEvidence: { access: { carer: true }, handle: uploadPortalClaimEvidence },
  submitPortalClaim: { access: { carer: true }, handle: submitPortalClaim },
  withdrawPortalClaim: { access: { carer: true }, handle: withdrawPortalClaim },
} as const;
