import type { Knex } from 'knex';
import type { HearthConfig } from '../../config';
import { newId } from '../../ids';
import { hashPassword, verifyPassword } from '../../auth/passwords';
import { hashToken, newOpaqueToken, parseOpaqueToken, signAccessToken } from '../../auth/tokens';
import { newTotpSecret, totpStep, totpUri } from '../../auth/totp';
import { open, seal } from '../../crypto/secretBox';
import type { OperationContext, OperationMap, OperationResult, UserPrincipal } from '../../http/operation';
import { Problem } from '../../http/problem';
import type { SecurityPolicy } from '../tenants/provision';
import { LoginAttempt, tooManyRequests } from './limits';
import { issuePasswordToken } from './passwordTokens';
import { revokeSessions } from './sessions';

interface UserAuthRow {
  id: string;
  email: string;
  status: 'active' | 'disabled';
  password_hash: string | null;
  failed_login_count: number;
  locked_until: Date | null;
  mfa_enabled: boolean;
  mfa_secret: string | null;
  mfa_pending_secret: string | null;
  mfa_last_step: number | null;
  session_generation: number;
}

type Scope = 'full' | 'mfa_enrolment';

async function tenantBySlug(trx: Knex.Transaction, slug: string): Promise<{ id: string; status: string } | null> {
  const result = (await trx.raw('SELECT id, status FROM hearth_tenant_by_slug(?)', [slug])) as { rows: Array<{ id: string; status: string }> };
  return result.rows[0] ?? null;
}

async function securityPolicy(trx: Knex.Transaction, tenantId: string): Promise<SecurityPolicy> {
  const row = (await trx('tenants').where({ id: tenantId }).first('security_policy')) as { security_policy: SecurityPolicy };
  return row.security_policy;
}

/** Full access, unless the tenant's policy requires MFA for one of the user's roles and the user has not enrolled. */
async function scopeFor(trx: Knex.Transaction, tenantId: string, user: { id: string; mfa_enabled: boolean }): Promise<Scope> {
  if (user.mfa_enabled) return 'full';
  const policy = await securityPolicy(trx, tenantId);
  if (!policy.mfaRequiredForRoles.length) return 'full';
  const required = (await trx('user_roles as ur')
    .join('roles as r', function joinRoles() {
      this.on('r.tenant_id', 'ur.tenant_id').andOn('r.id', 'ur.role_id');
    })
    .where({ 'ur.tenant_id': tenantId, 'ur.user_id': user.id })
    .whereIn('r.key', policy.mfaRequiredForRoles)
    .first('r.key')) as unknown;
  return required ? 'mfa_enrolment' : 'full';
}

async function issueTokens(
  trx: Knex.Transaction,
  config: HearthConfig,
  tenantId: string,
  user: { id: string; session_generation: number },
  scope: Scope,
  familyId: string = newId(),
) {
  const refresh = newOpaqueToken('rt', tenantId);
  await trx('refresh_tokens').insert({
    tenant_id: tenantId,
    id: newId(),
    user_id: user.id,
    family_id: familyId,
    token_hash: refresh.hash,
    scope,
    expires_at: new Date(Date.now() + config.refreshTokenTtlSeconds * 1000),
  });
  return {
    accessToken: signAccessToken(config, { userId: user.id, tenantId, sessionId: familyId, generation: user.session_generation }, scope),
    refreshToken: refresh.token,
    tokenType: 'Bearer' as const,
    expiresIn: config.accessTokenTtlSeconds,
    scope,
  };
}

function userPrincipal(ctx: OperationContext): UserPrincipal {
  if (ctx.principal?.kind !== 'user') throw new Problem('forbidden', 'Only a person can do this, not an API key');
  return ctx.principal;
}

async function lockedUserRow(ctx: OperationContext, userId: string): Promise<UserAuthRow> {
  const row = (await ctx.trx('users').where({ tenant_id: ctx.tenantId, id: userId }).forUpdate().first()) as UserAuthRow | undefined;
  if (!row) throw new Problem('invalidToken', 'The credential is not valid');
  return row;
}

