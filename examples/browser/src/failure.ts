import { HearthProblem } from '@hearth/sdk';
import { HEARTH_URL } from './config';
import { h } from './dom';

/**
 * What went wrong, in the words the API chose. A problem answer (RFC 9457) shows its title, its
 * detail and each offending field; a request that got no answer at all is, in a browser, either
 * Hearth not running or Hearth not allowing this page's origin, and the browser does not say which.
 */
export function describeFailure(error: unknown): HTMLElement {
  if (error instanceof HearthProblem) {
    return h(
      'div',
      { class: 'problem', role: 'alert' },
      h('p', {}, h('strong', {}, error.title)),
      error.detail && error.detail !== error.title ? h('p', {}, error.detail) : null,
      error.errors.length > 0
        ? h(
            'ul',
            {},
            error.errors.map((field) => h('li', {}, h('code', {}, field.pointer), `: ${field.message}`)),
          )
        : null,
      h('p', { class: 'problem-type' }, `${error.status} `, h('code', {}, error.type)),
    );
  }
  // What fetch throws when no answer reached the page: Chromium, Firefox and Safari word it differently.
  if (error instanceof TypeError && /Failed to fetch|NetworkError|Load failed/.test(error.message)) {
    return h(
      'div',
      { class: 'problem', role: 'alert' },
      h('p', {}, h('strong', {}, `Hearth did not answer at ${HEARTH_URL}.`)),
      h(
        'p',
        {},
        `Is it running there, and does its HEARTH_CORS_ORIGINS setting list this page's origin (${window.location.origin})?`,
      ),
    );
  }
  return h(
    'div',
    { class: 'problem', role: 'alert' },
    h('p', {}, h('strong', {}, 'Something went wrong.')),
    h('p', {}, String(error)),
  );
}
