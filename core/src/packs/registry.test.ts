import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../config';
import { startServer } from '../server';
import { DEFAULT_PACK_ROOTS, loadPacks, PackLoadError } from './registry';
import { startWorld, ownerRows, type World } from '../../../test/support/harness';

const FIXTURE_ROOT = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'packs');

describe('the plugin host', () => {
  it('loads every pack in the repository and resolves each with what it extends', () => {
    const registry = loadPacks();
    const ids = registry.list().map((p) => p.manifest.id);
    expect(ids).toEqual(expect.arrayContaining(['uk', 'usa']));
    for (const id of ids) {
      const resolved = registry.resolve(id);
      expect(resolved.chain[resolved.chain.length - 1]).toBe(id);
      expect(resolved.points.lookups.get('sex')).toBeDefined();
    }
  });

  it('registers a pack that lives only in the tests, with no change to core, and a sub-pack that overrides it by key', () => {
    const registry = loadPacks([...DEFAULT_PACK_ROOTS, FIXTURE_ROOT]);
    const north = registry.resolve('testland/north');
    expect(north.chain).toEqual(['testland', 'testland/north']);
    // Overridden by the sub-pack: the term and the rate table come from its layer...
    expect(north.points.terminology.get('carer')).toMatchObject({ value: 'northern host', layer: 'testland/north' });
    expect(north.points.rates.get('allowance')).toMatchObject({ layer: 'testland/north' });
    // ...inherited: everything else still names the parent as its layer.
    expect(north.points.terminology.get('child')).toMatchObject({ value: 'young person', layer: 'testland' });
    expect(north.points.rates.get('placement-rules')).toMatchObject({ layer: 'testland' });
    expect(north.calendar?.key).toBe('testland');
    expect(
      registry
        .lookupDefaults('testland/north')
        .map((l) => l.key)
        .sort(),
    ).toEqual(['ethnicity', 'favourite_colour', 'sex']);
  });
});

