import { LedgerExportRegistry } from '../modules/ledger/exports/registry';
import type { LedgerExportFormat } from './api';
import { AuditCheckpointSinkRegistry, type AuditCheckpointSink } from '../modules/audit/checkpointSinks';
import { DocumentStorageRegistry, type DocumentStorage } from '../modules/documents/storage';
import { filesystemStorage } from '../modules/documents/filesystemStore';
import { DocumentScannerRegistry, type DocumentScanner } from '../modules/documents/scanning';
import { NotificationChannelRegistry, type NotificationChannel } from '../modules/notifications/channels';
import { mailboxChannel } from '../modules/notifications/mailbox';

/**
 * What a plugin's register step is given: for each extension point core owns, an add-only view that
 * records which plugin added what, so a clash names both plugins. Core keeps the registries behind
 * the views (PluginRegistries) and hands them to modules through AppServices.
 *
 * A new point (notificationChannels, storage) is one field in each interface below and one line in
 * each function: its registry, and the view a plugin gets of it.
 */
export interface PluginPoints {
  /** CSV formats for POST /v1/ledger/exports, by key. */
  ledgerExports: { register(format: LedgerExportFormat): void };
  /** Places outside the database that keep the audit trail's signed checkpoints, by key (HEARTH_AUDIT_CHECKPOINT_SINK). */
  auditCheckpointSinks: { register(sink: AuditCheckpointSink): void };
  /** Stores for documents' bytes, by key (HEARTH_DOCUMENT_STORAGE); core itself adds `filesystem`. */
  documentStorage: { register(storage: DocumentStorage): void };
  /** Scanners every upload passes through (a virus scanner, say); any of them can quarantine a version. */
  documentScanners: { register(scanner: DocumentScanner): void };
  /** Ways messages leave Hearth, by key (HEARTH_EMAIL_CHANNEL, HEARTH_SMS_CHANNEL); core itself adds `mailbox`. */
  notificationChannels: { register(channel: NotificationChannel): void };
}

export interface PluginRegistries {
  ledgerExports: LedgerExportRegistry;
  auditCheckpointSinks: AuditCheckpointSinkRegistry;
  documentStorage: DocumentStorageRegistry;
  documentScanners: DocumentScannerRegistry;
  notificationChannels: NotificationChannelRegistry;
}

/** One plugin: the object its factory makes, once per start-up. */
export interface HearthPlugin {
  /** The manifest's id; the host refuses an object that names another. */
  id: string;
  /** Declares what the plugin adds to core's extension points. Synchronous, and only during start-up. */
  register(points: PluginPoints): void;
}

/** What a plugin's main module exports as its default: a fresh plugin for each server that starts. */
export type PluginFactory = () => HearthPlugin;

/** The registries before any plugin: core's own filesystem store and mailbox are the embedded defaults. */
export function emptyRegistries(): PluginRegistries {
  const documentStorage = new DocumentStorageRegistry();
  documentStorage.register(filesystemStorage, 'core');
  const notificationChannels = new NotificationChannelRegistry();
  notificationChannels.register(mailboxChannel, 'core');
  return {
    ledgerExports: new LedgerExportRegistry(),
    auditCheckpointSinks: new AuditCheckpointSinkRegistry(),
    documentStorage,
    documentScanners: new DocumentScannerRegistry(),
    notificationChannels,
  };
}

/**
 * The views one plugin registers through. `by` is filled in by the host (the plugin and its file), not
 * by the plugin, so an error always points at the real source; a view kept past start-up refuses.
 */
export function pointsFor(registries: PluginRegistries, by: string, open: () => boolean): PluginPoints {
  const whileOpen = (point: string) => {
    if (!open()) throw new Error(`${by} registered to ${point} after start-up; plugins register only from register()`);
  };
  return {
    ledgerExports: {
      register: (format) => {
        whileOpen('ledgerExports');
        registries.ledgerExports.register(format, by);
      },
    },
    auditCheckpointSinks: {
      register: (sink) => {
        whileOpen('auditCheckpointSinks');
        registries.auditCheckpointSinks.register(sink, by);
      },
    },
    documentStorage: {
      register: (storage) => {
        whileOpen('documentStorage');
        registries.documentStorage.register(storage, by);
      },
    },
    documentScanners: {
      register: (scanner) => {
        whileOpen('documentScanners');
        registries.documentScanners.register(scanner, by);
      },
    },
    notificationChannels: {
      register: (channel) => {
        whileOpen('notificationChannels');
        registries.notificationChannels.register(channel, by);
      },
    },
  };
}
