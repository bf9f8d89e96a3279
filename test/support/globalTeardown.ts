import knexFactory from 'knex';
import { adminUrl } from './databases';

/** Drops the template and any copy a crashed file left behind. */
export default async function globalTeardown(): Promise<void> {
  const template = process.env.HEARTH_TEST_TEMPLATE;
  if (!adminUrl() || !template) return;
  const admin = knexFactory({ client: 'pg', connection: adminUrl()!, pool: { min: 0, max: 1 } });
  try {
    const rows = (await admin.raw(`SELECT datname FROM pg_database WHERE datname LIKE ?`, [`${template}%`])) as {
      rows: Array<{ datname: string }>;
    };
    for (const { datname } of rows.rows) await admin.raw(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
  } finally {
    await admin.destroy();
  }
}