describe('a broken pack stops start-up, naming the file and the field', () => {
  let scratch: string;
  beforeEach(() => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-packs-'));
    fs.cpSync(path.join(FIXTURE_ROOT, 'testland'), path.join(scratch, 'testland'), { recursive: true });
  });
  afterEach(() => fs.rmSync(scratch, { recursive: true, force: true }));

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const edit = (file: string, change: (json: Record<string, any>) => void) => {
    const full = path.join(scratch, 'testland', file);
    const json = JSON.parse(fs.readFileSync(full, 'utf8')) as Record<string, unknown>;
    change(json);
    fs.writeFileSync(full, JSON.stringify(json));
  };
  const failure = () => {
    try {
      loadPacks([scratch]);
    } catch (error) {
      if (error instanceof PackLoadError)
        return { file: path.relative(scratch, error.file), pointer: error.pointer, reason: error.reason };
      throw error;
    }
    throw new Error('the broken pack loaded');
  };

  it.each([
    [
      'an unknown manifest field',
      'pack.json',
      (j: Record<string, unknown>) => (j.colour = 'blue'),
      { file: 'testland/pack.json', pointer: '/colour', reason: 'is not a known field' },
    ],
    [
      'a missing manifest field',
      'pack.json',
      (j: Record<string, unknown>) => delete j.currency,
      { file: 'testland/pack.json', pointer: '/currency', reason: 'is required' },
    ],
    [
      'a wrong currency',
      'pack.json',
      (j: Record<string, unknown>) => (j.currency = 'EUR'),
      { file: 'testland/pack.json', pointer: '/currency' },
    ],
    [
      'a file the manifest names but that is not there',
      'pack.json',
      (j: Record<string, string[]>) => j.lookups!.push('lookups/nope.json'),
      { file: 'testland/pack.json', pointer: '/lookups/3', reason: 'no file lookups/nope.json' },
    ],
    [
      'a bad code in a code list',
      'lookups/sex.json',
      (j: Record<string, Array<Record<string, unknown>>>) => (j.values![1]!.code = 'not a code!'),
      { file: 'testland/lookups/sex.json', pointer: '/values/1/code' },
    ],
    [
      'an amount that is not in minor units',
      'rates/allowance.json',
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      (j: Record<string, any>) => (j.values[0].amounts.young = 100.5),
      { file: 'testland/rates/allowance.json', pointer: '/values/0/amounts/young' },
    ],
    [
      'a missing age band',
      'rates/allowance.json',
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      (j: Record<string, any>) => delete j.values[0].amounts.older,
      {
        file: 'testland/rates/allowance.json',
        pointer: '/values/0/amounts',
        reason: 'has no amount for age band "older"',
      },
    ],
    [
      'a rule naming a table that does not exist',
      'rates/rules.json',
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      (j: Record<string, any>) => (j.rules[0].event.params.table = 'missing'),
      { file: 'testland/rates/rules.json', pointer: '/rules/0/event/params/table' },
    ],
    [
      'a calendar the pack does not have',
      'pack.json',
      (j: Record<string, unknown>) => (j.calendar = 'elsewhere'),
      { file: 'testland/pack.json', pointer: '/calendar' },
    ],
    [
      'extending an unknown pack',
      'pack.json',
      (j: Record<string, unknown>) => (j.extends = 'atlantis'),
      { file: 'testland/pack.json', pointer: '/extends' },
    ],
    [
      'a cycle triggered by an event the core does not record',
      'cycles/check-in.json',
      (j: Record<string, unknown>) => (j.trigger = 'child.became_looked_after'),
      {
        file: 'testland/cycles/check-in.json',
        pointer: '/trigger',
        reason: expect.stringContaining('"child.became_looked_after" is not an event the core records'),
      },
    ],
    [
      'a cycle stopped by an unknown event',
      'cycles/check-in.json',
      (j: Record<string, unknown>) => (j.stoppedBy = ['child.left_care', 'child.ceased_looked_after']),
      { file: 'testland/cycles/check-in.json', pointer: '/stoppedBy/1' },
    ],
    [
      "a cycle completed by another subject's event",
      'cycles/check-in.json',
      (j: Record<string, unknown>) => (j.completedBy = 'placement.visit_held'),
      {
        file: 'testland/cycles/check-in.json',
        pointer: '/completedBy',
        reason: '"placement.visit_held" is an event about a placement, but the cycle\'s subject is child',
      },
    ],
  ])('%s', (_what, file, change, expected) => {
    edit(file, change as (json: Record<string, unknown>) => void);
    expect(failure()).toMatchObject(expected);
  });

  it('reports JSON that does not parse', () => {
    fs.writeFileSync(path.join(scratch, 'testland', 'terminology.json'), '{ "terms": ');
    expect(failure()).toMatchObject({
      file: 'testland/terminology.json',
      reason: expect.stringContaining('not valid JSON'),
    });
  });

  it('refuses to start the server, before it listens', async () => {
    edit('pack.json', (j) => (j.colour = 'blue'));
    const config = loadConfig(
      { NODE_ENV: 'test' },
      {
        databaseUrl: undefined,
        embeddedDataDir: null,
        port: 0,
        seedDemoTenants: false,
        logLevel: 'silent',
        extraPackRoots: [scratch],
      },
    );
    await expect(startServer(config)).rejects.toThrow(/testland\/pack\.json at \/colour: is not a known field/);
  });
});

describe('a tenant on the test pack', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld({ extraPackRoots: [FIXTURE_ROOT] });
  });
  afterAll(async () => {
    await world?.close();
  });

  it('gets the pack’s code lists when the platform creates it', async () => {
    const created = await world.call('createTenant', {
      token: world.platform.adminToken,
      body: {
        name: 'Testland North Council',
        slug: 'testland-north',
        packId: 'testland/north',
        currency: 'GBP',
        timeZone: 'Europe/London',
        firstAdmin: { email: 'admin@north.test', displayName: 'Admin' },
      },
    });
    expect(created.status).toBe(201);
    const lists = await ownerRows<{ key: string }>(
      world.db,
      created.body.id,
      'SELECT key FROM lookup_lists WHERE tenant_id = ? ORDER BY key',
      [created.body.id],
    );
    expect(lists.map((l) => l.key)).toEqual(['ethnicity', 'favourite_colour', 'sex']);
  });
});
