import type { PartialModelObject } from 'objection';
import { findOne, type FindOptions, type FindScope } from '../../db/find';
import { keysetPage } from '../../db/keyset';
import { patchVersioned } from '../../db/versioned';
import type { OperationResult, TenantContext, TenantScope } from '../../http/operation';
import { assertIfMatch } from '../../http/etag';
import { created, ok } from '../../http/results';
import { Problem, type FieldError } from '../../http/problem';
import { newId } from '../../ids';
import { lookupCodeErrors } from '../lookups/service';
import { ADULT_AGE, complianceOf } from './compliance';
import { CarerCheck, CarerHouseholdMember, type CarerHousehold } from './models';
import { checkToApi, configFor, findHousehold } from './shared';

type CheckInput = TenantContext<'recordCarerCheck'>['body'] | TenantContext<'updateCarerCheck'>['body'];

/** The check as it would stand after the write: what the rules judge. */
type MergedCheck = Pick<CarerCheck, 'checkType' | 'status' | 'requestedOn' | 'completedOn' | 'expiresOn'>;

/** A check of the household, by id: a 404 for one of another household, as for one of another tenant. */
export async function findCarerCheck(
  ctx: FindScope,
  household: CarerHousehold,
  checkId: string,
  options: FindOptions = {},
): Promise<CarerCheck> {
  return findOne<CarerCheck>(ctx, CarerCheck, checkId, {
    ...options,
    narrow: (q) => q.where('household_id', household.id),
  });
}

const COPIED_FIELDS = [
  'status',
  'requestedOn',
  'completedOn',
  'expiresOn',
  'reference',
  'hours',
  'notes',
  'facts',
] as const;

/** Only the fields a caller may change; the contract has already refused any other. */
function fieldsOf(input: CheckInput): PartialModelObject<CarerCheck> {
  const out: Record<string, unknown> = {};
  for (const field of COPIED_FIELDS) if (input[field] !== undefined) out[field] = input[field];
  return out as PartialModelObject<CarerCheck>;
}

/** Dates in order, a check type of the tenant's list, a member of this household; the merged record is judged. */
async function checkCheckInput(
  ctx: TenantScope,
  check: { householdId: string; merged: MergedCheck; input: CheckInput },
): Promise<void> {
  const { merged, input } = check;
  const errors: FieldError[] = [];
  if ('checkType' in input && input.checkType !== undefined) {
    errors.push(
      ...(await lookupCodeErrors(ctx.trx, ctx.tenantId, [
        { list: 'check_type', code: input.checkType, pointer: '/body/checkType' },
      ])),
    );
  }
  if ('memberId' in input && input.memberId) {
    const member = await CarerHouseholdMember.query(ctx.trx)
      .where({ tenant_id: ctx.tenantId, household_id: check.householdId, id: input.memberId })
      .select('id')
      .first();
    if (!member) errors.push({ pointer: '/body/memberId', message: 'is not a member of this household' });
  }
  const { today } = await configFor(ctx);
  if (merged.requestedOn && merged.requestedOn > today)
    errors.push({ pointer: '/body/requestedOn', message: 'is in the future' });
  if (merged.completedOn && merged.completedOn > today)
    errors.push({ pointer: '/body/completedOn', message: 'is in the future' });
  if (merged.completedOn && merged.requestedOn && merged.completedOn < merged.requestedOn) {
    errors.push({ pointer: '/body/completedOn', message: 'is before requestedOn' });
  }
  if (merged.expiresOn && merged.completedOn && merged.expiresOn <= merged.completedOn) {
    errors.push({ pointer: '/body/expiresOn', message: 'is not after completedOn' });
  }
  if ((merged.status === 'satisfactory' || merged.status === 'unsatisfactory') && !merged.completedOn) {
    errors.push({ pointer: '/body/completedOn', message: `is required for a check that is ${merged.status}` });
  }
  if (errors.length) throw Problem.unprocessable(errors);
}

export async function listCarerChecks(ctx: TenantContext<'listCarerChecks'>): Promise<OperationResult> {
  const household = await findHousehold(ctx, ctx.params.householdId);
  const query = CarerCheck.query(ctx.trx).where({ tenant_id: ctx.tenantId, household_id: household.id });
  const page = await keysetPage(query, ctx.query, [{ column: 'id', of: (r) => r.id }], checkToApi);
  return ok({ data: page.data, nextCursor: page.nextCursor });
}

