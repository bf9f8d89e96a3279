import type { OperationContext, OperationMap, OperationResult } from '../../http/operation';
import { assertIfMatch, etagOf } from '../../http/etag';
import { decodeCursor, toPage } from '../../http/pagination';
import { Problem } from '../../http/problem';
import { newId } from '../../ids';
import { iso } from '../../time';

interface TeamRow {
  id: string;
  name: string;
  description: string | null;
  version: number;
  created_at: Date;
  updated_at: Date;
  member_count: number;
}

function teamToApi(row: TeamRow) {
  return { id: row.id, name: row.name, description: row.description, memberCount: Number(row.member_count), version: row.version, createdAt: iso(row.created_at), updatedAt: iso(row.updated_at) };
}

function teamsQuery(ctx: OperationContext) {
  return ctx.trx('teams as t')
    .where('t.tenant_id', ctx.tenantId!)
    .select('t.*', ctx.trx.raw('(SELECT count(*)::int FROM team_members m WHERE m.tenant_id = t.tenant_id AND m.team_id = t.id) AS member_count'));
}

async function findTeam(ctx: OperationContext, lock = false): Promise<TeamRow> {
  const query = teamsQuery(ctx).where('t.id', ctx.params.teamId!).first();
  if (lock) query.forUpdate('t');
  const row = (await query) as TeamRow | undefined;
  if (!row) throw Problem.notFound('The team');
  return row;
}

async function reloadTeam(ctx: OperationContext, id: string): Promise<TeamRow> {
  return (await teamsQuery(ctx).where('t.id', id).first()) as TeamRow;
}

async function assertNameFree(ctx: OperationContext, name: string, exceptId?: string): Promise<void> {
  const query = ctx.trx('teams').where({ tenant_id: ctx.tenantId! }).whereRaw('lower(name) = lower(?)', [name]).first('id');
  if (exceptId) query.whereNot('id', exceptId);
  if (await query) throw new Problem('conflict', `A team named "${name}" already exists`);
}

async function listTeams(ctx: OperationContext): Promise<OperationResult> {
  const q = ctx.query as { limit: number; cursor?: string; memberId?: string };
  const after = decodeCursor(q.cursor, 1);
  const query = teamsQuery(ctx).orderBy('t.id').limit(q.limit + 1);
  if (after) query.where('t.id', '>', String(after[0]));
  if (q.memberId) query.whereExists(ctx.trx('team_members as m').whereRaw('m.tenant_id = t.tenant_id AND m.team_id = t.id').where('m.user_id', q.memberId).select(ctx.trx.raw('1')));
  const rows = (await query) as TeamRow[];
  return { status: 200, body: toPage(rows, q.limit, (r) => [r.id], teamToApi) };
}

async function createTeam(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as { name: string; description?: string | null };
  await assertNameFree(ctx, body.name);
  const id = newId();
  await ctx.trx('teams').insert({ tenant_id: ctx.tenantId!, id, name: body.name, description: body.description ?? null });
  const team = teamToApi(await reloadTeam(ctx, id));
  await ctx.audit({ action: 'team.created', entityType: 'team', entityId: id, after: team });
  return { status: 201, body: team, headers: { ETag: etagOf(team.version), Location: `/v1/teams/${id}` } };
}

async function getTeam(ctx: OperationContext): Promise<OperationResult> {
  const row = await findTeam(ctx);
  return { status: 200, body: teamToApi(row), headers: { ETag: etagOf(row.version) } };
}

async function updateTeam(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as { name?: string; description?: string | null };
  const before = await findTeam(ctx, true);
  assertIfMatch(ctx.ifMatch, before.version);
  if (body.name !== undefined) await assertNameFree(ctx, body.name, before.id);
  const changes: Record<string, unknown> = {};
  if (body.name !== undefined) changes.name = body.name;
  if (body.description !== undefined) changes.description = body.description;
  await ctx.trx('teams').where({ tenant_id: ctx.tenantId!, id: before.id }).update({ ...changes, version: before.version + 1, updated_at: ctx.trx.fn.now() });
  const after = await reloadTeam(ctx, before.id);
  await ctx.audit({ action: 'team.updated', entityType: 'team', entityId: before.id, before: teamToApi(before), after: teamToApi(after) });
  return { status: 200, body: teamToApi(after), headers: { ETag: etagOf(after.version) } };
}

async function memberIds(ctx: OperationContext, teamId: string): Promise<string[]> {
  const rows = (await ctx.trx('team_members').where({ tenant_id: ctx.tenantId!, team_id: teamId }).orderBy('user_id').select('user_id')) as Array<{ user_id: string }>;
  return rows.map((r) => r.user_id);
}

