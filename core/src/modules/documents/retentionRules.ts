import type { Knex } from 'knex';
import { addDays, addMonths, dayAfter } from '../../dates';
import type { AppServices } from '../../http/operation';
import type { RetentionRule, RetentionStartEvent } from '../../packs/types';
import type { SubjectType } from './models';

/**
 * When a document falls due for destruction under the tenant's pack. Each rule names the documents it
 * holds (kinds of record, categories), the event its period counts from, and the period. A document
 * no rule holds is never due; one that several hold is due only once every one of them has run out
 * (the longest wins), so adding a rule can only keep a document longer.
 */

/** One document's standing under one rule: the event's date and the first day it may go, or nulls while the event has not happened. */
export interface RuleStanding {
  rule: RetentionRule;
  eventOn: string | null;
  dueOn: string | null;
}

export interface DocumentFacts {
  id: string;
  subjectType: SubjectType;
  subjectId: string;
  childId: string | null;
  householdId: string | null;
  category: string;
  title: string;
}

/** `document` is what is kept: a document's facts, or a message's (retentionMessages.ts). */
export interface Standing<T = DocumentFacts> {
  document: T;
  rules: RuleStanding[];
}

/** Due: every rule holding it has run out by the day; `rule` is the one that ran out last. */
export interface DueStanding<T = DocumentFacts> {
  document: T;
  rule: RetentionRule;
  eventOn: string;
  dueOn: string;
}

/**
 * The date each start event gives a document (as text, for `d` in documents), or null while it has
 * not happened. Only the record the document is kept against, or the child or household it belongs to,
 * is read: a placement document's `placement_ended` is its own placement's end.
 */
const EVENT_FACT: Record<RetentionStartEvent, string> = {
  approval_ended: `(SELECT h.approval_ended_on::text FROM carer_households h
                     WHERE h.tenant_id = d.tenant_id AND h.id = d.household_id)`,
  // The child's date of birth; the anniversary is worked out below, where 29 February is handled.
  child_75th_birthday: `(SELECT c.date_of_birth::text FROM children c WHERE c.tenant_id = d.tenant_id AND c.id = d.child_id)`,
  placement_ended: `(SELECT p.end_date::text FROM placements p
                      WHERE d.subject_type = 'placement' AND p.tenant_id = d.tenant_id AND p.id = d.subject_id
                        AND p.status = 'ended')`,
  claim_paid: `(SELECT cl.paid_on::text FROM claims cl
                 WHERE cl.tenant_id = d.tenant_id AND cl.status = 'paid'
                   AND cl.id = CASE d.subject_type
                     WHEN 'claim' THEN d.subject_id
                     WHEN 'claim_line' THEN (SELECT l.claim_id FROM claim_lines l WHERE l.tenant_id = d.tenant_id AND l.id = d.subject_id)
                   END)`,
  // The day the run was finalised in the tenant's own time zone, not the server's.
  payment_run_finalised: `(SELECT (r.finalised_at AT TIME ZONE t.time_zone)::date::text
                             FROM payment_runs r JOIN tenants t ON t.id = r.tenant_id
                            WHERE d.subject_type = 'payment_run' AND r.tenant_id = d.tenant_id AND r.id = d.subject_id
                              AND r.finalised_at IS NOT NULL)`,
};

/** Months from the fact a start event reads to the event itself (the 75th birthday is 900 months after birth). */
export const EVENT_OFFSET_MONTHS: Record<RetentionStartEvent, number> = {
  approval_ended: 0,
  child_75th_birthday: 900,
  placement_ended: 0,
  claim_paid: 0,
  payment_run_finalised: 0,
};

export function periodMonths(rule: RetentionRule): number {
  return (rule.period.years ?? 0) * 12 + (rule.period.months ?? 0);
}

/**
 * `months` after a date, never a day early: where the day does not exist in the target month
 * (29 February in a common year, 31 April), the period has run out only on the day after the month's
 * last day, as a person born on 29 February comes of an age on 1 March.
 */
export function monthsAfterNotEarly(iso: string, months: number): string {
  const shifted = addMonths(iso, months);
  return shifted.slice(8) === iso.slice(8) ? shifted : dayAfter(shifted);
}

export function standingFor(rule: RetentionRule, fact: string | null): RuleStanding {
  if (!fact) return { rule, eventOn: null, dueOn: null };
  const eventOn = monthsAfterNotEarly(fact, EVENT_OFFSET_MONTHS[rule.startEvent]);
  return { rule, eventOn, dueOn: monthsAfterNotEarly(eventOn, periodMonths(rule)) };
}

/** Due on `asOf` under all its rules, and the rule that ran out last; null otherwise (no rule, or one still running). */
export function dueUnder<T>(standing: Standing<T>, asOf: string): DueStanding<T> | null {
  if (!standing.rules.length) return null;
  let last: RuleStanding | null = null;
  for (const r of standing.rules) {
    if (!r.dueOn || r.dueOn > asOf) return null;
    if (!last || r.dueOn > last.dueOn!) last = r;
  }
  return { document: standing.document, rule: last!.rule, eventOn: last!.eventOn!, dueOn: last!.dueOn! };
}

/** The retention rules of the tenant's pack (with what it inherits: a state's rule replaces the baseline's of the same key). */
export async function tenantRules(
  trx: Knex.Transaction,
  services: Pick<AppServices, 'packs'>,
  tenantId: string,
): Promise<RetentionRule[]> {
  const tenant = (await trx('tenants').where({ id: tenantId }).first('pack_id')) as { pack_id: string } | undefined;
  if (!tenant || !services.packs.has(tenant.pack_id)) return [];
  return [...services.packs.resolve(tenant.pack_id).points.retention.values()]
    .map((item) => item.value)
    .sort((a, b) => a.key.localeCompare(b.key));
}

