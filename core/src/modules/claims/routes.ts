import { actorId, type OperationContext, type OperationMap, type OperationResult } from '../../http/operation';
import { assertIfMatch, etagOf } from '../../http/etag';
import { decodeCursor, toPage } from '../../http/pagination';
import { Problem } from '../../http/problem';
import { newId } from '../../ids';
import type { ResolvedPack } from '../../packs/registry';
import { findHousehold, type HouseholdRow } from '../carers/shared';
import { tenantConfiguration } from '../configuration/tenantConfiguration';
import { hiddenReferenceErrors, withholdRestricted } from '../children/visibility';
import { approvalFaults, claimSummaryToApi, lineErrors, presentClaim, recordHistory, repriceClaim, storeLines, type ClaimRow, type ClaimStatus, type EvidenceInput, type LineInput } from './service';

async function tenantPack(ctx: OperationContext): Promise<{ pack: ResolvedPack; today: string; currency: 'GBP' | 'USD' }> {
  const config = await tenantConfiguration(ctx.trx, ctx.tenantId!, ctx.services.packs);
  if (!config.pack) throw new Problem('unprocessable', `The tenant's pack "${config.packId}" is not loaded on this platform`);
  return { pack: config.pack, today: config.today, currency: config.currency };
}

async function findClaim(ctx: OperationContext, lock = false): Promise<ClaimRow> {
  const query = ctx.trx('claims').where({ tenant_id: ctx.tenantId, id: ctx.params.claimId }).first();
  if (lock) query.forUpdate();
  const row = (await query) as ClaimRow | undefined;
  if (!row) throw Problem.notFound('The claim');
  return row;
}

function assertStatus(row: ClaimRow, allowed: ClaimStatus[], doing: string): void {
  if (!allowed.includes(row.status)) throw new Problem('conflict', `A ${row.status} claim cannot be ${doing}; only a ${allowed.join(' or ')} one can`);
}

/** Separation of duties: whoever submitted a claim may not decide it. */
function assertNotSubmitter(ctx: OperationContext, row: ClaimRow, doing: string): void {
  if (ctx.principal?.kind !== 'user') throw new Problem('forbidden', `Only a named person can ${doing} a claim`);
  if (row.submitted_by === ctx.principal.id) throw new Problem('forbidden', `You submitted this claim, so you cannot ${doing} it: another person with claims:approve must (separation of duties)`, { code: 'separation_of_duties' });
}

async function listClaims(ctx: OperationContext): Promise<OperationResult> {
  const q = ctx.query as { limit: number; cursor?: string; householdId?: string; status?: ClaimStatus; from?: string; to?: string };
  const after = decodeCursor(q.cursor, 1);
  const query = ctx.trx('claims').where({ tenant_id: ctx.tenantId }).orderBy('id').limit(q.limit + 1);
  if (after) query.where('id', '>', after[0] as string);
  if (q.householdId) query.where('household_id', q.householdId);
  if (q.status) query.where('status', q.status);
  if (q.from) query.whereRaw("(created_at AT TIME ZONE 'UTC')::date >= ?::date", [q.from]);
  if (q.to) query.whereRaw("(created_at AT TIME ZONE 'UTC')::date <= ?::date", [q.to]);
  const rows = (await query) as ClaimRow[];
  return { status: 200, body: toPage(rows, q.limit, (r) => [r.id], claimSummaryToApi) };
}

/** The claim for the audit trail (whole), and the answer (a line about a restricted child with the child withheld from those not named on it). */
async function respond(ctx: OperationContext, row: ClaimRow, status = 200): Promise<{ body: Awaited<ReturnType<typeof presentClaim>>; result: OperationResult }> {
  const body = await presentClaim(ctx.trx, ctx.tenantId!, row);
  const shown = { ...body, lines: await withholdRestricted(ctx, body.lines) };
  return { body, result: { status, body: shown, headers: { ETag: etagOf(row.version) } } };
}

