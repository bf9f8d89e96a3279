import type { Knex } from 'knex';
import express, { type Request, type Response } from 'express';
import type passport from 'passport';
import type { Logger } from 'pino';
import type { Database } from '../db/database';
import { confirmOpening, openingOf, type Opening } from '../db/pipeline';
import { applyScope, credentialPortal, scopeStatement, switchTenant } from '../db/tenantTransaction';
import { authenticate, type Credential } from '../auth/passport';
import { loadPrincipal, principalFrom, principalStatement, touchApiKey } from '../auth/principal';
import { PrincipalCache, samePrincipal, StalePrincipal } from '../auth/principalCache';
import { appendAuditEvent, type AuditActor } from '../modules/audit/service';
import type { Contract, ContractOperation } from './contract';
import { streamCsv } from './csv';
import { claimIdempotencyKey, requestFingerprint, storeIdempotentResponse } from './idempotency';
import type {
  AppServices,
  OperationContext,
  OperationDefinition,
  OperationMap,
  OperationResult,
  Principal,
  RequestMeta,
} from './operation';
import { actorKind } from './operation';
import { Problem, type FieldError } from './problem';
import { problemFromError } from './errors';
import { NotAdmitted, type AdmissionGate } from './admission';
import { readMultipart } from './multipart';
import { discardReceived, receiveDocumentFile, type ReceivedFile } from '../modules/documents/receive';
import { uploadLimit } from '../modules/documents/settings';
import { pipeline } from 'node:stream/promises';

export interface ApiRouterDeps {
  db: Database;
  contract: Contract;
  operations: OperationMap;
  services: AppServices;
  authenticator: passport.Authenticator;
  logger: Logger;
  admission: AdmissionGate;
}

/** The contract and the handlers must match exactly: a route without a handler, or a handler without a route, stops start-up. */
export function checkOperationsMatchContract(contract: Contract, operations: OperationMap): void {
  const routed = contract.operations.filter((o) => o.tenancy !== 'system').map((o) => o.operationId);
  const missing = routed.filter((id) => !operations[id]);
  const extra = Object.keys(operations).filter((id) => !routed.includes(id));
  if (missing.length || extra.length) {
    throw new Error(
      `The handlers do not match openapi/hearth.yaml.` +
        (missing.length ? ` No handler for: ${missing.join(', ')}.` : '') +
        (extra.length ? ` Handlers for operations the contract lacks: ${extra.join(', ')}.` : ''),
    );
  }
}

function requestMeta(req: Request): RequestMeta {
  const userAgent = req.headers['user-agent'];
  return {
    requestId: String(req.id),
    ip: req.ip ?? null,
    userAgent: typeof userAgent === 'string' ? userAgent.slice(0, 500) : null,
  };
}

function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/** Steps that need no database: media type, If-Match presence, and the contract's schemas. */
function validateRequest(
  op: ContractOperation,
  req: Request,
): { path: Record<string, string>; query: Record<string, unknown>; body: unknown } {
  if (op.multipart) {
    if (!req.is('multipart/form-data'))
      throw new Problem('unsupportedMediaType', 'Send the body as multipart/form-data, the file as its last part');
  } else if (op.hasBody) {
    if (hasBody(req) && !req.is('application/json'))
      throw new Problem('unsupportedMediaType', 'Send the body as application/json');
  } else if (hasBody(req)) {
    throw Problem.validation([{ pointer: '/body', message: 'this operation takes no body' }]);
  }
  if (op.requiresIfMatch && req.headers['if-match'] === undefined) {
    throw new Problem('preconditionRequired', 'Send If-Match with the ETag you read');
  }
  const header: Record<string, unknown> = {};
  for (const p of op.parameters)
    if (p.in === 'header') {
      const value = req.headers[p.name.toLowerCase()];
      if (value !== undefined) header[p.name.toLowerCase()] = value;
    }
  const input = {
    path: { ...req.params } as Record<string, unknown>,
    query: { ...(req.query as Record<string, unknown>) },
    header,
  };
  const errors: FieldError[] = op.validateParams(input);
  let body: unknown = undefined;
  // A multipart body is read after authentication, as it streams to the store (receiveUpload).
  if (op.validateBody && !op.multipart) {
    body = hasBody(req) ? req.body : undefined;
    if (body !== undefined || op.bodyRequired) errors.push(...op.validateBody(body === undefined ? undefined : body));
  }
  if (errors.length) throw Problem.validation(errors);
  return { path: input.path as Record<string, string>, query: input.query, body };
}

