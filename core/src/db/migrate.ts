import type { Knex } from 'knex';
import { migrations } from '../../../migrations';

/** Migrations are listed in code rather than found on disk, so source and compiled runs agree. */
class ListedMigrationSource implements Knex.MigrationSource<string> {
  async getMigrations(): Promise<string[]> {
    return migrations.map((m) => m.name);
  }
  getMigrationName(name: string): string {
    return name;
  }
  async getMigration(name: string): Promise<Knex.Migration> {
    const found = migrations.find((m) => m.name === name);
    if (!found) throw new Error(`Unknown migration ${name}`);
    return {
      up: found.up,
      down: async () => {
        throw new Error(`Migrations are forward-only; ${name} has no down`);
      },
    };
  }
}

const migrationConfig: Knex.MigratorConfig = {
  migrationSource: new ListedMigrationSource(),
  tableName: 'knex_migrations',
};

export async function runMigrations(db: Knex): Promise<string[]> {
  const [, applied] = (await db.migrate.latest(migrationConfig)) as [number, string[]];
  return applied;
}

export async function pendingMigrations(db: Knex): Promise<string[]> {
  const [, pending] = (await db.migrate.list(migrationConfig)) as [unknown, Array<{ file?: string } | string>];
  return pending.map((p) => (typeof p === 'string' ? p : (p.file ?? String(p))));
}