interface FactRow {
  id: string;
  subject_type: SubjectType;
  subject_id: string;
  child_id: string | null;
  household_id: string | null;
  category: string;
  title: string;
  fact_on: string | null;
}

export interface EvaluationScope {
  trx: Knex.Transaction;
  tenantId: string;
  rules: RetentionRule[];
  /** Narrows `documents d` to what the caller may see (documentsVisible); none for the system's own job. */
  fence?: (q: Knex.QueryBuilder) => void;
}

/** The active documents a rule holds, with its event's fact; only those whose fact is on or before `factBound`, when given. */
async function held(
  scope: EvaluationScope,
  rule: RetentionRule,
  only: { ids?: string[]; factBound?: string },
): Promise<FactRow[]> {
  const { trx, tenantId } = scope;
  const q = trx('documents as d').where('d.tenant_id', tenantId).where('d.status', 'active');
  if (rule.documents.subjectTypes) q.whereIn('d.subject_type', rule.documents.subjectTypes);
  if (rule.documents.categories) q.whereIn('d.category', rule.documents.categories);
  if (only.ids) q.whereIn('d.id', only.ids);
  scope.fence?.(q);
  q.select(
    'd.id',
    'd.subject_type',
    'd.subject_id',
    'd.child_id',
    'd.household_id',
    'd.category',
    'd.title',
    trx.raw(`${EVENT_FACT[rule.startEvent]} AS fact_on`),
  );
  if (only.factBound === undefined) return (await q) as FactRow[];
  return (await trx
    .select('*')
    .from(q.as('m'))
    .whereNotNull('m.fact_on')
    .where('m.fact_on', '<=', only.factBound)) as FactRow[];
}

const factsOf = (row: FactRow): DocumentFacts => ({
  id: row.id,
  subjectType: row.subject_type,
  subjectId: row.subject_id,
  childId: row.child_id,
  householdId: row.household_id,
  category: row.category,
  title: row.title,
});

/** Every rule's standing for the given active documents (a document no rule holds has none). */
export async function standingsOf(scope: EvaluationScope, ids: string[]): Promise<Map<string, Standing>> {
  const out = new Map<string, Standing>();
  if (!ids.length) return out;
  for (const rule of scope.rules) {
    for (const row of await held(scope, rule, { ids })) {
      const standing = out.get(row.id) ?? { document: factsOf(row), rules: [] };
      standing.rules.push(standingFor(rule, row.fact_on));
      out.set(row.id, standing);
    }
  }
  return out;
}

/**
 * Every active document due on `asOf`, by id. Each rule first narrows to the documents whose event
 * happened early enough to have run out (a few days' slack for month ends; the exact test is
 * `dueUnder`), then those are weighed against every rule that holds them.
 */
export async function dueDocuments(scope: EvaluationScope, asOf: string): Promise<DueStanding[]> {
  const candidates = new Set<string>();
  for (const rule of scope.rules) {
    const months = EVENT_OFFSET_MONTHS[rule.startEvent] + periodMonths(rule);
    const factBound = addDays(addMonths(asOf, -months), 3);
    for (const row of await held(scope, rule, { factBound })) {
      const standing = standingFor(rule, row.fact_on);
      if (standing.dueOn && standing.dueOn <= asOf) candidates.add(row.id);
    }
  }
  const standings = await standingsOf(scope, [...candidates]);
  const due: DueStanding[] = [];
  for (const standing of standings.values()) {
    const d = dueUnder(standing, asOf);
    if (d) due.push(d);
  }
  return due.sort((a, b) => a.document.id.localeCompare(b.document.id));
}

/** The legal holds in force over each of the given documents: on the document, its record, or the child or household it belongs to. */
export async function holdsOver(
  trx: Knex.Transaction,
  tenantId: string,
  documentIds: string[],
): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (!documentIds.length) return out;
  const rows = (await trx('documents as d')
    .join('retention_legal_holds as h', function joinHolds() {
      this.on('h.tenant_id', '=', 'd.tenant_id')
        .andOnNull('h.released_at')
        .andOn(function covers() {
          this.on('h.document_id', '=', 'd.id')
            .orOn(function sameRecord() {
              this.on('h.subject_type', '=', 'd.subject_type').andOn('h.subject_id', '=', 'd.subject_id');
            })
            .orOn(function theChild() {
              this.on('h.subject_type', '=', trx.raw("'child'")).andOn('h.subject_id', '=', 'd.child_id');
            })
            .orOn(function theHousehold() {
              this.on('h.subject_type', '=', trx.raw("'household'")).andOn('h.subject_id', '=', 'd.household_id');
            });
        });
    })
    .where('d.tenant_id', tenantId)
    .whereIn('d.id', documentIds)
    .orderBy('h.id')
    .select('d.id as document_id', 'h.id as hold_id')) as Array<{ document_id: string; hold_id: string }>;
  for (const row of rows) out.set(row.document_id, [...(out.get(row.document_id) ?? []), row.hold_id]);
  return out;
}

/**
 * Serialises what decides a destruction against what could stop it, per tenant: placing a hold and
 * destroying under a re-check both take it, so a hold committed while a destruction is checking cannot
 * be missed by it.
 */
export async function lockRetention(trx: Knex.Transaction, tenantId: string): Promise<void> {
  await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`hearth.retention:${tenantId}`]);
}
