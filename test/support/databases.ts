import crypto from 'node:crypto';
import knexFactory, { type Knex } from 'knex';
import { openDatabase, type Database } from '../../core/src/db/database';
import { runMigrations } from '../../core/src/db/migrate';

/** Where the test databases live: a PostgreSQL server (admin URL), or PGlite in memory. */
export function adminUrl(): string | null {
  return process.env.HEARTH_TEST_ADMIN_URL ?? null;
}

export function urlFor(database: string): string {
  const url = new URL(adminUrl()!);
  url.pathname = `/${database}`;
  return url.toString();
}

export function templateName(): string {
  const name = process.env.HEARTH_TEST_TEMPLATE;
  if (!name) throw new Error('HEARTH_TEST_TEMPLATE is not set: run the tests with `npm test`');
  return name;
}

async function withAdmin<T>(work: (admin: Knex) => Promise<T>): Promise<T> {
  const admin = knexFactory({ client: 'pg', connection: adminUrl()!, pool: { min: 0, max: 1 } });
  try {
    return await work(admin);
  } finally {
    await admin.destroy();
  }
}

export async function createTemplate(name: string): Promise<void> {
  await withAdmin((admin) => admin.raw(`CREATE DATABASE ${name}`));
  const db = openDatabase({ url: urlFor(name), embeddedDataDir: null, poolMax: 1 });
  try {
    await runMigrations(db);
  } finally {
    await db.destroy();
  }
}

export async function dropDatabase(name: string): Promise<void> {
  await withAdmin((admin) => admin.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

export interface TestDatabase {
  /** Connected as the owner (a superuser on the server): for set-up and for checks behind the API's back. */
  db: Database;
  url: string | undefined;
  drop(): Promise<void>;
}

/**
 * A fresh, migrated database for one test file: a copy of the run's template on a server, or a new
 * in-memory PGlite. Tests never depend on what another file or an earlier run left behind.
 */
export async function freshDatabase(): Promise<TestDatabase> {
  if (!adminUrl()) {
    const db = openDatabase({ url: undefined, embeddedDataDir: null });
    await runMigrations(db);
    return { db, url: undefined, drop: () => db.destroy() };
  }
  const name = `${templateName()}_${crypto.randomBytes(4).toString('hex')}`;
  for (let attempt = 0; ; attempt++) {
    try {
      await withAdmin((admin) => admin.raw(`CREATE DATABASE ${name} TEMPLATE ${templateName()}`));
      break;
    } catch (error) {
      // Two files copying the template at the same moment: PostgreSQL refuses the second; wait and retry.
      if ((error as { code?: string }).code !== '55006' || attempt > 20) throw error;
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
    }
  }
  const url = urlFor(name);
  const db = openDatabase({ url, embeddedDataDir: null, poolMax: 5 });
  return {
    db,
    url,
    drop: async () => {
      await db.destroy();
      await dropDatabase(name);
    },
  };
}
