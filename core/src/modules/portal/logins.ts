import type { OperationResult, TenantContext } from '../../http/operation';
import { created, ok } from '../../http/results';
import { Problem } from '../../http/problem';
import { newId } from '../../ids';
import { ageOn } from '../../dates';
import { iso } from '../../time';
import { tenantToday } from '../tenants/today';
import { issuePasswordToken } from '../auth/passwordTokens';
import { findHouseholdMember } from '../carers/households';
import { findHousehold } from '../carers/shared';
import { ADULT_AGE } from '../carers/compliance';
import type { CarerHousehold, CarerHouseholdMember } from '../carers/models';
import { rolesByKey } from '../roles/service';
import { User, UserRole } from '../users/models';
import { CarerLogin } from './models';

type InactiveReason = 'left_household' | 'household_closed' | 'approval_ended' | 'user_disabled';

/** Why a carer's login does not reach the portal today, or null when it does (as the principal's re-read decides). */
function inactiveReason(
  household: CarerHousehold,
  member: CarerHouseholdMember,
  user: User,
  today: string,
): InactiveReason | null {
  if (member.leftOn && member.leftOn <= today) return 'left_household';
  if (household.status === 'closed') return 'household_closed';
  if (household.approvalEndedOn && household.approvalEndedOn <= today) return 'approval_ended';
  if (user.status !== 'active') return 'user_disabled';
  return null;
}

function loginToApi(
  login: CarerLogin,
  user: User,
  household: CarerHousehold,
  member: CarerHouseholdMember,
  today: string,
) {
  const reason = inactiveReason(household, member, user, today);
  return {
    userId: user.id,
    householdId: login.householdId,
    memberId: login.memberId,
    email: user.email,
    displayName: user.displayName,
    status:
      user.status !== 'active' ? ('disabled' as const) : user.passwordHash ? ('active' as const) : ('invited' as const),
    active: reason === null,
    inactiveReason: reason,
    invitedAt: iso(login.createdAt),
  };
}

/**
 * A household member gets a login of their own, of kind `carer`, bound to them: each adult their own
 * (never a shared one), and only while they are in a household that may foster. The invitation is a
 * single-use link that expires, sent through the notifications outbox in this transaction.
 */
async function inviteCarerToPortal(ctx: TenantContext<'inviteCarerToPortal'>): Promise<OperationResult> {
  const today = await tenantToday(ctx);
  const household = await findHousehold(ctx, ctx.params.householdId, { lock: true });
  const member = await findHouseholdMember(ctx, household, ctx.params.memberId);
  if (household.status === 'closed' || (household.approvalEndedOn && household.approvalEndedOn <= today))
    throw Problem.unprocessable([
      { pointer: '/path/householdId', message: 'is closed or its approval has ended; it has no portal' },
    ]);
  if (member.leftOn && member.leftOn <= today)
    throw Problem.unprocessable([{ pointer: '/path/memberId', message: 'has left the household' }]);
  if (ageOn(member.dateOfBirth, today) < ADULT_AGE)
    throw Problem.unprocessable([
      { pointer: '/path/memberId', message: `is under ${ADULT_AGE}; only adults get a login` },
    ]);
  const existing = await CarerLogin.query(ctx.trx).where({ tenant_id: ctx.tenantId, member_id: member.id }).first();
  if (existing)
    throw new Problem('conflict', 'This member already has a carer login of their own', {
      errors: [{ pointer: '/path/memberId', message: 'already has a login' }],
    });
  const email = ctx.body.email;
  const taken = await User.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId })
    .whereRaw('lower(email) = lower(?)', [email])
    .first()
    .select('id');
  if (taken)
    throw new Problem('conflict', 'A user with this email exists', {
      errors: [{ pointer: '/body/email', message: 'is already taken' }],
    });
  const userId = newId();
  const displayName = ctx.body.displayName ?? member.name;
  await User.query(ctx.trx).insert({
    tenantId: ctx.tenantId,
    id: userId,
    email,
    displayName,
    kind: 'carer',
    passwordHash: null,
  });
  // The system `carer` role, so user lists say who carers are; a carer's permissions come from nowhere.
  const role = (await rolesByKey(ctx, ['carer'])).get('carer');
  if (role) await UserRole.query(ctx.trx).insert({ tenantId: ctx.tenantId, userId, roleId: role.id });
  const login = await CarerLogin.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      userId,
      householdId: household.id,
      memberId: member.id,
      createdBy: ctx.principal.kind === 'api_key' ? null : ctx.principal.id,
    })
    .returning('*');
  await issuePasswordToken(ctx.trx, {
    tenantId: ctx.tenantId,
    userId,
    email,
    purpose: 'invite',
    tenantSlug: ctx.principal.tenantSlug,
    displayName,
  });
  const user = (await User.query(ctx.trx).where({ tenant_id: ctx.tenantId, id: userId }).first())!;
  const view = loginToApi(login, user, household, member, today);
  await ctx.audit({
    action: 'carer.portal_invited',
    entityType: 'user',
    entityId: userId,
    after: { householdId: household.id, memberId: member.id, email },
  });
  return created(view, { location: `/v1/carer-households/${household.id}/portal-access` });
}

async function listHouseholdPortalLogins(ctx: TenantContext<'listHouseholdPortalLogins'>): Promise<OperationResult> {
  const today = await tenantToday(ctx);
  const household = await findHousehold(ctx, ctx.params.householdId);
  const logins = await CarerLogin.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, household_id: household.id })
    .orderBy(['created_at', 'user_id']);
  if (!logins.length) return ok({ data: [] });
  const [users, members] = await Promise.all([
    User.query(ctx.trx)
      .where('tenant_id', ctx.tenantId)
      .whereIn(
        'id',
        logins.map((l) => l.userId),
      ),
    ctx
      .trx('carer_household_members')
      .where('tenant_id', ctx.tenantId)
      .whereIn(
        'id',
        logins.map((l) => l.memberId),
      )
      .select('id', 'left_on as leftOn') as Promise<Array<Pick<CarerHouseholdMember, 'id' | 'leftOn'>>>,
  ]);
  const userById = new Map(users.map((u) => [u.id, u]));
  const memberById = new Map(members.map((m) => [m.id, m]));
  return ok({
    data: logins.map((l) =>
      loginToApi(l, userById.get(l.userId)!, household, memberById.get(l.memberId) as CarerHouseholdMember, today),
    ),
  });
}

export const loginOperations = {
  inviteCarerToPortal: { access: { permission: 'portal:manage' }, handle: inviteCarerToPortal },
  listHouseholdPortalLogins: { access: { permission: 'portal:manage' }, handle: listHouseholdPortalLogins },
} as const;
