import type { Knex } from 'knex';
import { CalendarRangeError, WorkingCalendar } from '../../packs/calendar';
import { dueDates, type DueOccurrence } from '../../packs/cycles';
import type { PackRegistry } from '../../packs/registry';
import type { CycleDefinition } from '../../packs/types';
import { newId } from '../../ids';
import { tenantConfiguration } from '../configuration/tenantConfiguration';
import type { CaseEventSubject } from './catalogue';
import { subjectFacts, type SubjectFacts } from './subjects';

/** What a recalculation needs: the request's (or job's) transaction, its tenant and the packs. */
export interface TaskScope {
  trx: Knex.Transaction;
  tenantId: string;
  packs: PackRegistry;
}

export interface TouchedSubject {
  subjectType: CaseEventSubject;
  subjectId: string;
  /** The event names that changed for the subject: only cycles naming one of them are recalculated. */
  names: string[];
}

interface EventRow {
  id: string;
  name: string;
  occurred_on: string;
  facts: Record<string, unknown>;
}

export interface TaskRow {
  tenant_id: string;
  id: string;
  cycle_key: string;
  step_key: string;
  step_name: string | null;
  occurrence: number;
  subject_type: CaseEventSubject;
  subject_id: string;
  due_date: string;
  owner_id: string | null;
  owner_source: 'subject' | 'manual';
  status: 'open' | 'done' | 'cancelled';
  completed_on: string | null;
  completed_by_event_id: string | null;
  completed_manually_by: string | null;
  trigger_event_id: string | null;
  counted_from: { basis: string; date: string };
  version: number;
  created_at: Date;
  updated_at: Date;
}

/** The fields a recalculation decides; everything else on a row (owner by hand, id, history) it keeps. */
interface Desired {
  occurrence: number;
  step_key: string;
  step_name: string | null;
  due_date: string;
  status: 'open' | 'done' | 'cancelled';
  completed_on: string | null;
  completed_by_event_id: string | null;
  completed_manually_by: string | null;
  trigger_event_id: string;
  counted_from: { basis: string; date: string };
}

const NO_CALENDAR = { key: 'none', name: 'no calendar', source: 'none', weekend: [0, 6], holidays: [] };

/** The cycles of the tenant's effective configuration (pack ⊕ sub-pack ⊕ overlays, today) and its calendar. */
export async function tenantCycles(scope: TaskScope): Promise<{ cycles: CycleDefinition[]; calendar: WorkingCalendar; timeZone: string }> {
  const { pack, effective, timeZone } = await tenantConfiguration(scope.trx, scope.tenantId, scope.packs);
  if (!pack || !effective) return { cycles: [], calendar: new WorkingCalendar(NO_CALENDAR), timeZone };
  return { cycles: effective.cycles.map((c) => c.value as unknown as CycleDefinition), calendar: new WorkingCalendar(pack.calendar ?? NO_CALENDAR), timeZone };
}

function namesEvent(cycle: CycleDefinition, names: string[]): boolean {
  return names.some((n) => n === cycle.trigger || n === cycle.completedBy || (cycle.stoppedBy ?? []).includes(n));
}

/**
 * Recalculates the tasks of each touched subject for every cycle of the tenant's configuration that
 * names one of the changed events. Called in the same transaction as the event's write.
 */
export async function recalculateTasks(scope: TaskScope, touched: TouchedSubject[]): Promise<void> {
  if (!touched.length) return;
  const { cycles, calendar } = await tenantCycles(scope);
  const seen = new Set<string>();
  for (const subject of touched) {
    const relevant = cycles.filter((c) => c.subject === subject.subjectType && namesEvent(c, subject.names));
    if (!relevant.length) continue;
    const facts = await subjectFacts(scope.trx, scope.tenantId, subject.subjectType, subject.subjectId);
    for (const cycle of relevant) {
      const key = `${subject.subjectType}:${subject.subjectId}:${cycle.key}`;
      if (seen.has(key)) continue;
      seen.add(key);
      await recalculateCycle(scope, cycle, calendar, subject.subjectType, subject.subjectId, facts);
    }
  }
}

