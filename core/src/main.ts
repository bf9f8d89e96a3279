import { ConfigError, loadConfig } from './config';
import { PackLoadError } from './packs/registry';
import { PluginLoadError } from './plugins/host';
import { exitOnSignals, startServer } from './server';

async function main(): Promise<void> {
  const config = loadConfig();
  const server = await startServer(config);
  const where = config.databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `the embedded database in ${config.embeddedDataDir}`;
  process.stdout.write(`\nHearth is running at ${server.url} on ${where}\n  API docs: ${server.url}/docs\n`);
  if (config.seedDemoTenants) {
    process.stdout.write(`  Demo logins (POST ${server.url}/v1/auth/login with tenant, email, password):\n`);
    const { demoLoginLines } = await import('./demo/seed');
    for (const line of demoLoginLines()) process.stdout.write(`    ${line}\n`);
  }
  exitOnSignals(server);
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof PackLoadError || error instanceof PluginLoadError) {
    process.stderr.write(`Hearth cannot start: ${error.message}\n`);
  } else {
    process.stderr.write(
      `Hearth cannot start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
  }
  process.exit(1);
});
