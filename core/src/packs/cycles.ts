import { conditionHolds } from '../rules/ruleSet';
import { ageOn } from '../dates';
import { addPlainDuration, type WorkingCalendar } from './calendar';
import type { CycleDefinition, CycleStep, Duration } from './types';

export interface CycleInput {
  /** The date of the event that started the cycle (child became looked after, placement started…). */
  triggerDate: string;
  /** Dates the occurrences were actually done, in order; each next occurrence counts from them. */
  completed?: string[];
  /** Facts the event carries (longTerm, …); the child's date of birth gives ageYears. */
  facts?: Record<string, unknown>;
  dateOfBirth?: string;
  /** Compute occurrences due on or before this date. */
  until: string;
  /** Stop after this many occurrences (the tasks module wants the ones done and the next one only). */
  maxOccurrences?: number;
}

export interface DueOccurrence {
  occurrence: number;
  step: string;
  dueDate: string;
  /** What the due date was counted from, and how: enough for a person to check it by hand. */
  countedFrom: { basis: 'trigger' | 'previous_done' | 'previous_due'; date: string };
  interval: Duration;
  completedOn: string | null;
}

const MAX_OCCURRENCES = 500;

async function holds(step: CycleStep, facts: Record<string, unknown>): Promise<boolean> {
  return !step.when || (await conditionHolds(`cycle step ${step.key}`, step.when, facts)).holds;
}

function monthsBetween(from: string, to: string): number {
  const [fy, fm, fd] = from.split('-').map(Number) as [number, number, number];
  const [ty, tm, td] = to.split('-').map(Number) as [number, number, number];
  return (ty - fy) * 12 + (tm - fm) - (td < fd ? 1 : 0);
}

/**
 * The due dates a cycle produces: steps in order, each counted from the trigger or from the previous
 * occurrence (the day it was done, else the day it was due), on the pack's working-day calendar.
 * A repeating step recurs until its `until` passes or its `when` stops holding; then the next step
 * whose `when` holds takes over. Conditions see the event's facts plus ageYears and
 * monthsSinceTrigger as of the date being counted from.
 */
export async function dueDates(
  cycle: CycleDefinition,
  calendar: WorkingCalendar,
  input: CycleInput,
): Promise<DueOccurrence[]> {
  const completed = input.completed ?? [];
  const out: DueOccurrence[] = [];
  let stepIndex = 0;
  let usedNonRepeating = false;
  const max = Math.min(input.maxOccurrences ?? MAX_OCCURRENCES, MAX_OCCURRENCES);
  while (out.length < max) {
    const previous = out[out.length - 1];
    const base = previous ? (previous.completedOn ?? previous.dueDate) : input.triggerDate;
    const facts = {
      ...(input.facts ?? {}),
      ...(input.dateOfBirth ? { ageYears: ageOn(input.dateOfBirth, base) } : {}),
      monthsSinceTrigger: monthsBetween(input.triggerDate, base),
    };

    // Find the step that applies now: the current one if it repeats and still holds, else the next that holds.
    let step: CycleStep | undefined;
    let dueDate = '';
    for (; stepIndex < cycle.steps.length; stepIndex++, usedNonRepeating = false) {
      const candidate = cycle.steps[stepIndex]!;
      if (!candidate.repeat && usedNonRepeating) continue;
      if (!(await holds(candidate, facts))) continue;
      const from = candidate.from === 'trigger' ? input.triggerDate : base;
      const due = calendar.add(from, candidate.due);
      if (candidate.repeat && candidate.until && due > addPlainDuration(input.triggerDate, candidate.until)) continue;
      step = candidate;
      dueDate = due;
      break;
    }
    if (!step || dueDate > input.until) break;
    if (!step.repeat) usedNonRepeating = true;
    const index = out.length;
    out.push({
      occurrence: index + 1,
      step: step.key,
      dueDate,
      countedFrom:
        step.from === 'trigger'
          ? { basis: 'trigger', date: input.triggerDate }
          : previous
            ? { basis: previous.completedOn ? 'previous_done' : 'previous_due', date: base }
            : { basis: 'trigger', date: input.triggerDate },
      interval: step.due,
      completedOn: completed[index] ?? null,
    });
  }
  return out;
}
