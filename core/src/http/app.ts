import crypto from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import cors from 'cors';
import helmet from 'helmet';
import pino, { type Logger } from 'pino';
import pinoHttp from 'pino-http';
import client from 'prom-client';
import type passport from 'passport';
import type { Database } from '../db/database';
import { pendingMigrations } from '../db/migrate';
import type { Contract } from './contract';
import type { AppServices, OperationMap } from './operation';
import { Problem } from './problem';
import { problemFromError } from './errors';
import { buildApiRouter } from './router';
import { AdmissionGate, admissionLimits } from './admission';
import { docsRouter } from './docs';

export interface AppDeps {
  db: Database;
  contract: Contract;
  operations: OperationMap;
  services: AppServices;
  authenticator: passport.Authenticator;
  logger?: Logger;
  /** Who may use the database when (built from the settings when not given). */
  admission?: AdmissionGate;
  /** True once the process is draining for shutdown: readiness then answers 503. */
  isDraining?: () => boolean;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{8,100}$/;

function sendProblem(req: Request, res: Response, problem: { status: number } & Record<string, unknown>): void {
  res
    .status(problem.status)
    .type('application/problem+json')
    .json({ ...problem, instance: req.originalUrl, requestId: String(req.id) });
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost']);

/** Whether a request may read /metrics: with the configured bearer token, or, without one, only where the API listens on loopback alone. */
export function metricsAllowed(
  config: { metricsToken: string | null; host: string },
  authorization: string | undefined,
): boolean {
  if (config.metricsToken === null) return LOOPBACK_HOSTS.has(config.host);
  const presented = Buffer.from(/^Bearer (.+)$/.exec(authorization ?? '')?.[1] ?? '');
  const expected = Buffer.from(config.metricsToken);
  return presented.length === expected.length && crypto.timingSafeEqual(presented, expected);
}

function pathMatcher(apiPath: string): RegExp {
  return new RegExp(`^${apiPath.replace(/\{[^}]+\}/g, '[^/]+')}/?$`);
}

export function createApp(deps: AppDeps): express.Express {
  const logger = deps.logger ?? pino({ level: deps.services.config.logLevel });
  const app = express();
  app.disable('x-powered-by');
  // ETags are record versions set by handlers; express's body hashes would look like them and fail If-Match.
  app.set('etag', false);
  app.set('trust proxy', deps.services.config.trustProxy);
  // Query strings stay flat: a repeated parameter becomes an array, which the contract refuses.
  app.set('query parser', 'simple');

  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const requestDuration = new client.Histogram({
    name: 'hearth_http_request_duration_seconds',
    help: 'HTTP request duration by operation and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const admission = deps.admission ?? new AdmissionGate(admissionLimits(deps.services.config, deps.db.hearthEmbedded));
  new client.Gauge({
    name: 'hearth_admission_in_use',
    help: 'Requests holding a database connection',
    registers: [registry],
    collect() {
      this.set(admission.stats().inUse);
    },
  });
  new client.Gauge({
    name: 'hearth_admission_queued',
    help: 'Requests waiting for a database connection',
    registers: [registry],
    collect() {
      this.set(admission.stats().queued);
    },
  });
  new client.Counter({
    name: 'hearth_admission_refused_total',
    help: 'Requests answered 503 without a database connection, by reason (queue-full, tenant-queue-full, client-gone)',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      // prom-client counters only go up through inc(); reset and set from the gate's own counts.
      this.reset();
      for (const [reason, count] of Object.entries(admission.stats().refused)) this.inc({ reason }, count);
    },
  });

  app.use(
    pinoHttp({
      logger,
      genReqId: (req, res) => {
        const incoming = req.headers['x-request-id'];
        const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      // Bodies and credentials never reach the log.
      serializers: {
        req: (req: { id: unknown; method: string; url: string }) => ({
          id: req.id,
          method: req.method,
          url: req.url.split('?')[0],
        }),
      },
      customLogLevel: (_req, res, error) =>
        error || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'info' : 'info',
    }),
  );
  app.use((req, res, next) => {
    const end = requestDuration.startTimer({ method: req.method });
    res.on('finish', () =>
      end({ route: (req.route as { path?: string } | undefined)?.path ?? 'unmatched', status: String(res.statusCode) }),
    );
    next();
  });
  app.use(helmet());
  // Browser front ends on other origins: only the origins the operator lists, never a wildcard.
  if (deps.services.config.corsOrigins.length) {
    app.use(
      cors({
        origin: deps.services.config.corsOrigins,
        allowedHeaders: ['Authorization', 'Content-Type', 'If-Match', 'Idempotency-Key', 'X-API-Key', 'X-Request-Id'],
        exposedHeaders: ['ETag', 'Location', 'X-Request-Id', 'Idempotent-Replayed', 'Retry-After'],
        maxAge: 600,
      }),
    );
  }
  app.use(
    express.json({
      limit: deps.services.config.bodyLimitBytes,
      strict: false,
      type: ['application/json', 'application/*+json'],
    }),
  );

  // System routes: no tenant, no credential, no transaction.
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (req, res) => {
    // Draining: a load balancer stops sending here while the requests already accepted finish.
    if (deps.isDraining?.()) {
      sendProblem(req, res, new Problem('unavailable', 'Not ready: shutting down').body);
      return;
    }
    try {
      await deps.db.raw('SELECT 1');
      const pending = await pendingMigrations(deps.db);
      if (pending.length) throw new Error(`${pending.length} migrations pending`);
      res.json({ status: 'ok', checks: { database: 'ok', migrations: 'ok' } });
    } catch (error) {
      sendProblem(req, res, new Problem('unavailable', `Not ready: ${(error as Error).message}`).body);
    }
  });
  app.get('/metrics', async (req, res) => {
    // Metrics name every route and its traffic: behind a token, or on a loopback-only listener; elsewhere there is no such route.
    if (!metricsAllowed(deps.services.config, req.headers.authorization))
      return sendProblem(req, res, new Problem('notFound', 'No such route').body);
    res.setHeader('Cache-Control', 'no-store');
    res.type(registry.contentType).send(await registry.metrics());
  });
  app.get('/openapi.json', (_req, res) => {
    res.json(deps.contract.document);
  });
  app.use('/docs', docsRouter(deps.contract.document));

  app.use(
    buildApiRouter({
      db: deps.db,
      contract: deps.contract,
      operations: deps.operations,
      services: deps.services,
      authenticator: deps.authenticator,
      logger,
      admission,
    }),
  );

  const known = deps.contract.operations.map((o) => ({ matcher: pathMatcher(o.path), method: o.method.toUpperCase() }));
  app.use((req, res) => {
    const allowed = known.filter((k) => k.matcher.test(req.path)).map((k) => k.method);
    if (allowed.length) {
      res.setHeader('Allow', [...new Set(allowed)].join(', '));
      sendProblem(req, res, new Problem('methodNotAllowed', `${req.method} is not allowed here`).body);
    } else {
      sendProblem(req, res, new Problem('notFound', 'No such route').body);
    }
  });
  // Body-parser failures (malformed JSON, too large) arrive here, before any route runs.
  app.use((error: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    const problem = problemFromError(error);
    if (problem.status >= 500) req.log.error({ err: error }, 'unhandled error');
    sendProblem(req, res, problem);
  });
  return app;
}
