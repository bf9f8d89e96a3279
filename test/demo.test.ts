import { loadConfig } from '../core/src/config';
import { generateDemoService } from '../core/src/demo/demoService';
import { DEMO_TENANTS } from '../core/src/demo/seed';
import type { WorkflowDefinition } from '../core/src/packs/types';
import { startServer, type RunningServer } from '../core/src/server';
import { ownerRows } from './support/harness';
import { freshDatabase, type TestDatabase } from './support/databases';

/**
 * The demo seed on the suite's database: on the PostgreSQL server when one answers (what
 * `DATABASE_URL` with `HEARTH_DEMO=1` does), else on PGlite. test/newcomer.test.ts walks the demo
 * tenants as a newcomer would; this checks what they hold against the generator and the packs, and
 * that a second start seeds nothing.
 */

let database: TestDatabase;
let server: RunningServer | null = null;
const start = () =>
  startServer(
    loadConfig(
      { NODE_ENV: 'test' },
      { databaseUrl: database.url, embeddedDataDir: null, port: 0, seedDemoTenants: true, logLevel: 'silent' },
    ),
    database.url ? {} : { db: database.db },
  );

beforeAll(async () => {
  database = await freshDatabase();
  server = await start();
});
afterAll(async () => {
  await server?.close();
  await database?.drop();
});

const services = DEMO_TENANTS.filter((t) => t.kind === 'service');

async function tenantId(slug: string): Promise<string> {
  const rows = (await database.db.raw(`SELECT id FROM hearth_tenant_by_slug(?)`, [slug])) as {
    rows: Array<{ id: string }>;
  };
  return rows.rows[0]!.id;
}

describe('the demo seed', () => {
  it.each(services.map((t) => t.slug))(
    'writes into %s the service the generator makes for the day it was seeded, id for id',
    async (slug) => {
      const demo = services.find((t) => t.slug === slug)!;
      const id = await tenantId(slug);
      const [loaded] = await ownerRows<{ after: { seed: number; asOf: string; place: string } }>(
        database.db,
        id,
        `SELECT after FROM audit_events WHERE tenant_id = ? AND action = 'tenant.synthetic_service_loaded'`,
        [id],
      );
      expect(loaded!.after).toMatchObject({ seed: demo.service!.seed, place: demo.service!.vocabulary.name });
      const generated = generateDemoService(demo.service!, slug, loaded!.after.asOf);
      // Seeded: the same date gives the same service again.
      expect(JSON.stringify(generateDemoService(demo.service!, slug, loaded!.after.asOf))).toBe(
        JSON.stringify(generated),
      );
      const ids = async (table: string) =>
        (
          await ownerRows<{ id: string }>(database.db, id, `SELECT id FROM ${table} WHERE tenant_id = ? ORDER BY id`, [
            id,
          ])
        ).map((r) => r.id);
      expect(await ids('children')).toEqual(generated.children.map((c) => c.id).sort());
      expect(await ids('carer_households')).toEqual(generated.households.map((h) => h.id).sort());
      expect(await ids('placements')).toEqual(generated.placements.map((p) => p.id).sort());
    },
  );

  it.each(services.map((t) => t.slug))('uses in %s only codes its own option lists hold', async (slug) => {
    const demo = services.find((t) => t.slug === slug)!;
    const words = demo.service!.vocabulary;
    const id = await tenantId(slug);
    const lists = new Map<string, Set<string>>();
    for (const row of await ownerRows<{ list_key: string; code: string }>(
      database.db,
      id,
      `SELECT list_key, code FROM lookup_values WHERE tenant_id = ?`,
      [id],
    )) {
      lists.set(row.list_key, (lists.get(row.list_key) ?? new Set()).add(row.code));
    }
    const missing = (list: string, codes: readonly string[] | null) =>
      (codes ?? []).filter((code) => !lists.get(list)?.has(code)).map((code) => `${list}:${code}`);
    const episodeLists =
      slug === 'demo-uk' ? ['reason_for_new_episode', 'episode_end_reason'] : ['removal_reason', 'discharge_reason'];
    expect([
      ...missing('ethnicity', words.ethnicities),
      ...missing('placement_type', words.placementTypes),
      ...missing(
        'check_type',
        words.checks.map((c) => c.type),
      ),
      ...missing(episodeLists[0]!, words.episodeStartReasons),
      ...missing(episodeLists[1]!, words.episodeEndReasons),
      // The USA packs keep no list of legal statuses or carer levels (any code is accepted there).
      ...(lists.has('legal_status') ? missing('legal_status', words.legalStatuses) : []),
      ...(lists.has('carer_level') ? missing('carer_level', words.carerLevels) : (words.carerLevels ?? [])),
    ]).toEqual([]);
    // Every household is on the tenant's own approval workflow, in a state of it, and its history takes that workflow's steps.
    const workflows = [...server!.packs.resolve(demo.packId).points.workflows.values()].map(
      (w) => w.value as unknown as WorkflowDefinition,
    );
    const carers = workflows.find((w) => w.subject === 'carer_household')!;
    const households = await ownerRows<{ workflow_key: string; approval_state: string }>(
      database.db,
      id,
      `SELECT DISTINCT workflow_key, approval_state FROM carer_households WHERE tenant_id = ?`,
      [id],
    );
    expect(
      households.filter(
        (h) => h.workflow_key !== carers.key || !carers.states.some((st) => st.key === h.approval_state),
      ),
    ).toEqual([]);
    const steps = await ownerRows<{ transition: string; from_state: string; to_state: string }>(
      database.db,
      id,
      `SELECT DISTINCT transition, from_state, to_state FROM carer_approval_steps WHERE tenant_id = ?`,
      [id],
    );
    expect(
      steps.filter(
        (st) =>
          !carers.transitions.some(
            (t) => t.key === st.transition && t.from.includes(st.from_state) && t.to === st.to_state,
          ),
      ),
    ).toEqual([]);
  });

  it('seeds nothing on a second start: the demo tenants are found and left as they are', async () => {
    const count = async () => {
      const counts: Record<string, number> = {};
      for (const t of DEMO_TENANTS) {
        const id = await tenantId(t.slug);
        const [row] = await ownerRows<{ events: number; children: number }>(
          database.db,
          id,
          `SELECT (SELECT count(*) FROM audit_events WHERE tenant_id = ?)::int AS events, (SELECT count(*) FROM children WHERE tenant_id = ?)::int AS children`,
          [id, id],
        );
        counts[t.slug] = row!.events + row!.children;
      }
      return counts;
    };
    const before = await count();
    await server!.close();
    server = null;
    server = await start();
    expect(server.demoLogins).toBeNull();
    expect(await count()).toEqual(before);
  });
});
