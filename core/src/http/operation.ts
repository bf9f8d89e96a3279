import type { Knex } from 'knex';
import type { Permission } from '../access/permissions';
import type { RateLimits } from '../auth/rateLimits';
import type { HearthConfig } from '../config';
import type { PackRegistry } from '../packs/registry';
import type { PluginRegistry } from '../plugins/host';
import type { AuditEventInput } from '../modules/audit/service';
import type { ProblemBody } from './problem';
import type { operations } from '../../../sdk/src/schema';
import type { ReceivedFile } from '../modules/documents/receive';

export interface RequestMeta {
  requestId: string;
  ip: string | null;
  userAgent: string | null;
}

export interface UserPrincipal {
  kind: 'user';
  id: string;
  tenantId: string;
  tenantSlug: string;
  platform: boolean;
  email: string;
  displayName: string;
  roles: string[];
  permissions: ReadonlySet<Permission>;
  /** `mfa_enrolment` tokens only reach the MFA enrolment operations. */
  scope: 'full' | 'mfa_enrolment';
  mfaEnabled: boolean;
}

export interface ApiKeyPrincipal {
  kind: 'api_key';
  id: string;
  tenantId: string;
  tenantSlug: string;
  platform: false;
  permissions: ReadonlySet<Permission>;
}

/**
 * A foster carer (a USA resource parent) signed in to the carer portal: a person bound to one member
 * of one household. A carer holds no staff permission whatever roles are granted to their user: they
 * reach the portal's operations only, and every portal query runs as the database role that sees
 * nothing but their household's rows.
 */
export interface CarerPrincipal {
  kind: 'carer';
  id: string;
  tenantId: string;
  tenantSlug: string;
  platform: false;
  email: string;
  displayName: string;
  householdId: string;
  memberId: string;
  /** Always empty: staff operations are closed to carers by construction. */
  permissions: ReadonlySet<Permission>;
  scope: 'full' | 'mfa_enrolment';
  mfaEnabled: boolean;
}

export type Principal = UserPrincipal | ApiKeyPrincipal | CarerPrincipal;

/** A person (staff or carer), as opposed to an API key. */
export type PersonPrincipal = UserPrincipal | CarerPrincipal;

export interface AppServices {
  config: HearthConfig;
  packs: PackRegistry;
  /** What plugins added to core's extension points, e.g. `plugins.ledgerExports.get('xero')`. */
  plugins: PluginRegistry;
  /** Counters for log-in, refresh and password reset, shared by every process on the database. */
  rateLimits: RateLimits;
}

/** How the audit trail and the records name who acted: a carer is a user (users.kind tells which kind). */
export function actorKind(principal: Principal): 'user' | 'api_key' {
  return principal.kind === 'api_key' ? 'api_key' : 'user';
}

/** The person acting, or null where the credential is an API key: what a row's `…_by` column records. */
export function actorId(ctx: { principal: Principal | null }): string | null {
  return ctx.principal && ctx.principal.kind !== 'api_key' ? ctx.principal.id : null;
}

/**
 * What every handler and domain function of a tenant's operation works in: the request's
 * transaction (scoped by RLS to `tenantId`), who is asking, and the audit trail. Domain functions
 * take this (or less) and named inputs, never a request's params, query or body.
 */
export interface TenantScope {
  trx: Knex.Transaction;
  services: AppServices;
  /** The tenant the transaction is scoped to: always the principal's. */
  tenantId: string;
  principal: Principal;
  meta: RequestMeta;
  /** Appends one audit event in this transaction, to the current tenant's chain. */
  audit(event: AuditEventInput): Promise<void>;
}

/** Any request's context: a public operation's has no principal and, until it enters one, no tenant. */
export interface OperationContext {
  trx: Knex.Transaction;
  services: AppServices;
  principal: Principal | null;
  /** The tenant the transaction is scoped to; for tenant operations, always the principal's. */
  tenantId: string | null;
  params: Record<string, string>;
  query: Record<string, unknown>;
  body: unknown;
  /** A multipart operation's file, already in the document store (see core/src/http/multipart.ts). */
  upload?: ReceivedFile;
  ifMatch: string | undefined;
  meta: RequestMeta;
  /** Appends one audit event in this transaction, to the current tenant's chain. */
  audit(event: AuditEventInput): Promise<void>;
  /**
   * Scopes the transaction to a tenant that the credential did not name: public operations
   * (log-in, password reset) find theirs from the request, tenant creation writes the new one.
   */
  enterTenant(tenantId: string): Promise<void>;
}

/** Every operation the contract declares, by operationId (the generated `operations` of sdk/src/schema.ts). */
export type OperationId = keyof operations & string;

/**
 * Query parameters the contract gives a default wherever they appear. The router's ajv fills them
 * in before a handler runs, so a handler's query has them; test/contract.test.ts holds this list to
 * the contract. (`format` has a default in some operations only, so it stays optional.)
 */
