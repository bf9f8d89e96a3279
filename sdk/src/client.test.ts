import { startWorld, TEST_PASSWORD, type World } from '../../test/support/harness';
import {
  createHearthClient,
  HearthProblem,
  ifMatch,
  isProblem,
  unwrap,
  type HearthClient,
  type Schema,
  type TokenPair,
} from './index';

/**
 * The SDK against the running server on a real database: what a front end or an integrator does
 * with it. No request is faked; the only fetch wrapper counts calls and passes them on.
 */

const amy = { givenName: 'Amy', familyName: 'Sdk', dateOfBirth: '2015-03-04', sex: 'female', ethnicity: 'WBRI' };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits until a one-second access token issued before the call has expired, and returns just after
 * a whole second. JWT times are whole seconds (exp = floor(now) + 1), so a one-second token issued at
 * x.95 s lives 50 ms; starting early in a second leaves the refreshed token most of a second to be used.
 */
const untilExpired = () => sleep(2000 + (1000 - (Date.now() % 1000)) + 20);

/** A compile-time check: `typed<Schema<'Child'>>(data)` fails `tsc` unless data is a Child. */
const typed = <T>(value: T): T => value;

/** Counts the requests a client sends, by path, and sends them on unchanged. */
function countingFetch() {
  const paths: string[] = [];
  return {
    paths,
    fetch: (request: Request) => {
      paths.push(new URL(request.url).pathname);
      return globalThis.fetch(request);
    },
  };
}

let world: World;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world?.close();
});

async function adminOfA(): Promise<HearthClient> {
  const client = createHearthClient({ baseUrl: world.url });
  await client.login({ tenant: world.a.slug, email: world.a.adminEmail, password: TEST_PASSWORD });
  return client;
}

