import fs from 'node:fs';
import path from 'node:path';
import { readContractDocument } from '../core/src/http/contract';
import { loadConfig, repoRoot } from '../core/src/config';
import { DEMO_PASSWORD, DEMO_TENANTS, demoLogins } from '../core/src/demo/seed';
import type { StaffPart } from '../core/src/demo/demoService';
import { todayIn } from '../core/src/time';
import { startServer, type RunningServer } from '../core/src/server';
import { createHearthClient, unwrap, type HearthClient } from '../sdk/src';

/**
 * What a newcomer does after `npm install && npm start`, scripted: the server on the embedded
 * PGlite (in memory here, so nothing is left on disk) with the demo tenants, the README's demo
 * log-ins, a service worth exploring in each demo tenant (its lists, its payment run waiting for
 * someone other than who calculated it), a child created and read back through the SDK, and the
 * system routes a browser or a monitoring system would open. Runs on PGlite whatever database the
 * rest of the suite uses.
 */

let server: RunningServer;
beforeAll(async () => {
  server = await startServer(
    loadConfig(
      { NODE_ENV: 'test' },
      { databaseUrl: undefined, embeddedDataDir: null, port: 0, seedDemoTenants: true, logLevel: 'silent' },
    ),
  );
});
afterAll(async () => {
  await server?.close();
});

const demo = (slug: string) => {
  const tenant = DEMO_TENANTS.find((t) => t.slug === slug);
  if (!tenant) throw new Error(`no demo tenant ${slug} in core/src/demo/seed.ts`);
  return tenant;
};

/** A client logged in as one of a demo tenant's people (its admin, or the staff member in that part). */
async function loggedIn(slug: string, part: StaffPart | 'admin'): Promise<{ client: HearthClient; id: string }> {
  const tenant = demo(slug);
  const email = part === 'admin' ? tenant.firstAdmin.email : tenant.staff.find((s) => s.part === part)!.email;
  const client = createHearthClient({ baseUrl: server.url });
  await client.login({ tenant: slug, email, password: DEMO_PASSWORD });
  const me = await unwrap(client.GET('/v1/auth/me'));
  return { client, id: me.id };
}

const SERVICES = DEMO_TENANTS.filter((t) => t.kind === 'service').map((t) => t.slug);