export const DEFAULTED_QUERY_PARAMETERS = [
  'limit',
  'includeDeleted',
  'includeExcluded',
  'disposition',
  'includeReleased',
] as const;
type Defaulted = (typeof DEFAULTED_QUERY_PARAMETERS)[number];

type ParametersOf<Id extends OperationId> = operations[Id] extends { parameters: infer P } ? P : never;
type WithDefaults<Q> = Q & { [K in keyof Q & Defaulted]-?: Exclude<Q[K], undefined> };
type Present<T> = [T] extends [never]
  ? Record<string, never>
  : [T] extends [undefined]
    ? Record<string, never>
    : NonNullable<T>;
type JsonOf<R> = R extends { content: { 'application/json': infer B } }
  ? B
  : R extends { content: { 'multipart/form-data': infer M } }
    ? Omit<M, 'file'>
    : undefined;
/** A multipart operation's file, as stored before its handler runs; `undefined` for every other operation. */
export type UploadOf<Id extends OperationId> = operations[Id] extends {
  requestBody: { content: { 'multipart/form-data': unknown } };
}
  ? ReceivedFile
  : undefined;

/** An operation's query, as validated against the contract, with its defaults filled in. */
export type QueryOf<Id extends OperationId> = WithDefaults<
  Present<ParametersOf<Id> extends { query?: infer Q } ? Q : never>
>;
/** An operation's path parameters, as validated against the contract. */
export type ParamsOf<Id extends OperationId> = Present<ParametersOf<Id> extends { path?: infer P } ? P : never>;
/** An operation's JSON body, as validated against the contract; `undefined` where it takes none, or where sending one is optional. */
export type BodyOf<Id extends OperationId> = operations[Id] extends { requestBody: infer R }
  ? JsonOf<R>
  : operations[Id] extends { requestBody?: infer R }
    ? JsonOf<R> | undefined
    : undefined;

/** A tenant operation's context: its inputs typed from the contract, its tenant and principal certain. */
export interface TenantContext<Id extends OperationId> extends TenantScope {
  params: ParamsOf<Id>;
  query: QueryOf<Id>;
  /** For a multipart operation, its text parts as validated against the contract. */
  body: BodyOf<Id>;
  upload: UploadOf<Id>;
  ifMatch: string | undefined;
  enterTenant(tenantId: string): Promise<void>;
}

/** A public operation's context: its inputs typed, no principal, a tenant only once it enters one. */
export interface PublicContext<Id extends OperationId> extends Omit<OperationContext, 'params' | 'query' | 'body'> {
  params: ParamsOf<Id>;
  query: QueryOf<Id>;
  body: BodyOf<Id>;
}

export interface CsvResult {
  filename: string;
  columns: string[];
  rows: AsyncIterable<unknown[]>;
}

/** A document answered as it is (HTML, PDF), not as JSON. */
export interface RawResult {
  contentType: string;
  body: string | Buffer;
  filename: string;
}

/** Bytes streamed from the document store once the transaction has committed (a download). */
export interface StreamResult {
  open(): Promise<import('node:stream').Readable>;
  contentType: string;
  contentLength: number;
  /** The Content-Disposition header, whole. */
  disposition: string;
}

export interface OperationResult {
  status: number;
  body?: unknown;
  raw?: RawResult;
  stream?: StreamResult;
  headers?: Record<string, string>;
  contentType?: string;
  csv?: CsvResult;
  /**
   * A failure that must still commit (a failed log-in records the failure and its audit event);
   * thrown Problems roll back instead.
   */
  problem?: ProblemBody;
  /** What a replay of this response shows, where the first response held a secret shown only once. */
  replayBody?: unknown;
  /** A write operation that, this time, changed nothing (so it has no audit event to append). */
  noWrite?: boolean;
}

/** What a route declares beside its handler: the permission it needs, or who may call it otherwise. */
export type Access = TenantAccess | PublicAccess;
export type TenantAccess =
  | { permission: Permission }
  /** Any authenticated principal of the tenant, carers included (reading who you are, your own password and inbox). */
  | { authenticated: true; allowMfaEnrolmentScope?: boolean; usersOnly?: boolean }
  /** The carer portal: carers only, each fenced to their own household. */
  | { carer: true };
export type PublicAccess = { public: true };

export interface OperationDefinition {
  access: Access;
  handle(ctx: OperationContext): Promise<OperationResult>;
}

export type OperationMap = Record<string, OperationDefinition>;

/** A handler as a module writes it: typed by its operationId. */
export type TypedOperation<Id extends OperationId> =
  | { access: TenantAccess; handle(ctx: TenantContext<Id>): Promise<OperationResult> }
  | { access: PublicAccess; handle(ctx: PublicContext<Id>): Promise<OperationResult> };

/**
 * A module's handlers, each typed by its operationId: a name the contract lacks does not compile,
 * and each handler's params, query and body are the contract's. The router checks the access before
 * a handler runs, so a tenant operation's context has its tenant and principal (see router.ts).
 */
export function defineOperations(handlers: { [Id in OperationId]?: TypedOperation<Id> }): OperationMap {
  return handlers as OperationMap;
}
