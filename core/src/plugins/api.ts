/**
 * Everything a plugin may import from core. Plugins import this file and nothing else of core's, so a
 * module's internals can move without breaking them; host.test.ts checks that the first-party
 * plugins keep to it.
 */
export type { HearthPlugin, PluginFactory, PluginPoints } from './extensionPoints';
export type { ExportTenant, LedgerExportFormat } from '../modules/ledger/exports/registry';
export type { AuditCheckpoint, AuditCheckpointSink, AuditCheckpointStore } from '../modules/audit/checkpointSinks';
export type { EntryRow as LedgerEntry, JournalRow as LedgerJournal } from '../modules/ledger/rows';
export { formatMinor } from '../modules/ledger/money';
export { editionFor, type Edition } from './regional';
