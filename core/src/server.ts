import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino, { type Logger } from 'pino';
import type { HearthConfig } from './config';
import { openDatabase, type Database } from './db/database';
import { runMigrations } from './db/migrate';
import { createAuthenticator } from './auth/passport';
import { RateLimits } from './auth/rateLimits';
import { loadContract } from './http/contract';
import { startJobsRunner } from './jobs/runner';
import { createApp } from './http/app';
import { DEFAULT_PACK_ROOTS, loadPacks, type PackRegistry } from './packs/registry';
import { DEFAULT_PLUGIN_ROOTS, loadPlugins, type PluginRegistry } from './plugins/host';
import type { AppServices } from './http/operation';
import { allOperations } from './modules';
import { seedDemoTenants, type SeededLogin } from './demo/seed';
import { startAuditTrail } from './modules/audit/checkpoints';

export interface RunningServer {
  url: string;
  db: Database;
  packs: PackRegistry;
  plugins: PluginRegistry;
  /** What handlers and jobs of this server are given; for tests that call services directly. */
  services: AppServices;
  demoLogins: SeededLogin[] | null;
  close(): Promise<void>;
}

/**
 * Everything that can be wrong is checked before the server listens: configuration, packs, plugins,
 * the contract against the handlers, the database and its migrations.
 */
export async function startServer(config: HearthConfig, options: { logger?: Logger; db?: Database } = {}): Promise<RunningServer> {
  const logger = options.logger ?? pino({ level: config.logLevel });
  const packs = loadPacks([...DEFAULT_PACK_ROOTS, ...config.extraPackRoots]);
  const plugins = await loadPlugins([...DEFAULT_PLUGIN_ROOTS, ...config.extraPluginRoots]);
  const contract = loadContract();
  const operations = allOperations();
  const db = options.db ?? openDatabase({ url: config.databaseUrl, embeddedDataDir: config.embeddedDataDir });
  const rateLimits = RateLimits.open(config, db, logger);
  const services: AppServices = { config, packs, plugins, rateLimits };
  // The audit keys and checkpoint sink, before anything appends an event.
  startAuditTrail(services);
  try {
    const applied = await runMigrations(db);
    if (applied.length) logger.info({ migrations: applied }, 'migrations applied');
    const demoLogins = config.seedDemoTenants ? await seedDemoTenants(db, { services, contract, operations, log: (detail, message) => logger.info(detail, message) }) : null;
    const app = createApp({ db, contract, operations, services, authenticator: createAuthenticator(config), logger });
    const server = http.createServer(app);
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
    const jobs = startJobsRunner({ db, services, logger });
    return {
      url,
      db,
      packs,
      plugins,
      services,
      demoLogins,
      close: async () => {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        // The worker stops before the pool it uses is closed.
        await jobs.stop();
        await rateLimits.close();
        if (!options.db) await db.destroy();
      },
    };
  } catch (error) {
    await rateLimits.close();
    if (!options.db) await db.destroy();
    throw error;
  }
}
