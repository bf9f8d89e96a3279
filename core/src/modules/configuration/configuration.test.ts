import { ownerRows, startWorld, type TenantFixture, type World } from '../../../../test/support/harness';
import { validAnnualReview } from '../../../../test/support/fixtures';
import { makeHousehold } from '../../../../test/support/fixtures/carers';

/**
 * The configuration API on the real packs: England's 2025-26 national minimum allowance
 * (GOV.UK "Help with the cost of fostering"), England and Wales bank holidays, and California's
 * basic rate (LA County DCFS 0900-511.10), with tenant overlays on top. Expected figures are worked
 * by hand.
 */
let world: World;
let california: TenantFixture;

beforeAll(async () => {
  world = await startWorld();
  const created = await world.call('createTenant', {
    token: world.platform.adminToken,
    body: {
      name: 'Golden State Families',
      slug: 'tenant-ca',
      packId: 'usa/ca',
      currency: 'USD',
      timeZone: 'America/Los_Angeles',
      firstAdmin: { email: 'admin@tenant-ca.test', displayName: 'CA Admin', password: 'correct horse battery staple' },
    },
  });
  expect(created.status).toBe(201);
  california = {
    id: created.body.id,
    slug: 'tenant-ca',
    adminId: '',
    adminEmail: 'admin@tenant-ca.test',
    adminToken: await world.token('tenant-ca', 'admin@tenant-ca.test'),
  };
});
afterAll(async () => {
  await world?.close();
});

const fosterNight = { placementType: 'foster_unrelated' };

async function evaluate(tenant: TenantFixture, body: Record<string, unknown>) {
  const response = await world.call('evaluateRate', { token: tenant.adminToken, body });
  expect(response.status).toBe(200);
  return response.body as {
    currency: string;
    total: number;
    notPaid: { code: string; reason: string } | null;
    lines: Array<{
      component: string;
      from: string;
      to: string;
      nights: number;
      amount: number;
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      explanation: Record<string, any>;
    }>;
  };
}

describe('packs', () => {
  it('lists every pack with its version and the chain it extends', async () => {
    const response = await world.call('listPacks', { token: world.a.adminToken });
    const byId = Object.fromEntries(
      (response.body.data as Array<{ id: string; chain: string[] }>).map((p) => [p.id, p]),
    );
    expect(byId.uk).toMatchObject({ chain: ['uk'], currency: 'GBP' });
    expect(byId['usa/ca']).toMatchObject({ chain: ['usa', 'usa/ca'], extends: 'usa', currency: 'USD' });
  });
});

