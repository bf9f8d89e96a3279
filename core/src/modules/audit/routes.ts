import type { Knex } from 'knex';
import { keysetPage } from '../../db/keyset';
import { defineOperations, type OperationResult, type TenantContext, type TenantScope } from '../../http/operation';
import { created, ok } from '../../http/results';
import { Problem } from '../../http/problem';
import { hiddenRecordIds } from '../children/visibility';
import { takeCheckpoint } from './checkpointJob';
import { checkpointStore } from './checkpoints';
import { applyAuditFilters, auditRowToApi, type AuditFilters, type AuditRow } from './service';
import { AuditChainBroken, verifyAuditChain } from './verify';

const EXPORT_BATCH = 1000;
const EXPORT_COLUMNS = [
  'seq',
  'id',
  'occurredAt',
  'actorType',
  'actorId',
  'action',
  'entityType',
  'entityId',
  'ip',
  'userAgent',
  'requestId',
  'before',
  'after',
  'hash',
];

/**
 * The caller's view of the trail: an event about a record hidden from them (a restricted child, its
 * placements or matching requests, as the entity or named anywhere in what the event recorded) is
 * hidden with it. The trail itself stays whole; verification walks all of it.
 */
function visibleEvents(ctx: TenantScope, filters: AuditFilters): Knex.QueryBuilder<AuditRow, AuditRow[]> {
  return applyAuditFilters(ctx.trx<AuditRow>('audit_events as e'), ctx.tenantId, filters)
    .withMaterialized('hidden_records', hiddenRecordIds(ctx))
    .whereNotExists((q) =>
      q
        .select(ctx.trx.raw('1'))
        .from('hidden_records as x')
        .whereRaw(
          `e.entity_id = x.id::text OR strpos(coalesce(e.before::text, ''), x.id::text) > 0 OR strpos(coalesce(e.after::text, ''), x.id::text) > 0`,
        ),
    )
    .select('e.*');
}

async function listAuditEvents(ctx: TenantContext<'listAuditEvents'>): Promise<OperationResult> {
  const page = await keysetPage(
    visibleEvents(ctx, ctx.query),
    ctx.query,
    [{ column: 'e.seq', of: (r) => Number(r.seq) }],
    auditRowToApi,
    'desc',
  );
  return ok({ data: page.data, nextCursor: page.nextCursor });
}

/** Keyset batches rather than a cursor, so the same code streams on PostgreSQL and on PGlite. */
async function* exportRows(ctx: TenantScope, filters: AuditFilters): AsyncGenerator<unknown[]> {
  let afterSeq = 0;
  for (;;) {
    const rows = await visibleEvents(ctx, filters).where('e.seq', '>', afterSeq).orderBy('e.seq').limit(EXPORT_BATCH);
    for (const row of rows) {
      const e = auditRowToApi(row);
      const before = e.before ? JSON.stringify(e.before) : '';
      const after = e.after ? JSON.stringify(e.after) : '';
      yield [
        e.seq,
        e.id,
        e.occurredAt,
        e.actorType,
        e.actorId,
        e.action,
        e.entityType,
        e.entityId,
        e.ip,
        e.userAgent,
        e.requestId,
        before,
        after,
        e.hash,
      ];
    }
    if (rows.length < EXPORT_BATCH) return;
    afterSeq = Number(rows[rows.length - 1]!.seq);
  }
}

async function exportAuditEvents(ctx: TenantContext<'exportAuditEvents'>): Promise<OperationResult> {
  return {
    status: 200,
    csv: {
      filename: `audit-${ctx.principal.tenantSlug}.csv`,
      columns: EXPORT_COLUMNS,
      rows: exportRows(ctx, ctx.query),
    },
  };
}

async function verifyChain(ctx: TenantContext<'verifyAuditChain'>): Promise<OperationResult> {
  return ok(await verifyAuditChain(ctx.trx, ctx.tenantId, checkpointStore(ctx.services)));
}

/**
 * Takes a checkpoint of the tenant's head now, rather than at the next scheduled one (before a
 * planned change to the database, say). The event recording it follows the head it signs.
 */
async function createCheckpoint(ctx: TenantContext<'createAuditCheckpoint'>): Promise<OperationResult> {
  let taken: Awaited<ReturnType<typeof takeCheckpoint>>;
  try {
    taken = await takeCheckpoint(ctx.trx, ctx.tenantId, checkpointStore(ctx.services));
  } catch (error) {
    if (error instanceof AuditChainBroken)
      throw new Problem('conflict', `No checkpoint was taken: ${error.message}`, { firstBrokenLink: error.link });
    throw error;
  }
  // Every tenant's chain starts with its creation, so this is a chain whose head is gone.
  if (!taken) throw new Problem('conflict', 'No checkpoint was taken: the audit chain has no head');
  const { checkpoint, written } = taken;
  const { seq, hash, keyedFromSeq, takenAt, keyId } = checkpoint;
  const after = { seq, hash, keyedFromSeq, takenAt, keyId, written };
  await ctx.audit({ action: 'audit.checkpoint_taken', entityType: 'audit_checkpoint', entityId: String(seq), after });
  // A new checkpoint has no address of its own to give as a Location: 201 says it was written now.
  return written ? created(checkpoint) : ok(checkpoint);
}

export const auditOperations = defineOperations({
  listAuditEvents: { access: { permission: 'audit:read' }, handle: listAuditEvents },
  exportAuditEvents: { access: { permission: 'audit:read' }, handle: exportAuditEvents },
  verifyAuditChain: { access: { permission: 'audit:read' }, handle: verifyChain },
  createAuditCheckpoint: { access: { permission: 'audit:checkpoint' }, handle: createCheckpoint },
});
