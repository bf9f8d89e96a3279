import { TEST_PASSWORD, type TenantFixture, type World } from './harness';
import type { CallOptions, HttpResponse } from './contractClient';

/**
 * What every fixture file builds on: the shape of a fixture, and makers of the records most requests
 * need. Fixtures themselves live in `fixtures.ts` (the foundation) and `fixtures/<module>.ts`.
 */
export interface OperationRequest extends CallOptions {
  /** The status the request answers when sent as intended. */
  expect: number;
  /**
   * Which credential the fixture's request carries: the tenant admin's token by default; `carer` is a
   * carer portal login's token (the cross-tenant suites send another tenant's carer in its place).
   */
  as?: 'admin' | 'none' | 'custom' | 'carer';
}

export interface FixtureContext {
  world: World;
  tenant: TenantFixture;
}

export type Fixture = (ctx: FixtureContext) => Promise<OperationRequest>;

let serial = 0;
export const unique = (prefix: string) => `${prefix}${Date.now().toString(36)}${(++serial).toString(36)}`;

export async function ok(response: HttpResponse, status: number, what: string): Promise<HttpResponse> {
  if (response.status !== status)
    throw new Error(`fixture set-up (${what}) answered ${response.status}: ${response.text}`);
  return response;
}

export const validChild = { givenName: 'Fixture', familyName: 'Child', dateOfBirth: '2016-05-01', sex: 'female' };

/** A child no other fixture has made: the same names and date of birth would be refused as a duplicate. */
export function uniqueChild(): typeof validChild {
  return { ...validChild, givenName: unique('Fixture') };
}

export async function makeChild({ world, tenant }: FixtureContext): Promise<{ id: string; version: number }> {
  const r = await ok(
    await world.call('createChild', { token: tenant.adminToken, body: uniqueChild() }),
    201,
    'createChild',
  );
  return { id: r.body.id, version: r.body.version };
}

export async function makeUser({ world, tenant }: FixtureContext): Promise<{ id: string; email: string }> {
  const email = `${unique('fx')}@${tenant.slug}.test`;
  const r = await ok(
    await world.call('createUser', {
      token: tenant.adminToken,
      body: { email, displayName: 'Fixture User', roles: ['caseworker'], password: TEST_PASSWORD },
    }),
    201,
    'createUser',
  );
  return { id: r.body.id, email };
}

export async function makeRole({ world, tenant }: FixtureContext): Promise<{ id: string }> {
  const r = await ok(
    await world.call('createRole', {
      token: tenant.adminToken,
      body: { key: unique('fx_role_'), name: 'Fixture role', permissions: ['children:read'] },
    }),
    201,
    'createRole',
  );
  return { id: r.body.id };
}

export async function makeApiKey({ world, tenant }: FixtureContext): Promise<{ id: string; secret: string }> {
  const r = await ok(
    await world.call('createApiKey', {
      token: tenant.adminToken,
      body: { name: unique('fixture key '), permissions: ['children:read'] },
    }),
    201,
    'createApiKey',
  );
  return { id: r.body.id, secret: r.body.secret };
}

export async function makeLookupValue({ world, tenant }: FixtureContext): Promise<{ code: string; version: number }> {
  const code = unique('FX');
  const r = await ok(
    await world.call('addLookupValue', {
      token: tenant.adminToken,
      params: { listKey: 'ethnicity' },
      body: { code, label: 'Fixture value' },
    }),
    201,
    'addLookupValue',
  );
  return { code, version: r.body.version };
}

/** A fresh user of the tenant, logged in: for operations that change the caller's own account. */
export async function makeSession(
  ctx: FixtureContext,
): Promise<{ id: string; email: string; accessToken: string; refreshToken: string }> {
  const user = await makeUser(ctx);
  const r = await ok(await ctx.world.login(ctx.tenant.slug, user.email), 200, 'login');
  return { ...user, accessToken: r.body.accessToken, refreshToken: r.body.refreshToken };
}