describe('rates through the API, from the published tables', () => {
  it('pays a London foster carer the 2025-26 weekly allowance for a 13-year-old, and explains it', async () => {
    const result = await evaluate(world.a, {
      ...fosterNight,
      childDateOfBirth: '2012-01-15',
      placementStart: '2025-06-01',
      placementEnd: '2025-06-08',
      periodStart: '2025-06-01',
      periodEnd: '2025-06-30',
      region: 'london',
    });
    expect(result.currency).toBe('GBP');
    expect(result.lines).toEqual([
      expect.objectContaining({
        component: 'allowance',
        from: '2025-06-01',
        to: '2025-06-07',
        nights: 7,
        amount: 25700,
      }),
    ]);
    expect(result.lines[0]!.explanation).toMatchObject({
      rule: 'allowance_foster_night',
      table: 'nma-allowance',
      layer: 'pack:uk',
      effectiveFrom: '2025-04-06',
      facts: { ageBand: '11-15', region: 'london' },
    });
    expect(result.total).toBe(25700);
  });

  it('holds in the UK pack exactly the 2025-26 national minimum allowance of the published table', async () => {
    // The published NMA, weekly, London / South East / Rest of England.
    const published: Record<string, [number, number, number]> = {
      '0-2': [198, 189, 170],
      '3-4': [201, 196, 176],
      '5-10': [225, 216, 194],
      '11-15': [257, 247, 220],
      '16-17': [299, 288, 258],
    };
    const config = await world.call('getEffectiveConfiguration', {
      token: world.a.adminToken,
      query: { asOf: '2025-06-01' },
    });
    const nma = config.body.rates.find((r: { key: string }) => r.key === 'nma-allowance').value.effective;
    expect(nma.effectiveFrom).toBe('2025-04-06');
    for (const [band, [london, southEast, rest]] of Object.entries(published)) {
      expect(nma.amounts[band]).toEqual({
        london: london * 100,
        south_east: southEast * 100,
        rest_of_england: rest * 100,
      });
    }
  });

  it('splits a period that straddles 6 April at the new year’s rate', async () => {
    // Rest of England, a 7-year-old: 2024-25 £187 a week, 2025-26 £194. Nights 1-5 April at the old
    // rate (18700 × 5 / 7 = 13357.14), 6-10 April at the new (19400 × 5 / 7 = 13857.14).
    const result = await evaluate(world.a, {
      ...fosterNight,
      childDateOfBirth: '2018-01-20',
      placementStart: '2025-03-01',
      periodStart: '2025-04-01',
      periodEnd: '2025-04-10',
      region: 'rest_of_england',
    });
    expect(result.lines.map((l) => [l.from, l.to, l.nights, l.amount, l.explanation.effectiveFrom])).toEqual([
      ['2025-04-01', '2025-04-05', 5, 13357, '2024-04-06'],
      ['2025-04-06', '2025-04-10', 5, 13857, '2025-04-06'],
    ]);
  });

  it('pays allowance and fee as separate lines across a birthday that changes band, with the birthday week as an extra', async () => {
    // London, carer level 2 (the pack's illustrative £100 a week fee), the child turns 5 on 10 June
    // 2025; arrives 6 June, leaves 13 June (not paid): 7 nights.
    const result = await evaluate(world.a, {
      ...fosterNight,
      childDateOfBirth: '2020-06-10',
      placementStart: '2025-06-06',
      placementEnd: '2025-06-13',
      periodStart: '2025-06-01',
      periodEnd: '2025-06-30',
      region: 'london',
      carerLevel: 'level_2',
    });
    expect(result.lines.map((l) => [l.component, l.from, l.to, l.nights, l.amount])).toEqual([
      ['allowance', '2025-06-06', '2025-06-09', 4, 11486], // 3-4 band: 20100 × 4 / 7 = 11485.71
      ['fee', '2025-06-06', '2025-06-09', 4, 5714], // 10000 × 4 / 7 = 5714.29
      ['allowance', '2025-06-10', '2025-06-12', 3, 9643], // 5-10 band: 22500 × 3 / 7 = 9642.86
      ['birthday_extra', '2025-06-10', '2025-06-10', 0, 22500], // one week of the allowance on the birthday
      ['fee', '2025-06-10', '2025-06-12', 3, 4286], // 10000 × 3 / 7 = 4285.71
    ]);
    expect(result.total).toBe(11486 + 5714 + 9643 + 22500 + 4286);
    expect(result.lines.find((l) => l.component === 'birthday_extra')!.explanation).toMatchObject({
      rule: 'birthday_extra',
      facts: { occasion: 'birthday', ageBand: '5-10' },
      occasion: { kind: 'birthday', date: '2025-06-10', name: null, recordId: null },
    });
  });

  it('pays the occasions sent, each on its day, and the deprecated festival flag on the last night in care', async () => {
    // London, 7 years old (5-10: £225 a week), in care throughout June 2025.
    const june = {
      ...fosterNight,
      childDateOfBirth: '2018-01-20',
      placementStart: '2025-05-01',
      periodStart: '2025-06-01',
      periodEnd: '2025-06-30',
      region: 'london',
    };
    const result = await evaluate(world.a, {
      ...june,
      occasions: [
        { kind: 'festival', date: '2025-06-06', name: 'Eid al-Adha' },
        { kind: 'holiday', date: '2025-07-01' },
      ],
    });
    expect(
      result.lines.filter((l) => l.nights === 0).map((l) => [l.component, l.from, l.amount, l.explanation.occasion]),
    ).toEqual([
      [
        'festival_extra',
        '2025-06-06',
        22500,
        { kind: 'festival', date: '2025-06-06', name: 'Eid al-Adha', recordId: null },
      ],
    ]);
    const flagged = await evaluate(world.a, { ...june, placementEnd: '2025-06-20', festivalInPeriod: true });
    expect(flagged.lines.filter((l) => l.nights === 0).map((l) => [l.component, l.from, l.amount])).toEqual([
      ['festival_extra', '2025-06-19', 22500],
    ]);
  });

  it('pays a California placement that starts mid-month for the nights in the home', async () => {
    // $1,129 a month (from 1 July 2022); arrival 16 September 2022: 15 of September's 30 nights = $564.50.
    const result = await evaluate(california, {
      childDateOfBirth: '2012-01-01',
      placementStart: '2022-09-16',
      placementEnd: null,
      periodStart: '2022-09-01',
      periodEnd: '2022-09-30',
      placementType: 'foster_family_non_relative',
    });
    expect(result.currency).toBe('USD');
    expect(result.lines.map((l) => [l.component, l.nights, l.amount])).toEqual([[expect.any(String), 15, 56450]]);
    expect(result.lines[0]!.explanation.layer).toBe('pack:usa/ca');
  });

  it('refuses a rate evaluation on the USA baseline, which leaves rates to the states', async () => {
    const response = await world.call('evaluateRate', {
      token: world.b.adminToken,
      body: {
        childDateOfBirth: '2012-01-01',
        placementStart: '2025-01-01',
        periodStart: '2025-01-01',
        periodEnd: '2025-01-31',
      },
    });
    expect(response.status).toBe(422);
  });
});