function actorOf(principal: Principal | null, meta: RequestMeta): AuditActor {
  return {
    actorType: principal ? actorKind(principal) : 'anonymous',
    actorId: principal?.id ?? null,
    ip: meta.ip,
    userAgent: meta.userAgent,
    requestId: meta.requestId,
  };
}

export function checkAccess(definition: OperationDefinition, principal: Principal | null): void {
  const access = definition.access;
  if ('public' in access) return;
  if (!principal) throw new Problem('unauthorized', 'Send a bearer token or an API key');
  const enrolmentOnly = principal.kind !== 'api_key' && principal.scope === 'mfa_enrolment';
  if ('carer' in access) {
    if (principal.kind !== 'carer')
      throw new Problem(
        'portalCarersOnly',
        'The carer portal is for carers signed in to it; staff use the staff operations',
      );
    if (enrolmentOnly)
      throw new Problem('mfaEnrolmentRequired', 'Your role requires MFA: enrol a TOTP authenticator first');
    return;
  }
  // Least privilege by construction: whatever roles a carer's user is given, staff operations stay closed.
  if (principal.kind === 'carer' && !('authenticated' in access))
    throw new Problem('portalStaffOnly', "Carers reach Hearth through the carer portal's operations (/v1/portal)");
  if ('authenticated' in access) {
    if (access.usersOnly && principal.kind === 'api_key')
      throw new Problem('forbidden', 'Only a person can do this, not an API key');
    if (enrolmentOnly && !access.allowMfaEnrolmentScope)
      throw new Problem('mfaEnrolmentRequired', 'Your role requires MFA: enrol a TOTP authenticator first');
    return;
  }
  if (enrolmentOnly)
    throw new Problem('mfaEnrolmentRequired', 'Your role requires MFA: enrol a TOTP authenticator first');
  if (!principal.permissions.has(access.permission))
    throw new Problem('forbidden', `This needs the permission ${access.permission}`);
}

function sendResult(res: Response, result: OperationResult, replayed: boolean): void {
  for (const [name, value] of Object.entries(result.headers ?? {})) res.setHeader(name, value);
  if (replayed) res.setHeader('Idempotent-Replayed', 'true');
  if (result.problem) {
    res
      .status(result.problem.status)
      .type('application/problem+json')
      .json({ ...result.problem, instance: res.req.originalUrl, requestId: String(res.req.id) });
  } else if (result.stream) {
    // Only reached once committed: the download's log row and audit event are kept.
    res
      .status(result.status)
      .type(result.stream.contentType)
      .setHeader('Content-Length', String(result.stream.contentLength))
      .setHeader('Content-Disposition', result.stream.disposition);
    void result.stream
      .open()
      .then((body) => pipeline(body, res))
      .catch((error: unknown) => {
        res.req.log.error({ err: error }, 'document download failed after commit');
        res.destroy(error instanceof Error ? error : undefined);
      });
  } else if (result.raw) {
    res
      .status(result.status)
      .type(result.raw.contentType)
      .setHeader('Content-Disposition', `inline; filename="${result.raw.filename}"`);
    res.send(result.raw.body);
  } else if (result.body === undefined) {
    res.status(result.status).end();
  } else {
    // One string for headers and body: Node sends them in one write (a Buffer body would go as a writev of two).
    const text = JSON.stringify(result.body);
    res.status(result.status).setHeader('Content-Type', `${result.contentType ?? 'application/json'}; charset=utf-8`);
    res.setHeader('Content-Length', Buffer.byteLength(text));
    res.end(text);
  }
}

/**
 * A multipart upload, before its operation's transaction: the caller's access and its tenant's upload
 * limit are read first (in a short transaction of their own, so nobody streams a file they may not
 * send), then the file streams to the document store as it arrives, and the text parts are checked
 * against the contract. Whatever fails, the stored file is removed before the error goes on.
 */
