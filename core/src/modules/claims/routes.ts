import { keysetPage } from '../../db/keyset';
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
import { findHousehold } from '../carers/shared';
import { withholdRestricted } from '../children/visibility';
import { visibleDocumentIds } from '../documents/evidence';
import { notifyClaimDecided } from '../notifications/domainEvents';
import {
  assertApprovedForLines,
  assertStatus,
  createDraftClaim,
  submitDraftClaim,
  tenantPack,
  transitionClaim,
  updateDraftClaim,
  withdrawUndecidedClaim,
  type ClaimWhole,
} from './domain';
import { Claim } from './models';
import { claimSummaryToApi, findClaim, presentClaim, repriceClaim } from './service';

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
 * The claim as the caller is shown it: a line about a restricted child has the child withheld from
 * those not named on it, and only the evidence documents the documents' access rule lets them see.
 */
async function shownOf(ctx: TenantScope, whole: ClaimWhole) {
  const visible = await visibleDocumentIds(
    ctx,
    whole.evidence.map((e) => e.id),
  );
  return {
    ...whole,
    lines: await withholdRestricted(ctx, whole.lines),
    evidence: whole.evidence.filter((e) => visible.has(e.id)),
  };
}

async function createClaim(ctx: TenantContext<'createClaim'>): Promise<OperationResult> {
  const input = ctx.body;
  // The claimant: a carer household of this tenant (the carers module's finder, tenant-filtered; 404 otherwise).
  const household = await findHousehold(ctx, ctx.params.householdId);
  const { row, whole } = await createDraftClaim(ctx, {
    household,
    householdPointer: '/path/householdId',
    // The event names the resource in the path; `after` carries the new claim's id.
    auditOn: 'household',
    description: input.description ?? null,
    lines: input.lines,
    evidence: input.evidence ?? [],
  });
  return created(await shownOf(ctx, whole), { location: `/v1/claims/${row.id}`, version: row.version });
}

async function getClaim(ctx: TenantContext<'getClaim'>): Promise<OperationResult> {
  const claim = await findClaim(ctx, ctx.params.claimId);
  return ok(await shownOf(ctx, await presentClaim(ctx, claim)), claim.version);
}

async function updateClaim(ctx: TenantContext<'updateClaim'>): Promise<OperationResult> {
  const before = await findClaim(ctx, ctx.params.claimId, { lock: true });
  assertIfMatch(ctx.ifMatch, before.version);
  const { row, whole } = await updateDraftClaim(ctx, before, ctx.body, async (beforeWhole) => {
    // Replacing the lines would drop a line the caller cannot see whole: only those named on its child may.
    if ((await withholdRestricted(ctx, beforeWhole.lines)).some((l, i) => l !== beforeWhole.lines[i]))
      throw new Problem(
        'forbidden',
        'A line of this claim is about a restricted record: only the people named on it may change the lines',
      );
  });
  return ok(await shownOf(ctx, whole), row.version);
}

/** A step's answer: the claim as the caller is shown it, at its new version. */
async function answer(ctx: TenantScope, step: { row: Claim; whole: ClaimWhole }): Promise<OperationResult> {
  return ok(await shownOf(ctx, step.whole), step.row.version);
}

async function submitClaim(ctx: TenantContext<'submitClaim'>): Promise<OperationResult> {
  const before = await findClaim(ctx, ctx.params.claimId, { lock: true });
  return answer(ctx, await submitDraftClaim(ctx, before, ctx.body?.reasons ?? null));
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
  const result = await answer(
    ctx,
    await transitionClaim(ctx, before, { to: 'approved', changes, reasons, action: 'claim.approved' }),
  );
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
  const result = await answer(
    ctx,
    await transitionClaim(ctx, before, { to: 'rejected', changes, reasons, action: 'claim.rejected' }),
  );
  await notifyClaimDecided(ctx, before, 'rejected');
  return result;
}

async function withdrawClaim(ctx: TenantContext<'withdrawClaim'>): Promise<OperationResult> {
  const before = await findClaim(ctx, ctx.params.claimId, { lock: true });
  return answer(ctx, await withdrawUndecidedClaim(ctx, before, ctx.body?.reasons ?? null));
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