describe('what an evaluation needs, and a 0 that says why', () => {
  const londonTeen = {
    childDateOfBirth: '2012-01-15',
    placementStart: '2025-06-01',
    placementEnd: '2025-06-08',
    periodStart: '2025-06-01',
    periodEnd: '2025-06-30',
    region: 'london',
  };
  const refused = async (tenant: TenantFixture, body: Record<string, unknown>) => {
    const response = await world.call('evaluateRate', { token: tenant.adminToken, body });
    expect(response.status).toBe(422);
    return (response.body.errors as Array<{ pointer: string; message: string }>).map((e) => e.pointer);
  };

  it('refuses, by pointer, a fact no English rule pays without: the placement type, never 200 with a total of 0', async () => {
    expect(await refused(world.a, londonTeen)).toEqual(['/body/placementType']);
    expect(await refused(world.a, { ...londonTeen, placementType: null })).toEqual(['/body/placementType']);
    // A carer without a level is paid the allowance and no fee: not a missing fact.
    expect((await evaluate(world.a, { ...londonTeen, ...fosterNight })).total).toBe(25700);
  });

  it('refuses a fact the table that would pay is keyed by: the region of the English allowance', async () => {
    const { region: _region, ...anywhere } = londonTeen;
    void _region;
    expect(await refused(world.a, { ...anywhere, ...fosterNight })).toEqual(['/body/region']);
  });

  it("pays the tenant's placement type code as its category, and refuses one that is neither", async () => {
    const byCode = await evaluate(world.a, { ...londonTeen, placementType: 'U4' });
    expect(byCode.lines).toEqual((await evaluate(world.a, { ...londonTeen, ...fosterNight })).lines);
    expect(await refused(world.a, { ...londonTeen, placementType: 'foster_unrelatd' })).toEqual([
      '/body/placementType',
    ]);
  });

  it('says in words why a placement the rules do not pay is paid nothing', async () => {
    for (const placementType of ['A3', 'placed_for_adoption']) {
      const adoption = await evaluate(world.a, { ...londonTeen, placementType });
      expect(adoption).toMatchObject({
        lines: [],
        total: 0,
        notPaid: { code: 'not_paid_by_rules', reason: expect.stringContaining('placementType placed_for_adoption') },
      });
    }
    const before = await evaluate(world.a, {
      ...londonTeen,
      ...fosterNight,
      placementStart: '2025-07-01',
      placementEnd: null,
    });
    expect(before.notPaid).toEqual({
      code: 'no_night_in_period',
      reason: 'The placement has no paid night from 2025-06-01 to 2025-06-30',
    });
    const beforeRates = await evaluate(world.a, {
      ...londonTeen,
      ...fosterNight,
      placementStart: '2023-06-01',
      placementEnd: null,
      periodStart: '2023-06-01',
      periodEnd: '2023-06-30',
    });
    expect(beforeRates).toMatchObject({
      lines: [],
      total: 0,
      notPaid: { code: 'no_rate_in_effect', reason: expect.stringContaining('"nma-allowance"') },
    });
    expect((await evaluate(world.a, { ...londonTeen, ...fosterNight })).notPaid).toBeNull();
  });

  it("reads each pack's own rules: Texas pays by service level and needs it; California pays the basic rate without a level of care", async () => {
    const created = await world.call('createTenant', {
      token: world.platform.adminToken,
      body: {
        name: 'Lone Star Families',
        slug: 'tenant-tx',
        packId: 'usa/tx',
        currency: 'USD',
        timeZone: 'America/Chicago',
        firstAdmin: {
          email: 'admin@tenant-tx.test',
          displayName: 'TX Admin',
          password: 'correct horse battery staple',
        },
      },
    });
    expect(created.status).toBe(201);
    const texas = {
      id: created.body.id,
      slug: 'tenant-tx',
      adminId: '',
      adminEmail: 'admin@tenant-tx.test',
      adminToken: await world.token('tenant-tx', 'admin@tenant-tx.test'),
    };
    const night = {
      childDateOfBirth: '2012-01-01',
      placementStart: '2024-09-01',
      placementEnd: null,
      periodStart: '2024-09-01',
      periodEnd: '2024-09-30',
    };
    expect(await refused(texas, night)).toEqual(['/body/levelOfCare']);
    expect((await evaluate(texas, { ...night, levelOfCare: 'basic' })).total).toBeGreaterThan(0);
    const basic = await evaluate(california, {
      ...night,
      placementStart: '2022-09-01',
      periodStart: '2022-09-01',
      periodEnd: '2022-09-30',
    });
    expect(basic).toMatchObject({ total: 112900, notPaid: null });
  });
});

