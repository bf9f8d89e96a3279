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
import { CarerHousehold, CarerHouseholdMember } from './models';
import { insertRegionRow, regionErrors } from './regions';
import {
  activeUserIds,
  configFor,
  findHousehold,
  hasLookupList,
  householdToApi,
  likeEscape,
  memberToApi,
} from './shared';

type HouseholdInput = TenantContext<'createCarerHousehold'>['body'] | TenantContext<'updateCarerHousehold'>['body'];

/** A member of the household, by id: a 404 for one of another household, as for one of another tenant. */
export async function findHouseholdMember(
  ctx: FindScope,
  household: CarerHousehold,
  memberId: string,
  options: FindOptions = {},
): Promise<CarerHouseholdMember> {
  return findOne<CarerHouseholdMember>(ctx, CarerHouseholdMember, memberId, {
    ...options,
    narrow: (q) => q.where('household_id', household.id),
  });
}

/** Rules the schema cannot say: a region of the tenant's rate tables, a carer level of its list, an active supervising worker. */
async function checkHouseholdInput(ctx: TenantScope, input: HouseholdInput): Promise<void> {
  const errors: FieldError[] = await regionErrors(ctx, input.region, '/body/region');
  if (typeof input.carerLevel === 'string' && (await hasLookupList(ctx, 'carer_level'))) {
    errors.push(
      ...(await lookupCodeErrors(ctx.trx, ctx.tenantId, [
        { list: 'carer_level', code: input.carerLevel, pointer: '/body/carerLevel' },
      ])),
    );
  }
  if (
    input.supervisingWorkerId &&
    !(await activeUserIds(ctx, [input.supervisingWorkerId])).has(input.supervisingWorkerId)
  ) {
    errors.push({ pointer: '/body/supervisingWorkerId', message: 'is not an active user of this tenant' });
  }
  if (errors.length) throw Problem.unprocessable(errors);
}

const COPIED_FIELDS = [
  'name',
  'address',
  'postcode',
  'email',
  'region',
  'carerLevel',
  'supervisingWorkerId',
  'status',
] as const;

/** Only the fields a caller may set; the contract has already refused any other. */
function fieldsOf(input: HouseholdInput): PartialModelObject<CarerHousehold> {
  const out: Record<string, unknown> = {};
  for (const field of COPIED_FIELDS) if (input[field] !== undefined) out[field] = input[field];
  if (input.languages !== undefined) out.languages = input.languages ?? [];
  if (input.skills !== undefined) out.skills = input.skills ?? [];
  if (input.location !== undefined) {
    out.latitude = input.location?.lat ?? null;
    out.longitude = input.location?.lon ?? null;
  }
  return out as PartialModelObject<CarerHousehold>;
}

export async function listCarerHouseholds(ctx: TenantContext<'listCarerHouseholds'>): Promise<OperationResult> {
  const q = ctx.query;
  const query = CarerHousehold.query(ctx.trx).where('tenant_id', ctx.tenantId);
  if (q.status) query.where('status', q.status);
  if (q.approvalState) query.where('approval_state', q.approvalState);
  if (q.supervisingWorkerId) query.where('supervising_worker_id', q.supervisingWorkerId);
  if (q.region) query.where('region', q.region);
  if (q.q) query.whereRaw(`name ILIKE ? ESCAPE '\\'`, [`%${likeEscape(q.q)}%`]);
  const page = await keysetPage(query, q, [{ column: 'id', of: (r) => r.id }], householdToApi);
  return ok({ data: page.data, nextCursor: page.nextCursor });
}

export async function createCarerHousehold(ctx: TenantContext<'createCarerHousehold'>): Promise<OperationResult> {
  const input = ctx.body;
  await checkHouseholdInput(ctx, input);
  const { workflow } = await configFor(ctx);
  if (!workflow)
    throw new Problem(
      'unprocessable',
      "The tenant's configuration has no carer approval workflow (subject carer_household)",
    );
  const row = await CarerHousehold.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      id: newId(),
      ...fieldsOf(input),
      workflowKey: workflow.key,
      approvalState: workflow.initial,
    })
    .returning('*');
  // The region it is recorded with is where it has been from the start (see regions.ts).
  if (typeof input.region === 'string')
    await insertRegionRow(ctx, { household: { ...row, region: null }, region: input.region, effectiveFrom: null });
  const body = householdToApi(row);
  await ctx.audit({ action: 'carer_household.created', entityType: 'carer_household', entityId: body.id, after: body });
  return created(body, { location: `/v1/carer-households/${body.id}`, version: row.version });
}

