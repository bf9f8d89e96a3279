import { ConfigError } from '../../config';
import type { AppServices } from '../../http/operation';
import type { DocumentStore } from './storage';

const stores = new WeakMap<AppServices, DocumentStore>();

/** Opens the configured store once, at start-up: an unknown key or a bad target stops start-up by name. */
export function openDocumentStore(services: AppServices): DocumentStore {
  const { storage: key, target } = services.config.documents;
  const storage = services.plugins.documentStorage.get(key);
  if (!storage) {
    const known = services.plugins.documentStorage.keys();
    throw new ConfigError(
      `HEARTH_DOCUMENT_STORAGE is "${key}", which no plugin registered (registered: ${known.join(', ') || 'none'})`,
    );
  }
  let store: DocumentStore;
  try {
    store = storage.open(target);
  } catch (error) {
    throw new ConfigError(`HEARTH_DOCUMENT_STORAGE_TARGET for "${key}": ${(error as Error).message}`);
  }
  stores.set(services, store);
  return store;
}

/** The store these services opened (startServer opens it; a test's own services open theirs on first use). */
export function documentStore(services: AppServices): DocumentStore {
  return stores.get(services) ?? openDocumentStore(services);
}
