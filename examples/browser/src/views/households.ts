import { unwrap, type Schema } from '@hearth/sdk';
import { h } from '../dom';
import { describeFailure } from '../failure';
import { words } from '../format';
import type { View } from './view';

type Household = Schema<'CarerHousehold'>;

const PAGE = 50;

/** The tenant's carer households, a page at a time, with a search by name. */
export const householdsView: View = async (session) => {
  const { client } = session;
  const title = 'Carer households';
  const rows = h('tbody', {});
  const more = h('button', { type: 'button', hidden: true }, 'Show more');
  const failure = h('div', {});
  const count = h('p', { role: 'status' });
  let shown = 0;
  let cursor: string | null = null;
  let query = '';

  const row = (household: Household) =>
    h(
      'tr',
      {},
      h('th', { scope: 'row' }, h('a', { href: `#/households/${household.id}` }, household.name)),
      h('td', {}, words(household.approvalState)),
      h('td', {}, household.region ? words(household.region) : ''),
      h('td', {}, words(household.status)),
    );

  const load = async (fresh: boolean) => {
    if (fresh) {
      rows.replaceChildren();
      shown = 0;
      cursor = null;
    }
    const page = await unwrap(
      client.GET('/v1/carer-households', {
        params: { query: { limit: PAGE, ...(query ? { q: query } : {}), ...(cursor ? { cursor } : {}) } },
      }),
    );
    rows.append(...page.data.map(row));
    shown += page.data.length;
    cursor = page.nextCursor ?? null;
    more.hidden = cursor === null;
    count.textContent = `${shown} ${shown === 1 ? 'household' : 'households'}${cursor ? ' so far' : ''}${query ? ` matching “${query}”` : ''}.`;
  };
  const guarded = (fresh: boolean) => {
    failure.replaceChildren();
    load(fresh).catch((error: unknown) => failure.replaceChildren(describeFailure(error)));
  };
  more.addEventListener('click', () => guarded(false));

  const search = h('input', { id: 'household-search', type: 'search', name: 'q', maxlength: '100' });
  const form = h(
    'form',
    {
      role: 'search',
      onsubmit: (event: Event) => {
        event.preventDefault();
        query = search.value.trim();
        guarded(true);
      },
    },
    h('label', { for: 'household-search' }, 'Find a household by name '),
    search,
    ' ',
    h('button', { type: 'submit' }, 'Search'),
  );

  await load(true);
  const list = h(
    'table',
    {},
    h('caption', {}, 'Carer households'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Household', 'Approval', 'Region', 'Status'].map((column) => h('th', { scope: 'col' }, column)),
      ),
    ),
    rows,
  );
  return {
    title,
    content: [h('h1', { id: 'page-title', tabindex: '-1' }, title), form, count, list, h('p', {}, more), failure],
  };
};
