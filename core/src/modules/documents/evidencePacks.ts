import { findOne } from '../../db/find';
import { enqueue } from '../../jobs/queue';
import { actorKind, type TenantScope } from '../../http/operation';
import { Problem } from '../../http/problem';
import { newId } from '../../ids';
import { childVisible, type Fenced } from '../children/visibility';
import { EvidencePack, type PackedVersion } from './evidencePackModel';
import { documentsVisible, resolveSubject } from './subjects';

export const EVIDENCE_PACK_JOB = 'evidence-pack-build';

export function evidencePackToApi(p: EvidencePack) {
  return {
    id: p.id,
    subjectType: p.subjectType,
    subjectId: p.subjectId,
    from: p.periodFrom,
    to: p.periodTo,
    status: p.status,
    progress: { done: p.progressDone, total: p.progressTotal },
    snapshot: {
      auditSeq: Number(p.snapshotSeq),
      takenAt: new Date(p.snapshotAt).toISOString(),
      documents: p.snapshotDocuments.length,
    },
    documentId: p.documentId,
    manifestSha256: p.manifestSha256,
    error: p.error,
    rebuildOf: p.rebuildOf,
    version: p.version,
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
  };
}

/** Packs of the records the caller can read, a restricted child's only for the users named on it. */
export function evidencePacksVisible(ctx: Fenced & Pick<TenantScope, 'principal'>, alias: string) {
  const kinds = [
    ...(ctx.principal.permissions.has('carers:read') ? ['household'] : []),
    ...(ctx.principal.permissions.has('children:read') ? ['child'] : []),
  ];
  return (q: { whereIn(column: string, values: string[]): unknown; where(condition: unknown): unknown }) => {
    q.whereIn(`${alias}.subject_type`, kinds);
    q.where(childVisible(ctx, `${alias}.child_id`));
  };
}

export function findEvidencePack(ctx: TenantScope, id: string): Promise<EvidencePack> {
  const fence = evidencePacksVisible(ctx, 'evidence_packs');
  return findOne<EvidencePack>(ctx, EvidencePack, id, { narrow: (q) => fence(q as never) });
}

/** A pack holds the audit trail: building one needs audit:read besides the documents. */
function assertMayBuild(ctx: TenantScope): void {
  if (!ctx.principal.permissions.has('audit:read'))
    throw new Problem('forbidden', 'An evidence pack holds audit events: it needs the permission audit:read as well');
}

/**
 * The versions a pack of the record holds: the current version of each active document of the
 * household (its own and those of its members, checks, placements…) or of the child, that the caller
 * may see, quarantined ones left out. Ordered by document, so the pack's order never depends on the plan.
 */
async function currentVersions(
  ctx: TenantScope,
  subjectType: 'household' | 'child',
  subjectId: string,
): Promise<PackedVersion[]> {
  const query = ctx
    .trx('documents as d')
    .join('document_versions as v', (j) =>
      j.on('v.tenant_id', 'd.tenant_id').andOn('v.document_id', 'd.id').andOn('v.number', 'd.current_version'),
    )
    .where('d.tenant_id', ctx.tenantId)
    .where(subjectType === 'household' ? 'd.household_id' : 'd.child_id', subjectId)
    .where('d.status', 'active')
    .whereNot('v.scan_status', 'quarantined')
    .whereNotNull('v.object_key')
    // A pack is not evidence of itself: earlier packs of the record stay out of the next one.
    .whereNot('d.category', 'evidence_pack')
    .orderBy('d.id')
    .select({ documentId: 'd.id', number: 'v.number', title: 'd.title', category: 'd.category' });
  documentsVisible(ctx, 'd')(query);
  return (await query) as PackedVersion[];
}

async function insertPack(
  ctx: TenantScope,
  input: {
    subjectType: 'household' | 'child';
    subjectId: string;
    from: string;
    to: string;
    snapshotSeq: number;
    snapshotAt: Date;
    documents: PackedVersion[];
    rebuildOf: string | null;
  },
): Promise<EvidencePack> {
  const pack = await EvidencePack.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      id: newId(),
      subjectType: input.subjectType,
      subjectId: input.subjectId,
      childId: input.subjectType === 'child' ? input.subjectId : null,
      householdId: input.subjectType === 'household' ? input.subjectId : null,
      periodFrom: input.from,
      periodTo: input.to,
      progressTotal: 0,
      snapshotSeq: input.snapshotSeq,
      snapshotAt: input.snapshotAt,
      snapshotDocuments: input.documents,
      requestedByType: actorKind(ctx.principal),
      requestedBy: ctx.principal.id,
      rebuildOf: input.rebuildOf,
    })
    .returning('*');
  await enqueue(ctx.trx, { tenantId: ctx.tenantId, kind: EVIDENCE_PACK_JOB, payload: { packId: pack.id } });
  await ctx.audit({
    action: input.rebuildOf ? 'evidence_pack.rebuild_requested' : 'evidence_pack.requested',
    entityType: 'evidence_pack',
    // A rebuild is told on the pack it rebuilds (the new pack, rebuildOf it, is in `after`).
    entityId: input.rebuildOf ?? pack.id,
    after: evidencePackToApi(pack),
  });
  return pack;
}

/**
 * Takes the snapshot (the audit trail's head and the time, in this transaction; the document
 * versions the caller may see now) and queues the build.
 */
export async function requestEvidencePack(
  ctx: TenantScope,
  input: { subjectType: 'household' | 'child'; subjectId: string; from: string; to: string },
): Promise<EvidencePack> {
  assertMayBuild(ctx);
  if (input.from > input.to) throw Problem.unprocessable([{ pointer: '/body/to', message: 'must not be before from' }]);
  await resolveSubject(ctx, input.subjectType, input.subjectId);
  const head = (await ctx.trx.raw(
    `SELECT coalesce((SELECT last_seq FROM audit_chain_heads WHERE tenant_id = ?), 0) AS seq, now() AS at`,
    [ctx.tenantId],
  )) as { rows: Array<{ seq: string | number; at: Date }> };
  const documents = await currentVersions(ctx, input.subjectType, input.subjectId);
  return insertPack(ctx, {
    ...input,
    snapshotSeq: Number(head.rows[0]!.seq),
    snapshotAt: new Date(head.rows[0]!.at),
    documents,
    rebuildOf: null,
  });
}

/** A new pack from an existing one's snapshot: the same versions, decisions and events. */
export async function rebuildEvidencePack(ctx: TenantScope, original: EvidencePack): Promise<EvidencePack> {
  assertMayBuild(ctx);
  return insertPack(ctx, {
    subjectType: original.subjectType,
    subjectId: original.subjectId,
    from: original.periodFrom,
    to: original.periodTo,
    snapshotSeq: Number(original.snapshotSeq),
    snapshotAt: new Date(original.snapshotAt),
    documents: original.snapshotDocuments,
    rebuildOf: original.id,
  });
}
