import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino, { type Logger } from 'pino';
import type { HearthConfig } from './config';
import { openDatabase, type Database } from './db/database';
import { runMigrations } from './db/migrate';
import { createAuthenticator } from './auth/passport';
import { RateLimits } from './auth/rateLimits';
import { loadContract } from './http/contract';
import { jobsEnabled, jobsPoolMax, startJobsRunner } from './jobs/runner';
import type { JobHandlers } from './jobs/worker';
import { HttpDrain, type CutRequest } from './http/drain';
import { AdmissionGate, admissionLimits } from './http/admission';
import { createApp } from './http/app';
import { DEFAULT_PACK_ROOTS, loadPacks, type PackRegistry } from './packs/registry';
import { DEFAULT_PLUGIN_ROOTS, loadPlugins, type PluginRegistry } from './plugins/host';
import type { AppServices } from './http/operation';
import { allOperations } from './modules';
import { seedDemoTenants, type SeededLogin } from './demo/seed';
import { startAuditTrail } from './modules/audit/checkpoints';
import { openDocumentStore } from './modules/documents/openStore';
import { openNotificationChannels } from './modules/notifications/openChannels';

export interface RunningServer {
  url: string;
  db: Database;
  packs: PackRegistry;
  plugins: PluginRegistry;
  /** What handlers and jobs of this server are given; for tests that call services directly. */
  services: AppServices;
  demoLogins: SeededLogin[] | null;
  logger: Logger;
  /** Who may use the request pool when: its counts are in /metrics. */
  admission: AdmissionGate;
  /**
   * Drains and stops: stops accepting connections, answers every request already accepted (with
   * `Connection: close`) and closes idle connections, lets the job running finish or gives it back,
   * then closes the pools. Past `timeoutMs` (default HEARTH_SHUTDOWN_TIMEOUT) it destroys the
   * connections left and says what it cut; `clean` is false then.
   */
  shutdown(timeoutMs?: number): Promise<ShutdownOutcome>;
  /** shutdown(), for callers that only need it done. */
  close(): Promise<void>;
}

export interface ShutdownOutcome {
  clean: boolean;
  ms: number;
  /** Requests still running at the deadline, whose connections were destroyed. */
  cutRequests: CutRequest[];
}

/**
 * How long shutdown waits for the job running before giving it back: three quarters of the timeout,
 * leaving at least a second to close the pools. On PGlite the job's transaction holds the one
 * connection that every waiting request needs too, so there it gets half, and the requests the rest.
 */
export function jobGraceMs(timeoutMs: number, oneConnection = false): number {
  return oneConnection ? timeoutMs / 2 : Math.max(0, timeoutMs - Math.max(1000, timeoutMs / 4));
}

/**
 * Everything that can be wrong is checked before the server listens: configuration, packs, plugins,
 * the contract against the handlers, the database and its migrations.
 */
