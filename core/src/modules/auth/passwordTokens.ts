import type { Knex } from 'knex';
import { newId } from '../../ids';
import { newOpaqueToken } from '../../auth/tokens';
import { queueNotification } from '../notifications/outbox';
import { PasswordToken } from './models';

const LIFETIME_MS = { reset: 60 * 60 * 1000, invite: 7 * 24 * 60 * 60 * 1000 } as const;

/**
 * A single-use, expiring set-password token (reset or invitation). Only its hash is kept; the token
 * itself travels in the link of the message queued in the same transaction (critical: no opt-out).
 * The link's token is in the fragment, which browsers never send to a server or in a Referer.
 */
export async function issuePasswordToken(
  trx: Knex.Transaction,
  input: {
    tenantId: string;
    userId: string;
    email: string;
    purpose: 'reset' | 'invite';
    tenantSlug: string;
    displayName?: string | null;
  },
): Promise<void> {
  const token = newOpaqueToken('pw', input.tenantId);
  const expiresAt = new Date(Date.now() + LIFETIME_MS[input.purpose]);
  const id = newId();
  await PasswordToken.query(trx).insert({
    tenantId: input.tenantId,
    id,
    userId: input.userId,
    purpose: input.purpose,
    tokenHash: token.hash,
    expiresAt,
  });
  await queueNotification(
    { trx, tenantId: input.tenantId },
    {
      event: input.purpose === 'invite' ? 'auth.invitation' : 'auth.password_reset',
      occurrence: id,
      recipients: [{ userId: input.userId, email: input.email, name: input.displayName ?? null }],
      data: { tenant: input.tenantSlug, expiresAt: expiresAt.toISOString() },
      link: `/${input.purpose === 'invite' ? 'set-password' : 'reset-password'}#tenant=${encodeURIComponent(input.tenantSlug)}&token=${token.token}`,
      reference: id.slice(0, 8),
    },
  );
}
