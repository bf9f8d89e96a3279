import { HearthProblem, type LoginRequest } from '@hearth/sdk';
import { HEARTH_URL } from '../config';
import { h } from '../dom';
import { describeFailure } from '../failure';
import { logIn, type Session } from '../session';

const MFA_REQUIRED = 'https://hearth.dev/problems/mfa-required';
const LAST_TENANT_KEY = 'hearth-example.tenant';

/** The log-in form: tenant, email and password, and a TOTP code once the API asks for one. */
export function loginForm(onLoggedIn: (session: Session) => void): HTMLElement {
  const field = (label: string, input: HTMLInputElement, hint?: string) => {
    const hintId = hint ? `${input.id}-hint` : null;
    if (hintId) input.setAttribute('aria-describedby', hintId);
    return h(
      'p',
      { class: 'field' },
      h('label', { for: input.id }, label),
      hintId ? h('span', { id: hintId, class: 'hint' }, hint) : null,
      input,
    );
  };
  const tenant = h('input', {
    id: 'tenant',
    name: 'tenant',
    required: true,
    autocomplete: 'organization',
    spellcheck: 'false',
    value: localStorage.getItem(LAST_TENANT_KEY) ?? '',
  });
  const email = h('input', { id: 'email', name: 'email', type: 'email', required: true, autocomplete: 'username' });
  const password = h('input', {
    id: 'password',
    name: 'password',
    type: 'password',
    required: true,
    autocomplete: 'current-password',
  });
  const totp = h('input', {
    id: 'totp',
    name: 'totp',
    inputmode: 'numeric',
    autocomplete: 'one-time-code',
    pattern: '[0-9]{6}',
  });
  const totpField = field('Code from your authenticator app', totp);
  totpField.hidden = true;
  const failure = h('div', { class: 'failure' });
  const submit = h('button', { type: 'submit' }, 'Log in');

  const form = h(
    'form',
    {
      'aria-labelledby': 'page-title',
      novalidate: false,
      onsubmit: (event: Event) => {
        event.preventDefault();
        const credentials: LoginRequest = {
          tenant: tenant.value.trim(),
          email: email.value.trim(),
          password: password.value,
        };
        if (!totpField.hidden && totp.value) credentials.totpCode = totp.value;
        submit.disabled = true;
        failure.replaceChildren(h('p', { role: 'status' }, 'Logging in…'));
        logIn(credentials)
          .then((session) => {
            localStorage.setItem(LAST_TENANT_KEY, credentials.tenant);
            onLoggedIn(session);
          })
          .catch((error: unknown) => {
            if (error instanceof HearthProblem && error.type === MFA_REQUIRED) {
              totpField.hidden = false;
              totp.required = true;
            }
            failure.replaceChildren(describeFailure(error));
            password.focus();
          })
          .finally(() => (submit.disabled = false));
      },
    },
    field('Tenant', tenant, 'Your service’s short name, e.g. demo-uk'),
    field('Email', email),
    field('Password', password),
    totpField,
    failure,
    h('p', {}, submit),
  );
  return h(
    'section',
    {},
    h('h1', { id: 'page-title', tabindex: '-1' }, 'Log in to Hearth'),
    h('p', { class: 'hint' }, `Hearth at ${HEARTH_URL}`),
    form,
  );
}
