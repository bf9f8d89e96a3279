import type { Knex } from 'knex';
import { newId } from '../../ids';
import { newOpaqueToken } from '../../auth/tokens';
import { OutboundMessage, PasswordToken } from './models';

const LIFETIME_MS = { reset: 60 * 60 * 1000, invite: 7 * 24 * 60 * 60 * 1000 } as const;

/**
 * A single-use, expiring set-password token (reset or invitation). Only its hash is kept; the
 * token itself goes into the outbound message that a notification channel delivers.
 */
export async function issuePasswordToken(
  trx: Knex.Transaction,
  input: { tenantId: string; userId: string; email: string; purpose: 'reset' | 'invite'; tenantSlug: string },
): Promise<void> {
  const token = newOpaqueToken('pw', input.tenantId);
  const expiresAt = new Date(Date.now() + LIFETIME_MS[input.purpose]);
  await PasswordToken.query(trx).insert({
    tenantId: input.tenantId,
    id: newId(),
    userId: input.userId,
    purpose: input.purpose,
    tokenHash: token.hash,
    expiresAt,
  });
  await OutboundMessage.query(trx).insert({
    tenantId: input.tenantId,
    id: newId(),
    channel: 'email',
    recipient: input.email,
    template: input.purpose === 'invite' ? 'auth.invitation' : 'auth.password_reset',
    payload: { token: token.token, tenant: input.tenantSlug, expiresAt: expiresAt.toISOString() },
  });
}