/** The occurrences done so far and the next one, from the current events (or nothing, without a trigger). */
async function desiredOccurrences(cycle: CycleDefinition, calendar: WorkingCalendar, events: EventRow[], existing: TaskRow[], facts: SubjectFacts): Promise<{ desired: Desired[]; stopped: boolean }> {
  const trigger = [...events].reverse().find((e) => e.name === cycle.trigger);
  if (!trigger) return { desired: [], stopped: false };
  // Events come in the order they happened (day, then when recorded), so a stop on the trigger's own
  // day counts when it came after it: a placement that starts and ends the same day is over.
  const stopped = events.slice(events.indexOf(trigger) + 1).some((e) => (cycle.stoppedBy ?? []).includes(e.name));
  // Completions on or after the trigger: the events, and occurrences a person marked done by hand.
  const completions = [
    ...events.filter((e) => e.name === cycle.completedBy && e.id !== trigger.id && e.occurred_on >= trigger.occurred_on).map((e) => ({ date: e.occurred_on, eventId: e.id as string | null, by: null as string | null })),
    ...existing.filter((t) => t.status === 'done' && !t.completed_by_event_id && t.completed_on && t.completed_on >= trigger.occurred_on).map((t) => ({ date: t.completed_on!, eventId: null, by: t.completed_manually_by })),
  ].sort((a, b) => a.date.localeCompare(b.date));

  let occurrences: DueOccurrence[];
  const input = { triggerDate: trigger.occurred_on, completed: completions.map((c) => c.date), facts: trigger.facts ?? {}, dateOfBirth: facts.dateOfBirth ?? undefined, until: '9999-12-31' };
  try {
    occurrences = await dueDates(cycle, calendar, { ...input, maxOccurrences: completions.length + 1 });
  } catch (error) {
    // The next due date is past the years the pack's calendar knows: keep what is done, add no guess.
    if (!(error instanceof CalendarRangeError)) throw error;
    occurrences = completions.length ? await dueDates(cycle, calendar, { ...input, maxOccurrences: completions.length }).catch(() => []) : [];
  }
  const stepNames = new Map(cycle.steps.map((s) => [s.key, s.name ?? null]));
  const desired = occurrences.map((o, i): Desired => {
    const completion = o.completedOn ? completions[i]! : null;
    return {
      occurrence: o.occurrence,
      step_key: o.step,
      step_name: stepNames.get(o.step) ?? null,
      due_date: o.dueDate,
      status: completion ? 'done' : stopped ? 'cancelled' : 'open',
      completed_on: completion?.date ?? null,
      completed_by_event_id: completion?.eventId ?? null,
      completed_manually_by: completion?.by ?? null,
      trigger_event_id: trigger.id,
      counted_from: { basis: o.countedFrom.basis, date: o.countedFrom.date },
    };
  });
  return { desired, stopped };
}

const DECIDED: Array<keyof Desired> = ['step_key', 'step_name', 'due_date', 'status', 'completed_on', 'completed_by_event_id', 'completed_manually_by', 'trigger_event_id'];

function differs(row: TaskRow, want: Desired): boolean {
  return DECIDED.some((f) => (row[f as keyof TaskRow] ?? null) !== (want[f] ?? null)) || row.counted_from?.basis !== want.counted_from.basis || row.counted_from?.date !== want.counted_from.date;
}

/**
 * One subject's tasks for one cycle, made to match its current events: the same events give the same
 * rows (unique per subject, cycle and occurrence), a corrected date moves the due dates, a voided
 * completion reopens its occurrence, a stop event cancels what is open.
 */
async function recalculateCycle(scope: TaskScope, cycle: CycleDefinition, calendar: WorkingCalendar, subjectType: CaseEventSubject, subjectId: string, facts: SubjectFacts): Promise<void> {
  const { trx, tenantId } = scope;
  const names = [cycle.trigger, ...(cycle.completedBy ? [cycle.completedBy] : []), ...(cycle.stoppedBy ?? [])];
  const events = (await trx('case_events')
    .where({ tenant_id: tenantId, subject_type: subjectType, subject_id: subjectId, status: 'current' })
    .whereIn('name', names)
    .orderBy([{ column: 'occurred_on' }, { column: 'recorded_at' }, { column: 'id' }])
    .select('id', 'name', 'occurred_on', 'facts')) as EventRow[];
  const existing = (await trx('tasks')
    .where({ tenant_id: tenantId, subject_type: subjectType, subject_id: subjectId, cycle_key: cycle.key })
    .orderBy('occurrence')
    .forUpdate()
    .select('*')) as TaskRow[];
  const byOccurrence = new Map(existing.map((t) => [t.occurrence, t]));
  const { desired } = await desiredOccurrences(cycle, calendar, events, existing, facts);

  for (const want of desired) {
    const row = byOccurrence.get(want.occurrence);
    byOccurrence.delete(want.occurrence);
    const fields = { ...want, counted_from: JSON.stringify(want.counted_from) };
    if (!row) {
      // A stop before the occurrence was ever listed leaves nothing to cancel.
      if (want.status === 'cancelled') continue;
      await trx('tasks').insert({ tenant_id: tenantId, id: newId(), cycle_key: cycle.key, subject_type: subjectType, subject_id: subjectId, owner_id: facts.ownerId, owner_source: 'subject', ...fields });
      continue;
    }
    const ownerMoves = want.status === 'open' && row.owner_source === 'subject' && row.owner_id !== facts.ownerId;
    if (!differs(row, want) && !ownerMoves) continue;
    await trx('tasks')
      .where({ tenant_id: tenantId, id: row.id })
      .update({ ...fields, ...(ownerMoves ? { owner_id: facts.ownerId } : {}), version: row.version + 1, updated_at: trx.fn.now() });
  }
  // Occurrences the events no longer reach (a voided trigger or completion): cancelled, never deleted.
  for (const row of byOccurrence.values()) {
    if (row.status === 'cancelled') continue;
    await trx('tasks')
      .where({ tenant_id: tenantId, id: row.id })
      .update({ status: 'cancelled', completed_on: null, completed_by_event_id: null, completed_manually_by: null, version: row.version + 1, updated_at: trx.fn.now() });
  }
}

/** One subject's tasks for one cycle, recalculated after a manual completion or reopening. */
export async function recalculateSubjectCycle(scope: TaskScope, subjectType: CaseEventSubject, subjectId: string, cycleKey: string): Promise<void> {
  const { cycles, calendar } = await tenantCycles(scope);
  const cycle = cycles.find((c) => c.key === cycleKey && c.subject === subjectType);
  // A cycle the configuration no longer has keeps its tasks as they stand.
  if (!cycle) return;
  await recalculateCycle(scope, cycle, calendar, subjectType, subjectId, await subjectFacts(scope.trx, scope.tenantId, subjectType, subjectId));
}
