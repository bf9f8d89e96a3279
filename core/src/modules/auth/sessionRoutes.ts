import type { Knex } from 'knex';
import { verifyPassword } from '../../auth/passwords';
import { hashToken, parseOpaqueToken } from '../../auth/tokens';
import { totpStep } from '../../auth/totp';
import { open } from '../../crypto/secretBox';
import { defineOperations, type OperationResult, type PublicContext, type TenantContext } from '../../http/operation';
import { noContent, ok } from '../../http/results';
import { Problem } from '../../http/problem';
import { User } from '../users/models';
import { issueTokens, scopeFor, securityPolicy, tenantActive, tenantBySlug } from './credentials';
import { LoginAttempt, tooManyRequests } from './limits';
import { RefreshToken } from './models';

const invalidCredentials = () => new Problem('invalidCredentials', 'The tenant, email or password is wrong');

async function login(ctx: PublicContext<'login'>): Promise<OperationResult> {
  const body = ctx.body;
  const attempt = new LoginAttempt(ctx.services.rateLimits, ctx.meta.ip, body.tenant, body.email);
  const refusal = await attempt.begin();
  if (refusal) return tooManyRequests(refusal);
  const tenant = await tenantBySlug(ctx.trx, body.tenant);
  if (!tenant || tenant.status !== 'active') {
    await verifyPassword(null, body.password);
    throw invalidCredentials();
  }
  await ctx.enterTenant(tenant.id);
  const user = await User.query(ctx.trx)
    .where({ tenant_id: tenant.id })
    .whereRaw('lower(email) = lower(?)', [body.email])
    .forUpdate()
    .first();
  if (!user || user.status !== 'active' || !user.passwordHash) {
    await verifyPassword(null, body.password);
    throw invalidCredentials();
  }
  const passwordOk = await verifyPassword(user.passwordHash, body.password);
  if (user.lockedUntil && new Date(user.lockedUntil).getTime() > Date.now()) {
    // Only someone who knows the password learns the account is locked; to anyone else a locked
    // account looks like a wrong password, so locking cannot be used to find who has an account.
    if (!passwordOk) throw invalidCredentials();
    await attempt.passwordRight();
    throw new Problem(
      'accountLocked',
      'Too many failed log-ins; try again later or ask an administrator to unlock the account',
      {
        lockedUntil: new Date(user.lockedUntil).toISOString(),
      },
    );
  }
  if (passwordOk && user.mfaEnabled && body.totpCode === undefined) {
    await attempt.passwordRight();
    throw new Problem('mfaRequired', 'Send totpCode from your authenticator app');
  }
  const secret =
    user.mfaEnabled && body.totpCode !== undefined && user.mfaSecret !== null
      ? open(ctx.services.config.dataKey, user.mfaSecret)
      : null;
  const step = secret !== null ? totpStep(secret, body.totpCode!) : null;
  const secondFactorOk =
    !user.mfaEnabled || (step !== null && (user.mfaLastStep === null || step > Number(user.mfaLastStep)));

  if (!passwordOk || !secondFactorOk) {
    // The failure is recorded and committed, so the count survives; the response is still a 401 (or 423).
    const policy = await securityPolicy(ctx.trx, tenant.id);
    const failures = user.failedLoginCount + 1;
    const lockedUntil =
      failures >= policy.maxFailedLogins ? new Date(Date.now() + policy.lockoutMinutes * 60_000) : null;
    await User.query(ctx.trx)
      .where({ tenant_id: tenant.id, id: user.id })
      .patch({ failedLoginCount: lockedUntil ? 0 : failures, lockedUntil });
    await ctx.audit({
      action: lockedUntil ? 'auth.account_locked' : 'auth.login_failed',
      entityType: 'user',
      entityId: user.id,
      after: {
        failedLogins: failures,
        lockedUntil: lockedUntil?.toISOString() ?? null,
        reason: passwordOk ? 'totp' : 'password',
      },
    });
    // The failure that locks answers like any other; the lock shows only to the right password.
    const problem = passwordOk
      ? new Problem('invalidCredentials', 'The TOTP code is not valid, or was already used')
      : invalidCredentials();
    return { status: problem.status, problem: problem.body };
  }

  await User.query(ctx.trx)
    .where({ tenant_id: tenant.id, id: user.id })
    .patch({ failedLoginCount: 0, lockedUntil: null, ...(step !== null ? { mfaLastStep: step } : {}) });
  await attempt.succeeded();
  const scope = await scopeFor(ctx.trx, tenant.id, user);
  const tokens = await issueTokens(ctx.trx, ctx.services.config, { tenantId: tenant.id, user, scope });
  await ctx.audit({
    action: 'auth.login',
    entityType: 'user',
    entityId: user.id,
    after: { scope },
    actor: { type: 'user', id: user.id },
  });
  return ok(tokens);
}