/**
 * The checks lineErrors makes, that no line names a child or placement hidden from the caller, and
 * that the household was approved as carers on every line's date.
 */
async function allLineErrors(ctx: OperationContext, household: HouseholdRow, pack: Parameters<typeof lineErrors>[2], today: string, lines: LineInput[], evidence: EvidenceInput[]) {
  return [
    ...approvalFaults(household, lines.map((l) => l.date)).map((f) => ({ pointer: f.line === null ? '/path/householdId' : `/body/lines/${f.line}/date`, message: f.message })),
    ...(await lineErrors(ctx.trx, ctx.tenantId!, pack, today, lines, evidence)),
    ...(await hiddenReferenceErrors(ctx, lines, (i, field) => `/body/lines/${i}/${field}`)),
  ];
}

/**
 * A claim goes forward (submitted, approved) only while every line falls in the household's approval
 * as it now stands: an approval ended since the claim was made, back to a date before a line, stops it.
 */
async function assertApprovedForLines(ctx: OperationContext, claim: ClaimRow, doing: string): Promise<void> {
  const household = await findHousehold(ctx, { id: claim.household_id });
  const lines = (await ctx.trx('claim_lines').where({ tenant_id: ctx.tenantId, claim_id: claim.id }).orderBy('position').select('line_date')) as Array<{ line_date: string }>;
  const faults = approvalFaults(household, lines.map((l) => l.line_date)).map((f) => `${f.line === null ? 'its household' : `line ${f.line + 1}`} ${f.message}`);
  if (faults.length) throw new Problem('unprocessable', `The claim cannot be ${doing}: ${faults.join('; ')}`, { code: 'household_not_approved', errors: faults.map((message) => ({ pointer: '/path/claimId', message })) });
}

async function createClaim(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as { description?: string | null; lines: LineInput[]; evidence?: EvidenceInput[] };
  // The claimant: a carer household of this tenant (the carers module's finder, tenant-filtered; 404 otherwise).
  const household = await findHousehold(ctx);
  const { pack, today, currency } = await tenantPack(ctx);
  const errors = await allLineErrors(ctx, household, pack, today, body.lines, body.evidence ?? []);
  if (errors.length) throw Problem.unprocessable(errors);
  const id = newId();
  await ctx.trx('claims').insert({ tenant_id: ctx.tenantId, id, household_id: household.id, description: body.description ?? null, status: 'draft', currency, created_by: actorId(ctx) });
  await storeLines(ctx.trx, ctx.tenantId!, id, body.lines, body.evidence ?? []);
  await recordHistory(ctx.trx, ctx.tenantId!, id, null, 'draft', actorId(ctx));
  const inserted = (await ctx.trx('claims').where({ tenant_id: ctx.tenantId, id }).first()) as ClaimRow;
  const total = await repriceClaim(ctx.trx, ctx.tenantId!, pack, inserted);
  const [row] = (await ctx.trx('claims').where({ tenant_id: ctx.tenantId, id }).update({ total }).returning('*')) as ClaimRow[];
  const { body: after, result } = await respond(ctx, row!, 201);
  // The event names the resource in the path (the household claiming); `after` carries the new claim's id.
  await ctx.audit({ action: 'claim.created', entityType: 'carer_household', entityId: household.id, after });
  return { ...result, headers: { ...result.headers, Location: `/v1/claims/${id}` } };
}

async function getClaim(ctx: OperationContext): Promise<OperationResult> {
  return (await respond(ctx, await findClaim(ctx))).result;
}

