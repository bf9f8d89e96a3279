import type { Knex } from 'knex';
import { enqueue } from '../../jobs/queue';
import type { JobHandler } from '../../jobs/worker';
import type { AuditCheckpoint, AuditCheckpointStore } from './checkpointSinks';
import { checkpointStore, latestCheckpoint, signCheckpoint } from './checkpoints';
import { Tenant } from '../tenants/models';
import { auditKeys } from './keys';
import { AuditChainBroken, readHead, verifySinceCheckpoint, type ChainHead } from './verify';

export const AUDIT_CHECKPOINT_JOB = 'audit-checkpoint';

/** Where a tenant's chain stands against its last checkpoint. */
type CheckpointDue =
  | { state: 'empty' }
  | { state: 'current'; checkpoint: AuditCheckpoint }
  | { state: 'due'; previous: AuditCheckpoint | null; head: ChainHead };

/**
 * Reads the last checkpoint, then the head. The checkpoint before the head: a checkpoint is written
 * after its head committed, so the head read next is at or past it, even when another checkpoint is
 * being taken at the same moment. Throws AuditChainBroken when the last checkpoint cannot be read or
 * does not verify (nothing can be built on it).
 */
async function checkpointDue(
  trx: Knex.Transaction,
  tenantId: string,
  store: AuditCheckpointStore,
): Promise<CheckpointDue> {
  const latest = await latestCheckpoint(store, tenantId, auditKeys());
  const head = await readHead(trx, tenantId);
  if (!head || head.last_seq === 0) return { state: 'empty' };
  if (latest.state === 'unreadable')
    throw new AuditChainBroken({ seq: 0, eventId: null, reason: 'checkpoint_unreadable' });
  if (latest.state === 'unverified')
    throw new AuditChainBroken({ seq: latest.seq ?? 0, eventId: null, reason: 'checkpoint_invalid' });
  const previous = latest.state === 'verified' ? latest.checkpoint : null;
  const current =
    previous &&
    previous.seq === head.last_seq &&
    previous.hash === head.last_hash &&
    previous.keyedFromSeq === head.keyed_from_seq;
  if (current) return { state: 'current', checkpoint: previous };
  return { state: 'due', previous, head };
}

/** Checks the chain from the last checkpoint to `head` (it must never bless a chain cut back or forged since), then signs the head. */
async function verifiedAndSigned(
  trx: Knex.Transaction,
  tenantId: string,
  head: ChainHead,
  previous: AuditCheckpoint | null,
): Promise<AuditCheckpoint> {
  await verifySinceCheckpoint(trx, tenantId, head, previous);
  return signCheckpoint(
    { tenantId, seq: head.last_seq, hash: head.last_hash, keyedFromSeq: head.keyed_from_seq },
    auditKeys(),
  );
}

/**
 * Signs the tenant's head and hands the checkpoint to the sink, after checking that the chain from
 * the last checkpoint to the head verifies. A head already checkpointed is not signed again. Null when
 * the tenant has no events yet. Throws AuditChainBroken when the chain does not verify, and when the
 * last checkpoint cannot be read or does not verify.
 */
export async function takeCheckpoint(
  trx: Knex.Transaction,
  tenantId: string,
  store: AuditCheckpointStore,
): Promise<{ checkpoint: AuditCheckpoint; written: boolean } | null> {
  const due = await checkpointDue(trx, tenantId, store);
  if (due.state === 'empty') return null;
  if (due.state === 'current') return { checkpoint: due.checkpoint, written: false };
  const checkpoint = await verifiedAndSigned(trx, tenantId, due.head, due.previous);
  await store.write(checkpoint);
  return { checkpoint, written: true };
}

/**
 * One tenant's checkpoint, on the durable queue (scheduled by scheduleAuditCheckpoints). The job
 * audits what it does with `audit.checkpoint_taken`, appended before the head is signed, so the
 * checkpoint covers its own event: the next period finds that head checkpointed and does nothing, where
 * an event after the checkpoint would move the head on and call for another checkpoint every period.
 * The checkpoint goes to the sink once that transaction has committed: a checkpoint is only ever of a
 * committed head (one of a head that rolled back would fail every later verification).
 */
export const auditCheckpointJob: JobHandler = async (ctx) => {
  const store = checkpointStore(ctx.services);
  const taken = await ctx.inTenant(async (trx) => {
    const due = await checkpointDue(trx, ctx.tenantId, store);
    if (due.state !== 'due') return due;
    // No seq or hash to record: the checkpoint is of the head this event makes.
    await ctx.audit(trx, {
      action: 'audit.checkpoint_taken',
      entityType: 'audit_checkpoint',
      after: { previousSeq: due.previous?.seq ?? null, keyId: auditKeys().signingKey.id },
    });
    const head = await readHead(trx, ctx.tenantId);
    if (!head) throw new Error(`audit: the head of tenant ${ctx.tenantId} is gone after an append`);
    return { state: 'signed' as const, checkpoint: await verifiedAndSigned(trx, ctx.tenantId, head, due.previous) };
  });
  if (taken.state === 'empty') return { skipped: 'the tenant has no audit events' };
  if (taken.state === 'signed') await store.write(taken.checkpoint);
  const { checkpoint } = taken;
  return { seq: checkpoint.seq, hash: checkpoint.hash, takenAt: checkpoint.takenAt, written: taken.state === 'signed' };
};

/**
 * Enqueues a checkpoint of every tenant's chain (service and platform, active or not: a suspended
 * tenant's trail can be tampered with too) for the current period of `everyMs`. The period is the
 * job's unique key, so every process may run this as often as it likes and each tenant is
 * checkpointed once a period.
 */
export async function scheduleAuditCheckpoints(db: Knex, everyMs: number, now = new Date()): Promise<number> {
  // As the owner: tenants_owner_lookup lets it list tenants; the jobs_owner_worker policy lets it enqueue for each.
  const tenants = await Tenant.query(db).select('id');
  const period = `period-${Math.floor(now.getTime() / everyMs)}-of-${everyMs}`;
  let created = 0;
  for (const tenant of tenants) {
    const job = await enqueue(db, {
      tenantId: tenant.id,
      kind: AUDIT_CHECKPOINT_JOB,
      uniqueKey: period,
      maxAttempts: 3,
    });
    if (job.created) created++;
  }
  return created;
}
