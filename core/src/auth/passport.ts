import type { Request } from 'express';
import passport from 'passport';
import { ExtractJwt, Strategy as JwtStrategy } from 'passport-jwt';
import { Strategy as CustomStrategy } from 'passport-custom';
import type { HearthConfig } from '../config';
import { JWT_AUDIENCE, JWT_ISSUER, jwtKey, parseOpaqueToken, tokenTimesValid, type AccessClaims } from './tokens';

/**
 * What a credential claims, before the database confirms it: passport checks signatures and
 * shapes here; `loadPrincipal` then checks, inside the request's tenant-scoped transaction, that
 * the user or key still exists, is active and holds the permissions.
 */
export type Credential =
  | {
      kind: 'user';
      userId: string;
      tenantId: string;
      sessionId: string;
      scope: AccessClaims['scp'];
      generation: number;
      /** Set for a carer: the household their requests are fenced to (confirmed by the principal's re-read). */
      householdId?: string;
    }
  | { kind: 'api_key'; tenantId: string; token: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The credential a verified token's claims make, or null when a claim is missing or malformed (ids are bound as uuids later). */
function userCredential(claims: Partial<AccessClaims>, skewSeconds: number): Credential | null {
  if (!tokenTimesValid(claims, skewSeconds)) return null;
  const { sub, tid, sid, gen, scp, hh } = claims;
  if (hh !== undefined && (typeof hh !== 'string' || !UUID.test(hh))) return null;
  if (
    typeof sub !== 'string' ||
    typeof tid !== 'string' ||
    typeof sid !== 'string' ||
    !UUID.test(sub) ||
    !UUID.test(tid) ||
    !UUID.test(sid)
  )
    return null;
  if (!Number.isInteger(gen) || (scp !== 'full' && scp !== 'mfa_enrolment')) return null;
  return {
    kind: 'user',
    userId: sub,
    tenantId: tid,
    sessionId: sid,
    scope: scp,
    generation: gen!,
    ...(hh ? { householdId: hh } : {}),
  };
}

export function createAuthenticator(config: HearthConfig): passport.Authenticator {
  const authenticator = new passport.Passport();
  authenticator.use(
    'jwt',
    new JwtStrategy(
      {
        jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
        secretOrKey: jwtKey(config.jwtSecret) as unknown as string,
        algorithms: ['HS256'],
        issuer: JWT_ISSUER,
        audience: JWT_AUDIENCE,
        // No token lives longer than the lifetime we issue, whatever its exp says (maxAge also requires iat).
        jsonWebTokenOptions: { maxAge: config.accessTokenTtlSeconds + config.jwtClockSkewSeconds },
      },
      (claims: Partial<AccessClaims>, done: (error: unknown, user?: Credential | false) => void) => {
        done(null, userCredential(claims, config.jwtClockSkewSeconds) ?? false);
      },
    ),
  );
  authenticator.use(
    'api-key',
    new CustomStrategy((req: Request, done: (error: unknown, user?: Credential | false) => void) => {
      const header = req.headers['x-api-key'];
      if (typeof header !== 'string') return done(null, false);
      const parsed = parseOpaqueToken('hk', header);
      if (!parsed) return done(null, false);
      done(null, { kind: 'api_key', tenantId: parsed.tenantId, token: header });
    }),
  );
  return authenticator;
}

/** Runs the strategies in turn; resolves to the credential, or null when none holds. */
export function authenticate(authenticator: passport.Authenticator, req: Request): Promise<Credential | null> {
  const strategies = req.headers['x-api-key'] !== undefined ? ['api-key'] : ['jwt'];
  return new Promise((resolve, reject) => {
    authenticator.authenticate(strategies, { session: false }, (error: unknown, credential: Credential | false) => {
      if (error) reject(error);
      else resolve(credential || null);
    })(req, {} as never, (error: unknown) => (error ? reject(error) : resolve(null)));
  });
}
