import type { PartialModelObject } from 'objection';
import { patchVersioned } from '../../db/versioned';
import { actorId, type TenantScope } from '../../http/operation';
import { Problem } from '../../http/problem';
import { newId } from '../../ids';
import type { ResolvedPack } from '../../packs/registry';
import type { CarerHousehold } from '../carers/models';
import { findHousehold } from '../carers/shared';
import { hiddenReferenceErrors } from '../children/visibility';
import { tenantConfiguration } from '../configuration/tenantConfiguration';
import { Claim, ClaimLine, type ClaimStatus } from './models';
import {
  approvalFaults,
  lineErrors,
  presentClaim,
  recordHistory,
  repriceClaim,
  storeEvidence,
  storeLines,
  type EvidenceInput,
  type LineInput,
} from './service';

/**
 * A claim's life as domain functions, whoever asks: staff for any household (claims/routes.ts), a
 * carer for their own (portal/claims.ts). Each write appends its one audit event and returns the claim
 * whole (as the audit trail keeps it); the caller decides what its caller is shown.
 */
export type ClaimWhole = Awaited<ReturnType<typeof presentClaim>>;

export async function tenantPack(
  ctx: TenantScope,
): Promise<{ pack: ResolvedPack; today: string; currency: 'GBP' | 'USD' }> {
  const config = await tenantConfiguration(ctx.trx, ctx.tenantId, ctx.services.packs);
  if (!config.pack)
    throw new Problem('unprocessable', `The tenant's pack "${config.packId}" is not loaded on this platform`);
  return { pack: config.pack, today: config.today, currency: config.currency };
}

export function assertStatus(row: Claim, allowed: ClaimStatus[], doing: string): void {
  if (!allowed.includes(row.status))
    throw new Problem('conflict', `A ${row.status} claim cannot be ${doing}; only a ${allowed.join(' or ')} one can`);
}

/**
 * The checks lineErrors makes, that no line names a child or placement hidden from the caller, and
 * that the household was approved as carers on every line's date (a fault of the household itself
 * is named at `householdPointer`: the path parameter for staff, the lines for a carer, who names none).
 */
async function allLineErrors(
  ctx: TenantScope,
  claim: {
    household: CarerHousehold;
    householdPointer: string;
    pack: ResolvedPack;
    today: string;
    lines: LineInput[];
    evidence: EvidenceInput[];
  },
) {
  const { household, lines } = claim;
  const faults = approvalFaults(
    household,
    lines.map((l) => l.date),
  );
  return [
    ...faults.map((f) => ({
      pointer: f.line === null ? claim.householdPointer : `/body/lines/${f.line}/date`,
      message: f.message,
    })),
    ...(await lineErrors(ctx, claim)),
    ...(await hiddenReferenceErrors(ctx, lines, (i, field) => `/body/lines/${i}/${field}`)),
  ];
}

/**
 * A claim goes forward (submitted, approved) only while every line falls in the household's approval
 * as it now stands: an approval ended since the claim was made, back to a date before a line, stops it.
 */
export async function assertApprovedForLines(ctx: TenantScope, claim: Claim, doing: string): Promise<void> {
  const household = await findHousehold(ctx, claim.householdId);
  const lines = await ClaimLine.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, claim_id: claim.id })
    .orderBy('position')
    .select('line_date');
  const faults = approvalFaults(
    household,
    lines.map((l) => l.lineDate),
  ).map((f) => `${f.line === null ? 'its household' : `line ${f.line + 1}`} ${f.message}`);
  if (faults.length) {
    const errors = faults.map((message) => ({ pointer: '/path/claimId', message }));
    throw new Problem('unprocessable', `The claim cannot be ${doing}: ${faults.join('; ')}`, {
      code: 'household_not_approved',
      errors,
    });
  }
}

/** A new draft claim of the household, its lines priced; audited on the household (the claimant). */
export async function createDraftClaim(
  ctx: TenantScope,
  input: {
    household: CarerHousehold;
    householdPointer: string;
    /** What the event names: the household claiming (staff name it in the path) or the new claim. */
    auditOn: 'household' | 'claim';
    description: string | null;
    lines: LineInput[];
    evidence: EvidenceInput[];
  },
): Promise<{ row: Claim; whole: ClaimWhole }> {
  const { household, lines, evidence } = input;
  const { pack, today, currency } = await tenantPack(ctx);
  const errors = await allLineErrors(ctx, {
    household,
    householdPointer: input.householdPointer,
    pack,
    today,
    lines,
    evidence,
  });
  if (errors.length) throw Problem.unprocessable(errors);
  const inserted = await Claim.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      id: newId(),
      householdId: household.id,
      description: input.description,
      status: 'draft',
      currency,
      createdBy: actorId(ctx),
    })
    .returning('*');
  await storeLines(ctx, { claimId: inserted.id, lines });
  if (evidence.length) await storeEvidence(ctx, inserted, evidence);
  await recordHistory(ctx, { claimId: inserted.id, from: null, to: 'draft', actorId: actorId(ctx) });
  const total = await repriceClaim(ctx, inserted, pack);
  // Still its first version: the claim is being made, not changed.
  const [row] = await Claim.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, id: inserted.id })
    .patch({ total })
    .returning('*');
  const whole = await presentClaim(ctx, row!);
  await ctx.audit({
    action: 'claim.created',
    ...(input.auditOn === 'household'
      ? { entityType: 'carer_household', entityId: household.id }
      : { entityType: 'claim', entityId: row!.id }),
    after: whole,
  });
  return { row: row!, whole };
}

