import crypto from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { HearthConfig } from '../config';

export const JWT_ISSUER = 'hearth';
export const JWT_AUDIENCE = 'hearth-api';

export interface AccessClaims {
  sub: string;
  tid: string;
  scp: 'full' | 'mfa_enrolment';
  /** The user's session generation when issued: ending a user's sessions moves it on. */
  gen: number;
  /** The session (the refresh-token family of the log-in): ending it ends its access tokens too. */
  sid: string;
  /** A carer's household: the portal's scope is set from it, and the binding is re-read on every request. */
  hh?: string;
  iat: number;
  exp: number;
}

const signingKeys = new Map<string, crypto.KeyObject>();
/**
 * The secret as a KeyObject, made once: given a string, jsonwebtoken first tries to read it as a
 * public key on every call, which cost more than the rest of a request's authentication together.
 */
export function jwtKey(secret: string): crypto.KeyObject {
  let key = signingKeys.get(secret);
  if (!key) {
    key = crypto.createSecretKey(Buffer.from(secret, 'utf8'));
    signingKeys.set(secret, key);
  }
  return key;
}

export function signAccessToken(
  config: HearthConfig,
  session: { userId: string; tenantId: string; sessionId: string; generation: number; householdId?: string | null },
  scope: AccessClaims['scp'],
): string {
  return jwt.sign(
    {
      tid: session.tenantId,
      scp: scope,
      gen: session.generation,
      sid: session.sessionId,
      ...(session.householdId ? { hh: session.householdId } : {}),
    },
    jwtKey(config.jwtSecret),
    {
      algorithm: 'HS256',
      subject: session.userId,
      issuer: JWT_ISSUER,
      audience: JWT_AUDIENCE,
      expiresIn: config.accessTokenTtlSeconds,
      jwtid: crypto.randomUUID(),
    },
  );
}

/**
 * The time rules jsonwebtoken leaves to us: it checks `exp` only when a token has one, and never
 * looks at an `iat` in the future. A token must carry both, and may not have been issued later than
 * `skewSeconds` ahead of this server's clock.
 */
export function tokenTimesValid(
  claims: { iat?: unknown; exp?: unknown },
  skewSeconds: number,
  now = Date.now(),
): boolean {
  if (typeof claims.exp !== 'number' || typeof claims.iat !== 'number') return false;
  return claims.iat <= Math.floor(now / 1000) + skewSeconds;
}

/**
 * Opaque secrets (refresh tokens, password tokens, API keys) carry their tenant in clear, so the
 * request can be scoped to that tenant before the secret's hash is looked up under RLS. A forged
 * tenant part only makes the lookup miss.
 */
export type OpaqueKind = 'rt' | 'pw' | 'hk';

export interface OpaqueToken {
  token: string;
  hash: string;
  /** Enough of the token to recognise it in a list, not enough to use it. */
  prefix: string;
}

export function newOpaqueToken(kind: OpaqueKind, tenantId: string): OpaqueToken {
  const secret = crypto.randomBytes(32).toString('base64url');
  const token = `${kind}_${tenantId.replace(/-/g, '')}_${secret}`;
  return { token, hash: hashToken(token), prefix: `${kind}_${secret.slice(0, 8)}` };
}

export function parseOpaqueToken(kind: OpaqueKind, token: string): { tenantId: string } | null {
  const match = new RegExp(`^${kind}_([0-9a-f]{32})_[A-Za-z0-9_-]{43}$`).exec(token);
  if (!match) return null;
  const hex = match[1]!;
  return {
    tenantId: `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`,
  };
}

/** The secrets are 256 random bits, so a fast hash is enough; passwords get argon2id instead. */
export function hashToken(token: string): string {
  return crypto.createHash('sha256').update(token).digest('hex');
}