/** The refresh token presented, locked, with the tenant it is in (entered); null when it is not one of an active tenant's. */
async function presentedRefreshToken(
  ctx: Pick<PublicContext<'refreshToken'>, 'trx' | 'enterTenant'>,
  token: string,
): Promise<{ row: RefreshToken; tenantId: string } | null> {
  const parsed = parseOpaqueToken('rt', token);
  if (!parsed) return null;
  if (!(await tenantActive(ctx.trx, parsed.tenantId))) return null;
  await ctx.enterTenant(parsed.tenantId);
  const row = await RefreshToken.query(ctx.trx)
    .where({ tenant_id: parsed.tenantId, token_hash: hashToken(token) })
    .forUpdate()
    .first();
  return row ? { row, tenantId: parsed.tenantId } : null;
}

async function endSession(trx: Knex.Transaction, tenantId: string, familyId: string): Promise<void> {
  await RefreshToken.query(trx)
    .where({ tenant_id: tenantId, family_id: familyId })
    .whereNull('revoked_at')
    .patch({ revokedAt: trx.fn.now() });
}

async function refreshToken(ctx: PublicContext<'refreshToken'>): Promise<OperationResult> {
  const limits = ctx.services.rateLimits;
  const refusal = await limits.take([['refreshesPerIp', limits.ipKey(ctx.meta.ip)]]);
  if (refusal) return tooManyRequests(refusal);
  const found = await presentedRefreshToken(ctx, ctx.body.refreshToken);
  if (!found || found.row.revokedAt) throw new Problem('invalidToken', 'The refresh token is not valid');
  const { row, tenantId } = found;
  if (row.usedAt) {
    // A rotated token came back: someone holds a copy. End the whole family, for both holders.
    await endSession(ctx.trx, tenantId, row.familyId);
    await ctx.audit({
      action: 'auth.refresh_token_reused',
      entityType: 'user',
      entityId: row.userId,
      after: { familyId: row.familyId },
    });
    const problem = new Problem(
      'invalidToken',
      'The refresh token was already used; every session from that log-in has been ended',
    );
    return { status: problem.status, problem: problem.body };
  }
  if (new Date(row.expiresAt).getTime() <= Date.now())
    throw new Problem('invalidToken', 'The refresh token has expired');
  const user = await User.query(ctx.trx)
    .where({ tenant_id: tenantId, id: row.userId })
    .first()
    .select('id', 'status', 'mfa_enabled', 'session_generation');
  if (!user || user.status !== 'active') throw new Problem('invalidToken', 'The refresh token is not valid');

  await RefreshToken.query(ctx.trx).where({ tenant_id: tenantId, id: row.id }).patch({ usedAt: ctx.trx.fn.now() });
  const scope = await scopeFor(ctx.trx, tenantId, user);
  const tokens = await issueTokens(ctx.trx, ctx.services.config, { tenantId, user, scope, familyId: row.familyId });
  const after = { familyId: row.familyId, scope };
  await ctx.audit({
    action: 'auth.token_refreshed',
    entityType: 'user',
    entityId: user.id,
    after,
    actor: { type: 'user', id: user.id },
  });
  return ok(tokens);
}

async function logout(ctx: PublicContext<'logout'>): Promise<OperationResult> {
  const found = await presentedRefreshToken(ctx, ctx.body.refreshToken);
  // An unknown token gets the same answer: logging out cannot be used to test tokens.
  if (!found || found.row.revokedAt) return { ...noContent(), noWrite: true };
  await endSession(ctx.trx, found.tenantId, found.row.familyId);
  await ctx.audit({
    action: 'auth.logout',
    entityType: 'user',
    entityId: found.row.userId,
    after: { familyId: found.row.familyId },
  });
  return noContent();
}

async function getCurrentPrincipal(ctx: TenantContext<'getCurrentPrincipal'>): Promise<OperationResult> {
  const p = ctx.principal;
  const common = {
    kind: p.kind,
    id: p.id,
    tenantId: p.tenantId,
    tenantSlug: p.tenantSlug,
    permissions: [...p.permissions].sort(),
  };
  if (p.kind === 'api_key') return ok(common);
  const person = { ...common, email: p.email, displayName: p.displayName, mfaEnabled: p.mfaEnabled };
  // A carer holds no role's permissions: they are bound to their household instead.
  if (p.kind === 'carer') return ok({ ...person, roles: [], householdId: p.householdId, memberId: p.memberId });
  return ok({ ...person, roles: p.roles });
}

export const sessionOperations = defineOperations({
  login: { access: { public: true }, handle: login },
  refreshToken: { access: { public: true }, handle: refreshToken },
  logout: { access: { public: true }, handle: logout },
  getCurrentPrincipal: { access: { authenticated: true, allowMfaEnrolmentScope: true }, handle: getCurrentPrincipal },
});
