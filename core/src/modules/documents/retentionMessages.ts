import type { Knex } from 'knex';
import { addDays, addMonths } from '../../dates';
import type { RetentionRule, RetentionStartEvent, RetentionSubjectType } from '../../packs/types';
import type { Fenced } from '../children/visibility';
import { childVisible, placementVisible } from '../children/visibility';
import {
  dueUnder,
  EVENT_OFFSET_MONTHS,
  periodMonths,
  standingFor,
  type DueStanding,
  type EvaluationScope,
  type Standing,
} from './retentionRules';

/**
 * The communication log under the documents' retention rules. A rule with `messages: true` holds the
 * messages tied to the kinds of record it names: a message tied to a child or a placement is of the
 * child's case record, one tied to a household and no child of the household's, one tied to a claim or a
 * payment run of that. A message tied to nothing a rule names (a password reset, an invitation) is held
 * by no rule and is never due, as a document is. Only messages whose delivery is over are weighed: one
 * still queued or sending belongs to delivery, which would otherwise send an emptied message.
 */

export interface MessageFacts {
  id: string;
  event: string;
  channel: string;
  createdAt: Date;
  childId: string | null;
  householdId: string | null;
  placementId: string | null;
  claimId: string | null;
  paymentRunId: string | null;
}

export const FINISHED_STATUSES = ['sent', 'delivered', 'bounced', 'failed', 'dead'];

/** Which messages count as records of a kind a rule names; kinds a message is never tied to hold none. */
const TIED_TO: Partial<Record<RetentionSubjectType, string>> = {
  child: 'm.child_id IS NOT NULL',
  placement: 'm.placement_id IS NOT NULL',
  // A household's message about one of its children is the child's record, not the carer's.
  household: 'm.household_id IS NOT NULL AND m.child_id IS NULL AND m.placement_id IS NULL',
  claim: 'm.claim_id IS NOT NULL',
  payment_run: 'm.payment_run_id IS NOT NULL',
};

/** The date each start event gives a message (`m`), as EVENT_FACT gives a document's. */
const MESSAGE_EVENT_FACT: Record<RetentionStartEvent, string> = {
  approval_ended: `(SELECT h.approval_ended_on::text FROM carer_households h
                     WHERE h.tenant_id = m.tenant_id AND h.id = m.household_id)`,
  child_75th_birthday: `(SELECT c.date_of_birth::text FROM children c
                          WHERE c.tenant_id = m.tenant_id
                            AND c.id = COALESCE(m.child_id, (SELECT p.child_id FROM placements p
                                                              WHERE p.tenant_id = m.tenant_id AND p.id = m.placement_id)))`,
  placement_ended: `(SELECT p.end_date::text FROM placements p
                      WHERE p.tenant_id = m.tenant_id AND p.id = m.placement_id AND p.status = 'ended')`,
  claim_paid: `(SELECT cl.paid_on::text FROM claims cl
                 WHERE cl.tenant_id = m.tenant_id AND cl.id = m.claim_id AND cl.status = 'paid')`,
  payment_run_finalised: `(SELECT (r.finalised_at AT TIME ZONE t.time_zone)::date::text
                             FROM payment_runs r JOIN tenants t ON t.id = r.tenant_id
                            WHERE r.tenant_id = m.tenant_id AND r.id = m.payment_run_id AND r.finalised_at IS NOT NULL)`,
};

/** The condition a rule puts on messages, or null when it holds none. */
export function messagesHeldBy(rule: RetentionRule): string | null {
  if (!rule.messages) return null;
  const tied = (rule.documents.subjectTypes ?? []).map((t) => TIED_TO[t]).filter((c): c is string => !!c);
  return tied.length ? `(${tied.map((c) => `(${c})`).join(' OR ')})` : null;
}

/** The log's own fence: a message about a child (or its placement) hidden from the caller is not weighed. */
export function messagesVisible(ctx: Fenced, alias = 'm'): (q: Knex.QueryBuilder) => void {
  return (q) => {
    q.where(childVisible(ctx, `${alias}.child_id`));
    q.where(placementVisible(ctx, `${alias}.placement_id`));
  };
}

interface MessageRow {
  id: string;
  event: string;
  channel: string;
  created_at: Date;
  child_id: string | null;
  household_id: string | null;
  placement_id: string | null;
  claim_id: string | null;
  payment_run_id: string | null;
  fact_on: string | null;
}

