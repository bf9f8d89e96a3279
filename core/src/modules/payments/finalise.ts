import type { Knex } from 'knex';
import type { PackRegistry } from '../../packs/registry';
import type { AuditActor } from '../audit/service';
import { markClaimsPaid } from '../claims/service';
import { tenantChart } from '../ledger/chart';
import { postBulkJournal, type BulkEntry } from '../ledger/post';
import type { LineRow, RunRow } from './rows';

/**
 * The run's journal: each line debits its component's account (or, a recovery, credits it), and each
 * household's net for each payable account is credited to it (or, where the household owes, debited).
 * Lines are grouped by household, each household's payable entry after its lines. Balanced by
 * construction; the ledger checks again, and the database at commit.
 */
export function runJournalEntries(run: RunRow, lines: LineRow[], postings: Map<string, { debit: string; credit: string }>): BulkEntry[] {
  const entries: BulkEntry[] = [];
  let household: string | null = null;
  let payable = new Map<string, number>();
  const closeHousehold = () => {
    for (const [account, net] of [...payable].sort(([a], [b]) => a.localeCompare(b))) {
      if (net === 0) continue;
      entries.push({ account, debit: net < 0 ? -net : 0, credit: net > 0 ? net : 0, carerHouseholdId: household, periodStart: run.period_start, periodEnd: run.period_end, description: `Payable to the carer household, ${run.reference}` });
    }
    payable = new Map();
  };
  for (const line of lines) {
    if (line.household_id !== household) {
      closeHousehold();
      household = line.household_id;
    }
    const posting = postings.get(line.component);
    if (!posting) throw new Error(`the component "${line.component}" has no posting in the tenant's chart`);
    const amount = Number(line.amount);
    entries.push({
      account: posting.debit,
      debit: amount > 0 ? amount : 0,
      credit: amount < 0 ? -amount : 0,
      carerHouseholdId: line.household_id,
      childId: line.child_id,
      placementId: line.placement_id,
      periodStart: line.period_start,
      periodEnd: line.period_end,
      sourceLineId: line.id,
      description: line.description,
    });
    payable.set(posting.credit, (payable.get(posting.credit) ?? 0) + amount);
  }
  closeHousehold();
  return entries;
}

/**
 * Finalises an approved run in the caller's transaction (which holds the run's row lock): posts its
 * journal, marks its claims and adjustments paid in it. Returns the journal's id, or null for a run
 * with nothing to post. The caller's audit event (the run finalised, naming the journal) records it.
 */
export async function postRun(trx: Knex.Transaction, tenantId: string, packs: PackRegistry, actor: AuditActor, run: RunRow): Promise<string | null> {
  const lines = (await trx('payment_lines').where({ tenant_id: tenantId, run_id: run.id, calculation: run.calculation_number }).orderBy('position')) as LineRow[];
  let journalId: string | null = null;
  const entries = runJournalEntries(run, lines, (await tenantChart(trx, tenantId, packs, run.payment_date)).postings);
  if (entries.length) {
    const journal = await postBulkJournal({ trx, tenantId, packs, actor }, {
      postingDate: run.payment_date,
      description: `Payment run ${run.reference}: ${run.period_start} to ${run.period_end}`,
      source: { type: 'payment_run', id: run.id },
      entries,
    }, { audit: false });
    journalId = journal.id;
  }
  const claimIds = [...new Set(lines.filter((l) => l.claim_id).map((l) => l.claim_id!))];
  await markClaimsPaid(trx, tenantId, claimIds, run.id, run.payment_date, actor.actorId);
  const adjustmentIds = [...new Set(lines.filter((l) => l.adjustment_id).map((l) => l.adjustment_id!))];
  if (adjustmentIds.length) {
    const updated = await trx('payment_adjustments').where({ tenant_id: tenantId, status: 'approved' }).whereIn('id', adjustmentIds)
      .update({ status: 'paid', paid_in_run_id: run.id, version: trx.raw('version + 1'), updated_at: trx.fn.now() });
    if (updated !== adjustmentIds.length) throw new Error(`payment run ${run.reference}: ${adjustmentIds.length - updated} of its adjustments are no longer approved and unpaid`);
  }
  return journalId;
}
