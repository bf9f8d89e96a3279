import type { Knex } from 'knex';
import type { OperationContext, OperationMap, OperationResult } from '../../http/operation';
import { decodeCursor, toPage } from '../../http/pagination';
import { Problem } from '../../http/problem';
import { hiddenRecordIds } from '../children/visibility';
import { takeCheckpoint } from './checkpointJob';
import { checkpointStore } from './checkpoints';
import { applyAuditFilters, auditRowToApi, type AuditFilters, type AuditRow } from './service';
import { AuditChainBroken, verifyAuditChain } from './verify';

const EXPORT_BATCH = 1000;
const EXPORT_COLUMNS = ['seq', 'id', 'occurredAt', 'actorType', 'actorId', 'action', 'entityType', 'entityId', 'ip', 'userAgent', 'requestId', 'before', 'after', 'hash'];

function filtersOf(ctx: OperationContext): AuditFilters {
  const q = ctx.query as Record<string, string | undefined>;
  return { entityType: q.entityType, entityId: q.entityId, actorId: q.actorId, action: q.action, from: q.from, to: q.to };
}

/**
 * The caller's view of the trail: an event about a record hidden from them (a restricted child, its
 * placements or matching requests, as the entity or named anywhere in what the event recorded) is
 * hidden with it. The trail itself stays whole; verification walks all of it.
 */
function visibleEvents(ctx: OperationContext): Knex.QueryBuilder {
  return applyAuditFilters(ctx.trx('audit_events as e'), ctx.tenantId!, filtersOf(ctx))
    .withMaterialized('hidden_records', hiddenRecordIds(ctx))
    .whereNotExists((q) =>
      q.select(ctx.trx.raw('1')).from('hidden_records as x').whereRaw(`e.entity_id = x.id::text OR strpos(coalesce(e.before::text, ''), x.id::text) > 0 OR strpos(coalesce(e.after::text, ''), x.id::text) > 0`),
    )
    .select('e.*');
}

async function listAuditEvents(ctx: OperationContext): Promise<OperationResult> {
  const limit = ctx.query.limit as number;
  const after = decodeCursor(ctx.query.cursor as string | undefined, 1);
  const query = visibleEvents(ctx).orderBy('e.seq', 'desc').limit(limit + 1);
  if (after) query.where('e.seq', '<', after[0] as number);
  const rows = (await query) as AuditRow[];
  return { status: 200, body: toPage(rows, limit, (r) => [Number(r.seq)], auditRowToApi) };
}

/** Keyset batches rather than a cursor, so the same code streams on PostgreSQL and on PGlite. */
async function* exportRows(ctx: OperationContext): AsyncGenerator<unknown[]> {
  let afterSeq = 0;
  for (;;) {
    const rows = (await visibleEvents(ctx).where('e.seq', '>', afterSeq).orderBy('e.seq').limit(EXPORT_BATCH)) as AuditRow[];
    for (const row of rows) {
      const e = auditRowToApi(row);
      yield [e.seq, e.id, e.occurredAt, e.actorType, e.actorId, e.action, e.entityType, e.entityId, e.ip, e.userAgent, e.requestId, e.before ? JSON.stringify(e.before) : '', e.after ? JSON.stringify(e.after) : '', e.hash];
    }
    if (rows.length < EXPORT_BATCH) return;
    afterSeq = Number(rows[rows.length - 1]!.seq);
  }
}

async function exportAuditEvents(ctx: OperationContext): Promise<OperationResult> {
  return { status: 200, csv: { filename: `audit-${ctx.principal!.tenantSlug}.csv`, columns: EXPORT_COLUMNS, rows: exportRows(ctx) } };
}

async function verifyChain(ctx: OperationContext): Promise<OperationResult> {
  return { status: 200, body: await verifyAuditChain(ctx.trx, ctx.tenantId!, checkpointStore(ctx.services)) };
}

/**
 * Takes a checkpoint of the tenant's head now, rather than at the next scheduled one (before a
 * planned change to the database, say). The event recording it follows the head it signs.
 */
async function createCheckpoint(ctx: OperationContext): Promise<OperationResult> {
  let taken: Awaited<ReturnType<typeof takeCheckpoint>>;
  try {
    taken = await takeCheckpoint(ctx.trx, ctx.tenantId!, checkpointStore(ctx.services));
  } catch (error) {
    if (error instanceof AuditChainBroken) throw new Problem('conflict', `No checkpoint was taken: ${error.message}`, { firstBrokenLink: error.link });
    throw error;
  }
  // Every tenant's chain starts with its creation, so this is a chain whose head is gone.
  if (!taken) throw new Problem('conflict', 'No checkpoint was taken: the audit chain has no head');
  const { checkpoint, written } = taken;
  await ctx.audit({ action: 'audit.checkpoint_taken', entityType: 'audit_checkpoint', entityId: String(checkpoint.seq), after: { seq: checkpoint.seq, hash: checkpoint.hash, keyedFromSeq: checkpoint.keyedFromSeq, takenAt: checkpoint.takenAt, keyId: checkpoint.keyId, written } });
  return { status: written ? 201 : 200, body: checkpoint };
}

export const auditOperations: OperationMap = {
  listAuditEvents: { access: { permission: 'audit:read' }, handle: listAuditEvents },
  exportAuditEvents: { access: { permission: 'audit:read' }, handle: exportAuditEvents },
  verifyAuditChain: { access: { permission: 'audit:read' }, handle: verifyChain },
  createAuditCheckpoint: { access: { permission: 'audit:checkpoint' }, handle: createCheckpoint },
};
