import type { Principal, TenantScope } from '../../http/operation';
import { newId } from '../../ids';
import { CaseEvent } from './models';
import { recalculateTasks, type TaskScope, type TouchedSubject } from './recalculate';

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

/** What recording an event needs of the module that wrote the record: its transaction, tenant and packs, and who acts. */
export type EventScope = Pick<TenantScope, 'trx' | 'services' | 'tenantId'> & { principal: Principal | null };

function taskScope(ctx: EventScope): TaskScope & { recordedBy: string | null } {
  return { trx: ctx.trx, tenantId: ctx.tenantId, packs: ctx.services.packs, recordedBy: ctx.principal?.id ?? null };
}

async function insertCaseEvent(scope: ReturnType<typeof taskScope>, input: CaseEventInput): Promise<string> {
  const definition = CASE_EVENTS[input.name];
  if (!definition) throw new Error(`Unknown case event ${String(input.name)}`);
  const id = newId();
  await CaseEvent.query(scope.trx).insert({
    tenantId: scope.tenantId,
    id,
    name: input.name,
    subjectType: definition.subject,
    subjectId: input.subjectId,
    occurredOn: input.occurredOn,
    facts: input.facts ?? {},
    sourceType: input.source.type,
    sourceId: input.source.id,
    recordedBy: scope.recordedBy,
  });
  return id;
}

/**
 * Records an event in the request's transaction. The module that wrote the record calls this, so
 * the event stands or falls with the record (and with its audit event); the subject's tasks are
 * recalculated from the pack's cycles in the same transaction.
 */
export async function recordCaseEvent(ctx: EventScope, input: CaseEventInput): Promise<string> {
  const scope = taskScope(ctx);
  const id = await insertCaseEvent(scope, input);
  await recalculateTasks(scope, [
    { subjectType: CASE_EVENTS[input.name].subject, subjectId: input.subjectId, names: [input.name] },
  ]);
  return id;
}

/**
 * A record's date (or facts) was corrected: its current event for that name is superseded by a new
 * one, so what the cycles derive is counted from the corrected day.
 */
export async function correctCaseEvent(ctx: EventScope, input: CaseEventInput): Promise<string> {
  const scope = taskScope(ctx);
  const current = await CaseEvent.query(scope.trx)
    .where({
      tenant_id: scope.tenantId,
      name: input.name,
      source_type: input.source.type,
      source_id: input.source.id,
      status: 'current',
    })
    .select('id', 'subject_type', 'subject_id')
    .first();
  const id = await insertCaseEvent(scope, input);
  if (current)
    await CaseEvent.query(scope.trx)
      .where({ tenant_id: scope.tenantId, id: current.id })
      .patch({ status: 'superseded', supersededBy: id });
  const touched: TouchedSubject[] = [
    { subjectType: CASE_EVENTS[input.name].subject, subjectId: input.subjectId, names: [input.name] },
  ];
  if (current && current.subjectId !== input.subjectId)
    touched.push({ subjectType: current.subjectType, subjectId: current.subjectId, names: [input.name] });
  await recalculateTasks(scope, touched);
  return id;
}

/** The record was withdrawn (entered in error): its events no longer count. */
export async function voidCaseEvents(ctx: EventScope, source: { type: string; id: string }): Promise<number> {
  const scope = taskScope(ctx);
  const voided = await CaseEvent.query(scope.trx)
    .where({ tenant_id: scope.tenantId, source_type: source.type, source_id: source.id, status: 'current' })
    .patch({ status: 'voided' })
    .returning(['name', 'subject_type', 'subject_id']);
  const bySubject = new Map<string, TouchedSubject>();
  for (const row of voided) {
    const key = `${row.subjectType}:${row.subjectId}`;
    const entry = bySubject.get(key) ?? { subjectType: row.subjectType, subjectId: row.subjectId, names: [] };
    entry.names.push(row.name);
    bySubject.set(key, entry);
  }
  await recalculateTasks(scope, [...bySubject.values()]);
  return voided.length;
}

/**
 * A duplicate record merged into its survivor: everything that happened to the duplicate happened to
 * the survivor, so its events (with their history of corrections) move, and both subjects' tasks are
 * recalculated: the survivor's from all its events, the duplicate's to nothing left open.
 */
export async function moveCaseEvents(
  ctx: EventScope,
  subjectType: CaseEventSubject,
  fromId: string,
  toId: string,
): Promise<number> {
  const scope = taskScope(ctx);
  const moved = await CaseEvent.query(scope.trx)
    .where({ tenant_id: scope.tenantId, subject_type: subjectType, subject_id: fromId })
    .patch({ subjectId: toId })
    .returning('name');
  const names = [...new Set(moved.map((r) => r.name))];
  await recalculateTasks(scope, [
    { subjectType, subjectId: toId, names },
    { subjectType, subjectId: fromId, names },
  ]);
  return moved.length;
}
