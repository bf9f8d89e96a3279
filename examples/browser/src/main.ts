import { HearthProblem } from '@hearth/sdk';
import { append, h } from './dom';
import { describeFailure } from './failure';
import { logOut, resume, type Session } from './session';
import './style.css';
import { caseloadView } from './views/caseload';
import { childView } from './views/child';
import { householdView } from './views/household';
import { householdsView } from './views/households';
import { loginForm } from './views/login';
import type { Rendered, View } from './views/view';

interface Route {
  path: RegExp;
  view: View;
  /** The permission the screen's first request needs: without it the screen is not offered. */
  needs: string;
  /** Screens in the navigation: their label and address (the first the user may see is the start). */
  nav?: { label: string; href: string; covers: RegExp };
}

/** The screens, by the URL's hash: the one index.html serves them all, so any static server will do. */
const routes: Route[] = [
  {
    path: /^#\/caseload$/,
    view: caseloadView,
    needs: 'children:read',
    nav: { label: 'My caseload', href: '#/caseload', covers: /^#\/(caseload|children\/)/ },
  },
  { path: /^#\/children\/([0-9a-f-]{36})$/, view: childView, needs: 'children:read' },
  {
    path: /^#\/households$/,
    view: householdsView,
    needs: 'carers:read',
    nav: { label: 'Carer households', href: '#/households', covers: /^#\/households/ },
  },
  { path: /^#\/households\/([0-9a-f-]{36})$/, view: householdView, needs: 'carers:read' },
];

function element(id: string): HTMLElement {
  const found = document.getElementById(id);
  if (!found) throw new Error(`index.html has no element #${id}`);
  return found;
}

const main = element('main');
const nav = element('nav');
const tenantName = element('tenant-name');
const status = element('status');

let session: Session | null = null;
/** Counts navigations, so a screen that finishes loading after the user moved on is dropped. */
let navigation = 0;

function home(current: Session): string {
  return routes.find((route) => route.nav && current.can(route.needs))?.nav?.href ?? '#/';
}

/** Shows the screen at `hash`: through a hashchange when the address changes, at once when it does not. */
function go(hash: string): void {
  if (location.hash === hash) void render();
  else location.hash = hash;
}

function show(rendered: Rendered): void {
  main.replaceChildren();
  append(main, ...rendered.content);
  document.title = `${rendered.title} · Hearth example`;
  // Move focus to the new heading, so a screen reader announces the screen and keyboard users start there.
  (main.querySelector<HTMLElement>('h1') ?? main).focus();
  status.textContent = '';
}

function drawHeader(): void {
  tenantName.textContent = session?.tenantName ? `· ${session.tenantName}` : '';
  if (!session) {
    nav.replaceChildren();
    return;
  }
  const current = session;
  const links = routes.flatMap(({ nav: item, needs }) =>
    item && current.can(needs)
      ? [
          h(
            'li',
            {},
            h('a', { href: item.href, 'aria-current': item.covers.test(location.hash) ? 'page' : null }, item.label),
          ),
        ]
      : [],
  );
  const out = h('button', { type: 'button', class: 'link' }, 'Log out');
  out.addEventListener('click', () => {
    // The SDK forgets the tokens before it asks the server to end the session, so an unreachable
    // server still leaves this tab logged out.
    void logOut(current)
      .catch(() => undefined)
      .finally(() => {
        session = null;
        go('#/');
      });
  });
  nav.replaceChildren(
    h('ul', {}, links),
    h('p', { class: 'who' }, `${current.me.displayName ?? current.me.email ?? ''} `, out),
  );
}

async function render(): Promise<void> {
  const ticket = ++navigation;
  drawHeader();
  if (!session) {
    show({
      title: 'Log in',
      content: [
        loginForm((loggedIn) => {
          session = loggedIn;
          // Back to where the user was going, else to the first screen their role may see.
          go(location.hash === '#/' || location.hash === '' ? home(loggedIn) : location.hash);
        }),
      ],
    });
    return;
  }
  const hash = location.hash || '#/';
  const route = routes.find((r) => r.path.test(hash));
  if (!route) {
    const target = home(session);
    if (hash === '#/' && target !== '#/') {
      go(target);
      return;
    }
    if (target === '#/') {
      show({
        title: 'Nothing to show',
        content: [
          h('h1', { tabindex: '-1' }, 'Nothing to show'),
          h(
            'p',
            {},
            'This example shows children (children:read) and carer households (carers:read); your role reads neither.',
          ),
        ],
      });
      return;
    }
    show({
      title: 'Not found',
      content: [
        h('h1', { tabindex: '-1' }, 'Not found'),
        h('p', {}, 'There is no such screen. ', h('a', { href: target }, 'Go to the start')),
      ],
    });
    return;
  }
  status.textContent = 'Loading…';
  const id = route.path.exec(hash)?.[1] ?? '';
  let rendered: Rendered;
  try {
    rendered = await route.view(session, id);
  } catch (error) {
    // A session the server no longer accepts (and could not refresh) goes back to the log-in form.
    if (error instanceof HearthProblem && error.status === 401) {
      session = null;
      if (ticket === navigation) await render();
      return;
    }
    rendered = {
      title: 'Could not load',
      content: [h('h1', { tabindex: '-1' }, 'Could not load this screen'), describeFailure(error)],
    };
  }
  if (ticket === navigation) show(rendered);
}

window.addEventListener('hashchange', () => void render());
void resume().then((resumed) => {
  session = resumed;
  return render();
});
