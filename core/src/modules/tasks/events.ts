import type { OperationContext } from '../../http/operation';
import { Problem } from '../../http/problem';
import { newId } from '../../ids';

export type CaseEventSubject = 'child' | 'placement' | 'carer_household';

/**
 * The events the core records, in its own words. Packs' cycles name these as their trigger,
 * completion and stop events (the pack loader refuses a name that is not here), so a UK review
 * cycle and a US one listen for the same `child.entered_care`.
 */
export const CASE_EVENTS = {
  'child.entered_care': { subject: 'child', description: 'The child became looked after (entered foster care): the first day of a care episode' },
  'child.left_care': { subject: 'child', description: 'The child ceased to be looked after (left care)' },
  'child.review_held': { subject: 'child', description: "A review of the child's case (LAC review, periodic review) was held" },
  'child.initial_health_assessment_held': { subject: 'child', description: 'The initial health assessment was done' },
  'child.review_health_assessment_held': { subject: 'child', description: 'A review health assessment was done' },
  'child.pep_reviewed': { subject: 'child', description: 'The personal education plan was reviewed' },
  'child.permanency_hearing_held': { subject: 'child', description: 'A permanency hearing was held' },
  'placement.started': { subject: 'placement', description: 'The child moved in' },
  'placement.ended': { subject: 'placement', description: 'The placement ended (the child moved out)' },
  'placement.visit_held': { subject: 'placement', description: "The child's worker visited the child in the placement" },
  'carer.approved': { subject: 'carer_household', description: 'The household was approved' },
  'carer.review_held': { subject: 'carer_household', description: 'The carer review (annual review or update) was held' },
  'carer.unannounced_visit_held': { subject: 'carer_household', description: 'An unannounced visit to the home was made' },
  'carer.approval_ended': { subject: 'carer_household', description: 'The approval ended (resignation, termination or closure)' },
} as const satisfies Record<string, { subject: CaseEventSubject; description: string }>;

export type CaseEventName = keyof typeof CASE_EVENTS;

export function isCaseEventName(value: string): value is CaseEventName {
  return Object.prototype.hasOwnProperty.call(CASE_EVENTS, value);
}

export interface CaseEventInput {
  name: CaseEventName;
  subjectId: string;
  /** The day it happened, in the tenant's calendar (ISO 8601 date). */
  occurredOn: string;
  /** Facts the pack's cycle conditions may read (longTerm, …). */
  facts?: Record<string, unknown>;
  /** The record that says it happened (a placement, a review record, an approval decision…). */
  source: { type: string; id: string };
}

/**
 * Records an event in the request's transaction. The module that wrote the record calls this, so
 * the event stands or falls with the record (and with its audit event).
 */
export async function recordCaseEvent(ctx: OperationContext, input: CaseEventInput): Promise<string> {
  const definition = CASE_EVENTS[input.name];
  if (!definition) throw new Error(`Unknown case event ${String(input.name)}`);
  const id = newId();
  await ctx.trx('case_events').insert({
    tenant_id: ctx.tenantId!,
    id,
    name: input.name,
    subject_type: definition.subject,
    subject_id: input.subjectId,
    occurred_on: input.occurredOn,
    facts: JSON.stringify(input.facts ?? {}),
    source_type: input.source.type,
    source_id: input.source.id,
    recorded_by: ctx.principal?.id ?? null,
  });
  return id;
}

/**
 * A record's date (or facts) was corrected: its current event for that name is superseded by a new
 * one, so what the cycles derive is counted from the corrected day.
 */
export async function correctCaseEvent(ctx: OperationContext, input: CaseEventInput): Promise<string> {
  const current = await ctx.trx('case_events')
    .where({ tenant_id: ctx.tenantId!, name: input.name, source_type: input.source.type, source_id: input.source.id, status: 'current' })
    .first('id');
  const id = await recordCaseEvent(ctx, input);
  if (current) await ctx.trx('case_events').where({ tenant_id: ctx.tenantId!, id: current.id }).update({ status: 'superseded', superseded_by: id });
  return id;
}

/** The record was withdrawn (entered in error): its events no longer count. */
export async function voidCaseEvents(ctx: OperationContext, source: { type: string; id: string }): Promise<number> {
  return ctx.trx('case_events').where({ tenant_id: ctx.tenantId!, source_type: source.type, source_id: source.id, status: 'current' }).update({ status: 'voided' });
}

/** Kept for callers that must refuse an event name from input (e.g. an API that records one). */
export function assertCaseEventName(value: string, pointer: string): CaseEventName {
  if (!isCaseEventName(value)) throw Problem.unprocessable([{ pointer, message: `is not one of ${Object.keys(CASE_EVENTS).join(', ')}` }]);
  return value;
}
