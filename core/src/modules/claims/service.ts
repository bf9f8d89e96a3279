import type { Knex } from 'knex';
import { findOne, type FindOptions, type FindScope } from '../../db/find';
import type { TenantScope } from '../../http/operation';
import { Problem, type FieldError } from '../../http/problem';
import { newId } from '../../ids';
import type { ResolvedPack } from '../../packs/registry';
import { inEffectOn, iso } from '../../time';
import { Child } from '../children/models';
import type { CarerHousehold } from '../carers/models';
import { approvedOn } from '../carers/forMatching';
import {
  attachAsEvidence,
  evidenceCategory,
  recordReceivedDocument,
  releaseEvidence,
  visibleDocumentIds,
} from '../documents/evidence';
import { Document } from '../documents/models';
import { lookupCodeErrors } from '../lookups/service';
import { Claim, ClaimHistory, ClaimLine, type ClaimStatus } from './models';
import { mileageTableOf, priceMileage } from './pricing';

export type { ClaimStatus } from './models';

export interface LineInput {
  kind: 'mileage' | 'expense';
  date: string;
  from?: string;
  to?: string;
  purpose?: string;
  miles?: number;
  category?: string;
  description?: string;
  amount?: number;
  childId?: string | null;
  placementId?: string | null;
}

export interface EvidenceInput {
  documentId?: string;
  key: string;
  title?: string;
  receivedOn: string;
}

/** The lookup list expense categories are checked against, when the tenant has it (no pack defines one yet). */
export const EXPENSE_CATEGORY_LIST = 'expense_category';

/** The claim of this tenant with that id: a 404, or a 422 naming `pointer` for an id from a body. */
export async function findClaim(ctx: FindScope, claimId: string, options: FindOptions = {}): Promise<Claim> {
  return findOne<Claim>(ctx, Claim, claimId, options);
}

export function claimSummaryToApi(r: Claim) {
  return {
    id: r.id,
    householdId: r.householdId,
    description: r.description,
    status: r.status,
    currency: r.currency,
    total: r.total,
    submittedBy: r.submittedBy,
    submittedAt: iso(r.submittedAt),
    decidedBy: r.decidedBy,
    decidedAt: iso(r.decidedAt),
    decisionReasons: r.decisionReasons,
    paidInRunId: r.paidInRunId,
    paidOn: r.paidOn,
    version: r.version,
    createdBy: r.createdBy,
    createdAt: iso(r.createdAt),
    updatedAt: iso(r.updatedAt),
  };
}

function lineToApi(r: ClaimLine) {
  return {
    id: r.id,
    kind: r.kind,
    date: r.lineDate,
    from: r.fromPlace,
    to: r.toPlace,
    purpose: r.purpose,
    miles: r.tenthsOfMile === null ? null : r.tenthsOfMile / 10,
    category: r.category,
    description: r.description,
    amount: r.amount,
    childId: r.childId,
    placementId: r.placementId,
    explanation: r.explanation ?? null,
  };
}

/**
 * A claim as the API shows it, with its lines, evidence and history: whole, as the audit trail keeps
 * it. What a caller is shown withholds the lines about a restricted child (see routes.ts).
 */
export async function presentClaim(ctx: FindScope, claim: Claim) {
  const where = { tenant_id: ctx.tenantId, claim_id: claim.id };
  const lines = await ClaimLine.query(ctx.trx).where(where).orderBy('position');
  const evidence = await evidenceOf(ctx, claim.id);
  const history = await ClaimHistory.query(ctx.trx).where(where).orderBy(['at', 'id']);
  return {
    ...claimSummaryToApi(claim),
    lines: lines.map(lineToApi),
    evidence: evidence.map((d) => ({
      id: d.id,
      key: d.evidenceKey!,
      title: d.title,
      receivedOn: d.receivedOn!,
      category: d.category,
      currentVersion: d.currentVersion,
    })),
    history: history.map((h) => ({
      fromStatus: h.fromStatus,
      toStatus: h.toStatus,
      actorId: h.actorId,
      at: iso(h.at),
      reasons: h.reasons,
    })),
  };
}

