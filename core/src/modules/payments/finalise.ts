import { markClaimsPaid } from '../claims/service';
import { tenantChart } from '../ledger/chart';
import { postJournalFromQuery, type EntrySource, type LedgerPoster } from '../ledger/post';
import { PaymentAdjustment, PaymentLine, type PaymentRun } from './models';

/**
 * The run's journal entries, as a query over its lines: each line debits its component's account (a
 * recovery credits it), and each household's net for each payable account is credited to it (or,
 * where the household owes, debited). Lines keep their run order, each household's payable entry
 * after its lines. Balanced by construction; the ledger checks again, and the database at commit.
 */
export function runJournalEntries(
  tenantId: string,
  run: PaymentRun,
  postings: Map<string, { debit: string; credit: string }>,
): EntrySource {
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
    bindings: [
      components.map((c) => postings.get(c)!.debit),
      components,
      components.map((c) => postings.get(c)!.credit),
      components,
      tenantId,
      run.id,
      run.calculationNumber,
      run.periodStart,
      run.periodEnd,
      `Payable to the carer household, ${run.reference}`,
    ],
  };
}

/**
 * Finalises an approved run in the poster's transaction (which holds the run's row lock): posts its
 * journal, marks its claims and adjustments paid in it. Returns the journal's id, or null for a run
 * with nothing to post. The caller's audit event (the run finalised, naming the journal) records it.
 */
export async function postRun(poster: LedgerPoster, run: PaymentRun): Promise<string | null> {
  const { trx, tenantId, packs, actor } = poster;
  let journalId: string | null = null;
  if (run.lineCount > 0) {
    const chart = await tenantChart(trx, tenantId, packs, run.paymentDate);
    const journal = await postJournalFromQuery(
      poster,
      {
        postingDate: run.paymentDate,
        description: `Payment run ${run.reference}: ${run.periodStart} to ${run.periodEnd}`,
        source: { type: 'payment_run', id: run.id },
        entries: runJournalEntries(tenantId, run, chart.postings),
      },
      { audit: false },
    );
    journalId = journal.id;
  }
  const paid = await PaymentLine.query(trx)
    .where({ tenant_id: tenantId, run_id: run.id, calculation: run.calculationNumber })
    .where((w) => w.whereNotNull('claim_id').orWhereNotNull('adjustment_id'))
    .select('claim_id', 'adjustment_id');
  const claimIds = [...new Set(paid.flatMap((l) => (l.claimId ? [l.claimId] : [])))];
  await markClaimsPaid(trx, tenantId, claimIds, run.id, run.paymentDate, actor.actorId);
  const adjustmentIds = [...new Set(paid.flatMap((l) => (l.adjustmentId ? [l.adjustmentId] : [])))];
  if (adjustmentIds.length) {
    // Set-based: each adjustment's version moves on in the statement that marks it paid.
    const updated = await PaymentAdjustment.query(trx)
      .where({ tenant_id: tenantId, status: 'approved' })
      .whereIn('id', adjustmentIds)
      .patch({ status: 'paid', paidInRunId: run.id, version: trx.raw('version + 1'), updatedAt: trx.fn.now() });
    // Nothing but finalising a run pays an approved adjustment, so a shortfall is a fault, not a refusal: it stays a 500.
    if (updated !== adjustmentIds.length)
      throw new Error(
        `payment run ${run.reference}: ${adjustmentIds.length - updated} of its adjustments are no longer approved and unpaid`,
      );
  }
  return journalId;
}