/**
 * A draft's description, lines or evidence changed (the caller has locked it and checked If-Match).
 * `guardLines` runs before lines are replaced, with the claim as it was, to refuse a caller who may
 * not replace them.
 */
export async function updateDraftClaim(
  ctx: TenantScope,
  before: Claim,
  input: { description?: string | null; lines?: LineInput[]; evidence?: EvidenceInput[] },
  guardLines?: (beforeWhole: ClaimWhole) => Promise<void>,
): Promise<{ row: Claim; whole: ClaimWhole }> {
  assertStatus(before, ['draft'], 'changed');
  const { pack, today } = await tenantPack(ctx);
  const household = await findHousehold(ctx, before.householdId);
  const errors = await allLineErrors(ctx, {
    household,
    householdPointer: '/path/claimId',
    pack,
    today,
    lines: input.lines ?? [],
    evidence: input.evidence ?? [],
  });
  if (errors.length) throw Problem.unprocessable(errors);
  const beforeWhole = await presentClaim(ctx, before);
  if (input.lines && guardLines) await guardLines(beforeWhole);
  await storeLines(ctx, { claimId: before.id, lines: input.lines });
  if (input.evidence) await storeEvidence(ctx, before, input.evidence);
  const total = await repriceClaim(ctx, before, pack);
  const changes: PartialModelObject<Claim> = { total };
  if (input.description !== undefined) changes.description = input.description;
  const row = await patchVersioned(ctx.trx, Claim, before, changes);
  const whole = await presentClaim(ctx, row);
  await ctx.audit({
    action: 'claim.updated',
    entityType: 'claim',
    entityId: before.id,
    before: beforeWhole,
    after: whole,
  });
  return { row, whole };
}

/** Moves a claim from one status to the next, recording who, when and why, in its history and the audit trail. */
export async function transitionClaim(
  ctx: TenantScope,
  before: Claim,
  step: { to: ClaimStatus; changes: PartialModelObject<Claim>; reasons: string | null; action: string },
): Promise<{ row: Claim; whole: ClaimWhole }> {
  const beforeWhole = await presentClaim(ctx, before);
  const row = await patchVersioned(ctx.trx, Claim, before, { ...step.changes, status: step.to });
  await recordHistory(ctx, {
    claimId: before.id,
    from: before.status,
    to: step.to,
    actorId: actorId(ctx),
    reasons: step.reasons,
  });
  const whole = await presentClaim(ctx, row);
  await ctx.audit({ action: step.action, entityType: 'claim', entityId: before.id, before: beforeWhole, after: whole });
  return { row, whole };
}

/** A draft submitted for a decision (the caller has locked it), priced again as it goes. */
export async function submitDraftClaim(
  ctx: TenantScope,
  before: Claim,
  reasons: string | null,
): Promise<{ row: Claim; whole: ClaimWhole }> {
  assertStatus(before, ['draft'], 'submitted');
  await assertApprovedForLines(ctx, before, 'submitted');
  const { pack } = await tenantPack(ctx);
  const total = await repriceClaim(ctx, before, pack);
  const changes = { total, submittedBy: actorId(ctx), submittedAt: ctx.trx.fn.now() };
  return transitionClaim(ctx, before, { to: 'submitted', changes, reasons, action: 'claim.submitted' });
}

/** A claim not yet decided withdrawn (the caller has locked it). */
export async function withdrawUndecidedClaim(
  ctx: TenantScope,
  before: Claim,
  reasons: string | null,
): Promise<{ row: Claim; whole: ClaimWhole }> {
  assertStatus(before, ['draft', 'submitted'], 'withdrawn');
  return transitionClaim(ctx, before, {
    to: 'withdrawn',
    changes: { withdrawnAt: ctx.trx.fn.now() },
    reasons,
    action: 'claim.withdrawn',
  });
}
