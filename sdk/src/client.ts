import createClient, { type Client, type Middleware } from 'openapi-fetch';
import type { components, paths } from './schema.js';

export type Problem = components['schemas']['Problem'];
export type FieldError = NonNullable<Problem['errors']>[number];
export type TokenPair = components['schemas']['TokenPair'];
export type LoginRequest = components['schemas']['LoginRequest'];

/** The problem type the server answers for an expired or revoked credential: the only 401 a refresh can cure. */
const INVALID_TOKEN = 'https://hearth.dev/problems/invalid-token';

/** True when `value` has the shape of an RFC 9457 problem body (what `error` holds after a failed call). */
export function isProblem(value: unknown): value is Problem {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v['type'] === 'string' && typeof v['title'] === 'string' && typeof v['status'] === 'number';
}

/** A failed call as an Error, for code that prefers throwing to checking `error` (see `unwrap`). */
export class HearthProblem extends Error {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string | undefined;
  /** Every offending field, as a JSON pointer into the request (`/body/dateOfBirth`); empty when none. */
  readonly errors: FieldError[];
  /** The whole body, extensions included (`lockedUntil`, `currentETag`, `requestId`...). */
  readonly problem: Problem;
  readonly response: Response | undefined;

  constructor(problem: Problem, response?: Response) {
    super(problem.detail ?? problem.title);
    this.name = 'HearthProblem';
    this.type = problem.type;
    this.title = problem.title;
    this.status = problem.status;
    this.detail = problem.detail;
    this.errors = problem.errors ?? [];
    this.problem = problem;
    this.response = response;
  }

  /** Wraps whatever a failed call returned; a body that is not a problem (a proxy's HTML page) keeps the HTTP status. */
  static from(error: unknown, response: Response): HearthProblem {
    if (isProblem(error)) return new HearthProblem(error, response);
    return new HearthProblem(
      {
        type: 'about:blank',
        title: response.statusText || `HTTP ${response.status}`,
        status: response.status,
        ...(typeof error === 'string' && error ? { detail: error.slice(0, 500) } : {}),
      },
      response,
    );
  }
}

/** The result of an openapi-fetch call, in the loose shape `unwrap` needs. */
interface CallResult<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** Returns a call's data, or throws a `HearthProblem`: `const child = await unwrap(client.GET(...))`. */
export async function unwrap<T>(call: CallResult<T> | Promise<CallResult<T>>): Promise<Exclude<T, undefined>> {
  const { data, error, response } = await call;
  if (!response.ok) throw HearthProblem.from(error, response);
  return data as Exclude<T, undefined>;
}

/**
 * The `If-Match` header for an update, from an ETag or from the response that carried it:
 * `params: { path: { childId }, header: ifMatch(read.response) }`.
 */
export function ifMatch(source: string | Response): { 'If-Match': string } {
  const etag = typeof source === 'string' ? source : source.headers.get('ETag');
  // Browsers only show ETag when the server exposes it (HEARTH_CORS_ORIGINS does), so say why it is missing.
  if (!etag) throw new Error('The response has no ETag header (a cross-origin caller needs it exposed by CORS)');
  return { 'If-Match': etag };
}

// Each optional option also takes `undefined`, so a caller compiled with exactOptionalPropertyTypes
// can pass a value that may be missing (`apiKey: process.env.HEARTH_API_KEY`) as if it were absent.
export interface HearthClientOptions {
  /** Where Hearth answers, e.g. `http://127.0.0.1:3000` (no `/v1`: paths carry it). */
  baseUrl: string;
  /** An integrator's key, sent as `X-API-Key` on every call. The server prefers it to a bearer token. */
  apiKey?: string | undefined;
  /** A fetch to use instead of the global one (tests, proxies, instrumentation). */
  fetch?: ((request: Request) => Promise<Response>) | undefined;
  /** Tokens saved from an earlier session, to resume it without logging in again. */
  tokens?: TokenPair | undefined;
  /** Called whenever the tokens change (log-in, refresh, log-out, a refused refresh), so an app can persist them. */
  onTokens?: ((tokens: TokenPair | null) => void) | undefined;
}