/** One step of a claim's history: from one status to the next, by whom and why. */
export async function recordHistory(
  ctx: FindScope,
  entry: {
    claimId: string;
    from: ClaimStatus | null;
    to: ClaimStatus;
    actorId: string | null;
    reasons?: string | null;
  },
): Promise<void> {
  await ClaimHistory.query(ctx.trx).insert({
    tenantId: ctx.tenantId,
    id: newId(),
    claimId: entry.claimId,
    fromStatus: entry.from,
    toStatus: entry.to,
    actorId: entry.actorId,
    reasons: entry.reasons ?? null,
  });
}

/** Rules the contract cannot say, each naming its field: miles and amounts above 0, no date in the future, codes and records of this tenant. */
export async function lineErrors(
  ctx: FindScope,
  claim: { pack: ResolvedPack; today: string; lines: LineInput[]; evidence: EvidenceInput[] },
): Promise<FieldError[]> {
  const { trx, tenantId } = ctx;
  const { pack, today, lines, evidence } = claim;
  const errors: FieldError[] = [];
  const mileage = mileageTableOf(pack);
  const hasCategories = Boolean(
    await trx('lookup_lists').where({ tenant_id: tenantId, key: EXPENSE_CATEGORY_LIST }).first('key'),
  );
  const categoryChecks: Array<{ list: string; code: string; pointer: string }> = [];
  for (const [i, line] of lines.entries()) {
    const at = (field: string) => `/body/lines/${i}/${field}`;
    if (line.date > today) errors.push({ pointer: at('date'), message: 'is in the future' });
    const forbidden =
      line.kind === 'mileage'
        ? (['category', 'description', 'amount'] as const)
        : (['from', 'to', 'purpose', 'miles'] as const);
    for (const field of forbidden)
      if (line[field] !== undefined) errors.push({ pointer: at(field), message: `is not part of a ${line.kind} line` });
    if (line.kind === 'mileage') {
      for (const field of ['from', 'to', 'purpose'] as const) {
        if (line[field] === undefined) errors.push({ pointer: at(field), message: 'is required on a mileage line' });
      }
      if (line.miles === undefined) errors.push({ pointer: at('miles'), message: 'is required on a mileage line' });
      else if (!(line.miles > 0)) errors.push({ pointer: at('miles'), message: 'must be more than 0' });
      else if (Math.abs(line.miles * 10 - Math.round(line.miles * 10)) > 1e-6)
        errors.push({ pointer: at('miles'), message: 'is kept to a tenth of a mile' });
      else if (line.miles > 10000)
        errors.push({ pointer: at('miles'), message: 'is more than 10,000 miles for one journey' });
      if (!mileage) errors.push({ pointer: at('kind'), message: "the tenant's pack has no mileage table" });
      else if (!inEffectOn(mileage.table.values, line.date)) {
        errors.push({
          pointer: at('date'),
          message: `the mileage table "${mileage.table.key}" has no rate on this date`,
        });
      }
    } else {
      if (line.category === undefined)
        errors.push({ pointer: at('category'), message: 'is required on an expense line' });
      else if (hasCategories)
        categoryChecks.push({ list: EXPENSE_CATEGORY_LIST, code: line.category, pointer: at('category') });
      if (line.description === undefined)
        errors.push({ pointer: at('description'), message: 'is required on an expense line' });
      if (line.amount === undefined) errors.push({ pointer: at('amount'), message: 'is required on an expense line' });
      else if (line.amount <= 0) errors.push({ pointer: at('amount'), message: 'must be more than 0' });
    }
  }
  errors.push(...(await lookupCodeErrors(trx, tenantId, categoryChecks)));
  const childIds = [...new Set(lines.map((l) => l.childId).filter((v): v is string => typeof v === 'string'))];
  const placementIds = [...new Set(lines.map((l) => l.placementId).filter((v): v is string => typeof v === 'string'))];
  // Only that they exist here: hiddenReferenceErrors (routes.ts) judges whether the caller may name them.
  const children = new Set(
    childIds.length
      ? (
          await Child.query(trx)
            .where({ tenant_id: tenantId })
            .whereNull('deleted_at')
            .whereIn('id', childIds)
            .select('id')
        ).map((r) => r.id)
      : [],
  );
  const placements = new Set<string>(
    placementIds.length
      ? await trx('placements').where({ tenant_id: tenantId }).whereIn('id', placementIds).pluck('id')
      : [],
  );
  lines.forEach((line, i) => {
    if (line.childId && !children.has(line.childId))
      errors.push({ pointer: `/body/lines/${i}/childId`, message: 'is not a child of this tenant' });
    if (line.placementId && !placements.has(line.placementId)) {
      errors.push({ pointer: `/body/lines/${i}/placementId`, message: 'is not a placement of this tenant' });
    }
  });
  const named = new Set<string>();
  evidence.forEach((e, i) => {
    const at = (field: string) => `/body/evidence/${i}/${field}`;
    if (e.receivedOn > today) errors.push({ pointer: at('receivedOn'), message: 'is in the future' });
    if (e.documentId === undefined && e.title === undefined)
      errors.push({ pointer: at('title'), message: 'is required without documentId' });
    if (e.documentId !== undefined && e.title !== undefined)
      errors.push({ pointer: at('title'), message: "is the document's own: not sent with documentId" });
    if (e.documentId !== undefined) {
      if (named.has(e.documentId)) errors.push({ pointer: at('documentId'), message: 'is in the list twice' });
      named.add(e.documentId);
    }
  });
  return errors;
}

