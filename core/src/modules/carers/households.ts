import type { OperationContext, OperationResult } from '../../http/operation';
import { assertIfMatch, etagOf } from '../../http/etag';
import { decodeCursor, toPage } from '../../http/pagination';
import { Problem, type FieldError } from '../../http/problem';
import { newId } from '../../ids';
import { lookupCodeErrors } from '../lookups/service';
import { insertRegionRow, regionErrors } from './regions';
import { activeUserIds, configFor, findHousehold, hasLookupList, householdToApi, likeEscape, memberToApi, type HouseholdRow, type MemberRow } from './shared';

interface HouseholdInput {
  name?: string; address?: string | null; postcode?: string | null; region?: string | null; location?: { lat: number; lon: number } | null;
  languages?: string[] | null; skills?: string[] | null; carerLevel?: string | null; supervisingWorkerId?: string | null; status?: string;
}

/** Rules the schema cannot say: a region of the tenant's rate tables, a carer level of its list, an active supervising worker. */
async function checkHouseholdInput(ctx: OperationContext, input: HouseholdInput): Promise<void> {
  const errors: FieldError[] = await regionErrors(ctx, input.region, '/body/region');
  if (typeof input.carerLevel === 'string' && (await hasLookupList(ctx, 'carer_level'))) {
    errors.push(...(await lookupCodeErrors(ctx.trx, ctx.tenantId!, [{ list: 'carer_level', code: input.carerLevel, pointer: '/body/carerLevel' }])));
  }
  if (input.supervisingWorkerId && !(await activeUserIds(ctx, [input.supervisingWorkerId])).has(input.supervisingWorkerId)) {
    errors.push({ pointer: '/body/supervisingWorkerId', message: 'is not an active user of this tenant' });
  }
  if (errors.length) throw Problem.unprocessable(errors);
}

function columnsOf(input: HouseholdInput): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const map: Record<string, string> = { name: 'name', address: 'address', postcode: 'postcode', region: 'region', carerLevel: 'carer_level', supervisingWorkerId: 'supervising_worker_id', status: 'status' };
  for (const [field, column] of Object.entries(map)) if (input[field as keyof HouseholdInput] !== undefined) out[column] = input[field as keyof HouseholdInput];
  if (input.languages !== undefined) out.languages = input.languages ?? [];
  if (input.skills !== undefined) out.skills = input.skills ?? [];
  if (input.location !== undefined) {
    out.latitude = input.location?.lat ?? null;
    out.longitude = input.location?.lon ?? null;
  }
  return out;
}

export async function listCarerHouseholds(ctx: OperationContext): Promise<OperationResult> {
  const q = ctx.query as { limit: number; cursor?: string; status?: string; approvalState?: string; supervisingWorkerId?: string; region?: string; q?: string };
  const after = decodeCursor(q.cursor, 1);
  const query = ctx.trx('carer_households').where({ tenant_id: ctx.tenantId }).orderBy('id').limit(q.limit + 1);
  if (after) query.where('id', '>', after[0] as string);
  if (q.status) query.where('status', q.status);
  if (q.approvalState) query.where('approval_state', q.approvalState);
  if (q.supervisingWorkerId) query.where('supervising_worker_id', q.supervisingWorkerId);
  if (q.region) query.where('region', q.region);
  if (q.q) query.whereRaw(`name ILIKE ? ESCAPE '\\'`, [`%${likeEscape(q.q)}%`]);
  const rows = (await query) as HouseholdRow[];
  return { status: 200, body: toPage(rows, q.limit, (r) => [r.id], householdToApi) };
}

export async function createCarerHousehold(ctx: OperationContext): Promise<OperationResult> {
  const input = ctx.body as HouseholdInput;
  await checkHouseholdInput(ctx, input);
  const { workflow } = await configFor(ctx);
  if (!workflow) throw new Problem('unprocessable', "The tenant's configuration has no carer approval workflow (subject carer_household)");
  const [row] = (await ctx.trx('carer_households')
    .insert({ tenant_id: ctx.tenantId, id: newId(), ...columnsOf(input), workflow_key: workflow.key, approval_state: workflow.initial })
    .returning('*')) as HouseholdRow[];
  // The region it is recorded with is where it has been from the start (see regions.ts).
  if (typeof input.region === 'string') await insertRegionRow(ctx, { ...row!, region: null }, { region: input.region, effectiveFrom: null });
  const body = householdToApi(row!);
  await ctx.audit({ action: 'carer_household.created', entityType: 'carer_household', entityId: body.id, after: body });
  return { status: 201, body, headers: { ETag: etagOf(row!.version), Location: `/v1/carer-households/${body.id}` } };
}

export async function getCarerHousehold(ctx: OperationContext): Promise<OperationResult> {
  const row = await findHousehold(ctx);
  return { status: 200, body: householdToApi(row), headers: { ETag: etagOf(row.version) } };
}

