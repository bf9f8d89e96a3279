import fs from 'node:fs';
import path from 'node:path';
import { readContractDocument } from '../core/src/http/contract';
import { loadConfig, repoRoot } from '../core/src/config';
import { DEMO_PASSWORD, DEMO_TENANTS } from '../core/src/demo/seed';
import { startServer, type RunningServer } from '../core/src/server';
import { createHearthClient, unwrap } from '../sdk/src';

/**
 * What a newcomer does after `npm install && npm start`, scripted: the server on the embedded
 * PGlite (in memory here, so nothing is left on disk) with the demo tenants, the README's demo
 * log-in, a child created and read back through the SDK, and the system routes a browser or a
 * monitoring system would open. Runs on PGlite whatever database the rest of the suite uses.
 */

let server: RunningServer;
beforeAll(async () => {
  server = await startServer(loadConfig({ NODE_ENV: 'test' }, { databaseUrl: undefined, embeddedDataDir: null, port: 0, seedDemoTenants: true, logLevel: 'silent' }));
});
afterAll(async () => {
  await server?.close();
});

const demo = (slug: string) => {
  const tenant = DEMO_TENANTS.find((t) => t.slug === slug);
  if (!tenant) throw new Error(`no demo tenant ${slug} in core/src/demo/seed.ts`);
  return tenant;
};

describe('a newcomer on the embedded database', () => {
  it('gets the UK and USA demo tenants seeded, with the logins the seed declares', () => {
    expect(server.demoLogins).not.toBeNull();
    expect(server.demoLogins!.map((l) => l.tenant)).toEqual(expect.arrayContaining(['demo-uk', 'demo-usa']));
    expect(server.demoLogins).toEqual(DEMO_TENANTS.map((t) => ({ tenant: t.slug, email: t.firstAdmin.email, password: DEMO_PASSWORD })));
    expect(demo('demo-uk').packId).toBe('uk');
    // The USA demo runs on a state pack over the federal baseline: rates are set by states.
    expect(demo('demo-usa').packId).toBe('usa/ca');
  });

  it('finds in the README the demo logins that actually work', () => {
    const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    const lines = readme.split('\n');
    expect(DEMO_PASSWORD).toBe('hearth-demo-password');
    expect(readme).toContain(DEMO_PASSWORD);
    for (const tenant of DEMO_TENANTS) {
      // Each demo email is written on a line that also names its tenant, as a log-in needs both.
      const line = lines.find((l) => l.includes(tenant.firstAdmin.email));
      expect({ email: tenant.firstAdmin.email, line: line ?? null, namesTenant: line?.includes(tenant.slug) ?? false }).toEqual({ email: tenant.firstAdmin.email, line: expect.any(String), namesTenant: true });
    }
    // And the README names no demo login the seed does not create.
    const written = [...new Set(readme.match(/admin@[a-z0-9.-]+\.example/g) ?? [])].sort();
    expect(written).toEqual(DEMO_TENANTS.map((t) => t.firstAdmin.email).sort());
    expect(written).toEqual(['admin@demo-uk.example', 'admin@demo-usa.example', 'admin@platform.example']);
  });

  it('logs in as the UK demo admin through the SDK, creates a child and reads it back', async () => {
    const uk = demo('demo-uk');
    const client = createHearthClient({ baseUrl: server.url });
    const tokens = await client.login({ tenant: uk.slug, email: uk.firstAdmin.email, password: DEMO_PASSWORD });
    expect(tokens.scope).toBe('full');

    const me = await unwrap(client.GET('/v1/auth/me'));
    expect(me).toMatchObject({ kind: 'user', tenantSlug: 'demo-uk', email: uk.firstAdmin.email });

    const body = { givenName: 'Nell', familyName: 'Newcomer', dateOfBirth: '2016-09-12', sex: 'female', ethnicity: 'WBRI' };
    const created = await client.POST('/v1/children', { body });
    expect(created.response.status).toBe(201);
    expect(created.data).toMatchObject({ ...body, status: 'referred', version: 1 });
    expect(created.response.headers.get('Location')).toBe(`/v1/children/${created.data!.id}`);

    const read = await unwrap(client.GET('/v1/children/{childId}', { params: { path: { childId: created.data!.id } } }));
    expect(read).toEqual(created.data);
    const listed = await unwrap(client.GET('/v1/children', { params: { query: { q: 'Newcomer' } } }));
    expect(listed.data.map((c) => c.id)).toEqual([created.data!.id]);
  });

  it('answers the system routes: health, readiness, the contract, the docs and the metrics', async () => {
    const healthz = await fetch(`${server.url}/healthz`);
    expect(healthz.status).toBe(200);
    expect(await healthz.json()).toEqual({ status: 'ok' });

    const readyz = await fetch(`${server.url}/readyz`);
    expect(readyz.status).toBe(200);
    expect(await readyz.json()).toMatchObject({ status: 'ok', checks: { database: 'ok', migrations: 'ok' } });

    const openapi = await fetch(`${server.url}/openapi.json`);
    expect(openapi.status).toBe(200);
    expect(await openapi.json()).toEqual(readContractDocument());

    const docs = await fetch(`${server.url}/docs`);
    expect(docs.status).toBe(200);
    expect(docs.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await docs.text()).toMatch(/swagger-ui/i);

    const metrics = await fetch(`${server.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await metrics.text();
    expect(text).toContain('# TYPE hearth_http_request_duration_seconds histogram');
    // The requests above were measured, by route.
    expect(text).toMatch(/hearth_http_request_duration_seconds_count\{[^}]*route="\/healthz"[^}]*\} [1-9]/);
  });
});