/** Why a household may not be paid for a claim's costs: about the household (`line` null), or about one line (by position). */
export interface ApprovalFault {
  line: number | null;
  message: string;
}

/**
 * Whether a household may be paid a claim for costs on these dates: only while approved as carers,
 * as the carers module counts it (from the approval decision, through reviews, until the approval
 * ends, the day it ends not included). Names each line dated outside the approval, or the household
 * itself when it has never been approved.
 */
export function approvalFaults(household: CarerHousehold, dates: string[]): ApprovalFault[] {
  if (household.approvedOn === null) {
    const message =
      `has never been approved as carers (its approval is at "${household.approvalState}"): ` +
      'a claim is paid only for costs while a household is approved';
    return [{ line: null, message }];
  }
  const span = `approved from ${household.approvedOn}${household.approvalEndedOn ? ` until its approval ended on ${household.approvalEndedOn}` : ''}`;
  const faults: ApprovalFault[] = [];
  dates.forEach((date, i) => {
    if (!approvedOn(household, date))
      faults.push({ line: i, message: `is dated ${date}, a day the household was not approved as carers (${span})` });
  });
  return faults;
}

/** Prices the claim's mileage lines again (expense lines keep their amounts) and stores amounts, explanations and the total. */
export async function repriceClaim(ctx: FindScope, claim: Claim, pack: ResolvedPack): Promise<number> {
  const lines = await ClaimLine.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, claim_id: claim.id })
    .orderBy('position');
  const mileageLines = lines.filter((l) => l.kind === 'mileage');
  const mileage = mileageTableOf(pack);
  if (mileageLines.length && !mileage) throw new Problem('unprocessable', "The tenant's pack has no mileage table");
  const priced = mileageLines.length
    ? await priceMileage(ctx, {
        householdId: claim.householdId,
        claimId: claim.id,
        mileage: mileage!,
        lines: mileageLines.map((l) => ({ position: l.position, date: l.lineDate, tenths: l.tenthsOfMile! })),
      })
    : [];
  for (const p of priced) {
    await ClaimLine.query(ctx.trx)
      .where({ tenant_id: ctx.tenantId, claim_id: claim.id, position: p.position })
      .patch({ amount: p.amount, explanation: p.explanation });
  }
  const byPosition = new Map(priced.map((p) => [p.position, p.amount]));
  return lines.reduce((sum, l) => sum + (byPosition.get(l.position) ?? l.amount), 0);
}

/** A claim's evidence: the documents kept against it that carry an evidence key, every one of them. */
function evidenceOf(ctx: FindScope, claimId: string) {
  return Document.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, subject_type: 'claim', subject_id: claimId })
    .whereNotNull('evidence_key')
    .orderBy([{ column: 'received_on' }, { column: 'id' }]);
}

