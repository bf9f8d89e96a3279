import type { Knex } from 'knex';
import type { Permission } from '../access/permissions';
import type { RateLimits } from '../auth/rateLimits';
import type { HearthConfig } from '../config';
import type { PackRegistry } from '../packs/registry';
import type { PluginRegistry } from '../plugins/host';
import type { AuditEventInput } from '../modules/audit/service';
import type { ProblemBody } from './problem';

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

export type Principal = UserPrincipal | ApiKeyPrincipal;

export interface AppServices {
  config: HearthConfig;
  packs: PackRegistry;
  /** What plugins added to core's extension points, e.g. `plugins.ledgerExports.get('xero')`. */
  plugins: PluginRegistry;
  /** Counters for log-in, refresh and password reset, shared by every process on the database. */
  rateLimits: RateLimits;
}

/** The person acting, or null where the credential is an API key: what a row's `…_by` column records. */
export function actorId(ctx: { principal: Principal | null }): string | null {
  return ctx.principal?.kind === 'user' ? ctx.principal.id : null;
}

export interface OperationContext {
  trx: Knex.Transaction;
  services: AppServices;
  principal: Principal | null;
  /** The tenant the transaction is scoped to; for tenant operations, always the principal's. */
  tenantId: string | null;
  params: Record<string, string>;
  query: Record<string, unknown>;
  body: unknown;
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

export interface OperationResult {
  status: number;
  body?: unknown;
  raw?: RawResult;
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
export type Access =
  | { permission: Permission }
  /** Any authenticated principal of the tenant (e.g. reading who you are). */
  | { authenticated: true; allowMfaEnrolmentScope?: boolean; usersOnly?: boolean }
  | { public: true };

export interface OperationDefinition {
  access: Access;
  handle(ctx: OperationContext): Promise<OperationResult>;
}

export type OperationMap = Record<string, OperationDefinition>;
