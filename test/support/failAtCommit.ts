import type { Database } from '../../core/src/db/database';
import type { DocumentStore } from '../../core/src/modules/documents/storage';
import { tenantPrefix } from '../../core/src/modules/documents/storage';

let triggers = 0;

/**
 * Makes the COMMIT of any transaction that writes a document titled `title` fail, after everything
 * in it (the bytes stored, the rows and the audit event written) has gone through: a deferred
 * constraint trigger, checked at COMMIT, failing as a serializable transaction's COMMIT can (40001,
 * answered 503). Returns what removes it.
 */
export async function failCommitOfDocumentTitled(db: Database, title: string): Promise<() => Promise<void>> {
  const name = `hearth_test_fail_commit_${++triggers}`;
  await db.raw(
    `CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN RAISE EXCEPTION 'the test refuses this COMMIT' USING ERRCODE = 'serialization_failure'; END $$`,
  );
  await db.raw(
    `CREATE CONSTRAINT TRIGGER ${name} AFTER INSERT OR UPDATE ON documents DEFERRABLE INITIALLY DEFERRED
     FOR EACH ROW WHEN (NEW.title = '${title.replace(/'/g, "''")}') EXECUTE FUNCTION ${name}()`,
  );
  return async () => {
    await db.raw(`DROP TRIGGER ${name} ON documents`);
    await db.raw(`DROP FUNCTION ${name}()`);
  };
}

/** The keys of a tenant's stored objects. */
export async function storedKeys(store: DocumentStore, tenantId: string): Promise<Set<string>> {
  const keys = new Set<string>();
  for await (const key of store.list(tenantPrefix(tenantId))) keys.add(key);
  return keys;
}

/**
 * The tenant's stored objects once every removal has run: a transaction's rollback removes its
 * object as the request's answer goes out, so the object may outlive the answer by a moment.
 */
export async function settledKeys(store: DocumentStore, tenantId: string, expected: Set<string>): Promise<Set<string>> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const keys = await storedKeys(store, tenantId);
    const same = keys.size === expected.size && [...keys].every((k) => expected.has(k));
    if (same || Date.now() > deadline) return keys;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
