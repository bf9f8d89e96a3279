import fs from 'node:fs';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import { PipelinedPgClient } from './pipeline';

// Dates stay strings: a date of birth is a calendar date, not an instant in some time zone.
pg.types.setTypeParser(1082, (value: string) => value);
// bigint columns (audit sequence numbers) stay well inside Number's safe range.
pg.types.setTypeParser(20, (value: string) => Number(value));

export interface DatabaseOptions {
  /** PostgreSQL URL; undefined means embedded PGlite. */
  url: string | undefined;
  /** PGlite data folder; null means in memory. */
  embeddedDataDir: string | null;
  poolMax?: number;
}

export type Database = Knex & { hearthEmbedded: boolean };

/**
 * One knex instance for real PostgreSQL or for PGlite, so that the same migrations and the same SQL
 * run on both. PGlite is one connection, so knex-pglite fixes its pool at one.
 */
export function openDatabase(options: DatabaseOptions): Database {
  let db: Knex;
  if (options.url) {
    db = knexFactory({
      client: PipelinedPgClient as unknown as Knex.Config['client'],
      connection: options.url,
      pool: { min: 0, max: options.poolMax ?? 10 },
    });
  } else {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const pgliteModule = require('knex-pglite') as { default?: unknown };
    const ClientPgLite = (pgliteModule.default ?? pgliteModule) as Knex.Config['client'];
    if (options.embeddedDataDir) fs.mkdirSync(options.embeddedDataDir, { recursive: true });
    // PGlite ignores its options when the data dir is undefined; memory:// is its in-memory store.
    const pglite = new PGlite(options.embeddedDataDir ?? 'memory://', {
      parsers: { 1082: (value: string) => value, 20: (value: string) => Number(value) },
    });
    db = knexFactory({ client: ClientPgLite, dialect: 'postgres', connection: { pglite } } as Knex.Config);
  }
  return Object.assign(db, { hearthEmbedded: !options.url });
}
