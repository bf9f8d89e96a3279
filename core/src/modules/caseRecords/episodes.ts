import type { TenantScope } from '../../http/operation';
import { setChildStatus } from '../children/visibility';
import { correctCaseEvent, recordCaseEvent, voidCaseEvents } from '../tasks/events';
import { CaseEvent } from '../tasks/models';
import { spanErrors, throwIf } from './families';
import { ChildCareEpisode } from './models';
import { purposeCodeErrors } from './optionLists';
import type { Change, SubRecordSpec, WriteAction } from './subRecords';

type EpisodeChange = Change<ChildCareEpisode>;

/**
 * The episode's start and its end are two sources of case events, so that the end can be corrected
 * or withdrawn (an episode reopened, or continued by the next) without touching the start's event.
 */
const startSource = (row: ChildCareEpisode) => ({ type: 'child_care_episode', id: row.id });
const endSource = (row: ChildCareEpisode) => ({ type: 'child_care_episode_end', id: row.id });

async function liveEpisodes(ctx: TenantScope, childId: string): Promise<ChildCareEpisode[]> {
  return ChildCareEpisode.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, child_id: childId })
    .whereNull('deleted_at')
    .orderBy('start_date');
}

/** In care while a live episode is open; left care once every episode has ended; referred before any. */
async function syncChildStatus(ctx: TenantScope, change: EpisodeChange): Promise<void> {
  const episodes = await liveEpisodes(ctx, change.child.id);
  if (episodes.some((e) => e.endDate === null)) return setChildStatus(ctx, change.child, 'in_care');
  if (episodes.length) return setChildStatus(ctx, change.child, 'left_care');
  if (change.child.status !== 'referred') return setChildStatus(ctx, change.child, 'referred');
}

/** The episode that ended the day this one starts: the period of care continues, the child never left. */
async function continued(ctx: TenantScope, row: ChildCareEpisode): Promise<ChildCareEpisode | undefined> {
  return ChildCareEpisode.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, child_id: row.childId, end_date: row.startDate })
    .whereNull('deleted_at')
    .whereNot('id', row.id)
    .first();
}

async function hasCurrentEvent(ctx: TenantScope, source: { type: string; id: string }): Promise<boolean> {
  return Boolean(
    await CaseEvent.query(ctx.trx)
      .where({ tenant_id: ctx.tenantId, source_type: source.type, source_id: source.id, status: 'current' })
      .select('id')
      .first(),
  );
}

function leftCare(change: EpisodeChange, episode: ChildCareEpisode) {
  return {
    name: 'child.left_care' as const,
    subjectId: change.child.id,
    occurredOn: episode.endDate!,
    facts: { endReason: episode.endReason ?? null },
    source: endSource(episode),
  };
}

async function opened(ctx: TenantScope, change: EpisodeChange): Promise<void> {
  const row = change.after;
  const previous = await continued(ctx, row);
  if (previous) await voidCaseEvents(ctx, endSource(previous));
  else
    await recordCaseEvent(ctx, {
      name: 'child.entered_care',
      subjectId: change.child.id,
      occurredOn: row.startDate,
      facts: { startReason: row.startReason ?? null },
      source: startSource(row),
    });
  if (row.endDate) await recordCaseEvent(ctx, leftCare(change, row));
}

async function corrected(ctx: TenantScope, change: EpisodeChange): Promise<void> {
  const before = change.before!;
  const row = change.after;
  if (before.startDate !== row.startDate && (await hasCurrentEvent(ctx, startSource(row)))) {
    await correctCaseEvent(ctx, {
      name: 'child.entered_care',
      subjectId: change.child.id,
      occurredOn: row.startDate,
      facts: { startReason: row.startReason ?? null },
      source: startSource(row),
    });
  }
  if (before.endDate === null && row.endDate !== null) await recordCaseEvent(ctx, leftCare(change, row));
  else if (before.endDate !== null && row.endDate === null) await voidCaseEvents(ctx, endSource(row));
  else if (before.endDate !== row.endDate || before.endReason !== row.endReason)
    await correctCaseEvent(ctx, leftCare(change, row));
}

export const careEpisodeSpec: SubRecordSpec<ChildCareEpisode, 'CareEpisode', 'CareEpisodes'> = {
  model: ChildCareEpisode,
  entityType: 'child_care_episode',
  path: 'care-episodes',
  idParam: 'careEpisodeId',
  fields: {
    startDate: 'startDate',
    endDate: 'endDate',
    startReason: 'startReason',
    endReason: 'endReason',
    notes: 'notes',
  },
  sortBy: 'startDate',
  rangeBy: 'startDate',
  span: { start: 'startDate', end: 'endDate', startField: 'startDate', endField: 'endDate', what: 'care episode' },
  async check(ctx, change) {
    const errors = spanErrors(change, 'startDate', 'endDate', 'endDate');
    if (change.after.endReason && !change.after.endDate) {
      errors.push(
        change.input.endReason !== undefined
          ? { pointer: '/body/endReason', message: 'needs an end date' }
          : {
              pointer: '/body/endDate',
              message: 'cannot be cleared while the episode has an end reason (clear endReason too)',
            },
      );
    }
    errors.push(
      ...(await purposeCodeErrors(ctx, [
        { purpose: 'episodeStartReason', code: change.input.startReason, pointer: '/body/startReason' },
        { purpose: 'episodeEndReason', code: change.input.endReason, pointer: '/body/endReason' },
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
      if (previous && !(await hasCurrentEvent(ctx, endSource(previous))))
        await recordCaseEvent(ctx, leftCare(change, previous));
    }
    await syncChildStatus(ctx, change);
  },
};
