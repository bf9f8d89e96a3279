import crypto from 'node:crypto';
import jwt, { type JwtPayload } from 'jsonwebtoken';
import { authenticator } from 'otplib';
import { currentTotp } from '../../auth/totp';
import { startServer, type RunningServer } from '../../server';
import { call, type HttpResponse } from '../../../../test/support/contractClient';
import {
  DEFAULT_RATE_LIMITS,
  ownerRows,
  startWorld,
  TEST_PASSWORD,
  type TenantFixture,
  type World,
} from '../../../../test/support/harness';

/*
 * Authentication end to end, through the HTTP API on a real database: lockout, token expiry,
 * refresh rotation and reuse detection, tampered tokens, MFA required by policy, API key scopes,
 * password reset and change, and disabled users. Every response is also checked against the
 * contract by world.call.
 */

let world: World;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world?.close();
});

const WRONG_PASSWORD = 'definitely not the password';
const problem = (slug: string) => `https://hearth.dev/problems/${slug}`;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const sha256 = (value: string) => crypto.createHash('sha256').update(value).digest('hex');
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

let serial = 0;
const uniqueEmail = (tenant: TenantFixture, what: string) =>
  `${what}${Date.now().toString(36)}${++serial}@${tenant.slug}.test`;

/** Creates a user with TEST_PASSWORD through the API without logging in (log-ins cost an argon2 hash each). */
async function createUser(
  tenant: TenantFixture,
  roles: string[],
  what = 'auth',
): Promise<{ id: string; email: string }> {
  const email = uniqueEmail(tenant, what);
  const r = await world.call('createUser', {
    token: tenant.adminToken,
    body: { email, displayName: email, roles, password: TEST_PASSWORD },
  });
  expect(r.status).toBe(201);
  return { id: r.body.id as string, email };
}

async function loginOk(
  tenant: TenantFixture,
  email: string,
  password = TEST_PASSWORD,
  totpCode?: string,
): Promise<{ accessToken: string; refreshToken: string; scope: string }> {
  const r = await world.login(tenant.slug, email, password, totpCode);
  expect(r.status).toBe(200);
  return r.body as { accessToken: string; refreshToken: string; scope: string };
}

const me = (token: string) => world.call('getCurrentPrincipal', { token });
const refresh = (refreshToken: string, w: World = world) => w.call('refreshToken', { body: { refreshToken } });

/** The parts of a problem document that do not vary per request (instance and requestId always do). */
function stableProblem(body: Record<string, unknown>): Record<string, unknown> {
  const { instance: _instance, requestId: _requestId, ...rest } = body;
  return rest;
}

function expectProblem(response: HttpResponse, status: number, slug: string): void {
  expect({ status: response.status, type: response.body?.type }).toEqual({ status, type: problem(slug) });
}

interface UserAuthRow {
  failed_login_count: number;
  locked_until: Date | null;
  mfa_enabled: boolean;
  mfa_secret: string | null;
  mfa_pending_secret: string | null;
  session_generation: number;
}

async function authRow(tenant: TenantFixture, userId: string): Promise<UserAuthRow> {
  const rows = await ownerRows<UserAuthRow>(
    world.db,
    tenant.id,
    'SELECT failed_login_count, locked_until, mfa_enabled, mfa_secret, mfa_pending_secret, session_generation FROM users WHERE tenant_id = ? AND id = ?',
    [tenant.id, userId],
  );
  expect(rows).toHaveLength(1);
  return rows[0]!;
}

interface RefreshRow {
  family_id: string;
  used_at: Date | null;
  revoked_at: Date | null;
  expires_at: Date;
}

async function refreshRow(tenant: TenantFixture, token: string, db = world.db): Promise<RefreshRow> {
  const rows = await ownerRows<RefreshRow>(
    db,
    tenant.id,
    'SELECT family_id, used_at, revoked_at, expires_at FROM refresh_tokens WHERE token_hash = ?',
    [sha256(token)],
  );
  expect(rows).toHaveLength(1);
  return rows[0]!;
}

async function familyRows(tenant: TenantFixture, familyId: string): Promise<RefreshRow[]> {
  return ownerRows<RefreshRow>(
    world.db,
    tenant.id,
    'SELECT family_id, used_at, revoked_at, expires_at FROM refresh_tokens WHERE family_id = ? ORDER BY created_at',
    [familyId],
  );
}

/** Changes tenant A's security policy the way an administrator does: read the ETag, send it back. */
async function setPolicy(
  tenant: TenantFixture,
  securityPolicy: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const settings = await world.call('getTenantSettings', { token: tenant.adminToken });
  expect(settings.status).toBe(200);
  const etag = settings.headers.get('etag');
  expect(etag).toMatch(/^"\d+"$/);
  const updated = await world.call('updateTenantSettings', {
    token: tenant.adminToken,
    body: { securityPolicy },
    headers: { 'if-match': etag! },
  });
  expect(updated.status).toBe(200);
  return updated.body.securityPolicy as Record<string, unknown>;
}

const DEFAULT_POLICY = { mfaRequiredForRoles: [], maxFailedLogins: 5, lockoutMinutes: 15 };

/** A six-digit code that is not valid for the secret at any step near now (the server accepts one step either side). */
function wrongTotp(secret: string): string {
  const now = Date.now();
  const near = new Set(
    [-3, -2, -1, 0, 1, 2, 3].map((step) => authenticator.clone({ epoch: now + step * 30_000 }).generate(secret)),
  );
  for (let i = 0; ; i++) {
    const code = String(i).padStart(6, '0');
    if (!near.has(code)) return code;
  }
}

/** The session (refresh-token family) an access token belongs to. */
const sessionOf = (accessToken: string) => (jwt.decode(accessToken) as JwtPayload).sid as string;

/** Claims of a token for tenant A's administrator, in the session the harness opened for it. */
const adminClaims = () => ({
  sub: world.a.adminId,
  tid: world.a.id,
  scp: 'full',
  gen: 0,
  sid: sessionOf(world.a.adminToken),
});

function signWith(secret: string, claims: Record<string, unknown>, options: jwt.SignOptions = {}): string {
  return jwt.sign(claims, secret, {
    algorithm: 'HS256',
    issuer: 'hearth',
    audience: 'hearth-api',
    expiresIn: 300,
    ...options,
  });
}

// ---------------------------------------------------------------------------------------------