describe('the SDK against a running Hearth', () => {
  it('logs in, creates a child and reads it back, typed from the contract', async () => {
    const seen: (TokenPair | null)[] = [];
    const client = createHearthClient({ baseUrl: world.url, onTokens: (t) => seen.push(t) });
    expect(client.tokens()).toBeNull();
    const tokens = await client.login({ tenant: world.a.slug, email: world.a.adminEmail, password: TEST_PASSWORD });
    expect(tokens).toMatchObject({ tokenType: 'Bearer', scope: 'full' });
    expect(client.tokens()).toEqual(tokens);
    expect(seen).toEqual([tokens]);

    const created = await client.POST('/v1/children', { body: amy });
    expect(created.response.status).toBe(201);
    const child = typed<Schema<'Child'> | undefined>(created.data);
    expect(child).toMatchObject({ ...amy, status: 'referred', version: 1, restricted: false });

    const read = await client.GET('/v1/children/{childId}', { params: { path: { childId: child!.id } } });
    expect(read.response.status).toBe(200);
    expect(typed<Schema<'Child'> | undefined>(read.data)).toEqual(child);

    const page = await unwrap(client.GET('/v1/children', { params: { query: { q: 'Sdk', limit: 10 } } }));
    expect(typed<Schema<'ChildPage'>>(page).data.map((c) => c.id)).toContain(child!.id);

    // A saved pair resumes the session in a new client (a reloaded page) without logging in again.
    const resumed = createHearthClient({ baseUrl: world.url, tokens: client.tokens()! });
    expect((await resumed.GET('/v1/auth/me')).data).toMatchObject({ kind: 'user', email: world.a.adminEmail });
  });

  it('updates with If-Match from the ETag, and a stale ETag comes back as a HearthProblem', async () => {
    const client = await adminOfA();
    const created = await client.POST('/v1/children', { body: { ...amy, givenName: 'Etta' } });
    const childId = created.data!.id;
    expect(created.response.headers.get('ETag')).toBe('"1"');

    const updated = await client.PATCH('/v1/children/{childId}', {
      params: { path: { childId }, header: ifMatch(created.response) },
      body: { preferredName: 'Et', status: 'in_care' },
    });
    expect(updated.response.status).toBe(200);
    expect(updated.data).toMatchObject({ preferredName: 'Et', status: 'in_care', version: 2 });
    expect(updated.response.headers.get('ETag')).toBe('"2"');

    const stale = await unwrap(
      client.PATCH('/v1/children/{childId}', {
        params: { path: { childId }, header: ifMatch('"1"') },
        body: { preferredName: 'Lost' },
      }),
    ).catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(HearthProblem);
    expect(stale).toMatchObject({ status: 412, type: 'https://hearth.dev/problems/precondition-failed' });
    expect((stale as HearthProblem).problem).toMatchObject({ currentETag: '"2"' });
  });

  it('exposes a 400 and a 422 as problems with their field errors', async () => {
    const client = await adminOfA();

    // Breaks the contract (not a date): 400, checked before any handler runs.
    const malformed = await client.POST('/v1/children', { body: { ...amy, dateOfBirth: '04/03/2015' } });
    expect(malformed.response.status).toBe(400);
    expect(isProblem(malformed.error)).toBe(true);
    expect(malformed.error).toMatchObject({ type: 'https://hearth.dev/problems/validation', status: 400 });
    expect(malformed.error!.errors!.map((e) => e.pointer)).toEqual(['/body/dateOfBirth']);

    // Well-formed but breaks the tenant's rules (codes not in its lists): 422.
    const thrown = await unwrap(
      client.POST('/v1/children', { body: { ...amy, sex: 'not-a-code', ethnicity: 'hispanic' } }),
    ).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(HearthProblem);
    const problem = thrown as HearthProblem;
    expect(problem).toMatchObject({ status: 422, type: 'https://hearth.dev/problems/unprocessable' });
    expect(problem.errors.map((e) => e.pointer).sort()).toEqual(['/body/ethnicity', '/body/sex']);
    expect(problem.response?.status).toBe(422);
  });

  it('refuses a wrong password with a problem, and holds no tokens', async () => {
    const client = createHearthClient({ baseUrl: world.url });
    const refused = await client
      .login({ tenant: world.a.slug, email: world.a.adminEmail, password: 'not the password' })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(HearthProblem);
    expect(refused).toMatchObject({ status: 401, type: 'https://hearth.dev/problems/invalid-credentials' });
    expect(client.tokens()).toBeNull();
    const anonymous = await client.GET('/v1/children');
    expect(anonymous.response.status).toBe(401);
    expect(anonymous.error).toMatchObject({ type: 'https://hearth.dev/problems/unauthorized' });
  });

  it('logs out: the tokens are forgotten and the server no longer honours the refresh token', async () => {
    const client = await adminOfA();
    const { refreshToken } = client.tokens()!;
    await client.logout();
    expect(client.tokens()).toBeNull();
    expect((await client.GET('/v1/children')).response.status).toBe(401);
    const raw = createHearthClient({ baseUrl: world.url });
    const reuse = await raw.POST('/v1/auth/token/refresh', { body: { refreshToken } });
    expect(reuse.response.status).toBe(401);
    expect(reuse.error).toMatchObject({ type: 'https://hearth.dev/problems/invalid-token' });
  });

  it('lists children with an API key made by the admin, within the key’s permissions', async () => {
    const admin = await adminOfA();
    const child = await unwrap(admin.POST('/v1/children', { body: { ...amy, givenName: 'Keyla' } }));
    const key = await unwrap(
      admin.POST('/v1/api-keys', { body: { name: 'SDK test integration', permissions: ['children:read'] } }),
    );
    expect(key.secret).toEqual(expect.any(String));

    const integrator = createHearthClient({ baseUrl: world.url, apiKey: key.secret });
    const me = await unwrap(integrator.GET('/v1/auth/me'));
    expect(me).toMatchObject({ kind: 'api_key', id: key.id, tenantSlug: world.a.slug, permissions: ['children:read'] });
    const page = await unwrap(integrator.GET('/v1/children', { params: { query: { q: 'Keyla' } } }));
    expect(page.data.map((c) => c.id)).toEqual([child.id]);
    const write = await integrator.POST('/v1/children', { body: amy });
    expect(write.response.status).toBe(403);
    expect(write.error).toMatchObject({ type: 'https://hearth.dev/problems/forbidden' });
  });

  it('says so when a response carries no ETag, and tells problems from other bodies', () => {
    expect(() => ifMatch(new Response('{}'))).toThrow(/no ETag/);
    expect(ifMatch('"7"')).toEqual({ 'If-Match': '"7"' });
    expect(isProblem({ type: 'x', title: 'y' })).toBe(false);
    expect(isProblem('Bad Gateway')).toBe(false);
    // A failure that is not a problem body (a proxy's page) still becomes a HearthProblem with its status.
    const proxied = HearthProblem.from(
      '<html>Bad Gateway</html>',
      new Response(null, { status: 502, statusText: 'Bad Gateway' }),
    );
    expect(proxied).toMatchObject({
      type: 'about:blank',
      title: 'Bad Gateway',
      status: 502,
      detail: '<html>Bad Gateway</html>',
      errors: [],
    });
  });
});

