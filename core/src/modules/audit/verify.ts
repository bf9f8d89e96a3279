import type { Knex } from 'knex';
import type { AuditSettings } from '../../config';
import type { AuditCheckpoint, AuditCheckpointStore } from './checkpointSinks';
import { latestCheckpoint } from './checkpoints';
import { GENESIS_HASH, keyedEventHash, unkeyedEventHash } from './hashChain';
import { auditKeys } from './keys';
import { rowToFields, type AuditRow } from './service';

export type BrokenLinkReason =
  | 'hash_mismatch'
  | 'previous_hash_mismatch'
  | 'sequence_gap'
  | 'unkeyed_event'
  | 'unknown_key'
  | 'truncated'
  | 'head_missing'
  | 'head_mismatch'
  | 'behind_checkpoint'
  | 'forked_from_checkpoint'
  | 'boundary_moved'
  | 'checkpoint_invalid'
  | 'checkpoint_unreadable';

export interface BrokenLink {
  seq: number;
  eventId: string | null;
  reason: BrokenLinkReason;
}

/** The checkpoint a verdict was reached against: what was signed, less the signature. */
export interface CheckedCheckpoint {
  seq: number;
  hash: string;
  keyedFromSeq: number;
  takenAt: string;
  keyId: string;
}

export interface ChainVerdict {
  valid: boolean;
  eventsChecked: number;
  firstBrokenLink: BrokenLink | null;
  /** The latest checkpoint the sink holds for the tenant, whose signature verified; null when it holds none. */
  checkpoint: CheckedCheckpoint | null;
}

/** The chain's head, as the database records it. */
export interface ChainHead {
  last_seq: number;
  last_hash: string;
  keyed_from_seq: number;
}

/** An event of the chain, by position: the walk starts after one and ends on one. */
interface Link {
  seq: number;
  hash: string;
  id: string | null;
}

const GENESIS: Link = { seq: 0, hash: GENESIS_HASH, id: null };

export async function readHead(trx: Knex.Transaction, tenantId: string): Promise<ChainHead | null> {
  const head = await trx<ChainHead & { tenant_id: string }>('audit_chain_heads')
    .where({ tenant_id: tenantId })
    .first('last_seq', 'last_hash', 'keyed_from_seq');
  return head
    ? { last_seq: Number(head.last_seq), last_hash: head.last_hash, keyed_from_seq: Number(head.keyed_from_seq) }
    : null;
}

interface WalkOptions {
  /** Events from here on must be keyed (HMAC); below it they may carry the unkeyed SHA-256 of before. */
  keyedFromSeq: number;
  /** The last event to walk: the head read before the walk, so appends made meanwhile are not mistaken for tampering. */
  untilSeq: number;
  /** A checkpoint the event at its seq must match. */
  anchor: AuditCheckpoint | null;
  keys: AuditSettings;
  batchSize: number;
}

/**
 * Walks the events after `from`, in order and in batches, checking that each follows the one before
 * (seq, prev_hash) and that its hash is what its key makes of its fields: the chain key's HMAC, or,
 * below the boundary only, the unkeyed SHA-256 events had before chains were keyed.
 */
async function walk(
  trx: Knex.Transaction,
  tenantId: string,
  from: Link,
  options: WalkOptions,
): Promise<{ broken: BrokenLink | null; checked: number; last: Link }> {
  let last = from;
  let checked = 0;
  // Once keyed, always keyed: an unkeyed hash after a keyed one is a forgery wherever the boundary says it is.
  let keyedSeen = from.seq >= options.keyedFromSeq;
  for (;;) {
    const rows = await trx<AuditRow>('audit_events')
      .where('tenant_id', tenantId)
      .where('seq', '>', last.seq)
      .where('seq', '<=', options.untilSeq)
      .orderBy('seq')
      .limit(options.batchSize);
    if (rows.length === 0) return { broken: null, checked, last };
    for (const row of rows) {
      const seq = Number(row.seq);
      const broken = (reason: BrokenLinkReason) => ({ broken: { seq, eventId: row.id, reason }, checked, last });
      if (seq !== last.seq + 1) return broken('sequence_gap');
      if (row.prev_hash !== last.hash) return broken('previous_hash_mismatch');
      if (row.key_id === null) {
        if (seq >= options.keyedFromSeq || keyedSeen) return broken('unkeyed_event');
        if (unkeyedEventHash(rowToFields(row)) !== row.hash) return broken('hash_mismatch');
      } else {
        const key = options.keys.chainKeys.get(row.key_id);
        if (!key) return broken('unknown_key');
        if (keyedEventHash(rowToFields(row), key) !== row.hash) return broken('hash_mismatch');
        keyedSeen = true;
      }
      if (options.anchor && seq === options.anchor.seq && row.hash !== options.anchor.hash)
        return broken('forked_from_checkpoint');
      last = { seq, hash: row.hash, id: row.id };
      checked++;
    }
  }
}

/**
 * Checks where the walk ended against the head and the checkpoint: the head must be there (when
 * there are events), say the same seq and hash, and cover every event; the chain must reach the
 * checkpoint and keep the boundary the checkpoint signed.
 */
