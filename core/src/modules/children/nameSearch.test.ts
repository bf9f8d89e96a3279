import { startWorld, type World } from '../../../../test/support/harness';

let world: World;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world?.close();
});

const born = { dateOfBirth: '2014-02-03', sex: 'male' };

async function names(token: string, q: string): Promise<string[]> {
  const response = await world.call('listChildren', { token, query: { q, limit: 100 } });
  expect(response.status).toBe(200);
  return (response.body.data as Array<{ givenName: string; familyName: string }>)
    .map((c) => `${c.givenName} ${c.familyName}`)
    .sort();
}

describe('searching children by name', () => {
  beforeAll(async () => {
    for (const [givenName, familyName, preferredName] of [
      ['Joe', "O'Brien-Smith", null],
      ['Joanna', 'Smithers', 'Jo'],
      ['Amelia', 'Jonesy', null],
      ['Zoë', 'Łukasik', null],
    ] as const) {
      const r = await world.call('createChild', {
        token: world.a.adminToken,
        body: { ...born, givenName, familyName, ...(preferredName ? { preferredName } : {}) },
      });
      expect(r.status).toBe(201);
    }
    // The same name in the other tenant must never appear in A's results.
    expect(
      (
        await world.call('createChild', {
          token: world.b.adminToken,
          body: { ...born, givenName: 'Joe', familyName: "O'Brien-Smith" },
        })
      ).status,
    ).toBe(201);
  });

  it('matches the start of any name word, every typed word, in any case', async () => {
    expect(await names(world.a.adminToken, 'jo')).toEqual(['Amelia Jonesy', 'Joanna Smithers', "Joe O'Brien-Smith"]);
    expect(await names(world.a.adminToken, 'SM jo')).toEqual(['Joanna Smithers', "Joe O'Brien-Smith"]);
    expect(await names(world.a.adminToken, 'smithers')).toEqual(['Joanna Smithers']);
    expect(await names(world.a.adminToken, 'mith')).toEqual([]);
  });

  it('finds names with punctuation typed with it, without it, or by their parts', async () => {
    for (const q of ["o'brien", 'obrien', 'brien', 'obrien-smith', 'obriensmith'])
      expect(await names(world.a.adminToken, q)).toEqual(["Joe O'Brien-Smith"]);
    expect(await names(world.a.adminToken, "'-")).toEqual([]);
  });

  it('finds names outside ASCII as they were written', async () => {
    expect(await names(world.a.adminToken, 'zoë')).toEqual(['Zoë Łukasik']);
    expect(await names(world.a.adminToken, 'łuk')).toEqual(['Zoë Łukasik']);
  });

  it('follows a renamed child', async () => {
    const created = await world.call('createChild', {
      token: world.a.adminToken,
      body: { ...born, givenName: 'Renata', familyName: 'Before' },
    });
    const renamed = await world.call('updateChild', {
      token: world.a.adminToken,
      params: { childId: created.body.id },
      body: { familyName: 'Afterwards' },
      headers: { 'if-match': '"1"' },
    });
    expect(renamed.status).toBe(200);
    expect(await names(world.a.adminToken, 'before')).toEqual([]);
    expect(await names(world.a.adminToken, 'renata after')).toEqual(['Renata Afterwards']);
  });

  it('is served by the prefix index under row-level security, as the application role', async () => {
    const plan = await world.db.transaction(async (trx) => {
      await trx.raw(`SELECT set_config('role', 'hearth_app', true), set_config('app.tenant_id', ?, true)`, [
        world.a.id,
      ]);
      await trx.raw('SET LOCAL enable_seqscan = off');
      const result = (await trx.raw(
        `EXPLAIN SELECT child_id FROM child_name_tokens WHERE tenant_id = ? AND token ~>=~ 'jo' AND token ~<~ 'jp'`,
        [world.a.id],
      )) as { rows: Array<{ 'QUERY PLAN': string }> };
      return result.rows.map((r) => r['QUERY PLAN']).join('\n');
    });
    expect(plan).toMatch(/Index (Only )?Scan using child_name_tokens_prefix/);
    expect(plan).toMatch(/Index Cond: .*~>=~/);
  });
});