const invalidCredentials = () => new Problem('invalidCredentials', 'The tenant, email or password is wrong');

async function login(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as { tenant: string; email: string; password: string; totpCode?: string };
  const attempt = new LoginAttempt(ctx.services.rateLimits, ctx.meta.ip, body.tenant, body.email);
  const refusal = await attempt.begin();
  if (refusal) return tooManyRequests(refusal);
  const tenant = await tenantBySlug(ctx.trx, body.tenant);
  if (!tenant || tenant.status !== 'active') {
    await verifyPassword(null, body.password);
    throw invalidCredentials();
  }
  await ctx.enterTenant(tenant.id);
  const user = (await ctx.trx('users')
    .where({ tenant_id: tenant.id })
    .whereRaw('lower(email) = lower(?)', [body.email])
    .forUpdate()
    .first()) as UserAuthRow | undefined;
  if (!user || user.status !== 'active' || !user.password_hash) {
    await verifyPassword(null, body.password);
    throw invalidCredentials();
  }
  const passwordOk = await verifyPassword(user.password_hash, body.password);
  if (user.locked_until && new Date(user.locked_until).getTime() > Date.now()) {
    // Only someone who knows the password learns the account is locked; to anyone else a locked
    // account looks like a wrong password, so locking cannot be used to find who has an account.
    if (!passwordOk) throw invalidCredentials();
    await attempt.passwordRight();
    throw new Problem('accountLocked', 'Too many failed log-ins; try again later or ask an administrator to unlock the account', {
      lockedUntil: new Date(user.locked_until).toISOString(),
    });
  }
  if (passwordOk && user.mfa_enabled && body.totpCode === undefined) {
    await attempt.passwordRight();
    throw new Problem('mfaRequired', 'Send totpCode from your authenticator app');
  }
  const step = user.mfa_enabled && body.totpCode !== undefined && user.mfa_secret !== null ? totpStep(open(ctx.services.config.dataKey, user.mfa_secret), body.totpCode) : null;
  const secondFactorOk = !user.mfa_enabled || (step !== null && (user.mfa_last_step === null || step > Number(user.mfa_last_step)));

  if (!passwordOk || !secondFactorOk) {
    // The failure is recorded and committed, so the count survives; the response is still a 401 (or 423).
    const policy = await securityPolicy(ctx.trx, tenant.id);
    const failures = user.failed_login_count + 1;
    const lockedUntil = failures >= policy.maxFailedLogins ? new Date(Date.now() + policy.lockoutMinutes * 60_000) : null;
    await ctx.trx('users')
      .where({ tenant_id: tenant.id, id: user.id })
      .update({ failed_login_count: lockedUntil ? 0 : failures, locked_until: lockedUntil });
    await ctx.audit({
      action: lockedUntil ? 'auth.account_locked' : 'auth.login_failed',
      entityType: 'user',
      entityId: user.id,
      after: { failedLogins: failures, lockedUntil: lockedUntil?.toISOString() ?? null, reason: passwordOk ? 'totp' : 'password' },
    });
    // The failure that locks answers like any other; the lock shows only to the right password.
    const problem = passwordOk ? new Problem('invalidCredentials', 'The TOTP code is not valid, or was already used') : invalidCredentials();
    return { status: problem.status, problem: problem.body };
  }

  await ctx.trx('users').where({ tenant_id: tenant.id, id: user.id }).update({ failed_login_count: 0, locked_until: null, ...(step !== null ? { mfa_last_step: step } : {}) });
  await attempt.succeeded();
  const scope = await scopeFor(ctx.trx, tenant.id, user);
  const tokens = await issueTokens(ctx.trx, ctx.services.config, tenant.id, user, scope);
  await ctx.audit({ action: 'auth.login', entityType: 'user', entityId: user.id, after: { scope }, actor: { type: 'user', id: user.id } });
  return { status: 200, body: tokens };
}