/**
 * Makes the claim's evidence the list given (the caller has checked it with lineErrors). Nothing is
 * deleted: a document left out stays a document of the claim, no longer its evidence; a record of
 * receipt sent again as it was (key, title and date) is the same document, so resending a draft's
 * evidence makes no new documents. Evidence the caller cannot see is not theirs to replace.
 */
export async function storeEvidence(ctx: TenantScope, claim: Claim, evidence: EvidenceInput[]): Promise<void> {
  const current = await evidenceOf(ctx, claim.id).forUpdate();
  const visible = await visibleDocumentIds(
    ctx,
    current.map((d) => d.id),
  );
  if (current.some((d) => !visible.has(d.id)))
    throw new Problem(
      'forbidden',
      'Evidence of this claim is a document you cannot see: only those who may see it can replace the evidence',
    );
  const kept = new Set<string>();
  let category: string | undefined;
  for (const [i, e] of evidence.entries()) {
    const facts = { key: e.key, receivedOn: e.receivedOn };
    if (e.documentId !== undefined) {
      const { document } = await attachAsEvidence(ctx, e.documentId, {
        pointer: `/body/evidence/${i}/documentId`,
        belongs: (d) => d.subjectType === 'claim' && d.subjectId === claim.id,
        elsewhere: 'is not a document kept against this claim',
        evidence: facts,
      });
      kept.add(document.id);
      continue;
    }
    const same = current.find(
      (d) =>
        !kept.has(d.id) &&
        d.currentVersion === null &&
        d.evidenceKey === e.key &&
        d.title === e.title &&
        d.receivedOn === e.receivedOn,
    );
    if (same) {
      kept.add(same.id);
      continue;
    }
    category ??= await evidenceCategory(ctx, 'receipt', 'other');
    const document = await recordReceivedDocument(ctx, {
      subjectType: 'claim',
      subjectId: claim.id,
      householdId: claim.householdId,
      category,
      title: e.title!,
      evidence: facts,
    });
    kept.add(document.id);
  }
  for (const d of current) if (!kept.has(d.id)) await releaseEvidence(ctx, d);
}

/** Replaces a claim's lines with those given (the caller has checked them). */
export async function storeLines(
  ctx: FindScope,
  claim: { claimId: string; lines: LineInput[] | undefined },
): Promise<void> {
  const { claimId, lines } = claim;
  const where = { tenant_id: ctx.tenantId, claim_id: claimId };
  if (lines) {
    await ClaimLine.query(ctx.trx).where(where).delete();
    await ClaimLine.query(ctx.trx).insert(
      lines.map((l, position) => ({
        tenantId: ctx.tenantId,
        id: newId(),
        claimId,
        position,
        kind: l.kind,
        lineDate: l.date,
        fromPlace: l.from ?? null,
        toPlace: l.to ?? null,
        purpose: l.purpose ?? null,
        tenthsOfMile: l.kind === 'mileage' ? Math.round(l.miles! * 10) : null,
        category: l.category ?? null,
        description: l.description ?? null,
        amount: l.kind === 'expense' ? l.amount! : 0,
        childId: l.childId ?? null,
        placementId: l.placementId ?? null,
        explanation: null,
      })),
    );
  }
}

/** What a payment run pays for one claim's lines of one kind. */
export interface ClaimPaymentDue {
  claimId: string;
  householdId: string;
  kind: 'mileage' | 'expense';
  amount: number;
  lines: number;
  firstDate: string;
  lastDate: string;
  claimDate: string;
  description: string | null;
  decidedBy: string | null;
  decidedOn: string | null;
}

/** A claim's lines of one kind, summed in SQL (claimPaymentsDue's aggregate, not a table's row). */
interface DueByKind {
  id: string;
  household_id: string;
  description: string | null;
  decided_by: string | null;
  decided_on: string | null;
  kind: 'mileage' | 'expense';
  amount: number;
  lines: number;
  first_date: string;
  last_date: string;
}

