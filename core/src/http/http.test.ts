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
    const allowed = await world.http('OPTIONS', '/v1/children', { headers: { origin: 'https://front.example', 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'if-match,authorization' } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://front.example');
    expect(allowed.headers.get('access-control-allow-headers')).toContain('If-Match');
    const get = await world.http('GET', '/healthz', { headers: { origin: 'https://front.example' } });
    expect(get.headers.get('access-control-expose-headers')).toContain('ETag');
    const other = await world.http('OPTIONS', '/v1/children', { headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('reports readiness with the database and migrations, and counts requests in /metrics', async () => {
    const ready = await world.http('GET', '/readyz');
    expect(ready.body).toEqual({ status: 'ok', checks: { database: 'ok', migrations: 'ok' } });
    await world.call('listChildren', { token: world.a.adminToken });
    const metrics = await world.http('GET', '/metrics');
    expect(metrics.text).toMatch(/hearth_http_request_duration_seconds_count\{method="GET",route="\/v1\/children",status="200"\} [1-9]/);
  });
});