export async function updateCarerHousehold(ctx: OperationContext): Promise<OperationResult> {
  const input = ctx.body as HouseholdInput;
  const before = await findHousehold(ctx, { lock: true });
  assertIfMatch(ctx.ifMatch, before.version);
  await checkHouseholdInput(ctx, input);
  // A new region here is a move today; POST …/regions dates a move that happened earlier.
  if (input.region !== undefined && input.region !== before.region) await insertRegionRow(ctx, before, { region: input.region, effectiveFrom: (await configFor(ctx)).today });
  const [after] = (await ctx.trx('carer_households')
    .where({ tenant_id: ctx.tenantId, id: before.id })
    .update({ ...columnsOf(input), version: before.version + 1, updated_at: ctx.trx.fn.now() })
    .returning('*')) as HouseholdRow[];
  const body = householdToApi(after!);
  await ctx.audit({ action: 'carer_household.updated', entityType: 'carer_household', entityId: before.id, before: householdToApi(before), after: body });
  return { status: 200, body, headers: { ETag: etagOf(after!.version) } };
}

export async function listCarerHouseholdMembers(ctx: OperationContext): Promise<OperationResult> {
  const q = ctx.query as { limit: number; cursor?: string };
  const household = await findHousehold(ctx);
  const after = decodeCursor(q.cursor, 1);
  const query = ctx.trx('carer_household_members').where({ tenant_id: ctx.tenantId, household_id: household.id }).orderBy('id').limit(q.limit + 1);
  if (after) query.where('id', '>', after[0] as string);
  const rows = (await query) as MemberRow[];
  return { status: 200, body: toPage(rows, q.limit, (r) => [r.id], memberToApi) };
}

async function checkMemberDates(ctx: OperationContext, dateOfBirth: string | undefined, leftOn: string | null | undefined): Promise<void> {
  const { today } = await configFor(ctx);
  const errors: FieldError[] = [];
  if (dateOfBirth && dateOfBirth > today) errors.push({ pointer: '/body/dateOfBirth', message: 'is in the future' });
  if (leftOn && dateOfBirth && leftOn < dateOfBirth) errors.push({ pointer: '/body/leftOn', message: 'is before the date of birth' });
  if (errors.length) throw Problem.unprocessable(errors);
}

export async function addCarerHouseholdMember(ctx: OperationContext): Promise<OperationResult> {
  const input = ctx.body as { name: string; dateOfBirth: string; role: string; relationship?: string };
  const household = await findHousehold(ctx, { lock: true });
  await checkMemberDates(ctx, input.dateOfBirth, undefined);
  const [row] = (await ctx.trx('carer_household_members')
    .insert({ tenant_id: ctx.tenantId, id: newId(), household_id: household.id, name: input.name, date_of_birth: input.dateOfBirth, role: input.role, relationship: input.relationship ?? null })
    .returning('*')) as MemberRow[];
  const body = memberToApi(row!);
  await ctx.audit({ action: 'carer_household.member_added', entityType: 'carer_household', entityId: household.id, after: { member: body } });
  return { status: 201, body, headers: { ETag: etagOf(row!.version), Location: `/v1/carer-households/${household.id}/members/${body.id}` } };
}

export async function updateCarerHouseholdMember(ctx: OperationContext): Promise<OperationResult> {
  const input = ctx.body as { name?: string; dateOfBirth?: string; role?: string; relationship?: string | null; leftOn?: string | null };
  const household = await findHousehold(ctx);
  const before = (await ctx.trx('carer_household_members').where({ tenant_id: ctx.tenantId, household_id: household.id, id: ctx.params.memberId }).forUpdate().first()) as MemberRow | undefined;
  if (!before) throw Problem.notFound('The household member');
  assertIfMatch(ctx.ifMatch, before.version);
  await checkMemberDates(ctx, input.dateOfBirth ?? before.date_of_birth, input.leftOn);
  const changes: Record<string, unknown> = {};
  if (input.name !== undefined) changes.name = input.name;
  if (input.dateOfBirth !== undefined) changes.date_of_birth = input.dateOfBirth;
  if (input.role !== undefined) changes.role = input.role;
  if (input.relationship !== undefined) changes.relationship = input.relationship;
  if (input.leftOn !== undefined) changes.left_on = input.leftOn;
  const [after] = (await ctx.trx('carer_household_members')
    .where({ tenant_id: ctx.tenantId, id: before.id })
    .update({ ...changes, version: before.version + 1, updated_at: ctx.trx.fn.now() })
    .returning('*')) as MemberRow[];
  const body = memberToApi(after!);
  await ctx.audit({ action: 'carer_household.member_updated', entityType: 'carer_household_member', entityId: before.id, before: memberToApi(before), after: body });
  return { status: 200, body, headers: { ETag: etagOf(after!.version) } };
}