describe('tenant overlays', () => {
  it('raise an allowance from a future date: the effective configuration differs exactly there, and so does pay', async () => {
    const before = await world.call('getEffectiveConfiguration', {
      token: world.a.adminToken,
      query: { asOf: '2025-08-31' },
    });
    const created = await world.call('createOverlay', {
      token: world.a.adminToken,
      body: {
        effectiveFrom: '2025-09-01',
        description: 'Our London rate for 11-15s',
        changes: { rates: { 'nma-allowance': { amounts: { '11-15': { london: 27000 } } } } },
      },
    });
    expect(created.status).toBe(201);
    const version = created.body.version as number;

    const dayBefore = await world.call('getEffectiveConfiguration', {
      token: world.a.adminToken,
      query: { asOf: '2025-08-31' },
    });
    const onTheDay = await world.call('getEffectiveConfiguration', {
      token: world.a.adminToken,
      query: { asOf: '2025-09-01' },
    });
    expect(dayBefore.body).toEqual(before.body);
    const table = (config: {
      rates: Array<{
        key: string;
        layer: string;
        value: { effective: { amounts: Record<string, Record<string, number>>; effectiveFrom: string } };
      }>;
    }) => config.rates.find((r) => r.key === 'nma-allowance')!;
    expect(table(dayBefore.body)).toMatchObject({
      layer: 'pack:uk',
      value: { effective: { effectiveFrom: '2025-04-06' } },
    });
    expect(table(onTheDay.body)).toMatchObject({
      layer: `overlay:${version}`,
      value: { effective: { effectiveFrom: '2025-09-01' } },
    });
    // Exactly the overlaid amount moved; every other band and region is the pack's.
    const a = table(dayBefore.body).value.effective.amounts;
    const b = table(onTheDay.body).value.effective.amounts;
    const moved = Object.keys(a).flatMap((band) =>
      Object.keys(a[band]!)
        .filter((region) => a[band]![region] !== b[band]![region])
        .map((region) => `${band}/${region}: ${a[band]![region]} -> ${b[band]![region]}`),
    );
    expect(moved).toEqual(['11-15/london: 25700 -> 27000']);
    expect(onTheDay.body.overlaysApplied.map((o: { version: number }) => o.version)).toContain(version);

    // A week straddling the date: 3 nights at £257/7 (pack), 4 at £270/7 (overlay).
    const pay = await evaluate(world.a, {
      ...fosterNight,
      childDateOfBirth: '2012-01-15',
      placementStart: '2025-08-29',
      placementEnd: '2025-09-05',
      periodStart: '2025-08-29',
      periodEnd: '2025-09-04',
      region: 'london',
    });
    expect(pay.lines.map((l) => [l.from, l.to, l.nights, l.amount, l.explanation.layer])).toEqual([
      ['2025-08-29', '2025-08-31', 3, 11014, 'pack:uk'], // 25700 × 3 / 7 = 11014.29
      ['2025-09-01', '2025-09-04', 4, 15429, `overlay:${version}`], // 27000 × 4 / 7 = 15428.57
    ]);
  });

  it('refuse an allowance below the national minimum, naming the floor, and store nothing', async () => {
    const count = async () =>
      (
        await ownerRows<{ n: number }>(
          world.db,
          world.a.id,
          'SELECT count(*)::int AS n FROM tenant_config_overlays WHERE tenant_id = ?',
          [world.a.id],
        )
      )[0]!.n;
    const before = await count();
    const response = await world.call('createOverlay', {
      token: world.a.adminToken,
      body: {
        effectiveFrom: '2025-10-01',
        description: 'Too low',
        changes: { rates: { 'nma-allowance': { amounts: { '0-2': { rest_of_england: 16000 } } } } },
      },
    });
    expect(response.status).toBe(422);
    expect(response.body.floor).toMatchObject({
      table: 'nma-allowance',
      dimensions: { ageBand: '0-2', region: 'rest_of_england' },
      floorAmount: 17000,
      offered: 16000,
      floorEffectiveFrom: '2025-04-06',
      floorLayer: 'pack:uk',
    });
    expect(response.body.errors[0].pointer).toBe('/body/changes/rates/nma-allowance/amounts/0-2/rest_of_england');
    expect(await count()).toBe(before);
  });

  it('refuse changes to things the pack does not have, naming each', async () => {
    const response = await world.call('createOverlay', {
      token: world.a.adminToken,
      body: {
        effectiveFrom: '2025-10-01',
        description: 'Typos',
        changes: {
          rates: { 'nma-allowence': { amounts: 1 } },
          terminology: { chlid: 'x' },
          workflows: { 'carer-approval': { removeTransitions: ['no-such-step'] } },
        },
      },
    });
    expect(response.status).toBe(422);
    expect(response.body.errors.map((e: { pointer: string }) => e.pointer).sort()).toEqual([
      '/body/changes/rates/nma-allowence',
      '/body/changes/terminology/chlid',
      '/body/changes/workflows/carer-approval/removeTransitions/0',
    ]);
  });

  it('add extra fields to a form, which submissions must then satisfy', async () => {
    const created = await world.call('createOverlay', {
      token: world.a.adminToken,
      body: {
        effectiveFrom: '2020-01-01',
        description: 'We ask about pets',
        changes: {
          forms: {
            'carer-annual-review': { extraFields: { petsInHome: { type: 'boolean' } }, required: ['petsInHome'] },
          },
        },
      },
    });
    expect(created.status).toBe(201);
    const schema = await world.call('getFormSchema', {
      token: world.a.adminToken,
      params: { formKey: 'carer-annual-review', formVersion: '1' },
    });
    expect(schema.body.layer).toBe(`overlay:${created.body.version}`);
    expect(schema.body.schema.required).toContain('petsInHome');
    const missing = await world.call('submitForm', {
      token: world.a.adminToken,
      body: {
        formKey: 'carer-annual-review',
        formVersion: 1,
        subjectType: 'user',
        subjectId: world.a.adminId,
        data: validAnnualReview,
      },
    });
    expect(missing.status).toBe(422);
    expect(missing.body.errors.map((e: { pointer: string }) => e.pointer)).toEqual(['/body/data/petsInHome']);
    const ok = await world.call('submitForm', {
      token: world.a.adminToken,
      body: {
        formKey: 'carer-annual-review',
        formVersion: 1,
        subjectType: 'user',
        subjectId: world.a.adminId,
        data: { ...validAnnualReview, petsInHome: true },
      },
    });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({
      formKey: 'carer-annual-review',
      formVersion: 1,
      layer: `overlay:${created.body.version}`,
    });
  });
});

