import { unwrap, type Schema } from '@hearth/sdk';
import { h, table } from '../dom';
import { ageOn, dateElement, todayIn, words } from '../format';
import { allPages } from '../pages';
import type { Session } from '../session';
import type { View } from './view';

type Task = Schema<'Task'>;

const STATUS_ORDER: Schema<'ChildStatus'>[] = ['in_care', 'referred', 'left_care'];

/** Which child each overdue task is about: tasks name a child, or a placement of one. */
export function overdueByChild(overdue: Task[], childOfPlacement: Map<string, string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const task of overdue) {
    const childId =
      task.subjectType === 'child'
        ? task.subjectId
        : task.subjectType === 'placement'
          ? childOfPlacement.get(task.subjectId)
          : undefined;
    if (childId) counts.set(childId, (counts.get(childId) ?? 0) + 1);
  }
  return counts;
}

/** The children allocated to the logged-in worker, each with how many of its tasks are overdue. */
export const caseloadView: View = async (session: Session) => {
  const { client, me, place } = session;
  const [children, placements, overdue] = await Promise.all([
    allPages((cursor) =>
      unwrap(client.GET('/v1/children', { params: { query: { allocatedWorkerId: me.id, limit: 200, ...cursor } } })),
    ),
    allPages((cursor) =>
      unwrap(client.GET('/v1/placements', { params: { query: { workerId: me.id, limit: 200, ...cursor } } })),
    ),
    // The tenant's overdue tasks in one list (the task list cannot yet filter by the subjects'
    // worker), rather than one request per child; overdue tasks are few beside all tasks.
    allPages((cursor) =>
      unwrap(client.GET('/v1/tasks', { params: { query: { overdue: true, limit: 200, ...cursor } } })),
    ),
  ]);
  const counts = overdueByChild(overdue, new Map(placements.map((p) => [p.id, p.childId])));
  const today = todayIn(place.timeZone);
  // Children in care first, then those referred, then those who have left care; by name within each.
  const sorted = [...children].sort(
    (a, b) =>
      STATUS_ORDER.indexOf(a.status) - STATUS_ORDER.indexOf(b.status) ||
      a.familyName.localeCompare(b.familyName) ||
      a.givenName.localeCompare(b.givenName),
  );
  const withOverdue = sorted.filter((child) => (counts.get(child.id) ?? 0) > 0).length;

  const rows = sorted.map((child) => {
    const count = counts.get(child.id) ?? 0;
    return [
      h('a', { href: `#/children/${child.id}` }, `${child.givenName} ${child.familyName}`),
      h('span', {}, dateElement(child.dateOfBirth, place.locale), ` (${ageOn(child.dateOfBirth, today)})`),
      words(child.status),
      count > 0 ? h('strong', { class: 'overdue' }, String(count)) : '0',
    ];
  });
  const title = 'My caseload';
  return {
    title,
    content: [
      h('h1', { id: 'page-title', tabindex: '-1' }, title),
      h(
        'p',
        {},
        children.length === 0
          ? 'No children are allocated to you.'
          : `${children.length} ${children.length === 1 ? 'child' : 'children'} allocated to you; ${withOverdue} with overdue tasks.`,
      ),
      children.length > 0
        ? table(
            `Children allocated to ${me.displayName ?? me.email ?? 'you'}`,
            ['Child', 'Born (age)', 'Status', 'Overdue tasks'],
            rows,
            { rowHeader: true, numeric: [3] },
          )
        : null,
    ],
  };
};
