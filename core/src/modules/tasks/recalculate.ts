import type { Knex } from 'knex';
import { CalendarRangeError, WorkingCalendar } from '../../packs/calendar';
import { dueDates, type DueOccurrence } from '../../packs/cycles';
import type { PackRegistry } from '../../packs/registry';
import type { CycleDefinition } from '../../packs/types';
import { newId } from '../../ids';
import { patchVersioned } from '../../db/versioned';
import { tenantConfiguration } from '../configuration/tenantConfiguration';
import type { CaseEventSubject } from './catalogue';
import { CaseEvent, Task } from './models';
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

/** The fields a recalculation decides; everything else on a row (owner by hand, id, history) it keeps. */
type Desired = Pick<
  Task,
  | 'occurrence'
  | 'stepKey'
  | 'stepName'
  | 'dueDate'
  | 'status'
  | 'completedOn'
  | 'completedByEventId'
  | 'completedManuallyBy'
  | 'countedFrom'
> & {
  triggerEventId: string;
};

const NO_CALENDAR = { key: 'none', name: 'no calendar', source: 'none', weekend: [0, 6], holidays: [] };

/** The cycles of the tenant's effective configuration (pack ⊕ sub-pack ⊕ overlays, today) and its calendar. */
export async function tenantCycles(
  scope: TaskScope,
): Promise<{ cycles: CycleDefinition[]; calendar: WorkingCalendar; timeZone: string }> {
  const { pack, effective, timeZone } = await tenantConfiguration(scope.trx, scope.tenantId, scope.packs);
  if (!pack || !effective) return { cycles: [], calendar: new WorkingCalendar(NO_CALENDAR), timeZone };
  return {
    cycles: effective.cycles.map((c) => c.value),
    calendar: new WorkingCalendar(pack.calendar ?? NO_CALENDAR),
    timeZone,
  };
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
async function desiredOccurrences(
  cycle: CycleDefinition,
  calendar: WorkingCalendar,
  events: CaseEvent[],
  existing: Task[],
  facts: SubjectFacts,
): Promise<{ desired: Desired[]; stopped: boolean }> {
  const trigger = [...events].reverse().find((e) => e.name === cycle.trigger);
  if (!trigger) return { desired: [], stopped: false };
  // Events come in the order they happened (day, then when recorded), so a stop on the trigger's own
  // day counts when it came after it: a placement that starts and ends the same day is over.
  const stopped = events.slice(events.indexOf(trigger) + 1).some((e) => (cycle.stoppedBy ?? []).includes(e.name));
  // Completions on or after the trigger: the events, and occurrences a person marked done by hand.
  const completions = [
    ...events
      .filter((e) => e.name === cycle.completedBy && e.id !== trigger.id && e.occurredOn >= trigger.occurredOn)
      .map((e) => ({ date: e.occurredOn, eventId: e.id as string | null, by: null as string | null })),
    ...existing
      .filter(
        (t) => t.status === 'done' && !t.completedByEventId && t.completedOn && t.completedOn >= trigger.occurredOn,
      )
      .map((t) => ({ date: t.completedOn!, eventId: null, by: t.completedManuallyBy })),
  ].sort((a, b) => a.date.localeCompare(b.date));

  let occurrences: DueOccurrence[];
  const input = {
    triggerDate: trigger.occurredOn,
    completed: completions.map((c) => c.date),
    facts: trigger.facts ?? {},
    dateOfBirth: facts.dateOfBirth ?? undefined,
    until: '9999-12-31',
  };
  try {
    occurrences = await dueDates(cycle, calendar, { ...input, maxOccurrences: completions.length + 1 });
  } catch (error) {
    // The next due date is past the years the pack's calendar knows: keep what is done, add no guess.
    if (!(error instanceof CalendarRangeError)) throw error;
    occurrences = completions.length
      ? await dueDates(cycle, calendar, { ...input, maxOccurrences: completions.length }).catch(() => [])
      : [];
  }
  const stepNames = new Map(cycle.steps.map((s) => [s.key, s.name ?? null]));
  const desired = occurrences.map((o, i): Desired => {
    const completion = o.completedOn ? completions[i]! : null;
    return {
      occurrence: o.occurrence,
      stepKey: o.step,
      stepName: stepNames.get(o.step) ?? null,
      dueDate: o.dueDate,
      status: completion ? 'done' : stopped ? 'cancelled' : 'open',
      completedOn: completion?.date ?? null,
      completedByEventId: completion?.eventId ?? null,
      completedManuallyBy: completion?.by ?? null,
      triggerEventId: trigger.id,
      countedFrom: { basis: o.countedFrom.basis, date: o.countedFrom.date },
    };
  });
  return { desired, stopped };
}

const DECIDED = [
  'stepKey',
  'stepName',
  'dueDate',
  'status',
  'completedOn',
  'completedByEventId',
  'completedManuallyBy',
  'triggerEventId',
] as const;

function differs(row: Task, want: Desired): boolean {
  return (
    DECIDED.some((f) => (row[f] ?? null) !== (want[f] ?? null)) ||
    row.countedFrom?.basis !== want.countedFrom.basis ||
    row.countedFrom?.date !== want.countedFrom.date
  );
}

/**
 * One subject's tasks for one cycle, made to match its current events: the same events give the same
 * rows (unique per subject, cycle and occurrence), a corrected date moves the due dates, a voided
 * completion reopens its occurrence, a stop event cancels what is open.
 */
async function recalculateCycle(
  scope: TaskScope,
  cycle: CycleDefinition,
  calendar: WorkingCalendar,
  subjectType: CaseEventSubject,
  subjectId: string,
  facts: SubjectFacts,
): Promise<void> {
  const { trx, tenantId } = scope;
  const names = [cycle.trigger, ...(cycle.completedBy ? [cycle.completedBy] : []), ...(cycle.stoppedBy ?? [])];
  const events = await CaseEvent.query(trx)
    .where({ tenant_id: tenantId, subject_type: subjectType, subject_id: subjectId, status: 'current' })
    .whereIn('name', names)
    .orderBy([{ column: 'occurred_on' }, { column: 'recorded_at' }, { column: 'id' }])
    .select('id', 'name', 'occurred_on', 'facts');
  const existing = await Task.query(trx)
    .where({ tenant_id: tenantId, subject_type: subjectType, subject_id: subjectId, cycle_key: cycle.key })
    .orderBy('occurrence')
    .forUpdate();
  const byOccurrence = new Map(existing.map((t) => [t.occurrence, t]));
  const { desired } = await desiredOccurrences(cycle, calendar, events, existing, facts);
  const shared = cycle.sharedWithHousehold === true;

  for (const want of desired) {
    const row = byOccurrence.get(want.occurrence);
    byOccurrence.delete(want.occurrence);
    if (!row) {
      // A stop before the occurrence was ever listed leaves nothing to cancel.
      if (want.status === 'cancelled') continue;
      await Task.query(trx).insert({
        tenantId,
        id: newId(),
        cycleKey: cycle.key,
        subjectType,
        subjectId,
        ownerId: facts.ownerId,
        ownerSource: 'subject',
        sharedWithHousehold: shared,
        ...want,
      });
      continue;
    }
    const ownerMoves = want.status === 'open' && row.ownerSource === 'subject' && row.ownerId !== facts.ownerId;
    if (!differs(row, want) && !ownerMoves && row.sharedWithHousehold === shared) continue;
    await patchVersioned(trx, Task, row, {
      ...want,
      ...(ownerMoves ? { ownerId: facts.ownerId } : {}),
      sharedWithHousehold: shared,
    });
  }
  // Occurrences the events no longer reach (a voided trigger or completion): cancelled, never deleted.
  for (const row of byOccurrence.values()) {
    if (row.status === 'cancelled') continue;
    await patchVersioned(trx, Task, row, {
      status: 'cancelled',
      completedOn: null,
      completedByEventId: null,
      completedManuallyBy: null,
    });
  }
}

/** One subject's tasks for one cycle, recalculated after a manual completion or reopening. */
export async function recalculateSubjectCycle(
  scope: TaskScope,
  subjectType: CaseEventSubject,
  subjectId: string,
  cycleKey: string,
): Promise<void> {
  const { cycles, calendar } = await tenantCycles(scope);
  const cycle = cycles.find((c) => c.key === cycleKey && c.subject === subjectType);
  // A cycle the configuration no longer has keeps its tasks as they stand.
  if (!cycle) return;
  await recalculateCycle(
    scope,
    cycle,
    calendar,
    subjectType,
    subjectId,
    await subjectFacts(scope.trx, scope.tenantId, subjectType, subjectId),
  );
}