describe('configuration export and import', () => {
  it('reproduce a tenant’s effective configuration in another tenant on the same pack', async () => {
    const exported = await world.call('exportConfiguration', { token: world.a.adminToken });
    expect(exported.status).toBe(200);
    expect(exported.body.overlays.length).toBeGreaterThan(0);
    const created = await world.call('createTenant', {
      token: world.platform.adminToken,
      body: {
        name: 'Copy',
        slug: 'tenant-copy',
        packId: 'uk',
        currency: 'GBP',
        timeZone: 'Europe/London',
        firstAdmin: { email: 'admin@copy.test', displayName: 'Copy', password: 'correct horse battery staple' },
      },
    });
    const token = await world.token('tenant-copy', 'admin@copy.test');
    const imported = await world.call('importConfiguration', { token, body: exported.body });
    expect(imported.status).toBe(201);
    expect(imported.body.imported).toBe(exported.body.overlays.length);
    for (const asOf of ['2025-06-01', '2025-09-15', '2031-01-01']) {
      const original = await world.call('getEffectiveConfiguration', { token: world.a.adminToken, query: { asOf } });
      const copy = await world.call('getEffectiveConfiguration', { token, query: { asOf } });
      const strip = (c: Record<string, unknown>) => ({
        ...c,
        overlaysApplied: (c.overlaysApplied as Array<{ version: number; effectiveFrom: string }>).map((o) => [
          o.version,
          o.effectiveFrom,
        ]),
      });
      expect(strip(copy.body)).toEqual(strip(original.body));
    }
    expect(created.status).toBe(201);
  });

  it('import all or nothing: one bad overlay stores none, and the error points into the document', async () => {
    const count = async () =>
      (
        await ownerRows<{ n: number }>(
          world.db,
          world.a.id,
          'SELECT count(*)::int AS n FROM tenant_config_overlays WHERE tenant_id = ?',
          [world.a.id],
        )
      )[0]!.n;
    const before = await count();
    const response = await world.call('importConfiguration', {
      token: world.a.adminToken,
      body: {
        format: 'hearth.configuration',
        formatVersion: 1,
        packId: 'uk',
        overlays: [
          { effectiveFrom: '2033-01-01', description: 'fine', changes: { terminology: { carer: 'carer' } } },
          {
            effectiveFrom: '2033-02-01',
            description: 'below the floor',
            changes: { rates: { 'nma-allowance': { amounts: { '16-17': { london: 100 } } } } },
          },
        ],
      },
    });
    expect(response.status).toBe(422);
    expect(response.body.errors.map((e: { pointer: string }) => e.pointer)).toEqual([
      '/body/overlays/1/changes/rates/nma-allowance/amounts/16-17/london',
    ]);
    expect(await count()).toBe(before);
  });
});

