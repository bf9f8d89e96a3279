/**
 * A signed checkpoint of one tenant's audit chain: the head (seq and hash) at a moment, the
 * boundary below which the chain may hold unkeyed hashes, and an Ed25519 signature over all of it
 * by a key the database never sees. Kept outside the database, it lets verification tell when the
 * chain was cut back, forked or re-based after the checkpoint was taken.
 */
export interface AuditCheckpoint {
  version: 1;
  tenantId: string;
  seq: number;
  hash: string;
  keyedFromSeq: number;
  /** ISO 8601, UTC. */
  takenAt: string;
  /** The signing key's id (a digest of its public key). */
  keyId: string;
  /** Base64 Ed25519 signature over the other fields (core/src/modules/audit/checkpoints.ts says how). */
  signature: string;
}

/** A sink opened at the operator's target: where checkpoints are written and read back. */
export interface AuditCheckpointStore {
  /** Keeps a checkpoint. A second write for the same tenant and seq keeps the first and succeeds. */
  write(checkpoint: AuditCheckpoint): Promise<void>;
  /**
   * The tenant's checkpoint with the highest seq, or null when it has none. Core checks what comes
   * back (its shape and signature) rather than trusting it.
   */
  latest(tenantId: string): Promise<AuditCheckpoint | null>;
}

/** The extension point "auditCheckpointSinks": a place outside the database that keeps checkpoints, by key. */
export interface AuditCheckpointSink {
  /** What HEARTH_AUDIT_CHECKPOINT_SINK names; lower-case letters, digits, `_` or `-`, at most 50. */
  key: string;
  /**
   * Opens the sink at HEARTH_AUDIT_CHECKPOINT_TARGET (for `files`, a folder). Called once, at start-up,
   * for the configured sink only; throwing stops start-up with the message.
   */
  open(target: string): AuditCheckpointStore;
}

/** Sinks by key; a key registered twice is a start-up error naming both registrations. */
export class AuditCheckpointSinkRegistry {
  private readonly sinks = new Map<string, { sink: AuditCheckpointSink; by: string }>();

  register(sink: AuditCheckpointSink, by: string): void {
    if (!sink || typeof sink !== 'object')
      throw new Error(`Audit checkpoint sink (by ${by}) must be an object with key and open`);
    if (typeof sink.key !== 'string' || !/^[a-z][a-z0-9_-]{0,49}$/.test(sink.key))
      throw new Error(
        `Audit checkpoint sink key "${String(sink.key)}" (by ${by}) must be lower-case letters, digits, _ or -, at most 50`,
      );
    const existing = this.sinks.get(sink.key);
    if (existing)
      throw new Error(`Audit checkpoint sink "${sink.key}" is registered twice: by ${existing.by} and by ${by}`);
    if (typeof sink.open !== 'function')
      throw new Error(`Audit checkpoint sink "${sink.key}" (by ${by}) must have an open function`);
    this.sinks.set(sink.key, { sink, by });
  }

  get(key: string): AuditCheckpointSink | undefined {
    return this.sinks.get(key)?.sink;
  }

  keys(): string[] {
    return [...this.sinks.keys()].sort();
  }
}