export interface HearthClient extends Client<paths> {
  /** Logs in; later calls carry the access token. Throws `HearthProblem` (`mfa-required`, `invalid-credentials`, `account-locked`...). */
  login(credentials: LoginRequest): Promise<TokenPair>;
  /** Ends the session on the server (its whole refresh-token family) and forgets the tokens. */
  logout(): Promise<void>;
  /** The tokens held now, or null. */
  tokens(): TokenPair | null;
}

export function createHearthClient(options: HearthClientOptions): HearthClient {
  // Late-bound, so a fetch replaced after construction is used, and never called detached from its global.
  const send = options.fetch ?? ((request: Request) => globalThis.fetch(request));
  const client = createClient<paths>({
    baseUrl: options.baseUrl,
    fetch: send,
    ...(options.apiKey ? { headers: { 'X-API-Key': options.apiKey } } : {}),
  });
  // Log-in, refresh and log-out go through a client without the middleware: they must never carry or refresh a token.
  const auth = createClient<paths>({ baseUrl: options.baseUrl, fetch: send });

  let held: TokenPair | null = options.tokens ?? null;
  const setTokens = (tokens: TokenPair | null) => {
    held = tokens;
    options.onTokens?.(tokens);
  };

  // One refresh at a time: refresh tokens rotate and a reused one revokes the whole session, so
  // concurrent 401s must share a single exchange rather than each spending the same token.
  let refreshing: Promise<boolean> | null = null;
  const refresh = (): Promise<boolean> => {
    refreshing ??= (async () => {
      const spent = held?.refreshToken;
      if (!spent) return false;
      const { data, response } = await auth.POST('/v1/auth/token/refresh', { body: { refreshToken: spent } });
      if (data) {
        setTokens(data);
        return true;
      }
      // A refused refresh ends the session, unless a log-in replaced the tokens meanwhile.
      if (response.status === 401 && held?.refreshToken === spent) setTokens(null);
      return false;
    })().finally(() => {
      refreshing = null;
    });
    return refreshing;
  };

  // The requests this client authorised, by openapi-fetch's request id, with a copy of each body:
  // fetch consumes a body, and a resend after a refresh needs it again.
  const authorised = new Map<string, ArrayBuffer | undefined>();

  const bearer: Middleware = {
    async onRequest({ request, id }) {
      // A caller's own Authorization wins, and with an API key the server ignores a bearer token.
      if (!held || options.apiKey || request.headers.has('Authorization')) return undefined;
      request.headers.set('Authorization', `Bearer ${held.accessToken}`);
      authorised.set(id, request.body ? await request.clone().arrayBuffer() : undefined);
      return request;
    },
    async onResponse({ request, response, id }) {
      const authorisedHere = authorised.has(id);
      const body = authorised.get(id);
      authorised.delete(id);
      if (!authorisedHere || response.status !== 401) return undefined;
      const problem: unknown = await response
        .clone()
        .json()
        .catch(() => null);
      if (!isProblem(problem) || problem.type !== INVALID_TOKEN) return undefined;
      // Refresh unless another request already did while this one was in flight; then just resend.
      if (request.headers.get('Authorization') === `Bearer ${held?.accessToken}` && !(await refresh()))
        return undefined;
      if (!held) return undefined;
      // The 401 is replaced: release its body (undici holds the connection until a body is read or cancelled).
      await response.body?.cancel();
      // Rebuilt from the request as finally sent, so headers other middleware added survive; once only.
      const again = new Request(request, body === undefined ? {} : { body });
      again.headers.set('Authorization', `Bearer ${held.accessToken}`);
      return send(again);
    },
    onError({ id }) {
      authorised.delete(id);
      return undefined;
    },
  };
  client.use(bearer);

  return Object.assign(client, {
    async login(credentials: LoginRequest): Promise<TokenPair> {
      const tokens = await unwrap(auth.POST('/v1/auth/login', { body: credentials }));
      setTokens(tokens);
      return tokens;
    },
    async logout(): Promise<void> {
      const refreshToken = held?.refreshToken;
      setTokens(null);
      if (refreshToken) await unwrap(auth.POST('/v1/auth/logout', { body: { refreshToken } }));
    },
    tokens: () => held,
  });
}
