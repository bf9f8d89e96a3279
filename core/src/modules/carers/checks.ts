import type { OperationContext, OperationResult } from '../../http/operation';
import { assertIfMatch, etagOf } from '../../http/etag';
import { decodeCursor, toPage } from '../../http/pagination';
import { Problem, type FieldError } from '../../http/problem';
import { newId } from '../../ids';
import { lookupCodeErrors } from '../lookups/service';
import { ADULT_AGE, complianceOf } from './compliance';
import { checkToApi, configFor, findHousehold, type CheckRow } from './shared';

interface CheckInput {
  memberId?: string; checkType?: string; status?: string; requestedOn?: string | null; completedOn?: string | null; expiresOn?: string | null;
  reference?: string | null; hours?: number | null; facts?: Record<string, unknown>; notes?: string | null;
}

function columnsOf(input: CheckInput): Record<string, unknown> {
  const map: Record<string, string> = { status: 'status', requestedOn: 'requested_on', completedOn: 'completed_on', expiresOn: 'expires_on', reference: 'reference', hours: 'hours', notes: 'notes' };
  const out: Record<string, unknown> = {};
  for (const [field, column] of Object.entries(map)) if (input[field as keyof CheckInput] !== undefined) out[column] = input[field as keyof CheckInput];
  if (input.facts !== undefined) out.facts = JSON.stringify(input.facts);
  return out;
}

/** Dates in order, a check type of the tenant's list, a member of this household; the merged record is judged. */
async function checkCheckInput(ctx: OperationContext, householdId: string, merged: { checkType: string; status: string; requestedOn: string | null; completedOn: string | null; expiresOn: string | null }, input: CheckInput): Promise<void> {
  const errors: FieldError[] = [];
  if (input.checkType !== undefined) errors.push(...(await lookupCodeErrors(ctx.trx, ctx.tenantId!, [{ list: 'check_type', code: input.checkType, pointer: '/body/checkType' }])));
  if (input.memberId) {
    const member = await ctx.trx('carer_household_members').where({ tenant_id: ctx.tenantId, household_id: householdId, id: input.memberId }).first('id');
    if (!member) errors.push({ pointer: '/body/memberId', message: 'is not a member of this household' });
  }
  const { today } = await configFor(ctx);
  if (merged.requestedOn && merged.requestedOn > today) errors.push({ pointer: '/body/requestedOn', message: 'is in the future' });
  if (merged.completedOn && merged.completedOn > today) errors.push({ pointer: '/body/completedOn', message: 'is in the future' });
  if (merged.completedOn && merged.requestedOn && merged.completedOn < merged.requestedOn) errors.push({ pointer: '/body/completedOn', message: 'is before requestedOn' });
  if (merged.expiresOn && merged.completedOn && merged.expiresOn <= merged.completedOn) errors.push({ pointer: '/body/expiresOn', message: 'is not after completedOn' });
  if ((merged.status === 'satisfactory' || merged.status === 'unsatisfactory') && !merged.completedOn) errors.push({ pointer: '/body/completedOn', message: `is required for a check that is ${merged.status}` });
  if (errors.length) throw Problem.unprocessable(errors);
}

export async function listCarerChecks(ctx: OperationContext): Promise<OperationResult> {
  const q = ctx.query as { limit: number; cursor?: string };
  const household = await findHousehold(ctx);
  const after = decodeCursor(q.cursor, 1);
  const query = ctx.trx('carer_checks').where({ tenant_id: ctx.tenantId, household_id: household.id }).orderBy('id').limit(q.limit + 1);
  if (after) query.where('id', '>', after[0] as string);
  const rows = (await query) as CheckRow[];
  return { status: 200, body: toPage(rows, q.limit, (r) => [r.id], checkToApi) };
}

