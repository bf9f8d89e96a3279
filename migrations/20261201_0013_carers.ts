import type { Knex } from 'knex';
import { runStatements } from './support';

/** The carers module's tables (being written). */
export async function up(knex: Knex): Promise<void> {
  await runStatements(knex, []);
}
