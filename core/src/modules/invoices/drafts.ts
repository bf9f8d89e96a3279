import type { Knex } from 'knex';
import { newId } from '../../ids';
import { invoicingPolicy, tenantForInvoicing, type InvoicingPolicy } from './policy';
import { feeSegments, type CommissionForInvoicing, type FeeSegment, type StayForInvoicing } from './pricing';
import type { CommissionRow, DraftRow } from './rows';

const INSERT_BATCH = 500;

export interface InvoicePeriod {
  start: string;
  end: string;
}

/**
 * Every invoice line the period holds, for all commissioners or the ones named: placements with a
 * recorded fee, their nights in the period (from the placement's start to its end, the day of
 * departure as the policy says), less the nights an issued invoice already holds.
 *
 * Placements are read from their table here rather than through the placements service: invoicing
 * needs every stay of the tenant that overlaps a period at once, with nothing but its dates, and no
 * caller's view of a child (restricted records) may hide a night that is owed. The query is scoped
 * to the tenant, as row-level security scopes it too.
 */
export async function feeSegmentsFor(trx: Knex.Transaction, tenantId: string, period: InvoicePeriod, policy: InvoicingPolicy, commissionerId: string | null = null): Promise<FeeSegment[]> {
  // One pass over the fees of every stay in the period, joined to its placement: the fee in effect
  // on a night may be another commissioner's, so a stay's fees are read whole even for one commissioner.
  const rows = (await trx('placement_commissions as pc')
    .join('placements as p', (j) => j.on('p.tenant_id', 'pc.tenant_id').andOn('p.id', 'pc.placement_id'))
    .where('pc.tenant_id', tenantId)
    .where('p.tenant_id', tenantId)
    .whereIn('p.status', ['active', 'ended'])
    .where('p.start_date', '<=', period.end)
    .where((w) => w.whereNull('p.end_date').orWhere('p.end_date', '>=', period.start))
    .where('pc.effective_from', '<=', period.end)
    .orderBy(['pc.placement_id', 'pc.effective_from', 'pc.id'])
    .select('pc.*', 'p.child_id', 'p.start_date', 'p.end_date')) as Array<CommissionRow & { child_id: string; start_date: string; end_date: string | null }>;
  const paidFor = commissionerId ? new Set(rows.filter((r) => r.commissioner_id === commissionerId).map((r) => r.placement_id)) : null;
  const commissions = paidFor ? rows.filter((r) => paidFor.has(r.placement_id)) : rows;
  if (!commissions.length) return [];
  const placementIds = [...new Set(commissions.map((c) => c.placement_id))];
  const held = (await trx('invoice_nights')
    .where({ tenant_id: tenantId })
    .whereNull('credit_note_id')
    .whereBetween('night', [period.start, period.end])
    .whereRaw('placement_id = ANY(?::uuid[])', [placementIds])
    .select('placement_id', 'night')) as Array<{ placement_id: string; night: string }>;
  const stays = new Map<string, StayForInvoicing>(commissions.map((c) => [c.placement_id, { placementId: c.placement_id, childId: c.child_id, startDate: c.start_date, endDate: c.end_date }]));

  const feesOf = new Map<string, CommissionForInvoicing[]>();
  for (const c of commissions) {
    const list = feesOf.get(c.placement_id) ?? [];
    list.push({ id: c.id, placementId: c.placement_id, commissionerId: c.commissioner_id, feeAmount: Number(c.fee_amount), feePeriod: c.fee_period, effectiveFrom: c.effective_from, commissionerReference: c.commissioner_reference });
    feesOf.set(c.placement_id, list);
  }
  const heldBy = new Map<string, Set<string>>();
  for (const h of held) {
    const set = heldBy.get(h.placement_id) ?? new Set<string>();
    set.add(h.night);
    heldBy.set(h.placement_id, set);
  }
  const segments: FeeSegment[] = [];
  for (const stay of stays.values()) segments.push(...feeSegments(stay, feesOf.get(stay.placementId) ?? [], period, policy, heldBy.get(stay.placementId) ?? new Set()));
  const wanted = commissionerId ? segments.filter((s) => s.commissionerId === commissionerId) : segments;
  // The order an invoice reads in: by the commissioner's reference for the child, then by date.
  return wanted.sort((a, b) => (a.commissionerReference ?? '').localeCompare(b.commissionerReference ?? '') || a.placementId.localeCompare(b.placementId) || a.periodStart.localeCompare(b.periodStart));
}