export async function getCarerHousehold(ctx: TenantContext<'getCarerHousehold'>): Promise<OperationResult> {
  const row = await findHousehold(ctx, ctx.params.householdId);
  return ok(householdToApi(row), row.version);
}

export async function updateCarerHousehold(ctx: TenantContext<'updateCarerHousehold'>): Promise<OperationResult> {
  const input = ctx.body;
  const before = await findHousehold(ctx, ctx.params.householdId, { lock: true });
  assertIfMatch(ctx.ifMatch, before.version);
  await checkHouseholdInput(ctx, input);
  // A new region here is a move today; POST …/regions dates a move that happened earlier.
  if (input.region !== undefined && input.region !== before.region) {
    await insertRegionRow(ctx, {
      household: before,
      region: input.region,
      effectiveFrom: (await configFor(ctx)).today,
    });
  }
  const after = await patchVersioned(ctx.trx, CarerHousehold, before, fieldsOf(input));
  const body = householdToApi(after);
  await ctx.audit({
    action: 'carer_household.updated',
    entityType: 'carer_household',
    entityId: before.id,
    before: householdToApi(before),
    after: body,
  });
  return ok(body, after.version);
}

export async function listCarerHouseholdMembers(
  ctx: TenantContext<'listCarerHouseholdMembers'>,
): Promise<OperationResult> {
  const household = await findHousehold(ctx, ctx.params.householdId);
  const query = CarerHouseholdMember.query(ctx.trx).where({ tenant_id: ctx.tenantId, household_id: household.id });
  const page = await keysetPage(query, ctx.query, [{ column: 'id', of: (r) => r.id }], memberToApi);
  return ok({ data: page.data, nextCursor: page.nextCursor });
}

/** Dates a member's record must keep: born by today, and not gone before being born. */
async function checkMemberDates(
  ctx: TenantScope,
  dates: { dateOfBirth: string | undefined; leftOn: string | null | undefined },
): Promise<void> {
  const { today } = await configFor(ctx);
  const errors: FieldError[] = [];
  if (dates.dateOfBirth && dates.dateOfBirth > today)
    errors.push({ pointer: '/body/dateOfBirth', message: 'is in the future' });
  if (dates.leftOn && dates.dateOfBirth && dates.leftOn < dates.dateOfBirth)
    errors.push({ pointer: '/body/leftOn', message: 'is before the date of birth' });
  if (errors.length) throw Problem.unprocessable(errors);
}

export async function addCarerHouseholdMember(ctx: TenantContext<'addCarerHouseholdMember'>): Promise<OperationResult> {
  const input = ctx.body;
  const household = await findHousehold(ctx, ctx.params.householdId, { lock: true });
  await checkMemberDates(ctx, { dateOfBirth: input.dateOfBirth, leftOn: undefined });
  const row = await CarerHouseholdMember.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      id: newId(),
      householdId: household.id,
      name: input.name,
      dateOfBirth: input.dateOfBirth,
      role: input.role,
      relationship: input.relationship ?? null,
    })
    .returning('*');
  const body = memberToApi(row);
  await ctx.audit({
    action: 'carer_household.member_added',
    entityType: 'carer_household',
    entityId: household.id,
    after: { member: body },
  });
  return created(body, { location: `/v1/carer-households/${household.id}/members/${body.id}`, version: row.version });
}

const MEMBER_FIELDS = ['name', 'dateOfBirth', 'role', 'relationship', 'leftOn'] as const;

export async function updateCarerHouseholdMember(
  ctx: TenantContext<'updateCarerHouseholdMember'>,
): Promise<OperationResult> {
  const input = ctx.body;
  const household = await findHousehold(ctx, ctx.params.householdId);
  const before = await findHouseholdMember(ctx, household, ctx.params.memberId, { lock: true });
  assertIfMatch(ctx.ifMatch, before.version);
  await checkMemberDates(ctx, { dateOfBirth: input.dateOfBirth ?? before.dateOfBirth, leftOn: input.leftOn });
  const changes: Record<string, unknown> = {};
  for (const field of MEMBER_FIELDS) if (input[field] !== undefined) changes[field] = input[field];
  const after = await patchVersioned(
    ctx.trx,
    CarerHouseholdMember,
    before,
    changes as PartialModelObject<CarerHouseholdMember>,
  );
  const body = memberToApi(after);
  const event = { action: 'carer_household.member_updated', entityType: 'carer_household_member', entityId: before.id };
  await ctx.audit({ ...event, before: memberToApi(before), after: body });
  return ok(body, after.version);
}