describe('form submissions', () => {
  it('are validated against the named version, with errors pointing into the data, and refused for another tenant’s subject', async () => {
    const bad = await world.call('submitForm', {
      token: world.b.adminToken,
      body: {
        formKey: 'home-study',
        formVersion: 1,
        subjectType: 'user',
        subjectId: world.a.adminId,
        data: { applicants: [] },
      },
    });
    expect(bad.status).toBe(422);
    const pointers = bad.body.errors.map((e: { pointer: string }) => e.pointer);
    expect(pointers).toContain('/body/subjectId');
    expect(pointers).toContain('/body/data/applicants');
    const unknown = await world.call('submitForm', {
      token: world.a.adminToken,
      body: {
        formKey: 'carer-annual-review',
        formVersion: 9,
        subjectType: 'user',
        subjectId: world.a.adminId,
        data: {},
      },
    });
    expect(unknown.status).toBe(404);
  });

  it('are about carer households and placements too, which must exist in the tenant', async () => {
    const household = await makeHousehold({ world, tenant: world.a });
    const body = {
      formKey: 'carer-annual-review',
      formVersion: 1,
      subjectType: 'carer_household',
      subjectId: household.id,
      data: { ...validAnnualReview, petsInHome: false },
    }; // the overlay above asks about pets
    const stored = await world.call('submitForm', { token: world.a.adminToken, body });
    expect(stored.status).toBe(201);
    expect(stored.body).toMatchObject({ subjectType: 'carer_household', subjectId: household.id, formVersion: 1 });
    const elsewhere = await world.call('submitForm', {
      token: world.a.adminToken,
      body: { ...body, subjectType: 'placement' },
    });
    expect(elsewhere.status).toBe(422);
    expect(elsewhere.body.errors).toEqual([
      expect.objectContaining({ pointer: '/body/subjectId', message: 'is not a placement of this tenant' }),
    ]);
  });
});