interface RefreshRow {
  id: string;
  user_id: string;
  family_id: string;
  expires_at: Date;
  used_at: Date | null;
  revoked_at: Date | null;
}

async function findRefreshToken(ctx: OperationContext, token: string): Promise<RefreshRow | null> {
  const parsed = parseOpaqueToken('rt', token);
  if (!parsed) return null;
  const status = (await ctx.trx.raw('SELECT hearth_tenant_status(?) AS status', [parsed.tenantId])) as { rows: Array<{ status: string | null }> };
  if (status.rows[0]?.status !== 'active') return null;
  await ctx.enterTenant(parsed.tenantId);
  return ((await ctx.trx('refresh_tokens').where({ tenant_id: parsed.tenantId, token_hash: hashToken(token) }).forUpdate().first()) as RefreshRow | undefined) ?? null;
}

async function refreshToken(ctx: OperationContext): Promise<OperationResult> {
  const { refreshToken: presented } = ctx.body as { refreshToken: string };
  const limits = ctx.services.rateLimits;
  const refusal = await limits.take([['refreshesPerIp', limits.ipKey(ctx.meta.ip)]]);
  if (refusal) return tooManyRequests(refusal);
  const row = await findRefreshToken(ctx, presented);
  if (!row || row.revoked_at) throw new Problem('invalidToken', 'The refresh token is not valid');
  if (row.used_at) {
    // A rotated token came back: someone holds a copy. End the whole family, for both holders.
    await ctx.trx('refresh_tokens').where({ tenant_id: ctx.tenantId, family_id: row.family_id }).whereNull('revoked_at').update({ revoked_at: ctx.trx.fn.now() });
    await ctx.audit({ action: 'auth.refresh_token_reused', entityType: 'user', entityId: row.user_id, after: { familyId: row.family_id } });
    const problem = new Problem('invalidToken', 'The refresh token was already used; every session from that log-in has been ended');
    return { status: problem.status, problem: problem.body };
  }
  if (new Date(row.expires_at).getTime() <= Date.now()) throw new Problem('invalidToken', 'The refresh token has expired');
  const user = (await ctx.trx('users').where({ tenant_id: ctx.tenantId, id: row.user_id }).first('id', 'status', 'mfa_enabled', 'session_generation')) as
    | { id: string; status: string; mfa_enabled: boolean; session_generation: number }
    | undefined;
  if (!user || user.status !== 'active') throw new Problem('invalidToken', 'The refresh token is not valid');

  await ctx.trx('refresh_tokens').where({ tenant_id: ctx.tenantId, id: row.id }).update({ used_at: ctx.trx.fn.now() });
  const scope = await scopeFor(ctx.trx, ctx.tenantId!, user);
  const tokens = await issueTokens(ctx.trx, ctx.services.config, ctx.tenantId!, user, scope, row.family_id);
  await ctx.audit({ action: 'auth.token_refreshed', entityType: 'user', entityId: user.id, after: { familyId: row.family_id, scope }, actor: { type: 'user', id: user.id } });
  return { status: 200, body: tokens };
}

async function logout(ctx: OperationContext): Promise<OperationResult> {
  const { refreshToken: presented } = ctx.body as { refreshToken: string };
  const row = await findRefreshToken(ctx, presented);
  // An unknown token gets the same answer: logging out cannot be used to test tokens.
  if (!row || row.revoked_at) return { status: 204, noWrite: true };
  await ctx.trx('refresh_tokens').where({ tenant_id: ctx.tenantId, family_id: row.family_id }).whereNull('revoked_at').update({ revoked_at: ctx.trx.fn.now() });
  await ctx.audit({ action: 'auth.logout', entityType: 'user', entityId: row.user_id, after: { familyId: row.family_id } });
  return { status: 204 };
}

