import type { PartialModelObject } from 'objection';
import { keysetPage } from '../../db/keyset';
import { patchVersioned } from '../../db/versioned';
import {
  actorId,
  defineOperations,
  type OperationResult,
  type TenantContext,
  type TenantScope,
} from '../../http/operation';
import { assertIfMatch } from '../../http/etag';
import { created, ok } from '../../http/results';
import { Problem } from '../../http/problem';
import { newId } from '../../ids';
import type { ResolvedPack } from '../../packs/registry';
import type { CarerHousehold } from '../carers/models';
import { findHousehold } from '../carers/shared';
import { tenantConfiguration } from '../configuration/tenantConfiguration';
import { hiddenReferenceErrors, withholdRestricted } from '../children/visibility';
import { visibleDocumentIds } from '../documents/evidence';
import { notifyClaimDecided } from '../notifications/domainEvents';
import { Claim, ClaimLine, type ClaimStatus } from './models';
import {
  approvalFaults,
  claimSummaryToApi,
  findClaim,
  lineErrors,
  presentClaim,
  recordHistory,
  repriceClaim,
  storeEvidence,
  storeLines,
  type EvidenceInput,
  type LineInput,
} from './service';

async function tenantPack(ctx: TenantScope): Promise<{ pack: ResolvedPack; today: string; currency: 'GBP' | 'USD' }> {
  const config = await tenantConfiguration(ctx.trx, ctx.tenantId, ctx.services.packs);
  if (!config.pack)
    throw new Problem('unprocessable', `The tenant's pack "${config.packId}" is not loaded on this platform`);
  return { pack: config.pack, today: config.today, currency: config.currency };
}

function assertStatus(row: Claim, allowed: ClaimStatus[], doing: string): void {
  if (!allowed.includes(row.status))
    throw new Problem('conflict', `A ${row.status} claim cannot be ${doing}; only a ${allowed.join(' or ')} one can`);
}

/** Separation of duties: whoever submitted a claim may not decide it. */
function assertNotSubmitter(ctx: TenantScope, row: Claim, doing: string): void {
  if (ctx.principal.kind !== 'user') throw new Problem('forbidden', `Only a named person can ${doing} a claim`);
  if (row.submittedBy === ctx.principal.id) {
    const detail = `You submitted this claim, so you cannot ${doing} it: another person with claims:approve must (separation of duties)`;
    throw new Problem('forbidden', detail, { code: 'separation_of_duties' });
  }
}

async function listClaims(ctx: TenantContext<'listClaims'>): Promise<OperationResult> {
  const q = ctx.query;
  const query = Claim.query(ctx.trx).where({ tenant_id: ctx.tenantId });
  if (q.householdId) query.where('household_id', q.householdId);
  if (q.status) query.where('status', q.status);
  if (q.from) query.whereRaw("(created_at AT TIME ZONE 'UTC')::date >= ?::date", [q.from]);
  if (q.to) query.whereRaw("(created_at AT TIME ZONE 'UTC')::date <= ?::date", [q.to]);
  const page = await keysetPage(query, q, [{ column: 'id', of: (r) => r.id }], claimSummaryToApi);
  return ok({ data: page.data, nextCursor: page.nextCursor });
}

/**
 * The claim whole, for the audit trail, and as the caller is shown it: a line about a restricted
 * child has the child withheld from those not named on it.
 */
async function present(ctx: TenantScope, claim: Claim) {
  const whole = await presentClaim(ctx, claim);
  // Evidence is documents: the caller is shown those the documents' access rule lets them see.
  const visible = await visibleDocumentIds(
    ctx,
    whole.evidence.map((e) => e.id),
  );
  return {
    whole,
    shown: {
      ...whole,
      lines: await withholdRestricted(ctx, whole.lines),
      evidence: whole.evidence.filter((e) => visible.has(e.id)),
    },
  };
}

/**
 * The checks lineErrors makes, that no line names a child or placement hidden from the caller, and
 * that the household was approved as carers on every line's date.
 */
async function allLineErrors(
  ctx: TenantScope,
  claim: {
    household: CarerHousehold;
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
      pointer: f.line === null ? '/path/householdId' : `/body/lines/${f.line}/date`,
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
async function assertApprovedForLines(ctx: TenantScope, claim: Claim, doing: string): Promise<void> {
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

async function createClaim(ctx: TenantContext<'createClaim'>): Promise<OperationResult> {
  const input = ctx.body;
  const evidence = input.evidence ?? [];
  // The claimant: a carer household of this tenant (the carers module's finder, tenant-filtered; 404 otherwise).
  const household = await findHousehold(ctx, ctx.params.householdId);
  const { pack, today, currency } = await tenantPack(ctx);
  const errors = await allLineErrors(ctx, { household, pack, today, lines: input.lines, evidence });
  if (errors.length) throw Problem.unprocessable(errors);
  const inserted = await Claim.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      id: newId(),
      householdId: household.id,
      description: input.description ?? null,
      status: 'draft',
      currency,
      createdBy: actorId(ctx),
    })
    .returning('*');
  await storeLines(ctx, { claimId: inserted.id, lines: input.lines });
  await storeEvidence(ctx, inserted, evidence);
  await recordHistory(ctx, { claimId: inserted.id, from: null, to: 'draft', actorId: actorId(ctx) });
  const total = await repriceClaim(ctx, inserted, pack);
  // Still its first version: the claim is being made, not changed.
  const [row] = await Claim.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, id: inserted.id })
    .patch({ total })
    .returning('*');
  const { whole, shown } = await present(ctx, row!);
  // The event names the resource in the path (the household claiming); `after` carries the new claim's id.
  await ctx.audit({ action: 'claim.created', entityType: 'carer_household', entityId: household.id, after: whole });
  return created(shown, { location: `/v1/claims/${row!.id}`, version: row!.version });
}

