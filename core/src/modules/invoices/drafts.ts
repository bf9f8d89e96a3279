import type { FindScope } from '../../db/find';
import { patchVersioned } from '../../db/versioned';
import { newId } from '../../ids';
import { Commissioner, InvoiceDraft, InvoiceDraftLine, InvoiceNight, PlacementCommission } from './models';
import { invoicingPolicy, tenantForInvoicing, type InvoicingPolicy } from './policy';
import { feeSegments, type CommissionForInvoicing, type FeeSegment, type StayForInvoicing } from './pricing';

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
export async function feeSegmentsFor(
  scope: FindScope,
  period: InvoicePeriod,
  policy: InvoicingPolicy,
  options: { commissionerId?: string | null } = {},
): Promise<FeeSegment[]> {
  const { trx, tenantId } = scope;
  const commissionerId = options.commissionerId ?? null;
  // One pass over the fees of every stay in the period, joined to its placement: the fee in effect
  // on a night may be another commissioner's, so a stay's fees are read whole even for one commissioner.
  const rows = await PlacementCommission.query(trx)
    .alias('pc')
    .join('placements as p', (j) => j.on('p.tenant_id', 'pc.tenant_id').andOn('p.id', 'pc.placement_id'))
    .where('pc.tenant_id', tenantId)
    .where('p.tenant_id', tenantId)
    .whereIn('p.status', ['active', 'ended'])
    .where('p.start_date', '<=', period.end)
    .where((w) => w.whereNull('p.end_date').orWhere('p.end_date', '>=', period.start))
    .where('pc.effective_from', '<=', period.end)
    .orderBy(['pc.placement_id', 'pc.effective_from', 'pc.id'])
    .select('pc.*', 'p.child_id', 'p.start_date', 'p.end_date')
    .castTo<Array<PlacementCommission & { childId: string; startDate: string; endDate: string | null }>>();
  const paidFor = commissionerId
    ? new Set(rows.filter((r) => r.commissionerId === commissionerId).map((r) => r.placementId))
    : null;
  const commissions = paidFor ? rows.filter((r) => paidFor.has(r.placementId)) : rows;
  if (!commissions.length) return [];
  const placementIds = [...new Set(commissions.map((c) => c.placementId))];
  const held = await InvoiceNight.query(trx)
    .where({ tenant_id: tenantId })
    .whereNull('credit_note_id')
    .whereBetween('night', [period.start, period.end])
    .whereRaw('placement_id = ANY(?::uuid[])', [placementIds])
    .select('placement_id', 'night');
  const stays = new Map<string, StayForInvoicing>(
    commissions.map((c) => [
      c.placementId,
      { placementId: c.placementId, childId: c.childId, startDate: c.startDate, endDate: c.endDate },
    ]),
  );

  const feesOf = new Map<string, CommissionForInvoicing[]>();
  for (const c of commissions) {
    const list = feesOf.get(c.placementId) ?? [];
    list.push({
      id: c.id,
      placementId: c.placementId,
      commissionerId: c.commissionerId,
      feeAmount: Number(c.feeAmount),
      feePeriod: c.feePeriod,
      effectiveFrom: c.effectiveFrom,
      commissionerReference: c.commissionerReference,
    });
    feesOf.set(c.placementId, list);
  }
  const heldBy = new Map<string, Set<string>>();
  for (const h of held) {
    const set = heldBy.get(h.placementId) ?? new Set<string>();
    set.add(h.night);
    heldBy.set(h.placementId, set);
  }
  const segments: FeeSegment[] = [];
  for (const stay of stays.values())
    segments.push(
      ...feeSegments(
        stay,
        feesOf.get(stay.placementId) ?? [],
        period,
        policy,
        heldBy.get(stay.placementId) ?? new Set(),
      ),
    );
  const wanted = commissionerId ? segments.filter((s) => s.commissionerId === commissionerId) : segments;
  // The order an invoice reads in: by the commissioner's reference for the child, then by date.
  return wanted.sort(
    (a, b) =>
      (a.commissionerReference ?? '').localeCompare(b.commissionerReference ?? '') ||
      a.placementId.localeCompare(b.placementId) ||
      a.periodStart.localeCompare(b.periodStart),
  );
}

