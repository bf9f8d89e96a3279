import { unwrap, type Schema } from '@hearth/sdk';
import { h, table } from '../dom';
import { ageOn, dateElement, todayIn, words } from '../format';
import { allPages } from '../pages';
import type { View } from './view';

type Task = Schema<'Task'>;

/** A child's record, its placements and its tasks (its own and its placements'), overdue ones marked. */
export const childView: View = async (session, childId) => {
  const { client, place } = session;
  const [child, placements] = await Promise.all([
    unwrap(client.GET('/v1/children/{childId}', { params: { path: { childId } } })),
    allPages((cursor) =>
      unwrap(client.GET('/v1/placements', { params: { query: { childId, limit: 200, ...cursor } } })),
    ),
  ]);
  const householdIds = [...new Set(placements.map((p) => p.householdId))];
  const [households, taskLists] = await Promise.all([
    session.can('carers:read')
      ? Promise.all(
          householdIds.map((householdId) =>
            unwrap(client.GET('/v1/carer-households/{householdId}', { params: { path: { householdId } } })),
          ),
        )
      : Promise.resolve([]),
    Promise.all([
      allPages((cursor) =>
        unwrap(
          client.GET('/v1/tasks', {
            params: { query: { subjectType: 'child', subjectId: childId, limit: 200, ...cursor } },
          }),
        ),
      ),
      ...placements.map((p) =>
        allPages((cursor) =>
          unwrap(
            client.GET('/v1/tasks', {
              params: { query: { subjectType: 'placement', subjectId: p.id, limit: 200, ...cursor } },
            }),
          ),
        ),
      ),
    ]),
  ]);
  const householdName = new Map(households.map((household) => [household.id, household.name]));
  const householdLink = (householdId: string) =>
    session.can('carers:read')
      ? h('a', { href: `#/households/${householdId}` }, householdName.get(householdId) ?? 'Carer household')
      : 'A carer household';
  const placementOf = new Map(placements.map((p) => [p.id, p]));
  const about = (task: Task) => {
    const placement = task.subjectType === 'placement' ? placementOf.get(task.subjectId) : undefined;
    return placement
      ? h('span', {}, 'Placement with ', householdName.get(placement.householdId) ?? 'a carer household')
      : words(task.subjectType);
  };
  const byDue = (a: Task, b: Task) => a.dueDate.localeCompare(b.dueDate);
  const tasks = taskLists.flat();
  const open = tasks.filter((t) => t.status === 'open').sort(byDue);
  const done = tasks.filter((t) => t.status !== 'open').sort((a, b) => byDue(b, a));
  const overdue = open.filter((t) => t.overdue).length;
  const today = todayIn(place.timeZone);
  const name = child.preferredName
    ? `${child.givenName} “${child.preferredName}” ${child.familyName}`
    : `${child.givenName} ${child.familyName}`;
  const date = (iso: string | null) => (iso ? dateElement(iso, place.locale) : '');

  return {
    title: name,
    content: [
      h('p', { class: 'breadcrumb' }, h('a', { href: '#/caseload' }, 'My caseload')),
      h('h1', { id: 'page-title', tabindex: '-1' }, name),
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'Born'),
        h('dd', {}, date(child.dateOfBirth), ` (${ageOn(child.dateOfBirth, today)})`),
        h('dt', {}, 'Status'),
        h('dd', {}, words(child.status)),
        h('dt', {}, 'Sex'),
        h('dd', {}, words(child.sex)),
      ),
      h('h2', {}, 'Tasks'),
      h('p', {}, `${open.length} open, ${overdue} overdue.`),
      open.length > 0
        ? table(
            'Open tasks, soonest due first',
            ['Task', 'Due', 'About', 'State'],
            open.map((task) => [
              task.stepName ?? words(task.cycleKey),
              date(task.dueDate),
              about(task),
              task.overdue ? h('strong', { class: 'overdue' }, 'Overdue') : 'Due',
            ]),
            { rowHeader: true },
          )
        : h('p', {}, 'No open tasks.'),
      done.length > 0
        ? h(
            'details',
            {},
            h('summary', {}, `Done or cancelled (${done.length})`),
            table(
              'Done or cancelled tasks, latest first',
              ['Task', 'Was due', 'About', 'Outcome'],
              done.map((task) => [
                task.stepName ?? words(task.cycleKey),
                date(task.dueDate),
                about(task),
                task.status === 'done' ? h('span', {}, 'Done ', date(task.completedOn)) : 'Cancelled',
              ]),
              { rowHeader: true },
            ),
          )
        : h('p', {}, 'Nothing done yet.'),
      h('h2', {}, 'Placements'),
      placements.length > 0
        ? table(
            'Placements, latest first',
            ['With', 'Kind', 'From', 'To', 'Status'],
            [...placements]
              .sort((a, b) => b.startDate.localeCompare(a.startDate))
              .map((p) => [
                householdLink(p.householdId),
                words(p.kind),
                date(p.startDate),
                date(p.endDate),
                words(p.status),
              ]),
            { rowHeader: true },
          )
        : h('p', {}, 'No placements.'),
    ],
  };
};