async function receiveUpload(
  deps: ApiRouterDeps,
  request: {
    op: ContractOperation;
    definition: OperationDefinition;
    req: Request;
    res: Response;
    credential: Credential;
  },
): Promise<{ fields: Record<string, string>; file: ReceivedFile }> {
  const { op, definition, req, res, credential } = request;
  const fileField = op.multipart!.fileField;
  const maxFileBytes = await deps.admission.run(credential.tenantId, res, () =>
    deps.db.transaction(async (trx) => {
      await applyScope(trx, { tenantId: credential.tenantId, platform: false, portal: credentialPortal(credential) });
      checkAccess(definition, await loadPrincipal(trx, credential));
      return uploadLimit(trx, credential.tenantId, deps.services.config);
    }),
  );
  const reading = readMultipart(req, fileField, { maxFileBytes }, (stream, part) =>
    receiveDocumentFile(stream, part, { tenantId: credential.tenantId, services: deps.services }),
  );
  let outcome: { fields: Record<string, string>; file: ReceivedFile | undefined };
  try {
    outcome = await reading.done;
  } catch (error) {
    const stored = await reading.received();
    if (stored) await discardReceived(deps.services, stored).catch(() => undefined);
    throw error;
  }
  const errors: FieldError[] = op.validateBody ? op.validateBody(outcome.fields) : [];
  if (!outcome.file) errors.push({ pointer: `/body/${fileField}`, message: 'is required', code: 'required' });
  if (errors.length) {
    if (outcome.file) await discardReceived(deps.services, outcome.file).catch(() => undefined);
    throw Problem.validation(errors);
  }
  return { fields: outcome.fields, file: outcome.file! };
}

/**
 * Mounts every contract operation. Per request: check the request against the contract, then
 * authenticate, then one transaction scoped to the credential's tenant (SET LOCAL ROLE and
 * app.tenant_id) in which the principal is confirmed, the permission checked, the Idempotency-Key
 * claimed, the handler run and its audit event appended. A thrown Problem rolls everything back.
 */
