import type { Knex } from 'knex';
import { runStatements } from './support';

/**
 * The worker's claim, by kind. jobs_ready ordered every queued job by run_after alone, so a claim
 * for some kinds (a worker's lane: notification deliveries in one, everything else in another)
 * walked past every queued job of the other kinds, and the claim's OR with abandoned jobs kept the
 * planner off it entirely: 10,000 queued deliveries were read and sorted for each job claimed.
 * Keyed by kind first, each kind's due jobs are an index range already in order, read up to the
 * claim's LIMIT and no further.
 */
export async function up(knex: Knex): Promise<void> {
  await runStatements(knex, [
    `CREATE INDEX jobs_due ON jobs (kind, run_after, id) WHERE status = 'queued'`,
    `DROP INDEX jobs_ready`,
  ]);
}