async function requestPasswordReset(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as { tenant: string; email: string };
  // Counted by tenant and email as sent, so an unknown account is limited exactly like a known one.
  const limits = ctx.services.rateLimits;
  const refusal = await limits.take([
    ['resetRequestsPerIp', limits.ipKey(ctx.meta.ip)],
    ['resetRequestsPerAccount', limits.accountKey(body.tenant, body.email)],
  ]);
  if (refusal) return tooManyRequests(refusal);
  // The answer is the same whether or not the account exists.
  const accepted: OperationResult = { status: 202, noWrite: true };
  const tenant = await tenantBySlug(ctx.trx, body.tenant);
  if (!tenant || tenant.status !== 'active') return accepted;
  await ctx.enterTenant(tenant.id);
  const user = (await ctx.trx('users')
    .where({ tenant_id: tenant.id, status: 'active' })
    .whereRaw('lower(email) = lower(?)', [body.email])
    .first('id', 'email')) as { id: string; email: string } | undefined;
  if (!user) return accepted;
  await issuePasswordToken(ctx.trx, { tenantId: tenant.id, userId: user.id, email: user.email, purpose: 'reset', tenantSlug: body.tenant });
  await ctx.audit({ action: 'auth.password_reset_requested', entityType: 'user', entityId: user.id });
  return { status: 202 };
}

async function confirmPasswordReset(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as { token: string; newPassword: string };
  const limits = ctx.services.rateLimits;
  const refusal = await limits.take([['resetConfirmsPerIp', limits.ipKey(ctx.meta.ip)]]);
  if (refusal) return tooManyRequests(refusal);
  const parsed = parseOpaqueToken('pw', body.token);
  const invalid = () => new Problem('invalidToken', 'The reset link is not valid, was already used, or has expired');
  if (!parsed) throw invalid();
  const status = (await ctx.trx.raw('SELECT hearth_tenant_status(?) AS status', [parsed.tenantId])) as { rows: Array<{ status: string | null }> };
  if (status.rows[0]?.status !== 'active') throw invalid();
  await ctx.enterTenant(parsed.tenantId);
  const row = (await ctx.trx('password_tokens').where({ tenant_id: parsed.tenantId, token_hash: hashToken(body.token) }).forUpdate().first()) as
    | { id: string; user_id: string; purpose: string; expires_at: Date; used_at: Date | null }
    | undefined;
  if (!row || row.used_at || new Date(row.expires_at).getTime() <= Date.now()) throw invalid();

  await ctx.trx('password_tokens').where({ tenant_id: parsed.tenantId, id: row.id }).update({ used_at: ctx.trx.fn.now() });
  await ctx.trx('users')
    .where({ tenant_id: parsed.tenantId, id: row.user_id })
    .update({ password_hash: await hashPassword(body.newPassword), failed_login_count: 0, locked_until: null, updated_at: ctx.trx.fn.now() });
  await revokeSessions(ctx.trx, parsed.tenantId, row.user_id);
  await ctx.audit({ action: row.purpose === 'invite' ? 'auth.invitation_accepted' : 'auth.password_reset', entityType: 'user', entityId: row.user_id });
  return { status: 204 };
}

async function getCurrentPrincipal(ctx: OperationContext): Promise<OperationResult> {
  const p = ctx.principal!;
  const permissions = [...p.permissions].sort();
  if (p.kind === 'api_key') return { status: 200, body: { kind: p.kind, id: p.id, tenantId: p.tenantId, tenantSlug: p.tenantSlug, permissions } };
  return {
    status: 200,
    body: { kind: p.kind, id: p.id, tenantId: p.tenantId, tenantSlug: p.tenantSlug, email: p.email, displayName: p.displayName, roles: p.roles, permissions, mfaEnabled: p.mfaEnabled },
  };
}

