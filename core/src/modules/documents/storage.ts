import type { Readable } from 'node:stream';

/**
 * Where documents' bytes live: the extension point "documentStorage". The database keeps what a
 * document is (its record, versions, hashes, who read it); a store keeps only opaque objects under
 * keys core makes (`tenants/<tenant id>/objects/<uuid>`), never from a file's name.
 */
export interface DocumentStore {
  /**
   * Streams `body` to a new object at `key` and resolves once it is durable. When the stream errors
   * or is destroyed (a cut upload, a refused type, a size past the limit), the store rejects with that
   * error and leaves no object behind. Never asked to overwrite a key.
   */
  put(key: string, body: Readable, info: { contentType: string }): Promise<void>;
  /** The object's bytes as a stream; rejects with ObjectMissing when there is none. */
  get(key: string): Promise<Readable>;
  /** The object's size in bytes, or null when there is none. */
  head(key: string): Promise<{ size: number } | null>;
  /** Removes the object; removing one that is gone succeeds. */
  delete(key: string): Promise<void>;
  /** Every key under a prefix (for sweeping objects a crash left without a row). */
  list(prefix: string): AsyncIterable<string>;
  /**
   * A URL the caller's browser can fetch the object from without Hearth for `expiresInSeconds`, with
   * the given download name and type; absent where the store cannot sign (the filesystem).
   */
  signedUrl?(
    key: string,
    options: { expiresInSeconds: number; filename: string; contentType: string },
  ): Promise<string>;
}

/** A kind of store, by key (HEARTH_DOCUMENT_STORAGE): `filesystem` is core's, `s3` a plugin's. */
export interface DocumentStorage {
  /** Lower-case letters, digits, `_` or `-`, at most 50. */
  key: string;
  /**
   * Opens the store at HEARTH_DOCUMENT_STORAGE_TARGET (for `filesystem` a folder, for `s3` a URL
   * naming the bucket). Called once at start-up for the configured kind only; throwing stops start-up
   * with the message.
   */
  open(target: string): DocumentStore;
}

export class ObjectMissing extends Error {
  constructor(readonly key: string) {
    super(`No stored object at ${key}`);
  }
}

/** Stores by key; a key registered twice is a start-up error naming both registrations. */
export class DocumentStorageRegistry {
  private readonly kinds = new Map<string, { storage: DocumentStorage; by: string }>();

  register(storage: DocumentStorage, by: string): void {
    if (!storage || typeof storage !== 'object')
      throw new Error(`Document storage (by ${by}) must be an object with key and open`);
    if (typeof storage.key !== 'string' || !/^[a-z][a-z0-9_-]{0,49}$/.test(storage.key))
      throw new Error(
        `Document storage key "${String(storage.key)}" (by ${by}) must be lower-case letters, digits, _ or -, at most 50`,
      );
    const existing = this.kinds.get(storage.key);
    if (existing)
      throw new Error(`Document storage "${storage.key}" is registered twice: by ${existing.by} and by ${by}`);
    if (typeof storage.open !== 'function')
      throw new Error(`Document storage "${storage.key}" (by ${by}) must have an open function`);
    this.kinds.set(storage.key, { storage, by });
  }

  get(key: string): DocumentStorage | undefined {
    return this.kinds.get(key)?.storage;
  }

  keys(): string[] {
    return [...this.kinds.keys()].sort();
  }
}

/** Every object of a tenant lives under its own prefix; the rest of the key is a fresh uuid. */
export function tenantPrefix(tenantId: string): string {
  return `tenants/${tenantId}/`;
}

export function objectKey(tenantId: string, objectId: string): string {
  return `${tenantPrefix(tenantId)}objects/${objectId}`;
}

/** A key core made: the only shape a store is ever asked for, checked again by each store. */
export const OBJECT_KEY = /^tenants\/[0-9a-f-]{36}\/objects\/[0-9a-f-]{36}$/;