async function insertLines(trx: Knex.Transaction, tenantId: string, draftId: string, segments: FeeSegment[]): Promise<void> {
  const rows = segments.map((s, i) => ({
    tenant_id: tenantId, id: newId(), draft_id: draftId, line_number: i + 1, placement_id: s.placementId, child_id: s.childId, commission_id: s.commissionId,
    commissioner_reference: s.commissionerReference, period_start: s.periodStart, period_end: s.periodEnd, nights: s.nights, fee_amount: s.feeAmount, fee_period: s.feePeriod, amount: s.amount,
  }));
  for (let i = 0; i < rows.length; i += INSERT_BATCH) await trx('invoice_draft_lines').insert(rows.slice(i, i + INSERT_BATCH));
}

const totalOf = (segments: FeeSegment[]) => segments.reduce((sum, s) => sum + s.amount, 0);

export async function deleteDrafts(trx: Knex.Transaction, tenantId: string, draftIds: string[]): Promise<void> {
  if (!draftIds.length) return;
  await trx('invoice_draft_lines').where({ tenant_id: tenantId }).whereIn('draft_id', draftIds).delete();
  await trx('invoice_drafts').where({ tenant_id: tenantId }).whereIn('id', draftIds).delete();
}

/**
 * One draft per commissioner with anything to invoice in the period. Drafts of the same
 * commissioners whose periods overlap it are deleted first: two drafts holding the same nights
 * would be one invoice too many the moment both were issued.
 */
export async function generateDrafts(trx: Knex.Transaction, tenantId: string, actorId: string | null, period: InvoicePeriod, commissionerId: string | null): Promise<{ drafts: DraftRow[]; replaced: string[] }> {
  const policy = await invoicingPolicy(trx, tenantId);
  const { currency } = await tenantForInvoicing(trx, tenantId);
  // Generations for the same commissioners run one after another, so two cannot both find nothing to replace.
  const commissioners = trx('commissioners').where({ tenant_id: tenantId }).orderBy('id').forUpdate().select('id');
  if (commissionerId) commissioners.where('id', commissionerId);
  await commissioners;
  const overlapping = trx('invoice_drafts').where({ tenant_id: tenantId }).where('period_start', '<=', period.end).where('period_end', '>=', period.start);
  if (commissionerId) overlapping.where('commissioner_id', commissionerId);
  const replaced = ((await overlapping.forUpdate().select('id').orderBy('id')) as Array<{ id: string }>).map((r) => r.id);
  await deleteDrafts(trx, tenantId, replaced);

  const segments = await feeSegmentsFor(trx, tenantId, period, policy, commissionerId);
  const byCommissioner = new Map<string, FeeSegment[]>();
  for (const s of segments) {
    const lines = byCommissioner.get(s.commissionerId) ?? [];
    lines.push(s);
    byCommissioner.set(s.commissionerId, lines);
  }
  const drafts: DraftRow[] = [];
  for (const [commissioner, lines] of [...byCommissioner.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const id = newId();
    const [draft] = (await trx('invoice_drafts')
      .insert({ tenant_id: tenantId, id, commissioner_id: commissioner, period_start: period.start, period_end: period.end, currency, total: totalOf(lines), created_by: actorId })
      .returning('*')) as DraftRow[];
    await insertLines(trx, tenantId, id, lines);
    drafts.push(draft!);
  }
  return { drafts, replaced };
}

/** The draft's lines worked out again from the fees, placements and issued invoices as they are now. */
export async function regenerateDraft(trx: Knex.Transaction, tenantId: string, draft: DraftRow): Promise<DraftRow> {
  const policy = await invoicingPolicy(trx, tenantId);
  const segments = await feeSegmentsFor(trx, tenantId, { start: draft.period_start, end: draft.period_end }, policy, draft.commissioner_id);
  await trx('invoice_draft_lines').where({ tenant_id: tenantId, draft_id: draft.id }).delete();
  await insertLines(trx, tenantId, draft.id, segments);
  const [row] = (await trx('invoice_drafts')
    .where({ tenant_id: tenantId, id: draft.id })
    .update({ total: totalOf(segments), version: draft.version + 1, updated_at: trx.fn.now() })
    .returning('*')) as DraftRow[];
  return row!;
}
