import type { Knex } from 'knex';
import type { ExportSelection } from './exportService';

/**
 * Told, inside the export's transaction, which journals an export took: a module whose records a
 * journal stands for (a payment run) marks them exported without the ledger knowing of it, and says
 * what it changed, for the export's audit event.
 */
export type JournalsExportedListener = (
  trx: Knex.Transaction,
  tenantId: string,
  exported: { exportId: string; selection: ExportSelection },
) => Promise<Record<string, unknown>>;

const listeners: JournalsExportedListener[] = [];

export function onJournalsExported(listener: JournalsExportedListener): void {
  if (!listeners.includes(listener)) listeners.push(listener);
}

export async function journalsExported(
  trx: Knex.Transaction,
  tenantId: string,
  exported: { exportId: string; selection: ExportSelection },
): Promise<Record<string, unknown>> {
  const changed: Record<string, unknown> = {};
  for (const listener of listeners) Object.assign(changed, await listener(trx, tenantId, exported));
  return changed;
}
