import {
  createHearthClient,
  unwrap,
  type HearthClient,
  type LoginRequest,
  type Schema,
  type TokenPair,
} from '@hearth/sdk';
import { HEARTH_URL } from './config';
import { placeOf, type Place } from './format';

/** Who is logged in, on which tenant, with the client that calls as them. */
export interface Session {
  client: HearthClient;
  me: Schema<'Principal'>;
  /** The tenant's name; null when the user may not read the tenant's settings. */
  tenantName: string | null;
  place: Place;
  can(permission: string): boolean;
}

/**
 * Tokens live in sessionStorage: a reload keeps the session, closing the tab ends it. Anything a
 * script on this origin runs can read them there, so the page loads scripts from itself alone (see
 * the Content-Security-Policy in index.html) and builds its DOM without parsing data as HTML.
 */
const TOKENS_KEY = 'hearth-example.tokens';

function savedTokens(): TokenPair | undefined {
  const saved = sessionStorage.getItem(TOKENS_KEY);
  return saved ? (JSON.parse(saved) as TokenPair) : undefined;
}

function newClient(tokens?: TokenPair): HearthClient {
  return createHearthClient({
    baseUrl: HEARTH_URL,
    tokens,
    // The SDK refreshes an expired access token by itself; each new pair is kept for the next reload.
    onTokens: (pair) =>
      pair ? sessionStorage.setItem(TOKENS_KEY, JSON.stringify(pair)) : sessionStorage.removeItem(TOKENS_KEY),
  });
}

async function open(client: HearthClient): Promise<Session> {
  const me = await unwrap(client.GET('/v1/auth/me'));
  const permissions = new Set(me.permissions);
  // The tenant's currency and time zone decide how amounts and dates read; a role without
  // tenant:read gets the browser's locale and amounts in each record's own currency.
  const tenant = permissions.has('tenant:read') ? await unwrap(client.GET('/v1/tenant')) : null;
  const place = tenant
    ? placeOf(tenant)
    : {
        locale: navigator.language,
        currency: 'GBP' as const,
        timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
      };
  return { client, me, tenantName: tenant?.name ?? null, place, can: (permission) => permissions.has(permission) };
}

/** The session this tab had before a reload, if its tokens still work. */
export async function resume(): Promise<Session | null> {
  const tokens = savedTokens();
  if (!tokens) return null;
  const client = newClient(tokens);
  try {
    return await open(client);
  } catch {
    sessionStorage.removeItem(TOKENS_KEY);
    return null;
  }
}

/** Logs in; throws the API's problem (invalid-credentials, mfa-required, account-locked...) as a HearthProblem. */
export async function logIn(credentials: LoginRequest): Promise<Session> {
  const client = newClient();
  await client.login(credentials);
  return open(client);
}

export async function logOut(session: Session): Promise<void> {
  try {
    await session.client.logout();
  } finally {
    sessionStorage.removeItem(TOKENS_KEY);
  }
}