describe('log-in lockout', () => {
  it('counts failures across failed requests, locks at the fifth, shows the lock only to the right password, and lets an admin unlock', async () => {
    const user = await createUser(world.a, ['caseworker'], 'lock');
    for (let attempt = 1; attempt <= 4; attempt++) {
      const r = await world.login(world.a.slug, user.email, WRONG_PASSWORD);
      expectProblem(r, 401, 'invalid-credentials');
      // The response is an error, yet its transaction committed the count: the next attempt builds on it.
      expect((await authRow(world.a, user.id)).failed_login_count).toBe(attempt);
    }
    expect((await authRow(world.a, user.id)).locked_until).toBeNull();

    const before = Date.now();
    const fifth = await world.login(world.a.slug, user.email, WRONG_PASSWORD);
    // The locking failure answers like any wrong password: a lock must not reveal that an account exists.
    expectProblem(fifth, 401, 'invalid-credentials');
    const right = await world.login(world.a.slug, user.email, TEST_PASSWORD);
    expectProblem(right, 423, 'account-locked');
    const lockedUntil = Date.parse(right.body.lockedUntil as string);
    // The default policy locks for 15 minutes.
    expect(lockedUntil).toBeGreaterThanOrEqual(before + 15 * 60_000 - 1000);
    expect(lockedUntil).toBeLessThanOrEqual(Date.now() + 15 * 60_000 + 1000);
    const locked = await authRow(world.a, user.id);
    expect(new Date(locked.locked_until!).getTime()).toBe(lockedUntil);
    // The count restarts once the lock is set, so the lock expiring gives a fresh allowance, not a single try.
    expect(locked.failed_login_count).toBe(0);
    // The lock is in the audit trail, committed with the failed request.
    const lockEvents = await ownerRows<{ after: { failedLogins: number; lockedUntil: string } }>(
      world.db,
      world.a.id,
      `SELECT after FROM audit_events WHERE action = 'auth.account_locked' AND entity_id = ?`,
      [user.id],
    );
    expect(lockEvents.map((e) => e.after)).toEqual([
      expect.objectContaining({ failedLogins: 5, lockedUntil: right.body.lockedUntil }),
    ]);

    // While locked, a wrong password still looks like any wrong password (and is not counted).
    expectProblem(await world.login(world.a.slug, user.email, WRONG_PASSWORD), 401, 'invalid-credentials');
    const again = await world.login(world.a.slug, user.email, TEST_PASSWORD);
    expectProblem(again, 423, 'account-locked');
    expect(again.body.lockedUntil).toBe(right.body.lockedUntil);

    const seen = await world.call('getUser', { token: world.a.adminToken, params: { userId: user.id } });
    expect(seen.body.lockedUntil).toBe(right.body.lockedUntil);

    const unlocked = await world.call('unlockUser', { token: world.a.adminToken, params: { userId: user.id } });
    expect(unlocked.status).toBe(200);
    expect(unlocked.body.lockedUntil).toBeNull();
    const cleared = await authRow(world.a, user.id);
    expect({ count: cleared.failed_login_count, until: cleared.locked_until }).toEqual({ count: 0, until: null });

    const after = await loginOk(world.a, user.email);
    expect(after.scope).toBe('full');
    expect((await me(after.accessToken)).status).toBe(200);
  });

  it('applies a changed policy (3 failures, 1-minute lock) to the next log-in, and the change needs If-Match', async () => {
    const user = await createUser(world.a, ['caseworker'], 'policy');
    const noIfMatch = await world.call('updateTenantSettings', {
      token: world.a.adminToken,
      body: { securityPolicy: { maxFailedLogins: 3 } },
    });
    expectProblem(noIfMatch, 428, 'precondition-required');

    const policy = await setPolicy(world.a, { maxFailedLogins: 3, lockoutMinutes: 1 });
    try {
      expect(policy).toEqual({ mfaRequiredForRoles: [], maxFailedLogins: 3, lockoutMinutes: 1 });
      for (let attempt = 1; attempt <= 2; attempt++)
        expectProblem(await world.login(world.a.slug, user.email, WRONG_PASSWORD), 401, 'invalid-credentials');
      const before = Date.now();
      expectProblem(await world.login(world.a.slug, user.email, WRONG_PASSWORD), 401, 'invalid-credentials');
      const third = await world.login(world.a.slug, user.email, TEST_PASSWORD);
      expectProblem(third, 423, 'account-locked');
      const lockedUntil = Date.parse(third.body.lockedUntil as string);
      expect(lockedUntil).toBeGreaterThanOrEqual(before + 60_000 - 1000);
      expect(lockedUntil).toBeLessThanOrEqual(Date.now() + 60_000 + 1000);
    } finally {
      // Later tests in this file count on the default policy.
      expect(await setPolicy(world.a, { maxFailedLogins: 5, lockoutMinutes: 15 })).toEqual(DEFAULT_POLICY);
    }
  });

  it('counts concurrent failures without losing any: five at once still lock the account', async () => {
    const user = await createUser(world.a, ['caseworker'], 'race');
    // The user row is locked per attempt, so parallel attempts queue rather than overwrite each other's count.
    const results = await Promise.all(
      Array.from({ length: 5 }, () => world.login(world.a.slug, user.email, WRONG_PASSWORD)),
    );
    expect(results.map((r) => r.status)).toEqual([401, 401, 401, 401, 401]);
    expect((await authRow(world.a, user.id)).locked_until).not.toBeNull();
  });

  it('answers an unknown email, an unknown tenant and the wrong tenant exactly as it answers a wrong password', async () => {
    const user = await createUser(world.a, ['caseworker'], 'enum');
    const wrongPassword = await world.login(world.a.slug, user.email, WRONG_PASSWORD);
    expectProblem(wrongPassword, 401, 'invalid-credentials');
    // The other three carry the right password: nothing in the answer may tell which part was wrong.
    const unknownEmail = await world.login(world.a.slug, uniqueEmail(world.a, 'nobody'), TEST_PASSWORD);
    const otherTenant = await world.login(world.b.slug, user.email, TEST_PASSWORD);
    const noTenant = await world.login('no-such-tenant', user.email, TEST_PASSWORD);
    for (const r of [unknownEmail, otherTenant, noTenant]) {
      expect(r.status).toBe(401);
      expect(stableProblem(r.body)).toEqual(stableProblem(wrongPassword.body));
    }
    // Only the attempt at the user's own tenant counted against the user.
    expect((await authRow(world.a, user.id)).failed_login_count).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------

describe('token expiry', () => {
  // A world of its own with 2-second lifetimes (the env minimum is 30 s; overrides skip that check).
  // Two seconds, not one: iat is floored to the second, so a 1-second token can expire before its
  // first use if the log-in lands at the end of a second.
  let short: World;
  beforeAll(async () => {
    short = await startWorld({ accessTokenTtlSeconds: 2, refreshTokenTtlSeconds: 2 });
  });
  afterAll(async () => {
    await short?.close();
  });

  it('refuses an access token and a refresh token once they have expired', async () => {
    const login = await short.login(short.a.slug, short.a.adminEmail);
    expect(login.status).toBe(200);
    expect(login.body.expiresIn).toBe(2);
    // Both work while fresh: the later 401s come from expiry, not from a broken token.
    expect((await short.call('getCurrentPrincipal', { token: login.body.accessToken })).status).toBe(200);
    const rotated = await refresh(login.body.refreshToken, short);
    expect(rotated.status).toBe(200);
    const access = rotated.body.accessToken as string;
    const refreshToken = rotated.body.refreshToken as string;

    const { exp } = jwt.decode(access) as JwtPayload;
    const row = await refreshRow(short.a, refreshToken, short.db);
    const until = Math.max(exp! * 1000, new Date(row.expires_at).getTime()) + 100;
    expect(until - Date.now()).toBeLessThan(3000);
    await sleep(Math.max(0, until - Date.now()));

    expectProblem(await short.call('getCurrentPrincipal', { token: access }), 401, 'invalid-token');
    expectProblem(await short.call('getCurrentPrincipal', { token: login.body.accessToken }), 401, 'invalid-token');
    expectProblem(await refresh(refreshToken, short), 401, 'invalid-token');
    // Unused and unrevoked: expiry alone refused it.
    const after = await refreshRow(short.a, refreshToken, short.db);
    expect({ used: after.used_at, revoked: after.revoked_at }).toEqual({ used: null, revoked: null });
  });

  it('refuses a correctly signed access token whose exp has passed', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = adminClaims();
    // The same forgery with a future exp works, so only the exp makes the difference.
    const live = jwt.sign({ ...claims, iat: now - 120, exp: now + 60 }, world.config.jwtSecret, {
      algorithm: 'HS256',
      issuer: 'hearth',
      audience: 'hearth-api',
    });
    expect((await me(live)).status).toBe(200);
    const expired = jwt.sign({ ...claims, iat: now - 120, exp: now - 60 }, world.config.jwtSecret, {
      algorithm: 'HS256',
      issuer: 'hearth',
      audience: 'hearth-api',
    });
    expectProblem(await me(expired), 401, 'invalid-token');
  });
});

// ---------------------------------------------------------------------------------------------

describe('refresh token rotation', () => {
  it('rotates on each use; a reused token ends its whole family and is audited, while another session of the same user carries on', async () => {
    const user = await createUser(world.a, ['caseworker'], 'rotate');
    const first = await loginOk(world.a, user.email);
    const second = await loginOk(world.a, user.email);
    const r1 = first.refreshToken;

    const p2 = await refresh(r1);
    expect(p2.status).toBe(200);
    const r2 = p2.body.refreshToken as string;
    expect(r2).not.toBe(r1);
    expect((await me(p2.body.accessToken as string)).status).toBe(200);
    const row1 = await refreshRow(world.a, r1);
    expect(row1.used_at).not.toBeNull();
    expect(row1.revoked_at).toBeNull();

    const p3 = await refresh(r2);
    expect(p3.status).toBe(200);
    const r3 = p3.body.refreshToken as string;
    expect((await refreshRow(world.a, r3)).family_id).toBe(row1.family_id);
    const otherFamily = (await refreshRow(world.a, second.refreshToken)).family_id;
    expect(otherFamily).not.toBe(row1.family_id);

    // R1 comes back: someone holds a copy. The answer is 401, and R3 (the live one) dies with it.
    expectProblem(await refresh(r1), 401, 'invalid-token');
    const family = await familyRows(world.a, row1.family_id);
    expect(family).toHaveLength(3);
    for (const row of family) expect(row.revoked_at).not.toBeNull();
    expectProblem(await refresh(r3), 401, 'invalid-token');

    const events = await ownerRows<{ after: { familyId: string } }>(
      world.db,
      world.a.id,
      `SELECT after FROM audit_events WHERE action = 'auth.refresh_token_reused' AND entity_id = ?`,
      [user.id],
    );
    expect(events.map((e) => e.after.familyId)).toEqual([row1.family_id]);

    // The user's other log-in is a different family: untouched.
    for (const row of await familyRows(world.a, otherFamily)) expect(row.revoked_at).toBeNull();
    expect((await refresh(second.refreshToken)).status).toBe(200);
  });

  it('logout revokes the whole family, and accepts an unknown or already revoked token silently', async () => {
    const user = await createUser(world.a, ['caseworker'], 'logout');
    const session = await loginOk(world.a, user.email);
    const rotated = await refresh(session.refreshToken);
    expect(rotated.status).toBe(200);
    const live = rotated.body.refreshToken as string;
    const familyId = (await refreshRow(world.a, live)).family_id;

    expect((await world.call('logout', { body: { refreshToken: live } })).status).toBe(204);
    const family = await familyRows(world.a, familyId);
    expect(family).toHaveLength(2);
    for (const row of family) expect(row.revoked_at).not.toBeNull();
    expectProblem(await refresh(live), 401, 'invalid-token');

    expect((await world.call('logout', { body: { refreshToken: live } })).status).toBe(204);
    expect(
      (await world.call('logout', { body: { refreshToken: `rt_${'0'.repeat(32)}_${'A'.repeat(43)}` } })).status,
    ).toBe(204);
  });

  it('refuses the access tokens of a session at once when it is logged out, not when they expire', async () => {
    const user = await createUser(world.a, ['caseworker'], 'outnow');
    const session = await loginOk(world.a, user.email);
    const rotated = await refresh(session.refreshToken);
    expect(rotated.status).toBe(200);
    const other = await loginOk(world.a, user.email);
    // Both access tokens of the session work until it ends.
    for (const token of [session.accessToken, rotated.body.accessToken as string])
      expect((await me(token)).status).toBe(200);

    expect((await world.call('logout', { body: { refreshToken: rotated.body.refreshToken as string } })).status).toBe(
      204,
    );
    for (const token of [session.accessToken, rotated.body.accessToken as string])
      expectProblem(await me(token), 401, 'invalid-token');
    expectProblem(await world.call('listChildren', { token: session.accessToken }), 401, 'invalid-token');
    // The same user's other log-in is another session: it carries on.
    expect((await me(other.accessToken)).status).toBe(200);
  });

  it('refuses the access tokens of a session at once when one of its refresh tokens is reused', async () => {
    const user = await createUser(world.a, ['caseworker'], 'reusenow');
    const session = await loginOk(world.a, user.email);
    const rotated = await refresh(session.refreshToken);
    expect(rotated.status).toBe(200);
    const other = await loginOk(world.a, user.email);
    expect((await me(rotated.body.accessToken as string)).status).toBe(200);

    // The first refresh token comes back: the family ends, and with it both holders' access tokens.
    expectProblem(await refresh(session.refreshToken), 401, 'invalid-token');
    for (const token of [session.accessToken, rotated.body.accessToken as string])
      expectProblem(await me(token), 401, 'invalid-token');
    expect((await me(other.accessToken)).status).toBe(200);
  });

  it('refuses a refresh token whose tenant part was rewritten to another tenant', async () => {
    const session = await loginOk(world.a, world.a.adminEmail);
    const moved = session.refreshToken.replace(world.a.id.replace(/-/g, ''), world.b.id.replace(/-/g, ''));
    expect(moved).not.toBe(session.refreshToken);
    expectProblem(await refresh(moved), 401, 'invalid-token');
    expect((await refresh(session.refreshToken)).status).toBe(200);
  });
});

// ---------------------------------------------------------------------------------------------

describe('tampered and missing credentials', () => {
  it('refuses a token whose signature, payload, key or algorithm was changed', async () => {
    const token = world.a.adminToken;
    expect((await me(token)).status).toBe(200);
    const [header, payload, signature] = token.split('.') as [string, string, string];

    // A character in the middle: the last one carries padding bits and may decode to the same bytes.
    const i = 10;
    const flipped = signature.slice(0, i) + (signature[i] === 'A' ? 'B' : 'A') + signature.slice(i + 1);
    expectProblem(await me(`${header}.${payload}.${flipped}`), 401, 'invalid-token');

    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    expect(claims.tid).toBe(world.a.id);
    expectProblem(await me(`${header}.${b64url({ ...claims, tid: world.b.id })}.${signature}`), 401, 'invalid-token');

    const otherSecret = jwt.sign(claims, crypto.randomBytes(32).toString('base64url'), { algorithm: 'HS256' });
    expectProblem(await me(otherSecret), 401, 'invalid-token');

    const unsigned = `${b64url({ alg: 'none', typ: 'JWT' })}.${payload}.`;
    expectProblem(await me(unsigned), 401, 'invalid-token');
  });

  it("refuses a correctly signed token that puts tenant A's user in tenant B", async () => {
    const claims = adminClaims();
    // The forgery is sound: with A's own tenant it is accepted.
    expect((await me(signWith(world.config.jwtSecret, claims))).status).toBe(200);
    const intoB = signWith(world.config.jwtSecret, { ...claims, tid: world.b.id });
    expectProblem(await me(intoB), 401, 'invalid-token');
    const children = await world.call('listChildren', { token: intoB });
    expectProblem(children, 401, 'invalid-token');
    expect(children.body.data).toBeUndefined();
  });

  it('refuses correctly signed tokens for another audience or issuer, or with an unknown scope', async () => {
    const claims = adminClaims();
    // Control: the same claims with Hearth's audience and issuer are accepted.
    expect((await me(signWith(world.config.jwtSecret, claims))).status).toBe(200);
    expectProblem(
      await me(signWith(world.config.jwtSecret, claims, { audience: 'someone-else' })),
      401,
      'invalid-token',
    );
    expectProblem(await me(signWith(world.config.jwtSecret, claims, { issuer: 'not-hearth' })), 401, 'invalid-token');
    expectProblem(await me(signWith(world.config.jwtSecret, { ...claims, scp: 'admin' })), 401, 'invalid-token');
    // A token from before the user's sessions were last ended (an older generation) no longer counts.
    expectProblem(await me(signWith(world.config.jwtSecret, { ...claims, gen: -1 })), 401, 'invalid-token');
    expectProblem(
      await me(signWith(world.config.jwtSecret, { sub: claims.sub, tid: claims.tid, scp: 'full', sid: claims.sid })),
      401,
      'invalid-token',
    );
  });

  it('refuses a token that names no session, a session that does not exist, or the session of another user', async () => {
    const claims = adminClaims();
    expect((await me(signWith(world.config.jwtSecret, claims))).status).toBe(200);
    const { sid: _sid, ...sessionless } = claims;
    expectProblem(await me(signWith(world.config.jwtSecret, sessionless)), 401, 'invalid-token');
    expectProblem(
      await me(signWith(world.config.jwtSecret, { ...claims, sid: crypto.randomUUID() })),
      401,
      'invalid-token',
    );
    expectProblem(await me(signWith(world.config.jwtSecret, { ...claims, sid: 'not-a-uuid' })), 401, 'invalid-token');
    const other = await createUser(world.a, ['caseworker'], 'othersid');
    const otherSession = sessionOf((await loginOk(world.a, other.email)).accessToken);
    expectProblem(await me(signWith(world.config.jwtSecret, { ...claims, sid: otherSession })), 401, 'invalid-token');
  });

  it('refuses a token without exp, without iat, issued further ahead than the clock skew allowed, or older than an access token lives', async () => {
    const claims = adminClaims();
    const now = Math.floor(Date.now() / 1000);
    const skew = world.config.jwtClockSkewSeconds;
    expect(skew).toBe(30);
    // Signed as jsonwebtoken would with the times given, and no others added.
    const sign = (times: { iat?: number; exp?: number }) =>
      jwt.sign({ ...claims, ...times }, world.config.jwtSecret, {
        algorithm: 'HS256',
        issuer: 'hearth',
        audience: 'hearth-api',
        noTimestamp: times.iat === undefined,
      });
    // Controls: well-formed times pass, and so does an iat a little ahead (another server's clock running fast).
    expect((await me(sign({ iat: now, exp: now + 300 }))).status).toBe(200);
    expect((await me(sign({ iat: now + 10, exp: now + 300 }))).status).toBe(200);

    expectProblem(await me(sign({ iat: now })), 401, 'invalid-token');
    expectProblem(await me(sign({ exp: now + 300 })), 401, 'invalid-token');
    expectProblem(await me(sign({ iat: now + 600, exp: now + 900 })), 401, 'invalid-token');
    expectProblem(await me(sign({ iat: now + skew + 5, exp: now + 300 })), 401, 'invalid-token');
    // Issued longer ago than an access token lives (900 s) plus the skew: refused whatever its exp says.
    expectProblem(await me(sign({ iat: now - 900 - skew - 5, exp: now + 300 })), 401, 'invalid-token');
  });

  it('answers a missing credential with unauthorized, and a malformed one with invalid-token', async () => {
    expectProblem(await world.call('listChildren'), 401, 'unauthorized');
    expectProblem(
      await world.call('listChildren', { headers: { authorization: 'Bearer not-a-jwt' } }),
      401,
      'invalid-token',
    );
    expectProblem(await world.call('listChildren', { apiKey: 'hk_not_a_key' }), 401, 'invalid-token');
  });
});

// ---------------------------------------------------------------------------------------------

describe('MFA required by the tenant policy', () => {
  it('gives a caseworker enrolment-only tokens until TOTP is enrolled, then requires the code at log-in', async () => {
    const caseworker = await createUser(world.a, ['caseworker'], 'mfa');
    const officer = await createUser(world.a, ['placement_officer'], 'nomfa');
    expect(await setPolicy(world.a, { mfaRequiredForRoles: ['caseworker'] })).toEqual({
      ...DEFAULT_POLICY,
      mfaRequiredForRoles: ['caseworker'],
    });
    try {
      const enrolment = await loginOk(world.a, caseworker.email);
      expect(enrolment.scope).toBe('mfa_enrolment');
      expectProblem(await world.call('listChildren', { token: enrolment.accessToken }), 403, 'mfa-enrolment-required');
      const whoami = await me(enrolment.accessToken);
      expect(whoami.status).toBe(200);
      expect(whoami.body).toMatchObject({ kind: 'user', id: caseworker.id, mfaEnabled: false });

      // A role the policy does not name is unaffected.
      const other = await loginOk(world.a, officer.email);
      expect(other.scope).toBe('full');
      expect((await world.call('listChildren', { token: other.accessToken })).status).toBe(200);

      const setup = await world.call('startTotpEnrolment', { token: enrolment.accessToken });
      expect(setup.status).toBe(201);
      const secret = setup.body.secret as string;
      expect(setup.body.otpauthUri).toContain(`secret=${secret}`);

      const wrong = await world.call('confirmTotpEnrolment', {
        token: enrolment.accessToken,
        body: { code: wrongTotp(secret) },
      });
      expect(wrong.status).toBe(422);
      expect(wrong.body.errors.map((e: { pointer: string }) => e.pointer)).toEqual(['/body/code']);
      expect((await authRow(world.a, caseworker.id)).mfa_enabled).toBe(false);

      const confirmed = await world.call('confirmTotpEnrolment', {
        token: enrolment.accessToken,
        body: { code: currentTotp(secret) },
      });
      expect(confirmed.status).toBe(204);
      const enrolled = await authRow(world.a, caseworker.id);
      expect(enrolled.mfa_enabled).toBe(true);
      expect(enrolled.mfa_pending_secret).toBeNull();
      // The secret is kept sealed, not in clear.
      expect(enrolled.mfa_secret).not.toBeNull();
      expect(enrolled.mfa_secret).not.toContain(secret);

      expectProblem(await world.login(world.a.slug, caseworker.email), 401, 'mfa-required');
      // No count for a missing code: the password was right and nothing was guessed.
      expect((await authRow(world.a, caseworker.id)).failed_login_count).toBe(0);

      expectProblem(
        await world.login(world.a.slug, caseworker.email, TEST_PASSWORD, wrongTotp(secret)),
        401,
        'invalid-credentials',
      );
      expect((await authRow(world.a, caseworker.id)).failed_login_count).toBe(1);

      // The code that confirmed enrolment is spent: a TOTP code works once (RFC 6238 section 5.2).
      expectProblem(
        await world.login(world.a.slug, caseworker.email, TEST_PASSWORD, currentTotp(secret)),
        401,
        'invalid-credentials',
      );
      // The next step's code is inside the server's window and not yet used.
      const nextCode = currentTotp(secret, 1);
      const full = await loginOk(world.a, caseworker.email, TEST_PASSWORD, nextCode);
      expect(full.scope).toBe('full');
      expect((await world.call('listChildren', { token: full.accessToken })).status).toBe(200);
      expect((await authRow(world.a, caseworker.id)).failed_login_count).toBe(0);
      expectProblem(
        await world.login(world.a.slug, caseworker.email, TEST_PASSWORD, nextCode),
        401,
        'invalid-credentials',
      );
    } finally {
      expect(await setPolicy(world.a, { mfaRequiredForRoles: [] })).toEqual(DEFAULT_POLICY);
    }
  });

  it('ends existing sessions when TOTP is turned on, as the contract says ("Existing sessions end; log in again with a code")', async () => {
    // Two sessions opened with the password alone: a full-scope one (a role the policy does not
    // name) and an enrolment-only one (a role it does).
    const officer = await createUser(world.a, ['placement_officer'], 'mfaend');
    const caseworker = await createUser(world.a, ['caseworker'], 'mfaend');
    await setPolicy(world.a, { mfaRequiredForRoles: ['caseworker'] });
    try {
      const full = await loginOk(world.a, officer.email);
      const enrolment = await loginOk(world.a, caseworker.email);
      expect([full.scope, enrolment.scope]).toEqual(['full', 'mfa_enrolment']);

      for (const session of [full, enrolment]) {
        const setup = await world.call('startTotpEnrolment', { token: session.accessToken });
        expect(setup.status).toBe(201);
        expect(
          (
            await world.call('confirmTotpEnrolment', {
              token: session.accessToken,
              body: { code: currentTotp(setup.body.secret as string) },
            })
          ).status,
        ).toBe(204);
      }

      // Otherwise a session opened with the password alone outlives the switch to two factors: its
      // refresh token keeps minting pairs, full-scope ones even for the enrolment-only session,
      // without a TOTP code ever being shown. Gathered in one object so a failure shows every leak.
      const fullAccess = await me(full.accessToken);
      const fullRefresh = await refresh(full.refreshToken);
      const enrolmentRefresh = await refresh(enrolment.refreshToken);
      expect({
        fullAccess: fullAccess.status,
        fullRefresh: fullRefresh.status,
        enrolmentRefresh: enrolmentRefresh.status,
        enrolmentRefreshScope: enrolmentRefresh.body?.scope,
      }).toEqual({ fullAccess: 401, fullRefresh: 401, enrolmentRefresh: 401, enrolmentRefreshScope: undefined });
    } finally {
      expect(await setPolicy(world.a, { mfaRequiredForRoles: [] })).toEqual(DEFAULT_POLICY);
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('API keys', () => {
  async function createKey(
    token: string,
    permissions: string[],
    extra: Record<string, unknown> = {},
  ): Promise<HttpResponse> {
    return world.call('createApiKey', { token, body: { name: `key ${++serial}`, permissions, ...extra } });
  }

  it('acts only within its scopes', async () => {
    const created = await createKey(world.a.adminToken, ['children:read']);
    expect(created.status).toBe(201);
    const apiKey = created.body.secret as string;

    const principal = await world.call('getCurrentPrincipal', { apiKey });
    expect(principal.body).toMatchObject({
      kind: 'api_key',
      id: created.body.id,
      tenantId: world.a.id,
      permissions: ['children:read'],
    });
    expect((await world.call('listChildren', { apiKey })).status).toBe(200);
    expectProblem(
      await world.call('createChild', {
        apiKey,
        body: { givenName: 'Key', familyName: 'Child', dateOfBirth: '2016-05-01', sex: 'female' },
      }),
      403,
      'forbidden',
    );
    expectProblem(await world.call('listUsers', { apiKey }), 403, 'forbidden');
    // Operations for people only stay closed to keys.
    expectProblem(
      await world.call('changePassword', {
        apiKey,
        body: { currentPassword: TEST_PASSWORD, newPassword: 'a key has no password 1' },
      }),
      403,
      'forbidden',
    );
  });

  it('shows the secret once and stores only its hash', async () => {
    const created = await createKey(world.a.adminToken, ['children:read']);
    expect(created.status).toBe(201);
    const secret = created.body.secret as string;
    expect(secret).toMatch(/^hk_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$/);
    const id = created.body.id as string;
    // The last 43 characters are the random part (base64url, which may itself contain '_').
    const randomPart = secret.slice(-43);

    const read = await world.call('getApiKey', { token: world.a.adminToken, params: { apiKeyId: id } });
    expect(read.status).toBe(200);
    expect(read.body).not.toHaveProperty('secret');
    expect(read.text).not.toContain(randomPart);
    const list = await world.call('listApiKeys', { token: world.a.adminToken, query: { limit: 100 } });
    expect(list.status).toBe(200);
    expect(list.body.data.map((k: { id: string }) => k.id)).toContain(id);
    for (const key of list.body.data) expect(key).not.toHaveProperty('secret');
    expect(list.text).not.toContain(randomPart);

    const rows = await ownerRows<{ token_hash: string; row: string }>(
      world.db,
      world.a.id,
      'SELECT token_hash, row_to_json(k)::text AS row FROM api_keys k WHERE id = ?',
      [id],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.token_hash).toBe(sha256(secret));
    expect(rows[0]!.token_hash).not.toBe(secret);
    // No column holds the secret (the prefix keeps its first 8 characters, by design, and no more).
    expect(rows[0]!.row).not.toContain(randomPart);
    expect(rows[0]!.row).not.toContain(randomPart.slice(8));
    // Nor does the audit trail.
    const audit = await ownerRows<{ event: string }>(
      world.db,
      world.a.id,
      `SELECT row_to_json(e)::text AS event FROM audit_events e WHERE entity_id = ?`,
      [id],
    );
    expect(audit.length).toBeGreaterThan(0);
    for (const e of audit) expect(e.event).not.toContain(randomPart.slice(8));
  });

  it('cannot carry a permission its creator lacks, and needs api_keys:manage to be created', async () => {
    const supervisor = await world.addUser(world.a, ['supervisor']);
    expectProblem(await createKey(supervisor.token, ['children:read']), 403, 'forbidden');

    const platformOnly = await createKey(world.a.adminToken, ['tenants:manage']);
    expect(platformOnly.status).toBe(422);
    expect(platformOnly.body.errors.map((e: { pointer: string }) => e.pointer)).toEqual(['/body/permissions/0']);

    // A key manager who may only read children cannot mint a key that deletes them.
    const role = await world.call('createRole', {
      token: world.a.adminToken,
      body: { key: `key_manager_${++serial}`, name: 'Key manager', permissions: ['api_keys:manage', 'children:read'] },
    });
    expect(role.status).toBe(201);
    const manager = await world.addUser(world.a, [role.body.key as string]);
    const beyond = await createKey(manager.token, ['children:read', 'children:delete']);
    expect(beyond.status).toBe(422);
    expect(beyond.body.errors.map((e: { pointer: string }) => e.pointer)).toEqual(['/body/permissions/1']);
    expect((await createKey(manager.token, ['children:read'])).status).toBe(201);

    const past = await createKey(world.a.adminToken, ['children:read'], {
      expiresAt: new Date(Date.now() - 60_000).toISOString(),
    });
    expect(past.status).toBe(422);
    expect(past.body.errors.map((e: { pointer: string }) => e.pointer)).toEqual(['/body/expiresAt']);
  });

  it('stops working when revoked or expired, or when its tenant part is rewritten', async () => {
    const revoked = (await createKey(world.a.adminToken, ['children:read'])).body as { id: string; secret: string };
    expect((await world.call('listChildren', { apiKey: revoked.secret })).status).toBe(200);
    expect(
      (await world.call('revokeApiKey', { token: world.a.adminToken, params: { apiKeyId: revoked.id } })).status,
    ).toBe(200);
    expectProblem(await world.call('listChildren', { apiKey: revoked.secret }), 401, 'invalid-token');

    const expiring = (
      await createKey(world.a.adminToken, ['children:read'], {
        expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
      })
    ).body as { id: string; secret: string };
    expect((await world.call('listChildren', { apiKey: expiring.secret })).status).toBe(200);
    // Move the expiry into the past behind the API's back rather than wait for it.
    await ownerRows(world.db, world.a.id, `UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = ?`, [
      expiring.id,
    ]);
    expectProblem(await world.call('listChildren', { apiKey: expiring.secret }), 401, 'invalid-token');

    const good = (await createKey(world.a.adminToken, ['children:read'])).body as { id: string; secret: string };
    const moved = good.secret.replace(world.a.id.replace(/-/g, ''), world.b.id.replace(/-/g, ''));
    expect(moved).not.toBe(good.secret);
    expectProblem(await world.call('listChildren', { apiKey: moved }), 401, 'invalid-token');
    expect((await world.call('listChildren', { apiKey: good.secret })).status).toBe(200);
  });

  it('cannot manage keys, even holding api_keys:manage', async () => {
    const created = await createKey(world.a.adminToken, ['api_keys:manage', 'children:read']);
    expect(created.status).toBe(201);
    const apiKey = created.body.secret as string;
    // The key holds the permission, so it is the "people only" rule that refuses, not a missing grant.
    expect((await world.call('getCurrentPrincipal', { apiKey })).body.permissions).toContain('api_keys:manage');
    expectProblem(
      await world.call('createApiKey', { apiKey, body: { name: 'minted by a key', permissions: ['children:read'] } }),
      403,
      'forbidden',
    );
    expectProblem(await world.call('listApiKeys', { apiKey }), 403, 'forbidden');
    expectProblem(
      await world.call('revokeApiKey', { apiKey, params: { apiKeyId: created.body.id as string } }),
      403,
      'forbidden',
    );
    const rows = await ownerRows<{ n: number }>(
      world.db,
      world.a.id,
      `SELECT count(*)::int AS n FROM api_keys WHERE name = 'minted by a key'`,
    );
    expect(rows[0]!.n).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------

describe('password reset and change', () => {
  async function outboundTokens(tenant: TenantFixture, email: string): Promise<string[]> {
    const rows = await ownerRows<{ payload: { link: string } }>(
      world.db,
      tenant.id,
      "SELECT payload FROM outbound_messages WHERE recipient = ? AND channel = 'email' ORDER BY created_at, id",
      [email],
    );
    return rows.map((r) => /[#&]token=([^&]+)/.exec(r.payload.link)![1]!);
  }

  it('answers known and unknown emails alike; the token works once, unlocks, and ends every session', async () => {
    const user = await createUser(world.a, ['caseworker'], 'reset');
    const session = await loginOk(world.a, user.email);

    const known = await world.call('requestPasswordReset', { body: { tenant: world.a.slug, email: user.email } });
    const unknownEmail = uniqueEmail(world.a, 'ghost');
    const unknown = await world.call('requestPasswordReset', { body: { tenant: world.a.slug, email: unknownEmail } });
    expect({ status: known.status, body: known.text }).toEqual({ status: 202, body: '' });
    expect({ status: unknown.status, body: unknown.text }).toEqual({ status: known.status, body: known.text });
    expect(await outboundTokens(world.a, unknownEmail)).toEqual([]);
    const tokens = await outboundTokens(world.a, user.email);
    expect(tokens).toHaveLength(1);
    const token = tokens[0]!;
    // Only the hash is kept in password_tokens.
    const stored = await ownerRows<{ token_hash: string }>(
      world.db,
      world.a.id,
      'SELECT token_hash FROM password_tokens WHERE user_id = ?',
      [user.id],
    );
    expect(stored.map((r) => r.token_hash)).toEqual([sha256(token)]);

    // A lock is lifted by the reset (the contract says so).
    await ownerRows(
      world.db,
      world.a.id,
      `UPDATE users SET locked_until = now() + interval '10 minutes' WHERE id = ?`,
      [user.id],
    );
    const newPassword = 'a brand new password 1';
    expect((await world.call('confirmPasswordReset', { body: { token, newPassword } })).status).toBe(204);

    expectProblem(
      await world.call('confirmPasswordReset', { body: { token, newPassword: 'yet another password 2' } }),
      401,
      'invalid-token',
    );
    expectProblem(await me(session.accessToken), 401, 'invalid-token');
    expectProblem(await refresh(session.refreshToken), 401, 'invalid-token');
    expect((await refreshRow(world.a, session.refreshToken)).revoked_at).not.toBeNull();

    expectProblem(await world.login(world.a.slug, user.email, TEST_PASSWORD), 401, 'invalid-credentials');
    const fresh = await loginOk(world.a, user.email, newPassword);
    expect((await me(fresh.accessToken)).status).toBe(200);
  });

  it('changes the password only with the right current one, and revokes other sessions', async () => {
    const user = await createUser(world.a, ['caseworker'], 'change');
    const other = await loginOk(world.a, user.email);
    const session = await loginOk(world.a, user.email);

    const wrong = await world.call('changePassword', {
      token: session.accessToken,
      body: { currentPassword: WRONG_PASSWORD, newPassword: 'a changed password 1' },
    });
    expect(wrong.status).toBe(422);
    expect(wrong.body.errors.map((e: { pointer: string }) => e.pointer)).toEqual(['/body/currentPassword']);

    expect(
      (
        await world.call('changePassword', {
          token: session.accessToken,
          body: { currentPassword: TEST_PASSWORD, newPassword: 'a changed password 1' },
        })
      ).status,
    ).toBe(204);
    expectProblem(await me(other.accessToken), 401, 'invalid-token');
    expectProblem(await refresh(other.refreshToken), 401, 'invalid-token');

    expectProblem(await world.login(world.a.slug, user.email, TEST_PASSWORD), 401, 'invalid-credentials');
    expect((await loginOk(world.a, user.email, 'a changed password 1')).scope).toBe('full');
  });
});

// ---------------------------------------------------------------------------------------------

describe('disabled users', () => {
  it('lose their existing tokens at the next request and cannot log in', async () => {
    const user = await createUser(world.a, ['caseworker'], 'disable');
    const session = await loginOk(world.a, user.email);
    expect((await me(session.accessToken)).status).toBe(200);

    const read = await world.call('getUser', { token: world.a.adminToken, params: { userId: user.id } });
    const etag = read.headers.get('etag');
    expect(etag).toMatch(/^"\d+"$/);
    const disabled = await world.call('updateUser', {
      token: world.a.adminToken,
      params: { userId: user.id },
      body: { status: 'disabled' },
      headers: { 'if-match': etag! },
    });
    expect(disabled.status).toBe(200);
    expect(disabled.body.status).toBe('disabled');

    // No waiting for the second to pass: the status is read fresh on every request.
    expectProblem(await me(session.accessToken), 401, 'invalid-token');
    expectProblem(await world.call('listChildren', { token: session.accessToken }), 401, 'invalid-token');
    expectProblem(await refresh(session.refreshToken), 401, 'invalid-token');
    expectProblem(await world.login(world.a.slug, user.email), 401, 'invalid-credentials');
  });
});

// ---------------------------------------------------------------------------------------------

describe('rate limits on log-in, refresh and password reset', () => {
  // A world of its own with the limits every server has by default (the suite's other worlds allow a
  // hundred times as many). Each test speaks from client addresses of its own, sent as
  // X-Forwarded-For, which the server takes from a proxy on loopback, so no test eats another's allowance.
  let limited: World;
  const limits = DEFAULT_RATE_LIMITS;
  beforeAll(async () => {
    limited = await startWorld({ rateLimits: DEFAULT_RATE_LIMITS });
    // The account lock (5 failures by default) would answer 423 to the right password in these
    // tests; at its highest it stays out of the way of the limits they count.
    const settings = await limited.call('getTenantSettings', { token: limited.a.adminToken });
    const updated = await limited.call('updateTenantSettings', {
      token: limited.a.adminToken,
      body: { securityPolicy: { maxFailedLogins: 20 } },
      headers: { 'if-match': settings.headers.get('etag')! },
    });
    expect(updated.status).toBe(200);
  });
  afterAll(async () => {
    await limited?.close();
  });

  let clients = 0;
  /** A documentation address (RFC 5737) no other test uses. */
  const newClient = () => `203.0.113.${++clients}`;
  const loginFrom = (ip: string, email: string, password = WRONG_PASSWORD, w: { url: string } = limited) =>
    call(w.url, 'login', { body: { tenant: limited.a.slug, email, password }, headers: { 'x-forwarded-for': ip } });
  const unknown = (what: string) => uniqueEmail(limited.a, what);
  async function knownUser(what: string): Promise<string> {
    const email = uniqueEmail(limited.a, what);
    const r = await limited.call('createUser', {
      token: limited.a.adminToken,
      body: { email, displayName: email, roles: ['caseworker'], password: TEST_PASSWORD },
    });
    expect(r.status).toBe(201);
    return email;
  }

  /** A 429 problem with a whole number of seconds to wait, no more than `atMost`. */
  function expectRefused(response: HttpResponse, atMost: number): number {
    expectProblem(response, 429, 'too-many-requests');
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const retryAfter = response.headers.get('retry-after');
    expect(retryAfter).toMatch(/^[1-9][0-9]*$/);
    expect(Number(retryAfter)).toBeLessThanOrEqual(atMost);
    return Number(retryAfter);
  }

  it('refuses a client its next log-in once it has failed as often as the limit allows, whatever emails it tried', async () => {
    const ip = newClient();
    const { points, windowSeconds } = limits.loginFailuresPerIp;
    for (let i = 0; i < points; i++)
      expectProblem(await loginFrom(ip, unknown(`spray${i}-`)), 401, 'invalid-credentials');

    // Refused before anything is looked at: the right password of a real account fares no better.
    const refused = await loginFrom(ip, limited.a.adminEmail, TEST_PASSWORD);
    expectRefused(refused, windowSeconds);
    expect(stableProblem(refused.body)).toEqual({
      type: problem('too-many-requests'),
      title: 'Too many requests',
      status: 429,
      detail: 'Too many attempts; try again after the number of seconds in Retry-After',
    });
    // Another client is not held back by this one.
    expect((await loginFrom(newClient(), limited.a.adminEmail, TEST_PASSWORD)).status).toBe(200);
  });

  it('limits an unknown email exactly as it limits a known one, and counts the account whatever the case of the email', async () => {
    const { points, blockSeconds } = limits.loginConsecutiveFailures;
    const run = async (email: string) => {
      const ip = newClient();
      const statuses: number[] = [];
      for (let i = 0; i < points; i++) statuses.push((await loginFrom(ip, i % 2 ? email.toUpperCase() : email)).status);
      return { statuses, next: await loginFrom(ip, email, TEST_PASSWORD) };
    };
    const known = await run(await knownUser('limitknown'));
    const stranger = await run(unknown('limitunknown'));
    expect(known.statuses).toEqual(Array(points).fill(401));
    expect(stranger.statuses).toEqual(known.statuses);
    expectRefused(known.next, blockSeconds);
    expectRefused(stranger.next, blockSeconds);
    expect(stableProblem(stranger.next.body)).toEqual(stableProblem(known.next.body));
  });

  it('limits the attempts at one account from many clients, and only for the window', async () => {
    const email = await knownUser('spread');
    const { points, windowSeconds } = limits.loginAttemptsPerAccount;
    for (let i = 0; i < points; i++) expectProblem(await loginFrom(newClient(), email), 401, 'invalid-credentials');
    // The owner too, from a client that has not tried before: for at most the window, not for ever.
    expectRefused(await loginFrom(newClient(), email, TEST_PASSWORD), windowSeconds);
    expectRefused(await loginFrom(newClient(), email.toUpperCase(), TEST_PASSWORD), windowSeconds);
  });

  it('forgets failures in a row when the log-in succeeds, and counts again from there', async () => {
    const email = await knownUser('forget');
    const ip = newClient();
    const { points, blockSeconds } = limits.loginConsecutiveFailures;
    for (let i = 0; i < 5; i++) expectProblem(await loginFrom(ip, email), 401, 'invalid-credentials');
    expect((await loginFrom(ip, email, TEST_PASSWORD)).status).toBe(200);
    // Had the success not cleared the five failures before it, this run would be refused part way.
    for (let i = 0; i < points; i++) expectProblem(await loginFrom(ip, email), 401, 'invalid-credentials');
    expectRefused(await loginFrom(ip, email, TEST_PASSWORD), blockSeconds);
  });

  it('holds across two servers on the same database', async () => {
    const ip = newClient();
    const { points, windowSeconds } = limits.loginFailuresPerIp;
    const second: RunningServer = await startServer(
      limited.config,
      limited.db.hearthEmbedded ? { db: limited.db } : {},
    );
    try {
      // Half the failures at each server: neither alone has seen the limit reached.
      for (let i = 0; i < points; i++)
        expectProblem(
          await loginFrom(ip, unknown(`twin${i}-`), WRONG_PASSWORD, i % 2 ? second : limited),
          401,
          'invalid-credentials',
        );
      expectRefused(await loginFrom(ip, unknown('twin-next'), WRONG_PASSWORD, second), windowSeconds);
      expectRefused(await loginFrom(ip, unknown('twin-next'), WRONG_PASSWORD, limited), windowSeconds);
    } finally {
      await second.close();
    }
  });

  it('limits password reset requests per account, known or not, and per client', async () => {
    const email = await knownUser('resetlimit');
    const stranger = unknown('resetstranger');
    const { points, windowSeconds } = limits.resetRequestsPerAccount;
    const requestFrom = (ip: string, address: string) =>
      call(limited.url, 'requestPasswordReset', {
        body: { tenant: limited.a.slug, email: address },
        headers: { 'x-forwarded-for': ip },
      });
    const answers = async (address: string) => {
      const statuses: number[] = [];
      // A new client each time: the account is what is counted.
      for (let i = 0; i < points; i++)
        statuses.push((await requestFrom(newClient(), i % 2 ? address.toUpperCase() : address)).status);
      return { statuses, next: await requestFrom(newClient(), address) };
    };
    const known = await answers(email);
    const notKnown = await answers(stranger);
    expect(known.statuses).toEqual(Array(points).fill(202));
    expect(notKnown.statuses).toEqual(known.statuses);
    expectRefused(known.next, windowSeconds);
    expectRefused(notKnown.next, windowSeconds);
    expect(stableProblem(notKnown.next.body)).toEqual(stableProblem(known.next.body));
    // Only the requests let through queued a message.
    const queued = await ownerRows<{ n: number }>(
      limited.db,
      limited.a.id,
      'SELECT count(*)::int AS n FROM outbound_messages WHERE lower(recipient) = lower(?)',
      [email],
    );
    expect(queued[0]!.n).toBe(points);

    const ip = newClient();
    const perIp = limits.resetRequestsPerIp;
    for (let i = 0; i < perIp.points; i++) expect((await requestFrom(ip, unknown(`resetspray${i}-`))).status).toBe(202);
    expectRefused(await requestFrom(ip, unknown('resetspray-next')), perIp.windowSeconds);
  });

  it('limits password reset confirmations and token refreshes per client', async () => {
    const confirmIp = newClient();
    const confirms = limits.resetConfirmsPerIp;
    const confirmFrom = (ip: string) =>
      call(limited.url, 'confirmPasswordReset', {
        body: {
          token: `pw_${limited.a.id.replace(/-/g, '')}_${crypto.randomBytes(32).toString('base64url')}`,
          newPassword: 'a new password 123',
        },
        headers: { 'x-forwarded-for': ip },
      });
    for (let i = 0; i < confirms.points; i++) expectProblem(await confirmFrom(confirmIp), 401, 'invalid-token');
    expectRefused(await confirmFrom(confirmIp), confirms.windowSeconds);

    const refreshIp = newClient();
    const refreshes = limits.refreshesPerIp;
    const refreshFrom = (ip: string) =>
      call(limited.url, 'refreshToken', {
        body: { refreshToken: `rt_${limited.a.id.replace(/-/g, '')}_${crypto.randomBytes(32).toString('base64url')}` },
        headers: { 'x-forwarded-for': ip },
      });
    // Ten at a time: each request is counted before it is looked at, so running them in parallel changes no count.
    for (let i = 0; i < refreshes.points; i += 10) {
      for (const r of await Promise.all(
        Array.from({ length: Math.min(10, refreshes.points - i) }, () => refreshFrom(refreshIp)),
      ))
        expectProblem(r, 401, 'invalid-token');
    }
    expectRefused(await refreshFrom(refreshIp), refreshes.windowSeconds);
    expectProblem(await refreshFrom(newClient()), 401, 'invalid-token');
  });
});