async function heldMessages(
  scope: EvaluationScope,
  rule: RetentionRule,
  only: { ids?: string[]; factBound?: string },
): Promise<MessageRow[]> {
  const condition = messagesHeldBy(rule);
  if (!condition) return [];
  const { trx, tenantId } = scope;
  const q = trx('outbound_messages as m')
    .where('m.tenant_id', tenantId)
    .whereNull('m.destroyed_at')
    .whereIn('m.status', FINISHED_STATUSES)
    .whereRaw(condition);
  if (only.ids) q.whereIn('m.id', only.ids);
  scope.fence?.(q);
  q.select(
    'm.id',
    'm.event',
    'm.channel',
    'm.created_at',
    'm.child_id',
    'm.household_id',
    'm.placement_id',
    'm.claim_id',
    'm.payment_run_id',
    trx.raw(`${MESSAGE_EVENT_FACT[rule.startEvent]} AS fact_on`),
  );
  if (only.factBound === undefined) return (await q) as MessageRow[];
  return (await trx
    .select('*')
    .from(q.as('mm'))
    .whereNotNull('mm.fact_on')
    .where('mm.fact_on', '<=', only.factBound)) as MessageRow[];
}

const factsOf = (row: MessageRow): MessageFacts => ({
  id: row.id,
  event: row.event,
  channel: row.channel,
  createdAt: row.created_at,
  childId: row.child_id,
  householdId: row.household_id,
  placementId: row.placement_id,
  claimId: row.claim_id,
  paymentRunId: row.payment_run_id,
});

/** Every rule's standing for the given messages still whole (one no rule holds has none). */
export async function messageStandingsOf(
  scope: EvaluationScope,
  ids: string[],
): Promise<Map<string, Standing<MessageFacts>>> {
  const out = new Map<string, Standing<MessageFacts>>();
  if (!ids.length) return out;
  for (const rule of scope.rules) {
    for (const row of await heldMessages(scope, rule, { ids })) {
      const standing = out.get(row.id) ?? { document: factsOf(row), rules: [] };
      standing.rules.push(standingFor(rule, row.fact_on));
      out.set(row.id, standing);
    }
  }
  return out;
}

/** Every message due on `asOf`, by id: as dueDocuments, narrowed per rule first, then weighed against all. */
export async function dueMessages(scope: EvaluationScope, asOf: string): Promise<Array<DueStanding<MessageFacts>>> {
  const candidates = new Set<string>();
  for (const rule of scope.rules) {
    const months = EVENT_OFFSET_MONTHS[rule.startEvent] + periodMonths(rule);
    const factBound = addDays(addMonths(asOf, -months), 3);
    for (const row of await heldMessages(scope, rule, { factBound })) {
      const standing = standingFor(rule, row.fact_on);
      if (standing.dueOn && standing.dueOn <= asOf) candidates.add(row.id);
    }
  }
  const due: Array<DueStanding<MessageFacts>> = [];
  for (const standing of (await messageStandingsOf(scope, [...candidates])).values()) {
    const d = dueUnder(standing, asOf);
    if (d) due.push(d);
  }
  return due.sort((a, b) => a.document.id.localeCompare(b.document.id));
}

/**
 * The legal holds in force over each of the given messages: a hold on any record the message is tied
 * to (its child, placement, household, claim or payment run) keeps it, as it keeps that record's documents.
 */
export async function holdsOverMessages(
  trx: Knex.Transaction,
  tenantId: string,
  messageIds: string[],
): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (!messageIds.length) return out;
  const rows = (await trx('outbound_messages as m')
    .join('retention_legal_holds as h', function joinHolds() {
      this.on('h.tenant_id', '=', 'm.tenant_id')
        .andOnNull('h.released_at')
        .andOn(function covers() {
          const tied = (kind: string, column: string) =>
            function tiedTo(this: Knex.JoinClause) {
              this.on('h.subject_type', '=', trx.raw('?', [kind])).andOn('h.subject_id', '=', column);
            };
          this.on(tied('child', 'm.child_id'))
            .orOn(tied('placement', 'm.placement_id'))
            .orOn(tied('household', 'm.household_id'))
            .orOn(tied('claim', 'm.claim_id'))
            .orOn(tied('payment_run', 'm.payment_run_id'))
            // A hold on a child's whole record reaches the messages about its placements too.
            .orOn(function placementsChild() {
              this.on('h.subject_type', '=', trx.raw("'child'")).andOn(
                'h.subject_id',
                '=',
                trx.raw(
                  '(SELECT p.child_id FROM placements p WHERE p.tenant_id = m.tenant_id AND p.id = m.placement_id)',
                ),
              );
            });
        });
    })
    .where('m.tenant_id', tenantId)
    .whereIn('m.id', messageIds)
    .orderBy('h.id')
    .distinct('m.id as message_id', 'h.id as hold_id')) as Array<{ message_id: string; hold_id: string }>;
  for (const row of rows) out.set(row.message_id, [...(out.get(row.message_id) ?? []), row.hold_id]);
  return out;
}