describe('the configuration API through the SDK', () => {
  it('evaluates a rate and reads the effective configuration, typed from the contract', async () => {
    const client = await adminOfA();
    const evaluation = await unwrap(
      client.POST('/v1/rates/evaluate', {
        body: {
          childDateOfBirth: '2012-01-15',
          placementStart: '2025-06-01',
          placementEnd: '2025-06-08',
          periodStart: '2025-06-01',
          periodEnd: '2025-06-30',
          region: 'london',
          placementType: 'foster_unrelated',
        },
      }),
    );
    const lines = typed<Schema<'RateEvaluation'>>(evaluation).lines;
    // Seven nights of the 2025-26 London allowance for an 11-15 year old: £257.
    expect(lines.map((l) => [l.component, l.nights, l.amount, l.explanation.layer])).toEqual([
      ['allowance', 7, 25700, 'pack:uk'],
    ]);
    const config = await unwrap(client.GET('/v1/configuration', { params: { query: { asOf: '2025-06-01' } } }));
    expect(typed<Schema<'EffectiveConfiguration'>>(config).chain).toEqual(['uk']);
  });
});

describe('automatic refresh (access tokens living one second)', () => {
  let short: World;
  beforeAll(async () => {
    short = await startWorld({ accessTokenTtlSeconds: 1 });
  });
  afterAll(async () => {
    await short?.close();
  });

  it('refreshes once on an expired token, rotates the refresh token, and resends the request with its body', async () => {
    const counter = countingFetch();
    const seen: (TokenPair | null)[] = [];
    const client = createHearthClient({ baseUrl: short.url, fetch: counter.fetch, onTokens: (t) => seen.push(t) });
    const first = await client.login({ tenant: short.a.slug, email: short.a.adminEmail, password: TEST_PASSWORD });
    expect(first.expiresIn).toBe(1);
    await untilExpired();

    // The expired access token is refused, refreshed, and the GET sent again: the caller sees only the success.
    const list = await client.GET('/v1/children');
    expect(list.response.status).toBe(200);
    const refreshes = () => counter.paths.filter((p) => p === '/v1/auth/token/refresh').length;
    expect(refreshes()).toBe(1);
    expect(counter.paths.filter((p) => p === '/v1/children')).toHaveLength(2);
    const second = client.tokens()!;
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(seen).toEqual([first, second]);

    // A POST after expiry: the resent request still carries its body.
    await untilExpired();
    const created = await client.POST('/v1/children', { body: { ...amy, givenName: 'Refreshed' } });
    expect(created.response.status).toBe(201);
    expect(created.data).toMatchObject({ givenName: 'Refreshed' });
    expect(refreshes()).toBe(2);

    // Concurrent calls after expiry share one refresh: a second use of the same refresh token
    // would revoke the whole session.
    await untilExpired();
    const results = await Promise.all([
      client.GET('/v1/children'),
      client.GET('/v1/auth/me'),
      client.GET('/v1/children/{childId}', { params: { path: { childId: created.data!.id } } }),
    ]);
    expect(results.map((r) => r.response.status)).toEqual([200, 200, 200]);
    expect(refreshes()).toBe(3);
    expect(client.tokens()).not.toBeNull();
  });

  it('ends the session when the refresh is refused, and returns the 401 as a problem', async () => {
    const client = createHearthClient({ baseUrl: short.url });
    const first = await client.login({ tenant: short.a.slug, email: short.a.adminEmail, password: TEST_PASSWORD });
    // Spending the refresh token elsewhere rotates it out from under the client.
    const other = createHearthClient({ baseUrl: short.url });
    expect(
      (await other.POST('/v1/auth/token/refresh', { body: { refreshToken: first.refreshToken } })).response.status,
    ).toBe(200);
    await untilExpired();

    const list = await client.GET('/v1/children');
    expect(list.response.status).toBe(401);
    expect(list.error).toMatchObject({ type: 'https://hearth.dev/problems/invalid-token' });
    expect(client.tokens()).toBeNull();
  });
});

/**
 * Never called: each line must fail to compile, so `tsc` proves the client is typed by path and not `any`.
 * An unused @ts-expect-error is itself an error.
 */
export function typeChecks(client: HearthClient): void {
  // @ts-expect-error: no such path
  void client.GET('/v1/childrn');
  // @ts-expect-error: ChildCreate requires familyName, dateOfBirth and sex
  void client.POST('/v1/children', { body: { givenName: 'Only' } });
  // @ts-expect-error: updateChild requires the If-Match header
  void client.PATCH('/v1/children/{childId}', { params: { path: { childId: 'x' } }, body: { givenName: 'x' } });
  // @ts-expect-error: status is an enum
  void client.GET('/v1/children', { params: { query: { status: 'fostered' } } });
  // @ts-expect-error: a Child has no `name`
  void client.GET('/v1/children/{childId}', { params: { path: { childId: 'x' } } }).then((r) => r.data?.name);
}