export async function recordCarerCheck(ctx: OperationContext): Promise<OperationResult> {
  const input = ctx.body as CheckInput & { checkType: string; status: string };
  const household = await findHousehold(ctx, { lock: true });
  await checkCheckInput(ctx, household.id, { checkType: input.checkType, status: input.status, requestedOn: input.requestedOn ?? null, completedOn: input.completedOn ?? null, expiresOn: input.expiresOn ?? null }, input);
  const [row] = (await ctx.trx('carer_checks')
    .insert({ tenant_id: ctx.tenantId, id: newId(), household_id: household.id, member_id: input.memberId ?? null, check_type: input.checkType, ...columnsOf(input) })
    .returning('*')) as CheckRow[];
  const body = checkToApi(row!);
  await ctx.audit({ action: 'carer_household.check_recorded', entityType: 'carer_household', entityId: household.id, after: { check: body } });
  return { status: 201, body, headers: { ETag: etagOf(row!.version), Location: `/v1/carer-households/${household.id}/checks/${body.id}` } };
}

export async function updateCarerCheck(ctx: OperationContext): Promise<OperationResult> {
  const input = ctx.body as CheckInput;
  const household = await findHousehold(ctx);
  const before = (await ctx.trx('carer_checks').where({ tenant_id: ctx.tenantId, household_id: household.id, id: ctx.params.checkId }).forUpdate().first()) as CheckRow | undefined;
  if (!before) throw Problem.notFound('The check');
  assertIfMatch(ctx.ifMatch, before.version);
  const pick = <T>(value: T | undefined, current: T): T => (value === undefined ? current : value);
  await checkCheckInput(ctx, household.id, {
    checkType: before.check_type, status: pick(input.status, before.status), requestedOn: pick(input.requestedOn, before.requested_on), completedOn: pick(input.completedOn, before.completed_on), expiresOn: pick(input.expiresOn, before.expires_on),
  }, input);
  const [after] = (await ctx.trx('carer_checks')
    .where({ tenant_id: ctx.tenantId, id: before.id })
    .update({ ...columnsOf(input), version: before.version + 1, updated_at: ctx.trx.fn.now() })
    .returning('*')) as CheckRow[];
  const body = checkToApi(after!);
  await ctx.audit({ action: 'carer_check.updated', entityType: 'carer_check', entityId: before.id, before: checkToApi(before), after: body });
  return { status: 200, body, headers: { ETag: etagOf(after!.version) } };
}

/** Checks with an expiry before the date, soonest first: keyset on (expires_on, id), served by carer_checks_expiry. */
export async function listExpiringCarerChecks(ctx: OperationContext): Promise<OperationResult> {
  const q = ctx.query as { limit: number; cursor?: string; expiringBefore: string; checkType?: string; status?: string };
  const after = decodeCursor(q.cursor, 2);
  const query = ctx.trx('carer_checks')
    .where({ tenant_id: ctx.tenantId })
    .whereNotNull('expires_on')
    .where('expires_on', '<', q.expiringBefore)
    .orderBy([{ column: 'expires_on' }, { column: 'id' }])
    .limit(q.limit + 1);
  if (after) query.whereRaw('(expires_on, id) > (?::date, ?::uuid)', [after[0]!, after[1]!]);
  if (q.checkType) query.where('check_type', q.checkType);
  if (q.status) query.where('status', q.status);
  const rows = (await query) as CheckRow[];
  return { status: 200, body: toPage(rows, q.limit, (r) => [r.expires_on!, r.id], checkToApi) };
}

export async function getCarerHouseholdCompliance(ctx: OperationContext): Promise<OperationResult> {
  const household = await findHousehold(ctx);
  const config = await configFor(ctx);
  const asOf = (ctx.query.asOf as string | undefined) ?? config.today;
  const result = (await complianceOf(ctx.trx, ctx.tenantId!, [household.id], config.requiredCheckTypes, asOf)).get(household.id)!;
  return {
    status: 200,
    body: {
      householdId: household.id,
      asOf,
      compliant: result.compliant,
      rule: `Each adult member (${ADULT_AGE} or over) still in the household needs a satisfactory, unexpired check of every type the approval workflow "${config.workflow?.key ?? 'none'}" names as evidence: ${config.requiredCheckTypes.join(', ') || 'none'}. A check recorded for the household counts for every member.`,
      requiredCheckTypes: config.requiredCheckTypes,
      members: result.members.map((m) => ({ memberId: m.memberId, name: m.name, role: m.role, adult: m.adult, issues: m.issues })),
      issues: result.issues,
    },
  };
}