async function changePassword(ctx: OperationContext): Promise<OperationResult> {
  const principal = userPrincipal(ctx);
  const body = ctx.body as { currentPassword: string; newPassword: string };
  const user = await lockedUserRow(ctx, principal.id);
  if (!(await verifyPassword(user.password_hash, body.currentPassword))) {
    throw Problem.unprocessable([{ pointer: '/body/currentPassword', message: 'is not your current password' }]);
  }
  if (body.newPassword === body.currentPassword) throw Problem.unprocessable([{ pointer: '/body/newPassword', message: 'must differ from the current password' }]);
  await ctx.trx('users').where({ tenant_id: ctx.tenantId, id: principal.id }).update({ password_hash: await hashPassword(body.newPassword), updated_at: ctx.trx.fn.now() });
  await revokeSessions(ctx.trx, ctx.tenantId!, principal.id);
  await ctx.audit({ action: 'auth.password_changed', entityType: 'user', entityId: principal.id });
  return { status: 204 };
}

async function startTotpEnrolment(ctx: OperationContext): Promise<OperationResult> {
  const principal = userPrincipal(ctx);
  const user = await lockedUserRow(ctx, principal.id);
  if (user.mfa_enabled) throw new Problem('conflict', 'TOTP is already enabled for this account');
  const secret = newTotpSecret();
  await ctx.trx('users').where({ tenant_id: ctx.tenantId, id: principal.id }).update({ mfa_pending_secret: seal(ctx.services.config.dataKey, secret) });
  await ctx.audit({ action: 'auth.mfa_enrolment_started', entityType: 'user', entityId: principal.id });
  return { status: 201, body: { secret, otpauthUri: totpUri(secret, `${principal.tenantSlug}:${principal.email}`, 'Hearth') } };
}

async function confirmTotpEnrolment(ctx: OperationContext): Promise<OperationResult> {
  const principal = userPrincipal(ctx);
  const { code } = ctx.body as { code: string };
  const user = await lockedUserRow(ctx, principal.id);
  if (user.mfa_enabled) throw new Problem('conflict', 'TOTP is already enabled for this account');
  if (!user.mfa_pending_secret) throw new Problem('conflict', 'Start TOTP enrolment first');
  const step = totpStep(open(ctx.services.config.dataKey, user.mfa_pending_secret), code);
  if (step === null) {
    throw Problem.unprocessable([{ pointer: '/body/code', message: 'does not match the authenticator; check the device clock' }]);
  }
  await ctx.trx('users')
    .where({ tenant_id: ctx.tenantId, id: principal.id })
    .update({ mfa_enabled: true, mfa_secret: user.mfa_pending_secret, mfa_pending_secret: null, mfa_last_step: step, updated_at: ctx.trx.fn.now() });
  // Sessions opened with the password alone end: from now on a session needs the second factor.
  await revokeSessions(ctx.trx, ctx.tenantId!, principal.id);
  await ctx.audit({ action: 'auth.mfa_enabled', entityType: 'user', entityId: principal.id, after: { mfaEnabled: true } });
  return { status: 204 };
}

export const authOperations: OperationMap = {
  login: { access: { public: true }, handle: login },
  refreshToken: { access: { public: true }, handle: refreshToken },
  logout: { access: { public: true }, handle: logout },
  requestPasswordReset: { access: { public: true }, handle: requestPasswordReset },
  confirmPasswordReset: { access: { public: true }, handle: confirmPasswordReset },
  getCurrentPrincipal: { access: { authenticated: true, allowMfaEnrolmentScope: true }, handle: getCurrentPrincipal },
  changePassword: { access: { authenticated: true, usersOnly: true, allowMfaEnrolmentScope: true }, handle: changePassword },
  startTotpEnrolment: { access: { authenticated: true, usersOnly: true, allowMfaEnrolmentScope: true }, handle: startTotpEnrolment },
  confirmTotpEnrolment: { access: { authenticated: true, usersOnly: true, allowMfaEnrolmentScope: true }, handle: confirmTotpEnrolment },
};
