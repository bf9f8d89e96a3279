import type { Knex } from 'knex';
import { enqueue } from '../../jobs/queue';
import type { JobHandler } from '../../jobs/worker';
import type { AuditCheckpoint, AuditCheckpointStore } from './checkpointSinks';
import { checkpointStore, latestCheckpoint, signCheckpoint } from './checkpoints';
import { auditKeys } from './keys';
import { AuditChainBroken, readHead, verifySinceCheckpoint } from './verify';

export const AUDIT_CHECKPOINT_JOB = 'audit-checkpoint';

/**
 * Signs the tenant's head and hands the checkpoint to the sink, after checking that the chain from
 * the last checkpoint to the head verifies (a checkpoint must never bless a chain that was cut back
 * or forged since the last one). A head already checkpointed is not signed again. Null when the
 * tenant has no events yet. Throws AuditChainBroken when the chain does not verify, and when the
 * last checkpoint cannot be read or does not verify (nothing can be built on it).
 */
export async function takeCheckpoint(trx: Knex.Transaction, tenantId: string, store: AuditCheckpointStore): Promise<{ checkpoint: AuditCheckpoint; written: boolean } | null> {
  const keys = auditKeys();
  // The checkpoint before the head: a checkpoint is written after its head committed, so the head
  // read next is at or past it, even when another checkpoint is being taken at the same moment.
  const latest = await latestCheckpoint(store, tenantId, keys);
  const head = await readHead(trx, tenantId);
  if (!head || head.last_seq === 0) return null;
  if (latest.state === 'unreadable') throw new AuditChainBroken({ seq: 0, eventId: null, reason: 'checkpoint_unreadable' });
  if (latest.state === 'unverified') throw new AuditChainBroken({ seq: latest.seq ?? 0, eventId: null, reason: 'checkpoint_invalid' });
  const previous = latest.state === 'verified' ? latest.checkpoint : null;
  if (previous && previous.seq === head.last_seq && previous.hash === head.last_hash && previous.keyedFromSeq === head.keyed_from_seq) return { checkpoint: previous, written: false };
  await verifySinceCheckpoint(trx, tenantId, head, previous);
  const checkpoint = signCheckpoint({ tenantId, seq: head.last_seq, hash: head.last_hash, keyedFromSeq: head.keyed_from_seq }, keys);
  await store.write(checkpoint);
  return { checkpoint, written: true };
}

/** One tenant's checkpoint, on the durable queue (scheduled by scheduleAuditCheckpoints). */
export const auditCheckpointJob: JobHandler = async (ctx) => {
  const store = checkpointStore(ctx.services);
  const taken = await ctx.inTenant((trx) => takeCheckpoint(trx, ctx.tenantId, store));
  if (!taken) return { skipped: 'the tenant has no audit events' };
  return { seq: taken.checkpoint.seq, hash: taken.checkpoint.hash, takenAt: taken.checkpoint.takenAt, written: taken.written };
};

/**
 * Enqueues a checkpoint of every tenant's chain (service and platform, active or not: a suspended
 * tenant's trail can be tampered with too) for the current period of `everyMs`. The period is the
 * job's unique key, so every process may run this as often as it likes and each tenant is
 * checkpointed once a period.
 */
export async function scheduleAuditCheckpoints(db: Knex, everyMs: number, now = new Date()): Promise<number> {
  // As the owner: tenants_owner_lookup lets it list tenants; the jobs_owner_worker policy lets it enqueue for each.
  const tenants = (await db('tenants').select('id')) as Array<{ id: string }>;
  const period = `period-${Math.floor(now.getTime() / everyMs)}-of-${everyMs}`;
  let created = 0;
  for (const tenant of tenants) {
    const job = await enqueue(db, { tenantId: tenant.id, kind: AUDIT_CHECKPOINT_JOB, uniqueKey: period, maxAttempts: 3 });
    if (job.created) created++;
  }
  return created;
}