async function insertLines(scope: FindScope, draftId: string, segments: FeeSegment[]): Promise<void> {
  const rows = segments.map((s, i) => ({
    tenantId: scope.tenantId,
    id: newId(),
    draftId,
    lineNumber: i + 1,
    placementId: s.placementId,
    childId: s.childId,
    commissionId: s.commissionId,
    commissionerReference: s.commissionerReference,
    periodStart: s.periodStart,
    periodEnd: s.periodEnd,
    nights: s.nights,
    feeAmount: s.feeAmount,
    feePeriod: s.feePeriod,
    amount: s.amount,
  }));
  for (let i = 0; i < rows.length; i += INSERT_BATCH)
    await InvoiceDraftLine.query(scope.trx).insert(rows.slice(i, i + INSERT_BATCH));
}

const totalOf = (segments: FeeSegment[]) => segments.reduce((sum, s) => sum + s.amount, 0);

export async function deleteDrafts(scope: FindScope, draftIds: string[]): Promise<void> {
  if (!draftIds.length) return;
  await InvoiceDraftLine.query(scope.trx).where({ tenant_id: scope.tenantId }).whereIn('draft_id', draftIds).delete();
  await InvoiceDraft.query(scope.trx).where({ tenant_id: scope.tenantId }).whereIn('id', draftIds).delete();
}

/**
 * One draft per commissioner with anything to invoice in the period. Drafts of the same
 * commissioners whose periods overlap it are deleted first: two drafts holding the same nights
 * would be one invoice too many the moment both were issued.
 */
export async function generateDrafts(
  scope: FindScope & { actorId: string | null },
  input: { period: InvoicePeriod; commissionerId: string | null },
): Promise<{ drafts: InvoiceDraft[]; replaced: string[] }> {
  const { trx, tenantId } = scope;
  const { period, commissionerId } = input;
  const policy = await invoicingPolicy(trx, tenantId);
  const { currency } = await tenantForInvoicing(trx, tenantId);
  // Generations for the same commissioners run one after another, so two cannot both find nothing to replace.
  const commissioners = Commissioner.query(trx).where({ tenant_id: tenantId }).orderBy('id').forUpdate().select('id');
  if (commissionerId) commissioners.where('id', commissionerId);
  await commissioners;
  const overlapping = InvoiceDraft.query(trx)
    .where({ tenant_id: tenantId })
    .where('period_start', '<=', period.end)
    .where('period_end', '>=', period.start);
  if (commissionerId) overlapping.where('commissioner_id', commissionerId);
  const replaced = (await overlapping.forUpdate().select('id').orderBy('id')).map((r) => r.id);
  await deleteDrafts(scope, replaced);

  const segments = await feeSegmentsFor(scope, period, policy, { commissionerId });
  const byCommissioner = new Map<string, FeeSegment[]>();
  for (const s of segments) {
    const lines = byCommissioner.get(s.commissionerId) ?? [];
    lines.push(s);
    byCommissioner.set(s.commissionerId, lines);
  }
  const drafts: InvoiceDraft[] = [];
  for (const [commissioner, lines] of [...byCommissioner.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const id = newId();
    const draft = await InvoiceDraft.query(trx)
      .insert({
        tenantId,
        id,
        commissionerId: commissioner,
        periodStart: period.start,
        periodEnd: period.end,
        currency,
        total: totalOf(lines),
        createdBy: scope.actorId,
      })
      .returning('*');
    await insertLines(scope, id, lines);
    drafts.push(draft);
  }
  return { drafts, replaced };
}

/** The draft's lines worked out again from the fees, placements and issued invoices as they are now. */
export async function regenerateDraft(scope: FindScope, draft: InvoiceDraft): Promise<InvoiceDraft> {
  const policy = await invoicingPolicy(scope.trx, scope.tenantId);
  const segments = await feeSegmentsFor(scope, { start: draft.periodStart, end: draft.periodEnd }, policy, {
    commissionerId: draft.commissionerId,
  });
  await InvoiceDraftLine.query(scope.trx).where({ tenant_id: scope.tenantId, draft_id: draft.id }).delete();
  await insertLines(scope, draft.id, segments);
  return patchVersioned(scope.trx, InvoiceDraft, draft, { total: totalOf(segments) });
}
