import type { OperationContext } from '../../http/operation';
import { newId } from '../../ids';
import { recalculateTasks, type TouchedSubject } from './recalculate';

export { CASE_EVENTS, isCaseEventName, type CaseEventName, type CaseEventSubject } from './catalogue';
import { CASE_EVENTS, type CaseEventName, type CaseEventSubject } from './catalogue';

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

/** The tasks of the subjects whose events changed, recalculated in the same transaction. */
async function recalculate(ctx: OperationContext, touched: TouchedSubject[]): Promise<void> {
  await recalculateTasks({ trx: ctx.trx, tenantId: ctx.tenantId!, packs: ctx.services.packs }, touched);
}

async function insertCaseEvent(ctx: OperationContext, input: CaseEventInput): Promise<string> {
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
 * Records an event in the request's transaction. The module that wrote the record calls this, so
 * the event stands or falls with the record (and with its audit event); the subject's tasks are
 * recalculated from the pack's cycles in the same transaction.
 */
export async function recordCaseEvent(ctx: OperationContext, input: CaseEventInput): Promise<string> {
  const id = await insertCaseEvent(ctx, input);
  await recalculate(ctx, [{ subjectType: CASE_EVENTS[input.name].subject, subjectId: input.subjectId, names: [input.name] }]);
  return id;
}

/**
 * A record's date (or facts) was corrected: its current event for that name is superseded by a new
 * one, so what the cycles derive is counted from the corrected day.
 */
export async function correctCaseEvent(ctx: OperationContext, input: CaseEventInput): Promise<string> {
  const current = (await ctx.trx('case_events')
    .where({ tenant_id: ctx.tenantId!, name: input.name, source_type: input.source.type, source_id: input.source.id, status: 'current' })
    .first('id', 'subject_type', 'subject_id')) as { id: string; subject_type: CaseEventSubject; subject_id: string } | undefined;
  const id = await insertCaseEvent(ctx, input);
  if (current) await ctx.trx('case_events').where({ tenant_id: ctx.tenantId!, id: current.id }).update({ status: 'superseded', superseded_by: id });
  const touched: TouchedSubject[] = [{ subjectType: CASE_EVENTS[input.name].subject, subjectId: input.subjectId, names: [input.name] }];
  if (current && current.subject_id !== input.subjectId) touched.push({ subjectType: current.subject_type, subjectId: current.subject_id, names: [input.name] });
  await recalculate(ctx, touched);
  return id;
}

/** The record was withdrawn (entered in error): its events no longer count. */
export async function voidCaseEvents(ctx: OperationContext, source: { type: string; id: string }): Promise<number> {
  const voided = (await ctx.trx('case_events')
    .where({ tenant_id: ctx.tenantId!, source_type: source.type, source_id: source.id, status: 'current' })
    .update({ status: 'voided' })
    .returning(['name', 'subject_type', 'subject_id'])) as Array<{ name: string; subject_type: CaseEventSubject; subject_id: string }>;
  const bySubject = new Map<string, TouchedSubject>();
  for (const row of voided) {
    const key = `${row.subject_type}:${row.subject_id}`;
    const entry = bySubject.get(key) ?? { subjectType: row.subject_type, subjectId: row.subject_id, names: [] };
    entry.names.push(row.name);
    bySubject.set(key, entry);
  }
  await recalculate(ctx, [...bySubject.values()]);
  return voided.length;
}

/**
 * A duplicate record merged into its survivor: everything that happened to the duplicate happened to
 * the survivor, so its events (with their history of corrections) move, and both subjects' tasks are
 * recalculated: the survivor's from all its events, the duplicate's to nothing left open.
 */
export async function moveCaseEvents(ctx: OperationContext, subjectType: CaseEventSubject, fromId: string, toId: string): Promise<number> {
  const moved = (await ctx.trx('case_events')
    .where({ tenant_id: ctx.tenantId!, subject_type: subjectType, subject_id: fromId })
    .update({ subject_id: toId })
    .returning('name')) as Array<{ name: string }>;
  const names = [...new Set(moved.map((r) => r.name))];
  await recalculate(ctx, [
    { subjectType, subjectId: toId, names },
    { subjectType, subjectId: fromId, names },
  ]);
  return moved.length;
}