export async function startServer(
  config: HearthConfig,
  options: { logger?: Logger; db?: Database; jobHandlers?: JobHandlers } = {},
): Promise<RunningServer> {
  const logger = options.logger ?? pino({ level: config.logLevel });
  const packs = loadPacks([...DEFAULT_PACK_ROOTS, ...config.extraPackRoots]);
  const plugins = await loadPlugins([...DEFAULT_PLUGIN_ROOTS, ...config.extraPluginRoots]);
  const contract = loadContract();
  const operations = allOperations();
  const db =
    options.db ??
    openDatabase({ url: config.databaseUrl, embeddedDataDir: config.embeddedDataDir, poolMax: config.dbPoolMax });
  // The worker's own few connections, so it cannot take the ones requests wait for (PGlite has only one).
  const jobsDb =
    jobsEnabled() && !options.db && config.databaseUrl
      ? openDatabase({ url: config.databaseUrl, embeddedDataDir: null, poolMax: jobsPoolMax(config) })
      : db;
  const rateLimits = RateLimits.open(config, db, logger);
  const services: AppServices = { config, packs, plugins, rateLimits };
  let channels: { close(): Promise<void> } | undefined;
  const closePools = async () => {
    await channels?.close().catch(() => undefined);
    await rateLimits.close();
    if (jobsDb !== db) await jobsDb.destroy();
    if (!options.db) await db.destroy();
  };
  try {
    // The audit keys and checkpoint sink, before anything appends an event; a bad target closes the pools.
    startAuditTrail(services);
    openDocumentStore(services);
    channels = openNotificationChannels(services);
    const applied = await runMigrations(db);
    if (applied.length) logger.info({ migrations: applied }, 'migrations applied');
    const demoLogins = config.seedDemoTenants
      ? await seedDemoTenants(db, {
          services,
          contract,
          operations,
          log: (detail, message) => logger.info(detail, message),
        })
      : null;
    let drain: HttpDrain | null = null;
    const admission = new AdmissionGate(admissionLimits(config, db.hearthEmbedded));
    const app = createApp({
      db,
      contract,
      operations,
      services,
      authenticator: createAuthenticator(config),
      logger,
      admission,
      isDraining: () => drain?.isDraining ?? false,
    });
    const server = http.createServer(app);
    drain = new HttpDrain(server);
    const httpDrain = drain;
    // Idle keep-alive connections stay open longer than the clients and load balancers in front of
    // us keep theirs (commonly 60 s): a server that closes first races a client reusing the socket,
    // which then sees ECONNRESET on a request the server never read.
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const url = `http://${config.host}:${port}`;
    logger.info({ url, database: config.databaseUrl ? 'postgresql' : 'embedded' }, 'Hearth is listening');
    // The jobs worker and daily scheduler (off under tests unless HEARTH_JOBS=1).
    const jobs = startJobsRunner({ db: jobsDb, services, logger, handlers: options.jobHandlers });
    let shuttingDown: Promise<ShutdownOutcome> | null = null;
    const shutdown = async (timeoutMs: number): Promise<ShutdownOutcome> => {
      const startedAt = Date.now();
      logger.info({ timeoutMs }, 'shutting down: draining requests and jobs');
      let deadline: NodeJS.Timeout | undefined;
      const pending = { requests: true, jobs: true, pools: true };
      const drained = await Promise.race([
        Promise.all([
          httpDrain.drain().then(() => (pending.requests = false)),
          jobs.stop({ graceMs: jobGraceMs(timeoutMs, db.hearthEmbedded) }).then(() => (pending.jobs = false)),
        ])
          // The worker stops before the pool it uses is closed.
          .then(closePools)
          .then(() => {
            pending.pools = false;
            return true;
          }),
        new Promise<false>((resolve) => {
          deadline = setTimeout(() => resolve(false), timeoutMs);
        }),
      ]);
      clearTimeout(deadline);
      if (!drained) {
        const cutRequests = httpDrain.cut();
        logger.error(
          {
            cutRequests,
            connectionsOpen: pending.requests,
            jobWorkerRunning: pending.jobs,
            poolsOpen: pending.pools,
            timeoutMs,
          },
          `shutdown deadline passed: ${cutRequests.length} requests cut`,
        );
        // Exiting closes the connections; PostgreSQL rolls back whatever they had open.
        return { clean: false, ms: Date.now() - startedAt, cutRequests };
      }
      logger.info({ ms: Date.now() - startedAt }, 'shut down cleanly');
      return { clean: true, ms: Date.now() - startedAt, cutRequests: [] };
    };
    return {
      url,
      db,
      packs,
      plugins,
      services,
      demoLogins,
      logger,
      admission,
      shutdown: (timeoutMs = config.shutdownTimeoutMs) => (shuttingDown ??= shutdown(timeoutMs)),
      close: async () => {
        await (shuttingDown ??= shutdown(config.shutdownTimeoutMs));
      },
    };
  } catch (error) {
    await closePools();
    throw error;
  }
}

/**
 * SIGTERM or SIGINT drains the server and exits: 0 when everything accepted was answered and the
 * pools closed within HEARTH_SHUTDOWN_TIMEOUT, 1 when the deadline cut something. A second signal
 * exits at once.
 */
export function exitOnSignals(server: RunningServer): void {
  const logger = server.logger;
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      logger.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    signalled = true;
    logger.info({ signal }, 'signal received');
    server.shutdown().then(
      (outcome) => process.exit(outcome.clean ? 0 : 1),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