export async function recordCarerCheck(ctx: TenantContext<'recordCarerCheck'>): Promise<OperationResult> {
  const input = ctx.body;
  const household = await findHousehold(ctx, ctx.params.householdId, { lock: true });
  const merged = {
    checkType: input.checkType,
    status: input.status,
    requestedOn: input.requestedOn ?? null,
    completedOn: input.completedOn ?? null,
    expiresOn: input.expiresOn ?? null,
  };
  await checkCheckInput(ctx, { householdId: household.id, merged, input });
  const row = await CarerCheck.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      id: newId(),
      householdId: household.id,
      memberId: input.memberId ?? null,
      checkType: input.checkType,
      ...fieldsOf(input),
    })
    .returning('*');
  const body = checkToApi(row);
  await ctx.audit({
    action: 'carer_household.check_recorded',
    entityType: 'carer_household',
    entityId: household.id,
    after: { check: body },
  });
  return created(body, { location: `/v1/carer-households/${household.id}/checks/${body.id}`, version: row.version });
}

export async function updateCarerCheck(ctx: TenantContext<'updateCarerCheck'>): Promise<OperationResult> {
  const input = ctx.body;
  const household = await findHousehold(ctx, ctx.params.householdId);
  const before = await findCarerCheck(ctx, household, ctx.params.checkId, { lock: true });
  assertIfMatch(ctx.ifMatch, before.version);
  const pick = <T>(value: T | undefined, current: T): T => (value === undefined ? current : value);
  const merged = {
    checkType: before.checkType,
    status: pick(input.status, before.status),
    requestedOn: pick(input.requestedOn, before.requestedOn),
    completedOn: pick(input.completedOn, before.completedOn),
    expiresOn: pick(input.expiresOn, before.expiresOn),
  };
  await checkCheckInput(ctx, { householdId: household.id, merged, input });
  const after = await patchVersioned(ctx.trx, CarerCheck, before, fieldsOf(input));
  const body = checkToApi(after);
  await ctx.audit({
    action: 'carer_check.updated',
    entityType: 'carer_check',
    entityId: before.id,
    before: checkToApi(before),
    after: body,
  });
  return ok(body, after.version);
}

/** Checks with an expiry before the date, soonest first: keyset on (expires_on, id), served by carer_checks_expiry. */
export async function listExpiringCarerChecks(ctx: TenantContext<'listExpiringCarerChecks'>): Promise<OperationResult> {
  const q = ctx.query;
  const query = CarerCheck.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId })
    .whereNotNull('expires_on')
    .where('expires_on', '<', q.expiringBefore);
  if (q.checkType) query.where('check_type', q.checkType);
  if (q.status) query.where('status', q.status);
  const page = await keysetPage(
    query,
    q,
    [
      { column: 'expires_on', of: (r) => r.expiresOn! },
      { column: 'id', of: (r) => r.id },
    ],
    checkToApi,
  );
  return ok({ data: page.data, nextCursor: page.nextCursor });
}

export async function getCarerHouseholdCompliance(
  ctx: TenantContext<'getCarerHouseholdCompliance'>,
): Promise<OperationResult> {
  const household = await findHousehold(ctx, ctx.params.householdId);
  const config = await configFor(ctx);
  const asOf = ctx.query.asOf ?? config.today;
  const result = (
    await complianceOf(ctx, { householdIds: [household.id], requiredCheckTypes: config.requiredCheckTypes, asOf })
  ).get(household.id)!;
  const required = config.requiredCheckTypes.join(', ') || 'none';
  return ok({
    householdId: household.id,
    asOf,
    compliant: result.compliant,
    rule:
      `Each adult member (${ADULT_AGE} or over) still in the household needs a satisfactory, unexpired check of every type the approval workflow ` +
      `"${config.workflow?.key ?? 'none'}" names as evidence: ${required}. A check recorded for the household counts for every member. ` +
      'No evidence document kept against the household, a member or a check may be past its expiry date.',
    requiredCheckTypes: config.requiredCheckTypes,
    members: result.members.map((m) => ({
      memberId: m.memberId,
      name: m.name,
      role: m.role,
      adult: m.adult,
      issues: m.issues,
    })),
    issues: result.issues,
    expiredDocuments: result.expiredDocuments,
  });
}
