import type { Knex } from 'knex';
import type { operations } from '../../../sdk/src/schema';
import { loadPrincipal } from '../auth/principal';
import { newOpaqueToken } from '../auth/tokens';
import { applyScope } from '../db/tenantTransaction';
import type { Contract } from '../http/contract';
import type { AppServices, OperationContext, OperationMap } from '../http/operation';
import { Problem } from '../http/problem';
import { checkAccess } from '../http/router';
import { newId } from '../ids';
import { appendAuditEvent } from '../modules/audit/service';

type OperationId = keyof operations;
type Json<T> = T extends { content: { 'application/json': infer B } } ? B : undefined;
type Success<Op extends OperationId> = operations[Op]['responses'][Extract<
  keyof operations[Op]['responses'],
  200 | 201 | 202 | 204
>];

/** What an operation takes, typed by the contract: the same names and shapes as the SDK's. */
export interface Request<Op extends OperationId> {
  params?: operations[Op]['parameters'] extends { path?: infer P } ? P : never;
  query?: operations[Op]['parameters'] extends { query?: infer Q } ? Q : never;
  body?: operations[Op] extends { requestBody?: infer B } ? Json<NonNullable<B>> : never;
  /** The version being changed, for operations that need If-Match. */
  version?: number;
}

/** Who acts: a user of a tenant, who must hold the operation's permission (tenant operations only). */
export interface Actor {
  tenantId: string;
  userId: string;
}

export interface InProcessApi {
  call<Op extends OperationId>(as: Actor, operationId: Op, request?: Request<Op>): Promise<Json<Success<Op>>>;
}

/**
 * The API's own handlers, called in-process as a named user: the request checked against the
 * contract, the principal read afresh, the permission checked, the handler run in one transaction
 * scoped to the user's tenant, and its audit event appended in that transaction as that user's act,
 * as the router does for an HTTP request. The demo seed drives the domain this way, so what it
 * leaves is exactly what the API would have made, events, tasks and audit trail included.
 */
export function inProcessApi(deps: {
  db: Knex;
  services: AppServices;
  contract: Contract;
  operations: OperationMap;
}): InProcessApi {
  // Each actor acts within a session of its own, as after a log-in: the principal is confirmed against it.
  const sessions = new Map<string, string>();
  return {
    async call<Op extends OperationId>(as: Actor, operationId: Op, request: Request<Op> = {}) {
      // Each call is a request of its own in the audit trail, marked as the seed's.
      const requestId = `demo-seed-${newId()}`;
      const op = deps.contract.byId.get(operationId);
      const definition = deps.operations[operationId];
      if (!op || !definition) throw new Error(`No operation ${operationId} in the contract`);
      if (op.tenancy !== 'tenant')
        throw new Error(`${operationId} is a ${op.tenancy} operation: the seed calls a tenant's operations only`);
      const ifMatch = request.version === undefined ? undefined : `"${request.version}"`;
      const input = {
        path: { ...(request.params ?? {}) } as Record<string, unknown>,
        query: { ...(request.query ?? {}) } as Record<string, unknown>,
        header: ifMatch ? { 'if-match': ifMatch } : {},
      };
      const errors = [
        ...op.validateParams(input),
        ...(op.validateBody && (request.body !== undefined || op.bodyRequired) ? op.validateBody(request.body) : []),
      ];
      if (errors.length)
        throw new Error(`${operationId}: the seed's request does not meet the contract: ${JSON.stringify(errors)}`);
      const result = await deps.db
        .transaction(async (trx) => {
          await applyScope(trx, { tenantId: as.tenantId, platform: false });
          const user = (await trx('users')
            .where({ tenant_id: as.tenantId, id: as.userId })
            .first('session_generation')) as { session_generation: number } | undefined;
          if (!user) throw new Error(`${operationId}: no user ${as.userId} in the tenant`);
          let sessionId = sessions.get(as.userId);
          if (!sessionId) {
            sessionId = newId();
            // The session's refresh token is made and thrown away: the seed's session can never be refreshed.
            await trx('refresh_tokens').insert({
              tenant_id: as.tenantId,
              id: newId(),
              user_id: as.userId,
              family_id: sessionId,
              token_hash: newOpaqueToken('rt', as.tenantId).hash,
              scope: 'full',
              expires_at: new Date(Date.now() + 60_000),
            });
            sessions.set(as.userId, sessionId);
          }
          const principal = await loadPrincipal(trx, {
            kind: 'user',
            userId: as.userId,
            tenantId: as.tenantId,
            sessionId,
            scope: 'full',
            generation: user.session_generation,
          });
          checkAccess(definition, principal);
          let audited = 0;
          const ctx: OperationContext = {
            trx,
            services: deps.services,
            principal,
            tenantId: as.tenantId,
            params: input.path as Record<string, string>,
            query: input.query,
            body: request.body,
            ifMatch,
            meta: { requestId, ip: null, userAgent: 'hearth demo seed' },
            audit: async (event) => {
              audited++;
              await appendAuditEvent(
                trx,
                as.tenantId,
                { actorType: 'user', actorId: principal.id, ip: null, userAgent: 'hearth demo seed', requestId },
                event,
              );
            },
            enterTenant: () => Promise.reject(new Error('the demo seed acts within one tenant')),
          };
          const outcome = await definition.handle(ctx);
          if (outcome.problem)
            throw new Error(
              `${operationId}: ${outcome.problem.status} ${outcome.problem.detail ?? outcome.problem.title}`,
            );
          if (op.writes && outcome.status < 300 && audited === 0 && !outcome.noWrite)
            throw new Error(`${operationId} succeeded without appending an audit event`);
          return outcome;
        })
        .catch((error: unknown) => {
          // A refusal is a fault in the seed: say which step and why.
          throw error instanceof Problem
            ? new Error(`${operationId}: ${error.status} ${error.message}`, { cause: error })
            : error;
        });
      return result.body as Json<Success<Op>>;
    },
  };
}