async function updateClaim(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as { description?: string | null; lines?: LineInput[]; evidence?: EvidenceInput[] };
  const before = await findClaim(ctx, true);
  assertIfMatch(ctx.ifMatch, before.version);
  assertStatus(before, ['draft'], 'changed');
  const { pack, today } = await tenantPack(ctx);
  const errors = await allLineErrors(ctx, await findHousehold(ctx, { id: before.household_id }), pack, today, body.lines ?? [], body.evidence ?? []);
  if (errors.length) throw Problem.unprocessable(errors);
  const beforeApi = await presentClaim(ctx.trx, ctx.tenantId!, before);
  // Replacing the lines would drop a line the caller cannot see whole: only those named on its child may.
  if (body.lines && (await withholdRestricted(ctx, beforeApi.lines)).some((l, i) => l !== beforeApi.lines[i])) {
    throw new Problem('forbidden', 'A line of this claim is about a restricted record: only the people named on it may change the lines');
  }
  await storeLines(ctx.trx, ctx.tenantId!, before.id, body.lines, body.evidence);
  const total = await repriceClaim(ctx.trx, ctx.tenantId!, pack, before);
  const changes: Record<string, unknown> = { total, version: before.version + 1, updated_at: ctx.trx.fn.now() };
  if (body.description !== undefined) changes.description = body.description;
  const [row] = (await ctx.trx('claims').where({ tenant_id: ctx.tenantId, id: before.id }).update(changes).returning('*')) as ClaimRow[];
  const { body: after, result } = await respond(ctx, row!);
  await ctx.audit({ action: 'claim.updated', entityType: 'claim', entityId: before.id, before: beforeApi, after });
  return result;
}

/** Moves a claim from one status to the next, recording who, when and why, in its history and the audit trail. */
async function transition(ctx: OperationContext, before: ClaimRow, to: ClaimStatus, changes: Record<string, unknown>, reasons: string | null, action: string): Promise<OperationResult> {
  const beforeApi = await presentClaim(ctx.trx, ctx.tenantId!, before);
  const [row] = (await ctx.trx('claims').where({ tenant_id: ctx.tenantId, id: before.id }).update({ ...changes, status: to, version: before.version + 1, updated_at: ctx.trx.fn.now() }).returning('*')) as ClaimRow[];
  await recordHistory(ctx.trx, ctx.tenantId!, before.id, before.status, to, actorId(ctx), reasons);
  const { body: after, result } = await respond(ctx, row!);
  await ctx.audit({ action, entityType: 'claim', entityId: before.id, before: beforeApi, after });
  return result;
}

async function submitClaim(ctx: OperationContext): Promise<OperationResult> {
  const body = (ctx.body ?? {}) as { reasons?: string };
  const before = await findClaim(ctx, true);
  assertStatus(before, ['draft'], 'submitted');
  await assertApprovedForLines(ctx, before, 'submitted');
  const { pack } = await tenantPack(ctx);
  const total = await repriceClaim(ctx.trx, ctx.tenantId!, pack, before);
  return transition(ctx, before, 'submitted', { total, submitted_by: actorId(ctx), submitted_at: ctx.trx.fn.now() }, body.reasons ?? null, 'claim.submitted');
}

async function approveClaim(ctx: OperationContext): Promise<OperationResult> {
  const body = (ctx.body ?? {}) as { reasons?: string };
  const target = await findClaim(ctx);
  // Lock every claim of the household, so two approvals for it run one after the other and each is
  // banded by the miles of those approved before it (a later approval cannot take an earlier one's).
  await ctx.trx('claims').where({ tenant_id: ctx.tenantId, household_id: target.household_id }).forUpdate().select('id');
  const before = await findClaim(ctx, true);
  assertStatus(before, ['submitted'], 'approved');
  assertNotSubmitter(ctx, before, 'approve');
  await assertApprovedForLines(ctx, before, 'approved');
  const { pack, today } = await tenantPack(ctx);
  const total = await repriceClaim(ctx.trx, ctx.tenantId!, pack, before);
  return transition(ctx, before, 'approved', { total, decided_by: actorId(ctx), decided_at: ctx.trx.fn.now(), decided_on: today, decision_reasons: body.reasons ?? null }, body.reasons ?? null, 'claim.approved');
}