async function deleteTeam(ctx: OperationContext): Promise<OperationResult> {
  const before = await findTeam(ctx, true);
  assertIfMatch(ctx.ifMatch, before.version);
  const members = await memberIds(ctx, before.id);
  await ctx.trx('team_members').where({ tenant_id: ctx.tenantId!, team_id: before.id }).delete();
  await ctx.trx('teams').where({ tenant_id: ctx.tenantId!, id: before.id }).delete();
  await ctx.audit({ action: 'team.deleted', entityType: 'team', entityId: before.id, before: { ...teamToApi(before), memberIds: members } });
  return { status: 204 };
}

interface MemberRow {
  team_id: string;
  user_id: string;
  display_name: string;
  email: string;
  added_at: Date;
}

function memberToApi(row: MemberRow) {
  return { teamId: row.team_id, userId: row.user_id, displayName: row.display_name, email: row.email, addedAt: iso(row.added_at) };
}

function membersQuery(ctx: OperationContext, teamId: string) {
  return ctx.trx('team_members as m')
    .join('users as u', function joinUser() {
      this.on('u.tenant_id', '=', 'm.tenant_id').andOn('u.id', '=', 'm.user_id');
    })
    .where({ 'm.tenant_id': ctx.tenantId!, 'm.team_id': teamId })
    .select('m.team_id', 'm.user_id', 'u.display_name', 'u.email', 'm.added_at');
}

async function listTeamMembers(ctx: OperationContext): Promise<OperationResult> {
  const q = ctx.query as { limit: number; cursor?: string };
  const team = await findTeam(ctx);
  const after = decodeCursor(q.cursor, 1);
  const query = membersQuery(ctx, team.id).orderBy('m.user_id').limit(q.limit + 1);
  if (after) query.where('m.user_id', '>', String(after[0]));
  const rows = (await query) as MemberRow[];
  return { status: 200, body: toPage(rows, q.limit, (r) => [r.user_id], memberToApi) };
}

async function addTeamMember(ctx: OperationContext): Promise<OperationResult> {
  const { userId } = ctx.body as { userId: string };
  const team = await findTeam(ctx, true);
  const user = await ctx.trx('users').where({ tenant_id: ctx.tenantId!, id: userId, status: 'active' }).first('id');
  if (!user) throw Problem.unprocessable([{ pointer: '/body/userId', message: 'is not an active user of this tenant' }]);
  if (await ctx.trx('team_members').where({ tenant_id: ctx.tenantId!, team_id: team.id, user_id: userId }).first('user_id')) throw new Problem('conflict', 'The user is already a member of the team');
  await ctx.trx('team_members').insert({ tenant_id: ctx.tenantId!, team_id: team.id, user_id: userId, added_by: ctx.principal!.kind === 'user' ? ctx.principal!.id : null });
  await ctx.trx('teams').where({ tenant_id: ctx.tenantId!, id: team.id }).update({ version: team.version + 1, updated_at: ctx.trx.fn.now() });
  const member = memberToApi((await membersQuery(ctx, team.id).where('m.user_id', userId).first()) as MemberRow);
  await ctx.audit({ action: 'team.member_added', entityType: 'team', entityId: team.id, after: member });
  return { status: 201, body: member, headers: { ETag: etagOf(team.version + 1) } };
}

async function removeTeamMember(ctx: OperationContext): Promise<OperationResult> {
  const team = await findTeam(ctx, true);
  assertIfMatch(ctx.ifMatch, team.version);
  const row = (await membersQuery(ctx, team.id).where('m.user_id', ctx.params.userId!).first()) as MemberRow | undefined;
  if (!row) throw Problem.notFound('The member');
  await ctx.trx('team_members').where({ tenant_id: ctx.tenantId!, team_id: team.id, user_id: row.user_id }).delete();
  await ctx.trx('teams').where({ tenant_id: ctx.tenantId!, id: team.id }).update({ version: team.version + 1, updated_at: ctx.trx.fn.now() });
  await ctx.audit({ action: 'team.member_removed', entityType: 'team', entityId: team.id, before: memberToApi(row) });
  return { status: 204 };
}

/** Teams are about people, so they take the users permissions: reading needs users:read, changing users:manage. */
export const teamOperations: OperationMap = {
  listTeams: { access: { permission: 'users:read' }, handle: listTeams },
  createTeam: { access: { permission: 'users:manage' }, handle: createTeam },
  getTeam: { access: { permission: 'users:read' }, handle: getTeam },
  updateTeam: { access: { permission: 'users:manage' }, handle: updateTeam },
  deleteTeam: { access: { permission: 'users:manage' }, handle: deleteTeam },
  listTeamMembers: { access: { permission: 'users:read' }, handle: listTeamMembers },
  addTeamMember: { access: { permission: 'users:manage' }, handle: addTeamMember },
  removeTeamMember: { access: { permission: 'users:manage' }, handle: removeTeamMember },
};
