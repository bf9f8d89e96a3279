import { findOne, type FindOptions, type FindScope } from '../../db/find';
import { LedgerJournal, type JournalWithTotals } from './models';

/** The journals with their line count and total, for lists (alias `j`). */
export function journalsWithTotals(scope: FindScope) {
  return LedgerJournal.query(scope.trx)
    .alias('j')
    .where('j.tenant_id', scope.tenantId)
    .select('j.*')
    .select(
      scope.trx.raw(
        '(SELECT count(*)::int FROM ledger_entries e WHERE e.tenant_id = j.tenant_id AND e.journal_id = j.id) AS line_count',
      ),
    )
    .select(
      scope.trx.raw(`(SELECT coalesce(sum(e.debit), 0)::bigint FROM ledger_entries e
                             WHERE e.tenant_id = j.tenant_id AND e.journal_id = j.id) AS total_minor`),
    )
    .castTo<JournalWithTotals[]>();
}

/** A journal of the tenant, or not found. */
export function findJournal(scope: FindScope, journalId: string, options: FindOptions = {}): Promise<LedgerJournal> {
  return findOne<LedgerJournal>(scope, LedgerJournal, journalId, options);
}
