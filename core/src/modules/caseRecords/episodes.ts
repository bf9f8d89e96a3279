import type { OperationContext } from '../../http/operation';
import { setChildStatus } from '../children/visibility';
import { correctCaseEvent, recordCaseEvent, voidCaseEvents } from '../tasks/events';
import { spanErrors, throwIf } from './families';
import { purposeCodeErrors } from './optionLists';
import type { Change, Row, SubRecordSpec, WriteAction } from './subRecords';

/**
 * The episode's start and its end are two sources of case events, so that the end can be corrected
 * or withdrawn (an episode reopened, or continued by the next) without touching the start's event.
 */
const startSource = (row: Row) => ({ type: 'child_care_episode', id: row.id });
const endSource = (row: Row) => ({ type: 'child_care_episode_end', id: row.id });

async function liveEpisodes(ctx: OperationContext, childId: string): Promise<Row[]> {
  return (await ctx.trx('child_care_episodes').where({ tenant_id: ctx.tenantId!, child_id: childId }).whereNull('deleted_at').orderBy('start_date')) as Row[];
}

/** In care while a live episode is open; left care once every episode has ended; referred before any. */
async function syncChildStatus(ctx: OperationContext, change: Change): Promise<void> {
  const episodes = await liveEpisodes(ctx, change.child.id);
  if (episodes.some((e) => e.end_date === null)) return setChildStatus(ctx, change.child, 'in_care');
  if (episodes.length) return setChildStatus(ctx, change.child, 'left_care');
  if (change.child.status !== 'referred') return setChildStatus(ctx, change.child, 'referred');
}

/** The episode that ended the day this one starts: the period of care continues, the child never left. */
async function continued(ctx: OperationContext, row: Row): Promise<Row | undefined> {
  return (await ctx.trx('child_care_episodes').where({ tenant_id: ctx.tenantId!, child_id: row.child_id, end_date: row.start_date }).whereNull('deleted_at').whereNot('id', row.id).first()) as Row | undefined;
}

async function hasCurrentEvent(ctx: OperationContext, source: { type: string; id: string }): Promise<boolean> {
  return Boolean(await ctx.trx('case_events').where({ tenant_id: ctx.tenantId!, source_type: source.type, source_id: source.id, status: 'current' }).first('id'));
}

async function opened(ctx: OperationContext, change: Change): Promise<void> {
  const row = change.after;
  const previous = await continued(ctx, row);
  if (previous) await voidCaseEvents(ctx, endSource(previous));
  else await recordCaseEvent(ctx, { name: 'child.entered_care', subjectId: change.child.id, occurredOn: row.start_date as string, facts: { startReason: row.start_reason ?? null }, source: startSource(row) });
  if (row.end_date) await ended(ctx, change);
}

async function ended(ctx: OperationContext, change: Change): Promise<void> {
  const row = change.after;
  await recordCaseEvent(ctx, { name: 'child.left_care', subjectId: change.child.id, occurredOn: row.end_date as string, facts: { endReason: row.end_reason ?? null }, source: endSource(row) });
}

async function corrected(ctx: OperationContext, change: Change): Promise<void> {
  const before = change.before!;
  const row = change.after;
  if (before.start_date !== row.start_date && (await hasCurrentEvent(ctx, startSource(row)))) {
    await correctCaseEvent(ctx, { name: 'child.entered_care', subjectId: change.child.id, occurredOn: row.start_date as string, facts: { startReason: row.start_reason ?? null }, source: startSource(row) });
  }
  if (before.end_date === null && row.end_date !== null) await ended(ctx, change);
  else if (before.end_date !== null && row.end_date === null) await voidCaseEvents(ctx, endSource(row));
  else if (before.end_date !== row.end_date || before.end_reason !== row.end_reason) {
    await correctCaseEvent(ctx, { name: 'child.left_care', subjectId: change.child.id, occurredOn: row.end_date as string, facts: { endReason: row.end_reason ?? null }, source: endSource(row) });
  }
}

export const careEpisodeSpec: SubRecordSpec = {
  table: 'child_care_episodes',
  entityType: 'child_care_episode',
  noun: 'The care episode',
  path: 'care-episodes',
  idParam: 'careEpisodeId',
  fields: { startDate: 'start_date', endDate: 'end_date', startReason: 'start_reason', endReason: 'end_reason', notes: 'notes' },
  sortColumn: 'start_date',
  rangeColumn: 'start_date',
  span: { start: 'start_date', end: 'end_date', startField: 'startDate', endField: 'endDate', what: 'care episode' },
  async check(ctx, change) {
    const errors = spanErrors(change, 'start_date', 'end_date', 'endDate');
    if (change.after.end_reason && !change.after.end_date) {
      errors.push(change.input.endReason !== undefined ? { pointer: '/body/endReason', message: 'needs an end date' } : { pointer: '/body/endDate', message: 'cannot be cleared while the episode has an end reason (clear endReason too)' });
    }
    errors.push(
      ...(await purposeCodeErrors(ctx, [
        { purpose: 'episodeStartReason', code: change.input.startReason as string | null | undefined, pointer: '/body/startReason' },
        { purpose: 'episodeEndReason', code: change.input.endReason as string | null | undefined, pointer: '/body/endReason' },
      ])),
    );
    throwIf(errors);
  },
  async effects(ctx, change, action: WriteAction) {
    if (action === 'created' || action === 'restored') await opened(ctx, change);
    else if (action === 'updated') await corrected(ctx, change);
    else {
      await voidCaseEvents(ctx, startSource(change.after));
      await voidCaseEvents(ctx, endSource(change.after));
      // Withdrawing the episode that continued another: the other one's end stands again.
      const previous = await continued(ctx, change.after);
      if (previous && !(await hasCurrentEvent(ctx, endSource(previous)))) {
        await recordCaseEvent(ctx, { name: 'child.left_care', subjectId: change.child.id, occurredOn: previous.end_date as string, facts: { endReason: previous.end_reason ?? null }, source: endSource(previous) });
      }
    }
    await syncChildStatus(ctx, change);
  },
};