async function endBroken(
  trx: Knex.Transaction,
  tenantId: string,
  head: ChainHead | null,
  last: Link,
  anchor: AuditCheckpoint | null,
): Promise<BrokenLink | null> {
  if (!head) {
    if (last.seq > 0) {
      // The first append made the head and its event together: a head that shows up now is that, not tampering.
      const now = await readHead(trx, tenantId);
      if (!now) return { seq: last.seq, eventId: last.id, reason: 'head_missing' };
      if (now.last_seq < last.seq) return { seq: last.seq, eventId: last.id, reason: 'head_mismatch' };
    }
  } else {
    if (last.seq < head.last_seq) return { seq: last.seq + 1, eventId: null, reason: 'truncated' };
    if (last.hash !== head.last_hash) return { seq: last.seq, eventId: last.id, reason: 'head_mismatch' };
    // An event past the head was not appended through the head. Appends commit the event and the
    // head together, so one made during the walk shows as a head that has moved past it.
    const beyond = await trx<AuditRow>('audit_events')
      .where('tenant_id', tenantId)
      .where('seq', '>', head.last_seq)
      .orderBy('seq')
      .first('id', 'seq');
    if (beyond) {
      const now = await readHead(trx, tenantId);
      if (!now || now.last_seq < Number(beyond.seq))
        return { seq: Number(beyond.seq), eventId: beyond.id, reason: 'head_mismatch' };
    }
  }
  if (anchor && last.seq < anchor.seq) return { seq: anchor.seq, eventId: null, reason: 'behind_checkpoint' };
  if (anchor && head && head.keyed_from_seq !== anchor.keyedFromSeq)
    return { seq: head.keyed_from_seq, eventId: null, reason: 'boundary_moved' };
  return null;
}

function checked(checkpoint: AuditCheckpoint | null): CheckedCheckpoint | null {
  return checkpoint
    ? {
        seq: checkpoint.seq,
        hash: checkpoint.hash,
        keyedFromSeq: checkpoint.keyedFromSeq,
        takenAt: checkpoint.takenAt,
        keyId: checkpoint.keyId,
      }
    : null;
}

/**
 * Verifies the tenant's whole chain, from its first event to its head, against the latest checkpoint
 * the sink holds (when there is a sink). The database alone cannot vouch for itself to its owner:
 * the keyed hashes stop forged or altered events, and the checkpoint, signed and kept elsewhere,
 * stops the newest events being cut off (with the head rewritten to match) or the chain re-based.
 * A checkpoint that cannot be read, or whose signature does not verify, fails the verdict: the
 * chain cannot be vouched for without it.
 */
export async function verifyAuditChain(
  trx: Knex.Transaction,
  tenantId: string,
  store: AuditCheckpointStore | null,
  batchSize = 1000,
): Promise<ChainVerdict> {
  const keys = auditKeys();
  let anchor: AuditCheckpoint | null = null;
  // The checkpoint before the head: it was written after its head committed, so the head read next is at or past it.
  if (store) {
    const latest = await latestCheckpoint(store, tenantId, keys);
    if (latest.state === 'unreadable')
      return {
        valid: false,
        eventsChecked: 0,
        firstBrokenLink: { seq: 0, eventId: null, reason: 'checkpoint_unreadable' },
        checkpoint: null,
      };
    if (latest.state === 'unverified')
      return {
        valid: false,
        eventsChecked: 0,
        firstBrokenLink: { seq: latest.seq ?? 0, eventId: null, reason: 'checkpoint_invalid' },
        checkpoint: null,
      };
    if (latest.state === 'verified') anchor = latest.checkpoint;
  }
  const head = await readHead(trx, tenantId);
  const walked = await walk(trx, tenantId, GENESIS, {
    // The signed boundary, where there is one: the one in the database is only as good as its owner.
    keyedFromSeq: anchor?.keyedFromSeq ?? head?.keyed_from_seq ?? 1,
    untilSeq: head ? head.last_seq : Number.MAX_SAFE_INTEGER,
    anchor,
    keys,
    batchSize,
  });
  const broken = walked.broken ?? (await endBroken(trx, tenantId, head, walked.last, anchor));
  return {
    valid: broken === null,
    eventsChecked: walked.checked,
    firstBrokenLink: broken,
    checkpoint: checked(anchor),
  };
}

/** A chain that does not verify from the last checkpoint to its head: no checkpoint may bless it. */
export class AuditChainBroken extends Error {
  constructor(readonly link: BrokenLink) {
    super(
      `the audit chain does not verify: ${link.reason} at seq ${link.seq}${link.eventId ? ` (event ${link.eventId})` : ''}`,
    );
  }
}

/**
 * Checks the events after a trusted checkpoint (or, with none, from the first) up to the head, so a
 * new checkpoint extends the last one and never signs what was cut back, forked or forged since.
 * Events before the checkpoint are not walked again: its signed hash fixes them.
 */
export async function verifySinceCheckpoint(
  trx: Knex.Transaction,
  tenantId: string,
  head: ChainHead,
  previous: AuditCheckpoint | null,
): Promise<void> {
  let from = GENESIS;
  if (previous) {
    const at = await trx<AuditRow>('audit_events')
      .where({ tenant_id: tenantId, seq: previous.seq })
      .first('id', 'hash');
    if (!at) throw new AuditChainBroken({ seq: previous.seq, eventId: null, reason: 'behind_checkpoint' });
    if (at.hash !== previous.hash)
      throw new AuditChainBroken({ seq: previous.seq, eventId: at.id, reason: 'forked_from_checkpoint' });
    from = { seq: previous.seq, hash: previous.hash, id: at.id };
  }
  const walked = await walk(trx, tenantId, from, {
    keyedFromSeq: previous?.keyedFromSeq ?? head.keyed_from_seq,
    untilSeq: head.last_seq,
    anchor: null,
    keys: auditKeys(),
    batchSize: 1000,
  });
  const broken = walked.broken ?? (await endBroken(trx, tenantId, head, walked.last, previous));
  if (broken) throw new AuditChainBroken(broken);
}