describe('cycles through the API, on the pack calendar', () => {
  it('put the first child review 20 working days after becoming looked after, skipping the Easter bank holidays', async () => {
    const response = await world.call('computeCycleDueDates', {
      token: world.a.adminToken,
      params: { cycleKey: 'child-review' },
      body: { triggerDate: '2026-03-23', until: '2026-12-31' },
    });
    expect(response.status).toBe(200);
    expect(response.body.calendar).toBe('england-and-wales');
    // 23 March 2026 + 20 working days, skipping Good Friday (3 April) and Easter Monday (6 April).
    expect(response.body.occurrences[0]).toMatchObject({
      dueDate: '2026-04-22',
      countedFrom: { basis: 'trigger', date: '2026-03-23' },
    });
    expect(response.body.occurrences[1]).toMatchObject({ dueDate: '2026-07-22' });
  });

  it('schedule social worker visits a week after the placement starts, then every six weeks', async () => {
    const response = await world.call('computeCycleDueDates', {
      token: world.a.adminToken,
      params: { cycleKey: 'social-worker-visit' },
      body: { triggerDate: '2026-01-05', until: '2026-06-30', facts: { longTerm: false } },
    });
    expect(response.body.occurrences.map((o: { dueDate: string }) => o.dueDate)).toEqual([
      '2026-01-12',
      '2026-02-23',
      '2026-04-06',
      '2026-05-18',
      '2026-06-29',
    ]);
  });

  it('answers 404 for a cycle the pack does not have', async () => {
    expect(
      (
        await world.call('computeCycleDueDates', {
          token: world.a.adminToken,
          params: { cycleKey: 'no-such-cycle' },
          body: { triggerDate: '2026-01-05', until: '2026-06-30' },
        })
      ).status,
    ).toBe(404);
  });
});