async function rejectClaim(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as { reasons: string };
  const before = await findClaim(ctx, true);
  assertStatus(before, ['submitted'], 'rejected');
  assertNotSubmitter(ctx, before, 'reject');
  const { today } = await tenantPack(ctx);
  return transition(ctx, before, 'rejected', { decided_by: actorId(ctx), decided_at: ctx.trx.fn.now(), decided_on: today, decision_reasons: body.reasons }, body.reasons, 'claim.rejected');
}

async function withdrawClaim(ctx: OperationContext): Promise<OperationResult> {
  const body = (ctx.body ?? {}) as { reasons?: string };
  const before = await findClaim(ctx, true);
  assertStatus(before, ['draft', 'submitted'], 'withdrawn');
  return transition(ctx, before, 'withdrawn', { withdrawn_at: ctx.trx.fn.now() }, body.reasons ?? null, 'claim.withdrawn');
}

async function getClaimsOutstanding(ctx: OperationContext): Promise<OperationResult> {
  const { currency } = await tenantPack(ctx);
  const rows = (await ctx.trx('claims as c')
    .join('carer_households as h', function on() { this.on('h.tenant_id', 'c.tenant_id').andOn('h.id', 'c.household_id'); })
    .where({ 'c.tenant_id': ctx.tenantId, 'h.tenant_id': ctx.tenantId })
    .where((w) => w.where('c.status', 'submitted').orWhere((a) => a.where('c.status', 'approved').whereNull('c.paid_in_run_id')))
    .groupBy('c.household_id', 'h.name', 'c.status')
    .select('c.household_id', 'h.name', 'c.status')
    .count({ n: '*' })
    .sum({ amount: 'c.total' })) as Array<{ household_id: string; name: string; status: 'submitted' | 'approved'; n: string | number; amount: string | number }>;
  const byHousehold = new Map<string, { householdId: string; householdName: string; submittedCount: number; submittedTotal: number; approvedUnpaidCount: number; approvedUnpaidTotal: number; total: number }>();
  for (const r of rows) {
    const entry = byHousehold.get(r.household_id) ?? { householdId: r.household_id, householdName: r.name, submittedCount: 0, submittedTotal: 0, approvedUnpaidCount: 0, approvedUnpaidTotal: 0, total: 0 };
    if (r.status === 'submitted') { entry.submittedCount += Number(r.n); entry.submittedTotal += Number(r.amount); }
    else { entry.approvedUnpaidCount += Number(r.n); entry.approvedUnpaidTotal += Number(r.amount); }
    entry.total = entry.submittedTotal + entry.approvedUnpaidTotal;
    byHousehold.set(r.household_id, entry);
  }
  const households = [...byHousehold.values()].sort((a, b) => a.householdName.localeCompare(b.householdName) || a.householdId.localeCompare(b.householdId));
  const submittedTotal = households.reduce((s, h) => s + h.submittedTotal, 0);
  const approvedUnpaidTotal = households.reduce((s, h) => s + h.approvedUnpaidTotal, 0);
  return { status: 200, body: { currency, households, submittedTotal, approvedUnpaidTotal, total: submittedTotal + approvedUnpaidTotal } };
}

/** The claims module's operations, by operationId (see openapi/modules/claims.yaml). */
export const claimOperations: OperationMap = {
  listClaims: { access: { permission: 'claims:read' }, handle: listClaims },
  createClaim: { access: { permission: 'claims:submit' }, handle: createClaim },
  getClaimsOutstanding: { access: { permission: 'claims:read' }, handle: getClaimsOutstanding },
  getClaim: { access: { permission: 'claims:read' }, handle: getClaim },
  updateClaim: { access: { permission: 'claims:submit' }, handle: updateClaim },
  submitClaim: { access: { permission: 'claims:submit' }, handle: submitClaim },
  approveClaim: { access: { permission: 'claims:approve' }, handle: approveClaim },
  rejectClaim: { access: { permission: 'claims:approve' }, handle: rejectClaim },
  withdrawClaim: { access: { permission: 'claims:submit' }, handle: withdrawClaim },
};
