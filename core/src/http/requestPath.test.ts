import { pipelinesSent } from '../db/pipeline';
import { makeChild } from '../../../test/support/fixtureKit';
import { startWorld, type World } from '../../../test/support/harness';

/**
 * The request path's round trips, and the fences they must not weaken. A read-only request whose
 * caller this process confirmed lately sends one pipeline: the scope, the principal's re-read and its
 * first query together; every change to the principal (a role, a status, an ended session) still
 * shows on the very next request.
 */
let world: World;
const onServer = !!process.env.HEARTH_TEST_ADMIN_URL;
if (!onServer)
  process.stdout.write(
    'core/src/http/requestPath.test.ts: round trips are counted on a PostgreSQL server only; the fences are checked on both\n',
  );

beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world?.close();
});

/** Round trips a request made, by the pipelines this process sent while it ran. */
async function roundTrips<T>(work: () => Promise<T>): Promise<{ result: T; trips: number }> {
  const before = pipelinesSent();
  const result = await work();
  return { result, trips: pipelinesSent() - before };
}

describe('round trips', () => {
  (onServer ? it : it.skip)(
    'a read of one child takes one round trip once the caller is known, two the first time',
    async () => {
      const child = await makeChild({ world, tenant: world.a });
      const user = await world.addUser(world.a, ['caseworker']);
      const first = await roundTrips(() =>
        world.call('getChild', { token: user.token, params: { childId: child.id } }),
      );
      const second = await roundTrips(() =>
        world.call('getChild', { token: user.token, params: { childId: child.id } }),
      );
      expect([first.result.status, second.result.status]).toEqual([200, 200]);
      expect({ first: first.trips, second: second.trips }).toEqual({ first: 2, second: 1 });
    },
  );
});

describe('what a cached principal may never hide', () => {
  it('a role taken away shows on the next read (403), and a role given back on the one after', async () => {
    const user = await world.addUser(world.a, ['caseworker']);
    const child = await makeChild({ world, tenant: world.a });
    expect((await world.call('getChild', { token: user.token, params: { childId: child.id } })).status).toBe(200);
    const read = await world.call('getUser', { token: world.a.adminToken, params: { userId: user.id } });
    const changed = await world.call('updateUser', {
      token: world.a.adminToken,
      params: { userId: user.id },
      body: { roles: ['finance_officer'] },
      headers: { 'if-match': read.headers.get('etag')! },
    });
    expect(changed.status).toBe(200);
    expect((await world.call('getChild', { token: user.token, params: { childId: child.id } })).status).toBe(403);
    const me = await world.call('getCurrentPrincipal', { token: user.token });
    expect(me.body.roles).toEqual(['finance_officer']);
    const back = await world.call('updateUser', {
      token: world.a.adminToken,
      params: { userId: user.id },
      body: { roles: ['caseworker'] },
      headers: { 'if-match': changed.headers.get('etag')! },
    });
    expect(back.status).toBe(200);
    expect((await world.call('getChild', { token: user.token, params: { childId: child.id } })).status).toBe(200);
  });

  it('a user disabled, or a session ended, is refused on the very next read, a read that sends no query of its own included', async () => {
    const user = await world.addUser(world.a, ['caseworker']);
    expect((await world.call('listChildren', { token: user.token })).status).toBe(200);
    expect((await world.call('getCurrentPrincipal', { token: user.token })).status).toBe(200);
    const read = await world.call('getUser', { token: world.a.adminToken, params: { userId: user.id } });
    expect(
      (
        await world.call('updateUser', {
          token: world.a.adminToken,
          params: { userId: user.id },
          body: { status: 'disabled' },
          headers: { 'if-match': read.headers.get('etag')! },
        })
      ).status,
    ).toBe(200);
    expect((await world.call('listChildren', { token: user.token })).status).toBe(401);
    expect((await world.call('getCurrentPrincipal', { token: user.token })).status).toBe(401);

    // listPermissions sends no query of its own: only the confirmation can refuse it.
    const other = await world.addUser(world.a, ['tenant_admin']);
    const login = await world.login(world.a.slug, other.email);
    const token = login.body.accessToken as string;
    expect((await world.call('listPermissions', { token })).status).toBe(200);
    expect((await world.call('listPermissions', { token })).status).toBe(200);
    expect((await world.call('logout', { body: { refreshToken: login.body.refreshToken } })).status).toBe(204);
    expect((await world.call('listPermissions', { token })).status).toBe(401);
    expect((await world.call('listChildren', { token })).status).toBe(401);
  });

  it('a refusal on a cached principal is not given before the principal is confirmed: a permission granted since is honoured', async () => {
    const user = await world.addUser(world.a, ['caseworker']);
    // listPermissions needs roles:read, which a caseworker lacks: refused, and the principal cached.
    expect((await world.call('listPermissions', { token: user.token })).status).toBe(403);
    expect((await world.call('listChildren', { token: user.token })).status).toBe(200);
    const read = await world.call('getUser', { token: world.a.adminToken, params: { userId: user.id } });
    expect(
      (
        await world.call('updateUser', {
          token: world.a.adminToken,
          params: { userId: user.id },
          body: { roles: ['caseworker', 'tenant_admin'] },
          headers: { 'if-match': read.headers.get('etag')! },
        })
      ).status,
    ).toBe(200);
    expect((await world.call('listPermissions', { token: user.token })).status).toBe(200);
  });
});
