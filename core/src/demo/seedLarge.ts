/*
 * `npm run seed:large`: adds a tenant `large` (UK pack) holding a synthetic service of realistic size
 * (5,000 children, 2,000 households, about 8,000 placements over five years, with approval histories,
 * reviews, visits, health and education records, checks and the tasks the cycles make of them) to the database Hearth uses: DATABASE_URL, else the
 * embedded one. Seeded: HEARTH_SEED and HEARTH_AS_OF change the service; the same pair gives the same one.
 */
import { loadConfig } from '../config';
import { openDatabase } from '../db/database';
import { runMigrations } from '../db/migrate';
import { loadPacks } from '../packs/registry';
import { LARGE_SERVICE } from './largeService';
import { seedLargeService } from './largeServiceSeed';
import { bootstrapTenant, DEMO_PASSWORD } from './seed';

async function main(): Promise<void> {
  const config = loadConfig();
  const db = openDatabase({ url: config.databaseUrl, embeddedDataDir: config.embeddedDataDir, poolMax: 4 });
  try {
    await runMigrations(db);
    const existing = (await db.raw(`SELECT id FROM hearth_tenant_by_slug('large')`)) as { rows: unknown[] };
    if (existing.rows.length) throw new Error('A tenant "large" exists already in this database; seed a fresh one');
    const packs = loadPacks();
    const email = 'admin@large.example';
    const { tenant } = await bootstrapTenant(db, packs, {
      kind: 'service',
      name: 'A large service (synthetic)',
      slug: 'large',
      packId: 'uk',
      currency: 'GBP',
      timeZone: 'Europe/London',
      firstAdmin: { email, displayName: 'Large admin', password: DEMO_PASSWORD },
    });
    const options = {
      ...LARGE_SERVICE,
      seed: Number(process.env.HEARTH_SEED ?? LARGE_SERVICE.seed),
      asOf: process.env.HEARTH_AS_OF ?? LARGE_SERVICE.asOf,
    };
    const started = Date.now();
    const { counts } = await seedLargeService(db, packs, tenant.id, options, (line) =>
      process.stdout.write(`${line}\n`),
    );
    await db.raw('ANALYZE');
    process.stdout.write(
      `\nSeeded tenant "large" (seed ${options.seed}, as of ${options.asOf}) in ${((Date.now() - started) / 1000).toFixed(1)} s:\n`,
    );
    for (const [table, n] of Object.entries(counts))
      process.stdout.write(`  ${table.padEnd(26)} ${String(n).padStart(7)}\n`);
    process.stdout.write(`Log in: tenant large, email ${email}, password ${DEMO_PASSWORD}\n`);
  } finally {
    await db.destroy();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `seed:large failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
