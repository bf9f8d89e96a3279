import { seedCareHistory, type HistoryIds } from '../../../../test/support/careHistory';
import { startWorld, type World } from '../../../../test/support/harness';

/**
 * A payment line names its household, and its placement and child where it has them, through one
 * key to the placement (tenant, placement, household, child) where it names all three, and a key of
 * its own for each reference the placement cannot vouch for. Whatever the application does, the
 * database refuses a line whose placement is another household's or another child's, and a line
 * that names anything of another tenant or anything that does not exist.
 */

let world: World;
let a: HistoryIds;
let b: HistoryIds;
let runId: string;

const history = {
  households: [
    { key: 'H1', region: 'london' },
    { key: 'H2', region: 'london' },
  ],
  children: [
    { key: 'C1', dateOfBirth: '2015-01-01' },
    { key: 'C2', dateOfBirth: '2016-01-01' },
  ],
  placements: [{ key: 'P1', child: 'C1', household: 'H1', start: '2025-01-01', placementType: 'U4' }],
};

beforeAll(async () => {
  world = await startWorld();
  a = await seedCareHistory(world.db, world.a.id, history);
  b = await seedCareHistory(world.db, world.b.id, history);
  expect(
    (
      await world.call('createPaySchedule', {
        token: world.a.adminToken,
        body: { key: 'weekly', name: 'Weekly', frequency: 'weekly', timing: 'arrears', anchorDate: '2025-05-05' },
      })
    ).status,
  ).toBe(201);
  runId = (await world.call('createPaymentRun', { token: world.a.adminToken, body: { periodStart: '2025-05-05' } }))
    .body.id;
});
afterAll(async () => {
  await world?.close();
});

/** Writes one line into a run being calculated, as the owner, and rolls it all back; the error's text, or null when the line was taken. */
async function write(line: {
  household: string;
  placement: string | null;
  child: string | null;
}): Promise<string | null> {
  try {
    await world.db.transaction(async (trx) => {
      await trx.raw(`SELECT set_config('app.tenant_id', ?, true)`, [world.a.id]);
      await trx.raw(
        "UPDATE payment_runs SET status = 'calculating', calculation_number = 1 WHERE tenant_id = ? AND id = ?",
        [world.a.id, runId],
      );
      await trx.raw(
        `INSERT INTO payment_lines (tenant_id, id, run_id, calculation, position, household_id, placement_id, child_id, kind, component, amount, description)
         VALUES (?, gen_random_uuid(), ?, 1, 1, ?, ?, ?, 'rate', 'allowance', 100, 'test')`,
        [world.a.id, runId, line.household, line.placement, line.child],
      );
      throw new Error('taken');
    });
  } catch (error) {
    const message = (error as Error).message;
    return message === 'taken' ? null : message;
  }
  return null;
}

it('takes a line naming a placement with its own household and child, or a household alone', async () => {
  expect(await write({ household: a.H1!, placement: a.P1!, child: a.C1! })).toBeNull();
  expect(await write({ household: a.H1!, placement: a.P1!, child: null })).toBeNull();
  expect(await write({ household: a.H2!, placement: null, child: null })).toBeNull();
  expect(await write({ household: a.H2!, placement: null, child: a.C2! })).toBeNull();
});

it("refuses a line whose placement is another household's or another child's", async () => {
  expect(await write({ household: a.H2!, placement: a.P1!, child: a.C1! })).toMatch(
    /payment_lines_placement_household_child_fkey/,
  );
  expect(await write({ household: a.H1!, placement: a.P1!, child: a.C2! })).toMatch(
    /payment_lines_placement_household_child_fkey/,
  );
});

it("refuses a line naming another tenant's household, placement or child, whatever else it names", async () => {
  expect(await write({ household: b.H1!, placement: null, child: null })).toMatch(/payment_lines_household_alone_fkey/);
  expect(await write({ household: b.H1!, placement: b.P1!, child: b.C1! })).toMatch(
    /payment_lines_placement_household_child_fkey/,
  );
  expect(await write({ household: a.H1!, placement: b.P1!, child: null })).toMatch(
    /payment_lines_placement_alone_fkey/,
  );
  expect(await write({ household: a.H1!, placement: null, child: b.C1! })).toMatch(/payment_lines_child_alone_fkey/);
  expect(await write({ household: b.H1!, placement: a.P1!, child: null })).toMatch(
    /payment_lines_household_alone_fkey/,
  );
});