/**
 * What a payment run pays for claims: every approved claim not yet paid, split by kind of line
 * (mileage and expenses post to their own accounts), with the dates its lines cover. A claim is
 * dated by its latest line (it is paid whole, once all its costs are incurred): given `through`, a
 * run's last night, only claims dated on or before it, so a claim is paid by the run whose period
 * holds its date, or, approved after that run was calculated or dated before the first run, by the
 * next run calculated; never by a run whose period ends before it.
 */
export async function claimPaymentsDue(
  trx: Knex.Transaction,
  tenantId: string,
  through?: string,
): Promise<ClaimPaymentDue[]> {
  const query = trx('claims as c')
    .join('claim_lines as l', function joinLines() {
      this.on('l.tenant_id', 'c.tenant_id').andOn('l.claim_id', 'c.id');
    })
    .where({ 'c.tenant_id': tenantId, 'c.status': 'approved' })
    .whereNull('c.paid_in_run_id');
  if (through !== undefined) {
    query.whereNotExists(function laterLine() {
      this.from('claim_lines as later')
        .whereRaw('later.tenant_id = c.tenant_id AND later.claim_id = c.id')
        .where('later.line_date', '>', through);
    });
  }
  const rows = (await query
    .groupBy('c.id', 'c.household_id', 'c.description', 'c.decided_by', 'c.decided_on', 'l.kind')
    .orderBy([{ column: 'c.id' }, { column: 'l.kind' }])
    .select('c.id', 'c.household_id', 'c.description', 'c.decided_by', 'c.decided_on', 'l.kind')
    .select(trx.raw('sum(l.amount)::bigint AS amount'), trx.raw('count(*)::int AS lines'))
    .select(trx.raw('min(l.line_date) AS first_date'), trx.raw('max(l.line_date) AS last_date'))) as DueByKind[];
  // The claim's date across its kinds (rows of one claim are together, in claim order).
  const claimDate = new Map<string, string>();
  for (const r of rows) {
    const seen = claimDate.get(r.id);
    if (seen === undefined || r.last_date > seen) claimDate.set(r.id, r.last_date);
  }
  return rows
    .filter((r) => Number(r.amount) !== 0)
    .map((r) => ({
      claimId: r.id,
      householdId: r.household_id,
      kind: r.kind,
      amount: Number(r.amount),
      lines: r.lines,
      firstDate: r.first_date,
      lastDate: r.last_date,
      claimDate: claimDate.get(r.id)!,
      description: r.description,
      decidedBy: r.decided_by,
      decidedOn: r.decided_on,
    }));
}

/**
 * For payment runs: marks approved claims paid in a run (they never change again). All or
 * nothing: a claim that is not approved-and-unpaid throws, and the caller's transaction rolls back.
 * The caller audits its own request; each claim's history records the payment.
 */
export async function markClaimsPaid(
  trx: Knex.Transaction,
  tenantId: string,
  claimIds: string[],
  runId: string,
  paidOn: string,
  actorId: string | null = null,
): Promise<number> {
  if (!claimIds.length) return 0;
  const rows = await Claim.query(trx)
    .where({ tenant_id: tenantId })
    .whereIn('id', claimIds)
    .forUpdate()
    .select('id', 'status', 'paid_in_run_id');
  const ready = new Set(rows.filter((r) => r.status === 'approved' && r.paidInRunId === null).map((r) => r.id));
  const notReady = claimIds.filter((id) => !ready.has(id));
  if (notReady.length)
    throw new Problem('conflict', `Claims not approved-and-unpaid in this tenant: ${notReady.join(', ')}`);
  // Set-based: the claims were read under lock just above, so each one's version moves on by one.
  const updated = await Claim.query(trx)
    .where({ tenant_id: tenantId, status: 'approved' })
    .whereIn('id', claimIds)
    .patch({ status: 'paid', paidInRunId: runId, paidOn, version: trx.raw('version + 1'), updatedAt: trx.fn.now() });
  for (const id of claimIds)
    await recordHistory(
      { trx, tenantId },
      { claimId: id, from: 'approved', to: 'paid', actorId, reasons: `Paid in run ${runId}` },
    );
  return updated;
}