describe('a newcomer on the embedded database', () => {
  it('gets the UK and USA demo tenants seeded, with the logins the seed declares', () => {
    expect(server.demoLogins).not.toBeNull();
    expect(server.demoLogins!.map((l) => l.tenant)).toEqual(expect.arrayContaining(['demo-uk', 'demo-usa']));
    expect(server.demoLogins).toEqual(demoLogins());
    expect(demo('demo-uk').packId).toBe('uk');
    // The USA demo runs on a state pack over the federal baseline: rates are set by states.
    expect(demo('demo-usa').packId).toBe('usa/ca');
    // Each service has its admin, a caseworker, a supervisor and two finance officers: separation of duties needs no new user.
    for (const slug of SERVICES)
      expect(server.demoLogins!.filter((l) => l.tenant === slug).map((l) => l.email)).toEqual([
        `admin@${slug}.example`,
        `caseworker@${slug}.example`,
        `supervisor@${slug}.example`,
        `finance@${slug}.example`,
        `finance2@${slug}.example`,
        `carer@${slug}.example`,
      ]);
  });

  it('finds in the README the demo logins that actually work', () => {
    const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    const lines = readme.split('\n');
    expect(DEMO_PASSWORD).toBe('hearth-demo-password');
    expect(readme).toContain(DEMO_PASSWORD);
    for (const login of demoLogins()) {
      // Each demo email is written on a line that also names its tenant, as a log-in needs both.
      const line = lines.find((l) => l.includes(`\`${login.email}\``));
      expect({
        email: login.email,
        line: line ?? null,
        namesTenant: line?.includes(`\`${login.tenant}\``) ?? false,
      }).toEqual({ email: login.email, line: expect.any(String), namesTenant: true });
    }
    // And the README names no demo login the seed does not create.
    const written = [...new Set(readme.match(/[a-z0-9]+@(?:demo-uk|demo-usa|platform)\.example/g) ?? [])].sort();
    expect(written).toEqual(
      demoLogins()
        .map((l) => l.email)
        .sort(),
    );
  });

  it.each(SERVICES)(
    'shows a working service in %s: children, households, placements, tasks due and overdue, a submitted run, an issued invoice, claims',
    async (slug) => {
      const caseworker = await loggedIn(slug, 'caseworker');
      const children = await unwrap(caseworker.client.GET('/v1/children', { params: { query: { limit: 200 } } }));
      expect(children.data.length).toBeGreaterThanOrEqual(30);
      // The demo caseworker holds most of the children.
      expect(children.data.filter((c) => c.allocatedWorkerId === caseworker.id).length).toBeGreaterThan(
        children.data.length / 2,
      );
      expect(
        (await unwrap(caseworker.client.GET('/v1/carer-households', { params: { query: { limit: 200 } } }))).data
          .length,
      ).toBeGreaterThanOrEqual(10);
      const placements = (await unwrap(caseworker.client.GET('/v1/placements', { params: { query: { limit: 200 } } })))
        .data;
      expect(placements.filter((p) => p.status === 'active').length).toBeGreaterThanOrEqual(5);
      const types = new Set(
        (
          await unwrap(
            caseworker.client.GET('/v1/lookups/{listKey}', { params: { path: { listKey: 'placement_type' } } }),
          )
        ).values.map((v) => v.code),
      );
      // Every placement has a type from the tenant's list, so the rate engine pays it.
      expect(placements.filter((p) => !p.placementType || !types.has(p.placementType))).toEqual([]);
      const today = todayIn(demo(slug).timeZone);
      const open = (
        await unwrap(caseworker.client.GET('/v1/tasks', { params: { query: { status: 'open', limit: 200 } } }))
      ).data;
      expect(open.filter((t) => t.dueDate >= today).length).toBeGreaterThan(0);
      expect(
        (await unwrap(caseworker.client.GET('/v1/tasks', { params: { query: { overdue: true, limit: 200 } } }))).data
          .length,
      ).toBeGreaterThan(0);

      const finance = await loggedIn(slug, 'financeCalculates');
      const runs = (await unwrap(finance.client.GET('/v1/payment-runs'))).data;
      expect(runs.map((r) => ({ status: r.status, calculatedBy: r.calculatedBy }))).toEqual([
        { status: 'submitted', calculatedBy: finance.id },
      ]);
      // Every placement in care is paid (a placement without a type from the pack's list would be a notice, paid nothing).
      expect({
        total: runs[0]!.total > 0,
        placementCount: runs[0]!.placementCount > 0,
        issueCount: runs[0]!.issueCount,
        noticeCount: runs[0]!.noticeCount,
      }).toEqual({ total: true, placementCount: true, issueCount: 0, noticeCount: 0 });
      expect(runs[0]!.periodEnd < today).toBe(true);
      const lines = (
        await unwrap(
          finance.client.GET('/v1/payment-runs/{runId}/lines', {
            params: { path: { runId: runs[0]!.id }, query: { limit: 200 } },
          }),
        )
      ).data;
      expect(new Set(lines.map((l) => l.kind))).toEqual(new Set(['rate', 'claim']));
      const invoices = (await unwrap(finance.client.GET('/v1/invoices'))).data;
      expect(invoices.filter((i) => i.status === 'issued').length).toBe(1);
      const claims = (await unwrap(finance.client.GET('/v1/claims'))).data;
      expect(claims.map((c) => c.status).sort()).toEqual(['approved', 'draft', 'submitted']);
    },
  );

  it.each(SERVICES)(
    "keeps %s's run for another person to approve: the finance officer who calculated it cannot, the second can",
    async (slug) => {
      const [calculated, approver] = [
        await loggedIn(slug, 'financeCalculates'),
        await loggedIn(slug, 'financeApproves'),
      ];
      const run = (await unwrap(calculated.client.GET('/v1/payment-runs'))).data[0]!;
      const refused = await calculated.client.POST('/v1/payment-runs/{runId}/approve', {
        params: { path: { runId: run.id } },
        body: {},
      });
      expect(refused.response.status).toBe(403);
      expect(refused.error).toMatchObject({ code: 'separation_of_duties' });
      const approved = await unwrap(
        approver.client.POST('/v1/payment-runs/{runId}/approve', { params: { path: { runId: run.id } }, body: {} }),
      );
      expect({ status: approved.status, approvedBy: approved.approvedBy }).toEqual({
        status: 'approved',
        approvedBy: approver.id,
      });
      await expect(
        unwrap(calculated.client.GET('/v1/payment-runs/{runId}', { params: { path: { runId: run.id } } })),
      ).resolves.toMatchObject({ status: 'approved' });
    },
  );

  it.each(SERVICES)(
    'lets the demo carer of %s into the carer portal, to a child placed with them today',
    async (slug) => {
      const carer = demo(slug).carer!;
      const client = createHearthClient({ baseUrl: server.url });
      await client.login({ tenant: slug, email: carer.email, password: DEMO_PASSWORD });
      const me = await unwrap(client.GET('/v1/auth/me'));
      expect(me.kind).toBe('carer');
      const overview = await unwrap(client.GET('/v1/portal'));
      expect(overview.terms.carer).toBe(slug === 'demo-uk' ? 'foster carer' : 'resource parent');
      const placements = (await unwrap(client.GET('/v1/portal/placements'))).data;
      const current = placements.find((p) => p.current);
      expect(current).toBeDefined();
      const one = await unwrap(
        client.GET('/v1/portal/placements/{placementId}', { params: { path: { placementId: current!.id } } }),
      );
      expect(one.child).not.toBeNull();
      // And nothing of staff's: the carer's token opens no staff operation.
      const staff = await client.GET('/v1/children');
      expect(staff.response.status).toBe(403);
    },
  );

  it('logs in as the UK demo admin through the SDK, creates a child and reads it back', async () => {
    const uk = demo('demo-uk');
    const client = createHearthClient({ baseUrl: server.url });
    const tokens = await client.login({ tenant: uk.slug, email: uk.firstAdmin.email, password: DEMO_PASSWORD });
    expect(tokens.scope).toBe('full');

    const me = await unwrap(client.GET('/v1/auth/me'));
    expect(me).toMatchObject({ kind: 'user', tenantSlug: 'demo-uk', email: uk.firstAdmin.email });

    const body = {
      givenName: 'Nell',
      familyName: 'Newcomer',
      dateOfBirth: '2016-09-12',
      sex: 'female',
      ethnicity: 'WBRI',
    };
    const created = await client.POST('/v1/children', { body });
    expect(created.response.status).toBe(201);
    expect(created.data).toMatchObject({ ...body, status: 'referred', version: 1 });
    expect(created.response.headers.get('Location')).toBe(`/v1/children/${created.data!.id}`);

    const read = await unwrap(
      client.GET('/v1/children/{childId}', { params: { path: { childId: created.data!.id } } }),
    );
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