async function getClaim(ctx: TenantContext<'getClaim'>): Promise<OperationResult> {
  const claim = await findClaim(ctx, ctx.params.claimId);
  return ok((await present(ctx, claim)).shown, claim.version);
}

async function updateClaim(ctx: TenantContext<'updateClaim'>): Promise<OperationResult> {
  const input = ctx.body;
  const before = await findClaim(ctx, ctx.params.claimId, { lock: true });
  assertIfMatch(ctx.ifMatch, before.version);
  assertStatus(before, ['draft'], 'changed');
  const { pack, today } = await tenantPack(ctx);
  const household = await findHousehold(ctx, before.householdId);
  const errors = await allLineErrors(ctx, {
    household,
    pack,
    today,
    lines: input.lines ?? [],
    evidence: input.evidence ?? [],
  });
  if (errors.length) throw Problem.unprocessable(errors);
  const beforeApi = await presentClaim(ctx, before);
  // Replacing the lines would drop a line the caller cannot see whole: only those named on its child may.
  if (input.lines && (await withholdRestricted(ctx, beforeApi.lines)).some((l, i) => l !== beforeApi.lines[i])) {
    throw new Problem(
      'forbidden',
      'A line of this claim is about a restricted record: only the people named on it may change the lines',
    );
  }
  await storeLines(ctx, { claimId: before.id, lines: input.lines });
  if (input.evidence) await storeEvidence(ctx, before, input.evidence);
  const total = await repriceClaim(ctx, before, pack);
  const changes: PartialModelObject<Claim> = { total };
  if (input.description !== undefined) changes.description = input.description;
  const row = await patchVersioned(ctx.trx, Claim, before, changes);
  const { whole, shown } = await present(ctx, row);
  await ctx.audit({
    action: 'claim.updated',
    entityType: 'claim',
    entityId: before.id,
    before: beforeApi,
    after: whole,
  });
  return ok(shown, row.version);
}

/** Moves a claim from one status to the next, recording who, when and why, in its history and the audit trail. */
async function transition(
  ctx: TenantScope,
  before: Claim,
  step: { to: ClaimStatus; changes: PartialModelObject<Claim>; reasons: string | null; action: string },
): Promise<OperationResult> {
  const beforeApi = await presentClaim(ctx, before);
  const row = await patchVersioned(ctx.trx, Claim, before, { ...step.changes, status: step.to });
  await recordHistory(ctx, {
    claimId: before.id,
    from: before.status,
    to: step.to,
    actorId: actorId(ctx),
    reasons: step.reasons,
  });
  const { whole, shown } = await present(ctx, row);
  await ctx.audit({ action: step.action, entityType: 'claim', entityId: before.id, before: beforeApi, after: whole });
  return ok(shown, row.version);
}

async function submitClaim(ctx: TenantContext<'submitClaim'>): Promise<OperationResult> {
  const reasons = ctx.body?.reasons ?? null;
  const before = await findClaim(ctx, ctx.params.claimId, { lock: true });
  assertStatus(before, ['draft'], 'submitted');
  await assertApprovedForLines(ctx, before, 'submitted');
  const { pack } = await tenantPack(ctx);
  const total = await repriceClaim(ctx, before, pack);
  const changes = { total, submittedBy: actorId(ctx), submittedAt: ctx.trx.fn.now() };
  return transition(ctx, before, { to: 'submitted', changes, reasons, action: 'claim.submitted' });
}

async function approveClaim(ctx: TenantContext<'approveClaim'>): Promise<OperationResult> {
  const reasons = ctx.body?.reasons ?? null;
  const target = await findClaim(ctx, ctx.params.claimId);
  // Lock every claim of the household, so two approvals for it run one after the other and each is
  // banded by the miles of those approved before it (a later approval cannot take an earlier one's).
  await Claim.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, household_id: target.householdId })
    .forUpdate()
    .select('id');
  const before = await findClaim(ctx, ctx.params.claimId, { lock: true });
  assertStatus(before, ['submitted'], 'approved');
  assertNotSubmitter(ctx, before, 'approve');
  await assertApprovedForLines(ctx, before, 'approved');
  const { pack, today } = await tenantPack(ctx);
  const total = await repriceClaim(ctx, before, pack);
  const changes = {
    total,
    decidedBy: actorId(ctx),
    decidedAt: ctx.trx.fn.now(),
    decidedOn: today,
    decisionReasons: reasons,
  };
  const result = await transition(ctx, before, { to: 'approved', changes, reasons, action: 'claim.approved' });
  await notifyClaimDecided(ctx, before, 'approved');
  return result;
}

