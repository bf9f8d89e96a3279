/**
 * Everything a plugin may import from core. Plugins import this file and nothing else of core's, so a
 * module's internals can move without breaking them; host.test.ts checks that the first-party
 * plugins keep to it.
 *
 * What a plugin is handed is a view core builds for it, never a database row: a column can be renamed
 * or a table split without a plugin noticing. The views follow the HTTP API's names (GET
 * /v1/ledger/journals/{journalId}), except that amounts say their unit (`…Minor`), and they only grow:
 * a field is added, never renamed or taken away.
 */
export type { HearthPlugin, PluginFactory, PluginPoints } from './extensionPoints';
export type { AuditCheckpoint, AuditCheckpointSink, AuditCheckpointStore } from '../modules/audit/checkpointSinks';
export type { DocumentStorage, DocumentStore } from '../modules/documents/storage';
export type { DocumentScanner, ScanVerdict } from '../modules/documents/scanning';
export { ObjectMissing, OBJECT_KEY } from '../modules/documents/storage';
export type {
  ChannelConnection,
  ChannelMedium,
  NotificationChannel,
  OutgoingMessage,
  SendResult,
} from '../modules/notifications/channels';
export { PermanentFailure } from '../modules/notifications/channels';
export { formatMinor } from '../modules/ledger/money';
export { editionFor, type DateOrder, type Edition } from './regional';

/** A posted journal, as an export format sees it. Journals never change once posted. */
export interface LedgerJournalView {
  readonly id: string;
  /** Numbered per tenant from 1, without gaps: the journal number a finance system is told. */
  readonly number: number;
  /** The date it posts on, `YYYY-MM-DD` (editionFor(currency).date writes it in a finance system's order). */
  readonly postingDate: string;
  readonly description: string;
  /** What posted it: `type` a code (`manual`, `payment_run`, …), `id` the poster's reference for it, if any. */
  readonly source: { readonly type: string; readonly id: string | null };
  /** ISO 4217; every amount of the journal and its entries is in it. */
  readonly currency: string;
}

/**
 * One line of a journal, as an export format sees it. An entry is on one side only: exactly one of
 * `debitMinor` and `creditMinor` is above zero.
 */
export interface LedgerEntryView {
  readonly id: string;
  /** The line's place in its journal, from 1. */
  readonly lineNumber: number;
  /** The account in the pack's words (`maintenance_payments`), the same whatever code the chart gives it. */
  readonly accountKey: string;
  /** The account's code in the chart when the journal was posted: what a finance system knows the account by. */
  readonly accountCode: string;
  /** Integer minor units (pence, cents) of the journal's currency; 0 on a credit line. formatMinor makes the decimal. */
  readonly debitMinor: number;
  /** Integer minor units; 0 on a debit line. */
  readonly creditMinor: number;
  /** debitMinor − creditMinor: positive for a debit, negative for a credit, so a journal's lines sum to zero. */
  readonly amountMinor: number;
  /** The line's own description, or null where the journal's stands for it. */
  readonly description: string | null;
  readonly carerHouseholdId: string | null;
  /** Null for a line about no child, and for a child (or placement) hidden from whoever takes the export. */
  readonly childId: string | null;
  readonly placementId: string | null;
  /** The period the line pays for, `YYYY-MM-DD` inclusive, when it pays for one. */
  readonly periodStart: string | null;
  readonly periodEnd: string | null;
  /** The poster's reference for the line (a payment run's line), if any. */
  readonly sourceLineId: string | null;
}

/** What an export format knows of the tenant beyond its journals: its currency (for amounts and the finance system's edition). */
export interface ExportTenant {
  /** ISO 4217: the currency of every journal the tenant posts. */
  readonly currency: string;
}

/** The extension point "ledgerExports": one CSV format of the ledger, registered by key (by a plugin, plugins/ledger-*). */
export interface LedgerExportFormat {
  /** The `format` of POST /v1/ledger/exports: lower-case letters, digits, `_` or `-`, at most 50. */
  key: string;
  contentType: string;
  /** The CSV header, in order. */
  columns: string[];
  /** The CSV rows (in `columns` order) one ledger entry becomes. Called in journal and line order. */
  rowsFor(entry: LedgerEntryView, journal: LedgerJournalView, tenant: ExportTenant): unknown[][];
}
