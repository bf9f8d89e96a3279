import type { PartialModelObject, QueryBuilder } from 'objection';
import { findOne, notFound, type FindOptions, type FindScope } from '../../db/find';
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
import { Problem } from '../../http/problem';
import { created, noContent, ok } from '../../http/results';
import { newId } from '../../ids';
import { iso } from '../../time';
import { Team, TeamMember } from './models';

/** A team as read for an answer: with how many members it has, counted in the same statement. */
type CountedTeam = Team & { memberCount: number };

function teamToApi(row: CountedTeam) {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    memberCount: Number(row.memberCount),
    version: row.version,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
  };
}

function withMemberCount<Q extends QueryBuilder<Team, unknown>>(query: Q): Q {
  const count =
    '(SELECT count(*)::int FROM team_members m WHERE m.tenant_id = teams.tenant_id AND m.team_id = teams.id) AS member_count';
  return query.select('teams.*', Team.raw(count));
}

/** One of the tenant's teams, with its member count, or not found. */
export async function findTeam(
  scope: FindScope,
  teamId: string,
  options: Pick<FindOptions, 'lock' | 'pointer'> = {},
): Promise<CountedTeam> {
  return (await findOne<Team>(scope, Team, teamId, { ...options, narrow: withMemberCount })) as CountedTeam;
}

async function assertNameFree(ctx: TenantScope, name: string, exceptId?: string): Promise<void> {
  const query = Team.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId })
    .whereRaw('lower(name) = lower(?)', [name])
    .first();
  if (exceptId) query.whereNot('id', exceptId);
  if (await query) throw new Problem('conflict', `A team named "${name}" already exists`);
}

async function listTeams(ctx: TenantContext<'listTeams'>): Promise<OperationResult> {
  const q = ctx.query;
  const query = withMemberCount(Team.query(ctx.trx).where('teams.tenant_id', ctx.tenantId)).castTo<CountedTeam[]>();
  if (q.memberId) {
    query.whereExists(
      TeamMember.query(ctx.trx)
        .alias('m')
        .whereRaw('m.tenant_id = teams.tenant_id AND m.team_id = teams.id')
        .where('m.user_id', q.memberId),
    );
  }
  const page = await keysetPage(query, q, [{ column: 'teams.id', of: (r) => r.id }], teamToApi);
  return ok({ data: page.data, nextCursor: page.nextCursor });
}

async function createTeam(ctx: TenantContext<'createTeam'>): Promise<OperationResult> {
  const body = ctx.body;
  await assertNameFree(ctx, body.name);
  const id = newId();
  await Team.query(ctx.trx).insert({
    tenantId: ctx.tenantId,
    id,
    name: body.name,
    description: body.description ?? null,
  });
  const team = teamToApi(await findTeam(ctx, id));
  await ctx.audit({ action: 'team.created', entityType: 'team', entityId: id, after: team });
  return created(team, { location: `/v1/teams/${id}`, version: team.version });
}

async function getTeam(ctx: TenantContext<'getTeam'>): Promise<OperationResult> {
  const row = await findTeam(ctx, ctx.params.teamId);
  return ok(teamToApi(row), row.version);
}

async function updateTeam(ctx: TenantContext<'updateTeam'>): Promise<OperationResult> {
  const body = ctx.body;
  const before = await findTeam(ctx, ctx.params.teamId, { lock: true });
  assertIfMatch(ctx.ifMatch, before.version);
  if (body.name !== undefined) await assertNameFree(ctx, body.name, before.id);
  const changes: PartialModelObject<Team> = {};
  if (body.name !== undefined) changes.name = body.name;
  if (body.description !== undefined) changes.description = body.description;
  await patchVersioned<Team>(ctx.trx, Team, before, changes);
  const after = await findTeam(ctx, before.id);
  await ctx.audit({
    action: 'team.updated',
    entityType: 'team',
    entityId: before.id,
    before: teamToApi(before),
    after: teamToApi(after),
  });
  return ok(teamToApi(after), after.version);
}

async function memberIds(ctx: TenantScope, teamId: string): Promise<string[]> {
  const rows = await TeamMember.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, team_id: teamId })
    .orderBy('user_id')
    .select('user_id');
  return rows.map((r) => r.userId);
}

async function deleteTeam(ctx: TenantContext<'deleteTeam'>): Promise<OperationResult> {
  const before = await findTeam(ctx, ctx.params.teamId, { lock: true });
  assertIfMatch(ctx.ifMatch, before.version);
  const members = await memberIds(ctx, before.id);
  await TeamMember.query(ctx.trx).where({ tenant_id: ctx.tenantId, team_id: before.id }).delete();
  await Team.query(ctx.trx).where({ tenant_id: ctx.tenantId, id: before.id }).delete();
  await ctx.audit({
    action: 'team.deleted',
    entityType: 'team',
    entityId: before.id,
    before: { ...teamToApi(before), memberIds: members },
  });
  return noContent();
}

