import { startWorld, type World } from '../../../test/support/harness';

let world: World;
beforeAll(async () => {
  world = await startWorld({ corsOrigins: ['https://front.example'] });
});
afterAll(async () => {
  await world?.close();
});

describe('the HTTP edge', () => {
  it('gives every response a request id, and echoes a well-formed one it was sent', async () => {
    const fresh = await world.http('GET', '/healthz');
    expect(fresh.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const echoed = await world.http('GET', '/healthz', { headers: { 'x-request-id': 'trace-1234-abcd' } });
    expect(echoed.headers.get('x-request-id')).toBe('trace-1234-abcd');
    const refused = await world.http('GET', '/healthz', { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(refused.headers.get('x-request-id')).not.toBe('bad id with spaces');
  });

  it('answers unknown routes with 404 and known routes with a wrong method with 405 and Allow, as problems', async () => {
    const missing = await world.http('GET', '/v1/nothing-here');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toContain('application/problem+json');
    expect(missing.body.type).toBe('https://hearth.dev/problems/not-found');
    const wrongMethod = await world.http('PUT', '/v1/children', { token: world.a.adminToken });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('GET, POST');
  });

  it('sets security headers and no X-Powered-By', async () => {
    const response = await world.http('GET', '/healthz');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('strict-transport-security')).toBeTruthy();
    expect(response.headers.get('x-powered-by')).toBeNull();
  });

  it('allows CORS from configured origins only, exposing the headers clients need', async () => {
    const allowed = await world.http('OPTIONS', '/v1/children', {
      headers: {
        origin: 'https://front.example',
        'access-control-request-method': 'PATCH',
        'access-control-request-headers': 'if-match,authorization',
      },
    });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://front.example');
    expect(allowed.headers.get('access-control-allow-headers')).toContain('If-Match');
    const get = await world.http('GET', '/healthz', { headers: { origin: 'https://front.example' } });
    expect(get.headers.get('access-control-expose-headers')).toContain('ETag');
    const other = await world.http('OPTIONS', '/v1/children', {
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
    });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('reports readiness with the database and migrations, and counts requests in /metrics', async () => {
    const ready = await world.http('GET', '/readyz');
    expect(ready.body).toEqual({ status: 'ok', checks: { database: 'ok', migrations: 'ok' } });
    await world.call('listChildren', { token: world.a.adminToken });
    const metrics = await world.http('GET', '/metrics');
    expect(metrics.text).toMatch(
      /hearth_http_request_duration_seconds_count\{method="GET",route="\/v1\/children",status="200"\} [1-9]/,
    );
  });
});

describe('hardening at the edge', () => {
  it('refuses a NUL character in any string of a body, a query or a path with a 400 naming the field, and writes nothing', async () => {
    const before = (await world.call('listTeams', { token: world.a.adminToken, query: { limit: 200 } })).body.data
      .length;
    const team = await world.http('POST', '/v1/teams', {
      token: world.a.adminToken,
      body: { name: 'Night\u0000shift' },
    });
    expect({
      status: team.status,
      pointers: (team.body.errors as Array<{ pointer: string }>).map((e) => e.pointer),
    }).toEqual({ status: 400, pointers: ['/body/name'] });
    expect((await world.call('listTeams', { token: world.a.adminToken, query: { limit: 200 } })).body.data.length).toBe(
      before,
    );
    const user = await world.http('POST', '/v1/users', {
      token: world.a.adminToken,
      body: { email: 'nul@tenant-a.test', displayName: 'A\u0000B', roles: ['caseworker'] },
    });
    expect({
      status: user.status,
      pointers: (user.body.errors as Array<{ pointer: string }>).map((e) => e.pointer),
    }).toEqual({ status: 400, pointers: ['/body/displayName'] });
    const overlay = await world.http('POST', '/v1/configuration/overlays', {
      token: world.a.adminToken,
      body: { effectiveFrom: '2031-01-01', description: 'nul', changes: { terminology: { 'car\u0000er': 'x' } } },
    });
    expect(overlay.status).toBe(400);
    expect((overlay.body.errors as Array<{ pointer: string }>).map((e) => e.pointer)).toContain(
      '/body/changes/terminology/car\u0000er',
    );
    const search = await world.http('GET', '/v1/children', { token: world.a.adminToken, query: { q: 'Ab\u0000c' } });
    expect({
      status: search.status,
      pointers: (search.body.errors as Array<{ pointer: string }>).map((e) => e.pointer),
    }).toEqual({ status: 400, pointers: ['/query/q'] });
  });

  it('answers a malformed percent-encoding in a path with 400, before any credential is asked for', async () => {
    for (const path of ['/v1/children/%ff', '/v1/lookups/%E0%A4%A', '/v1/tasks/%']) {
      const response = await world.http('GET', path);
      expect({ path, status: response.status, type: response.body.type }).toEqual({
        path,
        status: 400,
        type: 'https://hearth.dev/problems/validation',
      });
    }
  });

  it('says which values an enum allows', async () => {
    const response = await world.http('GET', '/v1/tasks', { token: world.a.adminToken, query: { status: 'sideways' } });
    expect(response.status).toBe(400);
    expect(response.body.errors[0].message).toMatch(/^must be one of: "open", /);
  });

  it('marks every API answer Cache-Control: no-store, the log-in and refusals included', async () => {
    const login = await world.login(world.a.slug, world.a.adminEmail);
    const child = await world.call('listChildren', { token: world.a.adminToken });
    const refused = await world.http('GET', '/v1/children');
    const audit = await world.call('exportAuditEvents', { token: world.a.adminToken });
    for (const response of [login, child, refused, audit])
      expect(response.headers.get('cache-control')).toBe('no-store');
  });
});

describe('/metrics', () => {
  it('is served on a public interface only with the configured bearer token, and not at all without one', async () => {
    const token = 'metrics-token-0123456789-0123456789-abcdef';
    const open = await startWorld({ host: '0.0.0.0', metricsToken: null });
    const guarded = await startWorld({ host: '0.0.0.0', metricsToken: token });
    try {
      expect((await open.http('GET', '/metrics')).status).toBe(404);
      expect((await guarded.http('GET', '/metrics')).status).toBe(404);
      expect(
        (
          await guarded.http('GET', '/metrics', {
            headers: { authorization: 'Bearer wrong-token-0123456789-0123456789-abcde' },
          })
        ).status,
      ).toBe(404);
      const scraped = await guarded.http('GET', '/metrics', { headers: { authorization: `Bearer ${token}` } });
      expect(scraped.status).toBe(200);
      expect(scraped.text).toContain('hearth_http_request_duration_seconds');
    } finally {
      await open.close();
      await guarded.close();
    }
  });
});
