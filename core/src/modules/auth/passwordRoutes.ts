import { hashPassword, verifyPassword } from '../../auth/passwords';
import { hashToken, parseOpaqueToken } from '../../auth/tokens';
import { defineOperations, type OperationResult, type PublicContext, type TenantContext } from '../../http/operation';
import { accepted, noContent } from '../../http/results';
import { Problem } from '../../http/problem';
import { User } from '../users/models';
import { lockedOwnUser, tenantActive, tenantBySlug, userPrincipal } from './credentials';
import { tooManyRequests } from './limits';
import { PasswordToken } from './models';
import { issuePasswordToken } from './passwordTokens';
import { revokeSessions } from './sessions';

async function requestPasswordReset(ctx: PublicContext<'requestPasswordReset'>): Promise<OperationResult> {
  const body = ctx.body;
  // Counted by tenant and email as sent, so an unknown account is limited exactly like a known one.
  const limits = ctx.services.rateLimits;
  const refusal = await limits.take([
    ['resetRequestsPerIp', limits.ipKey(ctx.meta.ip)],
    ['resetRequestsPerAccount', limits.accountKey(body.tenant, body.email)],
  ]);
  if (refusal) return tooManyRequests(refusal);
  // The answer is the same whether or not the account exists.
  const nothingToDo: OperationResult = { ...accepted(undefined), noWrite: true };
  const tenant = await tenantBySlug(ctx.trx, body.tenant);
  if (!tenant || tenant.status !== 'active') return nothingToDo;
  await ctx.enterTenant(tenant.id);
  const user = await User.query(ctx.trx)
    .where({ tenant_id: tenant.id, status: 'active' })
    .whereRaw('lower(email) = lower(?)', [body.email])
    .first()
    .select('id', 'email', 'display_name');
  if (!user) return nothingToDo;
  await issuePasswordToken(ctx.trx, {
    tenantId: tenant.id,
    userId: user.id,
    email: user.email,
    purpose: 'reset',
    tenantSlug: body.tenant,
    displayName: user.displayName,
  });
  await ctx.audit({ action: 'auth.password_reset_requested', entityType: 'user', entityId: user.id });
  return accepted(undefined);
}

async function confirmPasswordReset(ctx: PublicContext<'confirmPasswordReset'>): Promise<OperationResult> {
  const body = ctx.body;
  const limits = ctx.services.rateLimits;
  const refusal = await limits.take([['resetConfirmsPerIp', limits.ipKey(ctx.meta.ip)]]);
  if (refusal) return tooManyRequests(refusal);
  const parsed = parseOpaqueToken('pw', body.token);
  const invalid = () => new Problem('invalidToken', 'The reset link is not valid, was already used, or has expired');
  if (!parsed) throw invalid();
  if (!(await tenantActive(ctx.trx, parsed.tenantId))) throw invalid();
  const tenantId = parsed.tenantId;
  await ctx.enterTenant(tenantId);
  const row = await PasswordToken.query(ctx.trx)
    .where({ tenant_id: tenantId, token_hash: hashToken(body.token) })
    .forUpdate()
    .first();
  if (!row || row.usedAt || new Date(row.expiresAt).getTime() <= Date.now()) throw invalid();

  await PasswordToken.query(ctx.trx).where({ tenant_id: tenantId, id: row.id }).patch({ usedAt: ctx.trx.fn.now() });
  await User.query(ctx.trx)
    .where({ tenant_id: tenantId, id: row.userId })
    .patch({
      passwordHash: await hashPassword(body.newPassword),
      failedLoginCount: 0,
      lockedUntil: null,
      updatedAt: ctx.trx.fn.now(),
    });
  await revokeSessions({ trx: ctx.trx, tenantId }, row.userId);
  await ctx.audit({
    action: row.purpose === 'invite' ? 'auth.invitation_accepted' : 'auth.password_reset',
    entityType: 'user',
    entityId: row.userId,
  });
  return noContent();
}

async function changePassword(ctx: TenantContext<'changePassword'>): Promise<OperationResult> {
  const principal = userPrincipal(ctx);
  const body = ctx.body;
  const user = await lockedOwnUser(ctx, principal.id);
  if (!(await verifyPassword(user.passwordHash, body.currentPassword))) {
    throw Problem.unprocessable([{ pointer: '/body/currentPassword', message: 'is not your current password' }]);
  }
  if (body.newPassword === body.currentPassword) {
    throw Problem.unprocessable([{ pointer: '/body/newPassword', message: 'must differ from the current password' }]);
  }
  await User.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, id: principal.id })
    .patch({ passwordHash: await hashPassword(body.newPassword), updatedAt: ctx.trx.fn.now() });
  await revokeSessions(ctx, principal.id);
  await ctx.audit({ action: 'auth.password_changed', entityType: 'user', entityId: principal.id });
  return noContent();
}

export const passwordOperations = defineOperations({
  requestPasswordReset: { access: { public: true }, handle: requestPasswordReset },
  confirmPasswordReset: { access: { public: true }, handle: confirmPasswordReset },
  changePassword: {
    access: { authenticated: true, usersOnly: true, allowMfaEnrolmentScope: true },
    handle: changePassword,
  },
});
