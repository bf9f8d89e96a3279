import crypto from 'node:crypto';
import { ConfigError, type AuditSettings } from '../../config';
import type { AppServices } from '../../http/operation';
import type { AuditCheckpoint, AuditCheckpointStore } from './checkpointSinks';
import { canonicalJson } from './hashChain';
import { useAuditKeys } from './keys';

/** What a signature covers: every field but the signature, canonical, after a label that says what it is. */
function signedBytes(checkpoint: Omit<AuditCheckpoint, 'signature'>): Buffer {
  const { version, tenantId, seq, hash, keyedFromSeq, takenAt, keyId } = checkpoint;
  return Buffer.from(
    `hearth audit checkpoint\n${canonicalJson({ version, tenantId, seq, hash, keyedFromSeq, takenAt, keyId })}`,
    'utf8',
  );
}

export function signCheckpoint(
  head: { tenantId: string; seq: number; hash: string; keyedFromSeq: number },
  settings: AuditSettings,
  takenAt = new Date(),
): AuditCheckpoint {
  const unsigned = { version: 1 as const, ...head, takenAt: takenAt.toISOString(), keyId: settings.signingKey.id };
  // Ed25519 hashes the message itself, so the algorithm argument is null.
  return {
    ...unsigned,
    signature: crypto.sign(null, signedBytes(unsigned), settings.signingKey.privateKey).toString('base64'),
  };
}

const HEX64 = /^[0-9a-f]{64}$/;
const positive = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 1;

/**
 * A checkpoint read back from a sink, taken only if its shape is right and its signature verifies
 * under a public key this configuration trusts; null otherwise. A sink is outside the database but
 * still storage: what it returns is checked, never believed.
 */
export function verifiedCheckpoint(value: unknown, tenantId: string, settings: AuditSettings): AuditCheckpoint | null {
  if (!value || typeof value !== 'object') return null;
  const c = value as Record<string, unknown>;
  if (
    c.version !== 1 ||
    c.tenantId !== tenantId ||
    !positive(c.seq) ||
    typeof c.hash !== 'string' ||
    !HEX64.test(c.hash) ||
    !positive(c.keyedFromSeq)
  )
    return null;
  if (
    typeof c.takenAt !== 'string' ||
    Number.isNaN(Date.parse(c.takenAt)) ||
    typeof c.keyId !== 'string' ||
    typeof c.signature !== 'string'
  )
    return null;
  const publicKey = settings.publicKeys.get(c.keyId);
  if (!publicKey) return null;
  const checkpoint: AuditCheckpoint = {
    version: 1,
    tenantId,
    seq: c.seq,
    hash: c.hash,
    keyedFromSeq: c.keyedFromSeq,
    takenAt: c.takenAt,
    keyId: c.keyId,
    signature: c.signature,
  };
  const signature = Buffer.from(checkpoint.signature, 'base64');
  return crypto.verify(null, signedBytes(checkpoint), publicKey, signature) ? checkpoint : null;
}

/** The stores opened at start-up, one per server (tests run several servers in one process). */
const stores = new WeakMap<AppServices, AuditCheckpointStore>();

/**
 * Readies the audit trail for a server, before it touches the database: installs the keys its
 * configuration names and opens the checkpoint sink it names, so an unknown sink or a target that
 * cannot be written stops start-up rather than the first checkpoint.
 */
export function startAuditTrail(services: AppServices): void {
  const { audit } = services.config;
  useAuditKeys(audit);
  const sink = services.plugins.auditCheckpointSinks.get(audit.checkpointSink);
  if (!sink) {
    const known = services.plugins.auditCheckpointSinks.keys();
    throw new ConfigError(
      `HEARTH_AUDIT_CHECKPOINT_SINK is "${audit.checkpointSink}", which no plugin registered (registered: ${known.length ? known.join(', ') : 'none'})`,
    );
  }
  try {
    stores.set(services, sink.open(audit.checkpointTarget));
  } catch (error) {
    throw new ConfigError(`HEARTH_AUDIT_CHECKPOINT_TARGET ${audit.checkpointTarget}: ${(error as Error).message}`);
  }
}

export function checkpointStore(services: AppServices): AuditCheckpointStore {
  const store = stores.get(services);
  if (!store)
    throw new Error('audit: no checkpoint sink is open for these services (startServer opens it with startAuditTrail)');
  return store;
}

/** The latest checkpoint as the sink has it: absent, present (verified or not), or unreadable. */
export type LatestCheckpoint =
  | { state: 'none' }
  | { state: 'verified'; checkpoint: AuditCheckpoint }
  | { state: 'unverified'; seq: number | null }
  | { state: 'unreadable'; error: string };

export async function latestCheckpoint(
  store: AuditCheckpointStore,
  tenantId: string,
  settings: AuditSettings,
): Promise<LatestCheckpoint> {
  let value: unknown;
  try {
    value = await store.latest(tenantId);
  } catch (error) {
    return { state: 'unreadable', error: (error as Error).message };
  }
  if (value === null || value === undefined) return { state: 'none' };
  const checkpoint = verifiedCheckpoint(value, tenantId, settings);
  if (checkpoint) return { state: 'verified', checkpoint };
  const seq = (value as { seq?: unknown }).seq;
  return { state: 'unverified', seq: positive(seq) ? seq : null };
}