export function buildApiRouter(deps: ApiRouterDeps): express.Router {
  checkOperationsMatchContract(deps.contract, deps.operations);
  const router = express.Router();
  const principals = new PrincipalCache();
  // A deferred re-read only ever confirms people's sessions, whose use is not recorded.
  const noTouch = async () => undefined;
  // PGlite is one embedded session: a timeout that ends the session would end the database.
  const limits = deps.db.hearthEmbedded
    ? {}
    : {
        statementTimeoutMs: deps.services.config.statementTimeoutMs,
        idleInTransactionTimeoutMs: deps.services.config.idleInTransactionTimeoutMs,
      };

  for (const op of deps.contract.operations) {
    if (op.tenancy === 'system') continue;
    const definition = deps.operations[op.operationId]!;
    router[op.method](op.expressPath, async (req: Request, res: Response) => {
      const meta = requestMeta(req);
      // Tokens, children's records, audit exports and documents: no cache between here and the caller keeps any answer.
      res.setHeader('Cache-Control', 'no-store');
      let upload: ReceivedFile | undefined;
      try {
        const input = validateRequest(op, req);
        let credential: Credential | null = null;
        if (!('public' in definition.access)) {
          const presented = req.headers.authorization !== undefined || req.headers['x-api-key'] !== undefined;
          credential = await authenticate(deps.authenticator, req);
          if (!credential)
            throw presented
              ? new Problem('invalidToken', 'The credential is invalid or expired')
              : new Problem('unauthorized', 'Send a bearer token or an API key');
        }

        if (op.multipart && credential) {
          const received = await receiveUpload(deps, { op, definition, req, res, credential });
          input.body = received.fields;
          upload = received.file;
        }

        let principal: Principal | null = null;
        let replayed = false;
        // The transaction opens in one round trip: BEGIN, the scope and the principal's re-read together.
        // A read-only operation sends no BEGIN or COMMIT at all; each of its queries rides behind the
        // scope, and where this process confirmed the caller's principal lately the re-read rides with
        // the first query instead, its answer checked before anything that query read is used.
        const scope = {
          tenantId: credential?.tenantId ?? null,
          platform: false,
          portal: credential ? credentialPortal(credential) : undefined,
          ...limits,
        };
        const readOnly = op.method === 'get' && !op.writes;
        const attempt = (cachePrincipal: boolean) => {
          const cached =
            cachePrincipal && readOnly && credential && !deps.db.hearthEmbedded
              ? principals.get(credential)
              : undefined;
          const opening: Opening = {
            mode: readOnly ? 'read' : 'write',
            scope: scopeStatement(scope),
            statements: credential ? [principalStatement(credential)] : [],
          };
          if (cached && credential) {
            opening.confirm = async (opened) => {
              const fresh = await principalFrom(credential, opened[0]!.rows, noTouch).catch((error: unknown) => {
                principals.delete(credential);
                throw error;
              });
              if (!samePrincipal(fresh, cached)) {
                principals.set(credential, fresh);
                throw new StalePrincipal();
              }
            };
          }
          return deps.db.transaction(
            async (trx) => {
              if (cached) principal = cached;
              else if (openingOf(trx)?.opened) {
                if (credential)
                  principal = await principalFrom(
                    credential,
                    openingOf(trx)!.opened![0]!.rows,
                    touchApiKey(trx, credential.tenantId),
                  );
                if (credential && principal) principals.set(credential, principal);
              } else {
                // The embedded database opens a transaction as knex does, one statement at a time.
                await applyScope(trx, scope);
                if (credential) principal = await loadPrincipal(trx, credential);
              }
              try {
                return await handleWithin(trx);
              } catch (error) {
                // Not even a refusal goes out on a principal that was not confirmed: a changed one runs again.
                await confirmOpening(trx);
                throw error;
              }
            },
            { hearthOpening: opening } as Knex.TransactionConfig,
          );
        };

        const handleWithin = async (trx: Knex.Transaction): Promise<OperationResult> => {
          if (op.tenancy === 'platform') {
            if (!principal?.platform)
              throw new Problem('forbidden', 'Platform administration is not open to this tenant');
            await applyScope(trx, { tenantId: principal.tenantId, platform: true });
          }
          checkAccess(definition, principal);

          let auditCount = 0;
          const ctx: OperationContext = {
            trx,
            services: deps.services,
            principal,
            tenantId: principal?.tenantId ?? null,
            params: input.path,
            query: input.query,
            body: input.body,
            upload,
            ifMatch: typeof req.headers['if-match'] === 'string' ? req.headers['if-match'] : undefined,
            meta,
            audit: async (event) => {
              if (!ctx.tenantId) throw new Error('audit: no tenant in scope');
              auditCount++;
              const actor = actorOf(principal, meta);
              if (event.actor) Object.assign(actor, { actorType: event.actor.type, actorId: event.actor.id });
              await appendAuditEvent(trx, ctx.tenantId, actor, event);
            },
            enterTenant: async (tenantId) => {
              await switchTenant(trx, tenantId);
              ctx.tenantId = tenantId;
            },
          };

          const idempotencyKey =
            op.acceptsIdempotencyKey && principal ? (req.headers['idempotency-key'] as string | undefined) : undefined;
          const idemScope =
            idempotencyKey && principal
              ? {
                  tenantId: (principal as Principal).tenantId,
                  principalId: (principal as Principal).id,
                  key: idempotencyKey,
                }
              : null;
          if (idemScope) {
            const stored = await claimIdempotencyKey(trx, {
              ...idemScope,
              operationId: op.operationId,
              fingerprint: requestFingerprint(op.operationId, input.path, input.body),
            });
            if (stored) {
              replayed = true;
              return {
                status: stored.status,
                headers: stored.headers,
                body: stored.body ?? undefined,
              } satisfies OperationResult;
            }
          }

          const outcome = await definition.handle(ctx);
          if (outcome.problem) return outcome;
          if (op.writes && outcome.status < 300 && auditCount === 0 && !outcome.noWrite) {
            // The safety net behind "no write without its audit": roll back rather than write unaudited.
            throw new Error(`${op.operationId} succeeded without appending an audit event`);
          }
          if (idemScope) {
            await storeIdempotentResponse(trx, idemScope, {
              status: outcome.status,
              headers: outcome.headers ?? {},
              body: outcome.replayBody ?? outcome.body,
            });
          }
          // A read-only request answers only on a confirmed principal.
          await confirmOpening(trx);
          if (outcome.csv) await streamCsv(res, outcome.csv, { end: !op.writes });
          return outcome;
        };
        // The tenant is known from the credential: the gate holds the request to its tenant's share of the pool.
        const result = await deps.admission.run(credential?.tenantId ?? null, res, () =>
          attempt(true).catch((error: unknown) => {
            if (error instanceof StalePrincipal) return attempt(false);
            throw error;
          }),
        );
        if (result.csv) {
          // Committed: a writing CSV's response may end now.
          if (op.writes) res.end();
        } else sendResult(res, result, replayed);
      } catch (error) {
        // A refused or failed upload leaves no object behind.
        if (upload) await discardReceived(deps.services, upload).catch(() => undefined);
        const problem = problemFromError(error, op);
        if (problem.status >= 500 && !(error instanceof NotAdmitted))
          req.log.error({ err: error, operationId: op.operationId }, 'request failed');
        if (res.headersSent) {
          res.destroy(error instanceof Error ? error : undefined);
          return;
        }
        res
          .status(problem.status)
          .type('application/problem+json')
          .json({ ...problem, instance: req.originalUrl, requestId: meta.requestId });
      }
    });
  }
  return router;
}