async function rejectClaim(ctx: TenantContext<'rejectClaim'>): Promise<OperationResult> {
  const { reasons } = ctx.body;
  const before = await findClaim(ctx, ctx.params.claimId, { lock: true });
  assertStatus(before, ['submitted'], 'rejected');
  assertNotSubmitter(ctx, before, 'reject');
  const { today } = await tenantPack(ctx);
  const changes = { decidedBy: actorId(ctx), decidedAt: ctx.trx.fn.now(), decidedOn: today, decisionReasons: reasons };
  const result = await transition(ctx, before, { to: 'rejected', changes, reasons, action: 'claim.rejected' });
  await notifyClaimDecided(ctx, before, 'rejected');
  return result;
}

async function withdrawClaim(ctx: TenantContext<'withdrawClaim'>): Promise<OperationResult> {
  const reasons = ctx.body?.reasons ?? null;
  const before = await findClaim(ctx, ctx.params.claimId, { lock: true });
  assertStatus(before, ['draft', 'submitted'], 'withdrawn');
  return transition(ctx, before, {
    to: 'withdrawn',
    changes: { withdrawnAt: ctx.trx.fn.now() },
    reasons,
    action: 'claim.withdrawn',
  });
}

/** A household's claims of one status, counted and summed in SQL (the report's aggregate, not a table's row). */
interface OutstandingByStatus {
  household_id: string;
  name: string;
  status: 'submitted' | 'approved';
  n: string | number;
  amount: string | number;
}

interface OutstandingForHousehold {
  householdId: string;
  householdName: string;
  submittedCount: number;
  submittedTotal: number;
  approvedUnpaidCount: number;
  approvedUnpaidTotal: number;
  total: number;
}

async function getClaimsOutstanding(ctx: TenantContext<'getClaimsOutstanding'>): Promise<OperationResult> {
  const { currency } = await tenantPack(ctx);
  const rows = (await ctx
    .trx('claims as c')
    .join('carer_households as h', function on() {
      this.on('h.tenant_id', 'c.tenant_id').andOn('h.id', 'c.household_id');
    })
    .where({ 'c.tenant_id': ctx.tenantId, 'h.tenant_id': ctx.tenantId })
    .where((w) =>
      w.where('c.status', 'submitted').orWhere((a) => a.where('c.status', 'approved').whereNull('c.paid_in_run_id')),
    )
    .groupBy('c.household_id', 'h.name', 'c.status')
    .select('c.household_id', 'h.name', 'c.status')
    .count({ n: '*' })
    .sum({ amount: 'c.total' })) as OutstandingByStatus[];
  const byHousehold = new Map<string, OutstandingForHousehold>();
  for (const r of rows) {
    const entry = byHousehold.get(r.household_id) ?? {
      householdId: r.household_id,
      householdName: r.name,
      submittedCount: 0,
      submittedTotal: 0,
      approvedUnpaidCount: 0,
      approvedUnpaidTotal: 0,
      total: 0,
    };
    if (r.status === 'submitted') {
      entry.submittedCount += Number(r.n);
      entry.submittedTotal += Number(r.amount);
    } else {
      entry.approvedUnpaidCount += Number(r.n);
      entry.approvedUnpaidTotal += Number(r.amount);
    }
    entry.total = entry.submittedTotal + entry.approvedUnpaidTotal;
    byHousehold.set(r.household_id, entry);
  }
  const households = [...byHousehold.values()].sort(
    (a, b) => a.householdName.localeCompare(b.householdName) || a.householdId.localeCompare(b.householdId),
  );
  const submittedTotal = households.reduce((s, h) => s + h.submittedTotal, 0);
  const approvedUnpaidTotal = households.reduce((s, h) => s + h.approvedUnpaidTotal, 0);
  return ok({ currency, households, submittedTotal, approvedUnpaidTotal, total: submittedTotal + approvedUnpaidTotal });
}

/** The claims module's operations, by operationId (see openapi/modules/claims.yaml). */
export const claimOperations = defineOperations({
  listClaims: { access: { permission: 'claims:read' }, handle: listClaims },
  createClaim: { access: { permission: 'claims:submit' }, handle: createClaim },
  getClaimsOutstanding: { access: { permission: 'claims:read' }, handle: getClaimsOutstanding },
  getClaim: { access: { permission: 'claims:read' }, handle: getClaim },
  updateClaim: { access: { permission: 'claims:submit' }, handle: updateClaim },
  submitClaim: { access: { permission: 'claims:submit' }, handle: submitClaim },
  approveClaim: { access: { permission: 'claims:approve' }, handle: approveClaim },
  rejectClaim: { access: { permission: 'claims:approve' }, handle: rejectClaim },
  withdrawClaim: { access: { permission: 'claims:submit' }, handle: withdrawClaim },
});