/** A member as the API shows one: the membership with the user's name and email. */
type ListedMember = TeamMember & { displayName: string; email: string };

function memberToApi(row: ListedMember) {
  return {
    teamId: row.teamId,
    userId: row.userId,
    displayName: row.displayName,
    email: row.email,
    addedAt: iso(row.addedAt),
  };
}

function membersQuery(ctx: TenantScope, teamId: string) {
  return TeamMember.query(ctx.trx)
    .alias('m')
    .join('users as u', function joinUser() {
      this.on('u.tenant_id', '=', 'm.tenant_id').andOn('u.id', '=', 'm.user_id');
    })
    .where({ 'm.tenant_id': ctx.tenantId, 'm.team_id': teamId })
    .select('m.team_id', 'm.user_id', 'u.display_name', 'u.email', 'm.added_at');
}

/** A member of the team, or not found. */
export async function findTeamMember(ctx: TenantScope, teamId: string, userId: string): Promise<ListedMember> {
  const row = await membersQuery(ctx, teamId).where('m.user_id', userId).first().castTo<ListedMember | undefined>();
  if (!row) throw notFound(TeamMember.noun);
  return row;
}

async function listTeamMembers(ctx: TenantContext<'listTeamMembers'>): Promise<OperationResult> {
  const team = await findTeam(ctx, ctx.params.teamId);
  const page = await keysetPage(
    membersQuery(ctx, team.id).castTo<ListedMember[]>(),
    ctx.query,
    [{ column: 'm.user_id', of: (r) => r.userId }],
    memberToApi,
  );
  return ok({ data: page.data, nextCursor: page.nextCursor });
}

async function addTeamMember(ctx: TenantContext<'addTeamMember'>): Promise<OperationResult> {
  const { userId } = ctx.body;
  const team = await findTeam(ctx, ctx.params.teamId, { lock: true });
  const user = await ctx.trx('users').where({ tenant_id: ctx.tenantId, id: userId, status: 'active' }).first('id');
  if (!user)
    throw Problem.unprocessable([{ pointer: '/body/userId', message: 'is not an active user of this tenant' }]);
  const already = await TeamMember.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, team_id: team.id, user_id: userId })
    .first();
  if (already) throw new Problem('conflict', 'The user is already a member of the team');
  await TeamMember.query(ctx.trx).insert({ tenantId: ctx.tenantId, teamId: team.id, userId, addedBy: actorId(ctx) });
  // A change of members is a change of the team: its version moves.
  const after = await patchVersioned<Team>(ctx.trx, Team, team, {});
  const member = memberToApi(await findTeamMember(ctx, team.id, userId));
  await ctx.audit({ action: 'team.member_added', entityType: 'team', entityId: team.id, after: member });
  // Added to the team, not created at an address of its own: the contract gives this 201 the team's ETag and no Location.
  return created(member, { version: after.version });
}

async function removeTeamMember(ctx: TenantContext<'removeTeamMember'>): Promise<OperationResult> {
  const team = await findTeam(ctx, ctx.params.teamId, { lock: true });
  assertIfMatch(ctx.ifMatch, team.version);
  const row = await findTeamMember(ctx, team.id, ctx.params.userId);
  await TeamMember.query(ctx.trx).where({ tenant_id: ctx.tenantId, team_id: team.id, user_id: row.userId }).delete();
  await patchVersioned<Team>(ctx.trx, Team, team, {});
  await ctx.audit({ action: 'team.member_removed', entityType: 'team', entityId: team.id, before: memberToApi(row) });
  return noContent();
}

/** Teams are about people, so they take the users permissions: reading needs users:read, changing users:manage. */
export const teamOperations = defineOperations({
  listTeams: { access: { permission: 'users:read' }, handle: listTeams },
  createTeam: { access: { permission: 'users:manage' }, handle: createTeam },
  getTeam: { access: { permission: 'users:read' }, handle: getTeam },
  updateTeam: { access: { permission: 'users:manage' }, handle: updateTeam },
  deleteTeam: { access: { permission: 'users:manage' }, handle: deleteTeam },
  listTeamMembers: { access: { permission: 'users:read' }, handle: listTeamMembers },
  addTeamMember: { access: { permission: 'users:manage' }, handle: addTeamMember },
  removeTeamMember: { access: { permission: 'users:manage' }, handle: removeTeamMember },
});
