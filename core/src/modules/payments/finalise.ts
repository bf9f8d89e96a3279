import type { Knex } from 'knex';
import type { PackRegistry } from '../../packs/registry';
import type { AuditActor } from '../audit/service';
import { markClaimsPaid } from '../claims/service';
import { tenantChart } from '../ledger/chart';
import { postJournalFromQuery, type EntrySource } from '../ledger/post';
import type { RunRow } from './rows';

/**
 * The run's journal entries, as a query over its lines: each line debits its component's account (a
 * recovery credits it), and each household's net for each payable account is credited to it (or,
 * where the household owes, debited). Lines keep their run order, each household's payable entry
 * after its lines. Balanced by construction; the ledger checks again, and the database at commit.
 */
export function runJournalEntries(tenantId: string, run: RunRow, postings: Map<string, { debit: string; credit: string }>): EntrySource {
  const components = [...postings.keys()];
  return {
    // Each line's accounts are looked up in the chart's short list of components, not joined to it: a
    // join planned before the run's lines have statistics was a nested loop, every line against every component.
    // A component without a posting gives no account, and the ledger refuses the entry: never a line left out.
    sql: `WITH lines AS (
            SELECT l.*, (?::text[])[array_position(?::text[], l.component)] AS debit_account, (?::text[])[array_position(?::text[], l.component)] AS credit_account
              FROM payment_lines l
             WHERE l.tenant_id = ? AND l.run_id = ? AND l.calculation = ?)
          SELECT position::bigint * 2 AS entry_order, debit_account AS account_key, greatest(amount, 0) AS debit, greatest(-amount, 0) AS credit,
                 household_id AS carer_household_id, child_id, placement_id, period_start, period_end, id::text AS source_line_id, description
            FROM lines
          UNION ALL
          SELECT max(position)::bigint * 2 + 1, credit_account, greatest(-sum(amount), 0), greatest(sum(amount), 0),
                 household_id, NULL, NULL, ?::date, ?::date, NULL, ?
            FROM lines
           GROUP BY household_id, credit_account
          HAVING sum(amount) <> 0`,
    bindings: [components.map((c) => postings.get(c)!.debit), components, components.map((c) => postings.get(c)!.credit), components, tenantId, run.id, run.calculation_number, run.period_start, run.period_end, `Payable to the carer household, ${run.reference}`],
  };
}

/**
 * Finalises an approved run in the caller's transaction (which holds the run's row lock): posts its
 * journal, marks its claims and adjustments paid in it. Returns the journal's id, or null for a run
 * with nothing to post. The caller's audit event (the run finalised, naming the journal) records it.
 */
export async function postRun(trx: Knex.Transaction, tenantId: string, packs: PackRegistry, actor: AuditActor, run: RunRow): Promise<string | null> {
  let journalId: string | null = null;
  if (run.line_count > 0) {
    const chart = await tenantChart(trx, tenantId, packs, run.payment_date);
    const journal = await postJournalFromQuery({ trx, tenantId, packs, actor }, {
      postingDate: run.payment_date,
      description: `Payment run ${run.reference}: ${run.period_start} to ${run.period_end}`,
      source: { type: 'payment_run', id: run.id },
      entries: runJournalEntries(tenantId, run, chart.postings),
    }, { audit: false });
    journalId = journal.id;
  }
  const paid = (await trx('payment_lines').where({ tenant_id: tenantId, run_id: run.id, calculation: run.calculation_number }).where((w) => w.whereNotNull('claim_id').orWhereNotNull('adjustment_id')).select('claim_id', 'adjustment_id')) as Array<{ claim_id: string | null; adjustment_id: string | null }>;
  const claimIds = [...new Set(paid.filter((l) => l.claim_id).map((l) => l.claim_id!))];
  await markClaimsPaid(trx, tenantId, claimIds, run.id, run.payment_date, actor.actorId);
  const adjustmentIds = [...new Set(paid.filter((l) => l.adjustment_id).map((l) => l.adjustment_id!))];
  if (adjustmentIds.length) {
    const updated = await trx('payment_adjustments').where({ tenant_id: tenantId, status: 'approved' }).whereIn('id', adjustmentIds)
      .update({ status: 'paid', paid_in_run_id: run.id, version: trx.raw('version + 1'), updated_at: trx.fn.now() });
    if (updated !== adjustmentIds.length) throw new Error(`payment run ${run.reference}: ${adjustmentIds.length - updated} of its adjustments are no longer approved and unpaid`);
  }
  return journalId;
}
