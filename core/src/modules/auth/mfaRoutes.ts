import { newTotpSecret, totpStep, totpUri } from '../../auth/totp';
import { open, seal } from '../../crypto/secretBox';
import { defineOperations, type OperationResult, type TenantContext } from '../../http/operation';
import { created, noContent } from '../../http/results';
import { Problem } from '../../http/problem';
import { User } from '../users/models';
import { lockedOwnUser, userPrincipal } from './credentials';
import { revokeSessions } from './sessions';

async function startTotpEnrolment(ctx: TenantContext<'startTotpEnrolment'>): Promise<OperationResult> {
  const principal = userPrincipal(ctx);
  const user = await lockedOwnUser(ctx, principal.id);
  if (user.mfaEnabled) throw new Problem('conflict', 'TOTP is already enabled for this account');
  const secret = newTotpSecret();
  await User.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, id: principal.id })
    .patch({ mfaPendingSecret: seal(ctx.services.config.dataKey, secret) });
  await ctx.audit({ action: 'auth.mfa_enrolment_started', entityType: 'user', entityId: principal.id });
  // Nothing to point at: the enrolment is a state of the caller's own account.
  return created({ secret, otpauthUri: totpUri(secret, `${principal.tenantSlug}:${principal.email}`, 'Hearth') });
}

async function confirmTotpEnrolment(ctx: TenantContext<'confirmTotpEnrolment'>): Promise<OperationResult> {
  const principal = userPrincipal(ctx);
  const { code } = ctx.body;
  const user = await lockedOwnUser(ctx, principal.id);
  if (user.mfaEnabled) throw new Problem('conflict', 'TOTP is already enabled for this account');
  if (!user.mfaPendingSecret) throw new Problem('conflict', 'Start TOTP enrolment first');
  const step = totpStep(open(ctx.services.config.dataKey, user.mfaPendingSecret), code);
  if (step === null) {
    throw Problem.unprocessable([
      { pointer: '/body/code', message: 'does not match the authenticator; check the device clock' },
    ]);
  }
  await User.query(ctx.trx).where({ tenant_id: ctx.tenantId, id: principal.id }).patch({
    mfaEnabled: true,
    mfaSecret: user.mfaPendingSecret,
    mfaPendingSecret: null,
    mfaLastStep: step,
    updatedAt: ctx.trx.fn.now(),
  });
  // Sessions opened with the password alone end: from now on a session needs the second factor.
  await revokeSessions(ctx, principal.id);
  await ctx.audit({
    action: 'auth.mfa_enabled',
    entityType: 'user',
    entityId: principal.id,
    after: { mfaEnabled: true },
  });
  return noContent();
}

export const mfaOperations = defineOperations({
  startTotpEnrolment: {
    access: { authenticated: true, usersOnly: true, allowMfaEnrolmentScope: true },
    handle: startTotpEnrolment,
  },
  confirmTotpEnrolment: {
    access: { authenticated: true, usersOnly: true, allowMfaEnrolmentScope: true },
    handle: confirmTotpEnrolment,
  },
});
