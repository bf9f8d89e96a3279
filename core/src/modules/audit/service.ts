import type { Knex } from 'knex';
import { newId } from '../../ids';
import { canonicalJson, eventHash, GENESIS_HASH, type ChainedFields } from './hashChain';

export interface AuditEventInput {
  action: string;
  entityType: string;
  entityId?: string | null;
  before?: unknown;
  after?: unknown;
  /** Who acted, where the request carried no credential but proved one (a successful log-in). */
  actor?: { type: 'user'; id: string };
}

export interface AuditActor {
  actorType: 'user' | 'api_key' | 'system' | 'anonymous';
  actorId: string | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
}

interface AuditRow {
  tenant_id: string;
  id: string;
  seq: number;
  occurred_at: Date;
  actor_type: string;
  actor_id: string | null;
  action: string;
  entity_type: string;
  entity_id: string | null;
  before: unknown;
  after: unknown;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  prev_hash: string;
  hash: string;
}

/** Strips secrets from what an audit event records of a row. */
const REDACTED_KEYS = new Set(['password', 'passwordHash', 'password_hash', 'mfaSecret', 'mfa_secret', 'mfaPendingSecret', 'mfa_pending_secret', 'tokenHash', 'token_hash', 'secret', 'newPassword', 'currentPassword']);

function redact(value: unknown): unknown {
  if (value === undefined) return null;
  // Round-trip through JSON so dates become strings, exactly as jsonb will give them back.
  const plain = JSON.parse(JSON.stringify(value ?? null)) as unknown;
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (node && typeof node === 'object') {
      return Object.fromEntries(
        Object.entries(node as Record<string, unknown>).map(([k, v]) => [k, REDACTED_KEYS.has(k) ? '[redacted]' : walk(v)]),
      );
    }
    return node;
  };
  return walk(plain);
}

/** The fields of a stored event that its hash covers, as they were when it was appended. */
export function rowToFields(row: AuditRow): ChainedFields {
  return {
    tenantId: row.tenant_id,
    id: row.id,
    seq: Number(row.seq),
    occurredAt: new Date(row.occurred_at).toISOString(),
    actorType: row.actor_type,
    actorId: row.actor_id,
    action: row.action,
    entityType: row.entity_type,
    entityId: row.entity_id,
    before: row.before,
    after: row.after,
    ip: row.ip,
    userAgent: row.user_agent,
    requestId: row.request_id,
    prevHash: row.prev_hash,
  };
}

/**
 * Appends one event to the tenant's chain in the caller's transaction. Locking the chain head
 * serialises appends within a tenant, so sequence numbers have no gaps and each hash covers the last.
 */
export async function appendAuditEvent(trx: Knex.Transaction, tenantId: string, actor: AuditActor, event: AuditEventInput): Promise<string> {
  await trx.raw(
    `INSERT INTO audit_chain_heads (tenant_id, last_seq, last_hash) VALUES (?, 0, ?) ON CONFLICT (tenant_id) DO NOTHING`,
    [tenantId, GENESIS_HASH],
  );
  const head = (await trx('audit_chain_heads').where({ tenant_id: tenantId }).forUpdate().first()) as
    | { last_seq: number; last_hash: string }
    | undefined;
  if (!head) throw new Error('audit chain head is not visible: is app.tenant_id set to this tenant?');

  const fields: ChainedFields = {
    tenantId,
    id: newId(),
    seq: Number(head.last_seq) + 1,
    occurredAt: new Date().toISOString(),
    actorType: actor.actorType,
    actorId: actor.actorId,
    action: event.action,
    entityType: event.entityType,
    entityId: event.entityId ?? null,
    before: redact(event.before),
    after: redact(event.after),
    ip: actor.ip,
    userAgent: actor.userAgent,
    requestId: actor.requestId,
    prevHash: head.last_hash,
  };
  const hash = eventHash(fields);
  await trx('audit_events').insert({
    tenant_id: tenantId,
    id: fields.id,
    seq: fields.seq,
    occurred_at: fields.occurredAt,
    actor_type: fields.actorType,
    actor_id: fields.actorId,
    action: fields.action,
    entity_type: fields.entityType,
    entity_id: fields.entityId,
    before: fields.before === null ? null : canonicalJson(fields.before),
    after: fields.after === null ? null : canonicalJson(fields.after),
    ip: fields.ip,
    user_agent: fields.userAgent,
    request_id: fields.requestId,
    prev_hash: fields.prevHash,
    hash,
  });
  await trx('audit_chain_heads').where({ tenant_id: tenantId }).update({ last_seq: fields.seq, last_hash: hash });
  return fields.id;
}

export interface AuditFilters {
  entityType?: string;
  entityId?: string;
  actorId?: string;
  action?: string;
  from?: string;
  to?: string;
}

export function applyAuditFilters(query: Knex.QueryBuilder, tenantId: string, filters: AuditFilters): Knex.QueryBuilder {
  query.where('tenant_id', tenantId);
  if (filters.entityType) query.where('entity_type', filters.entityType);
  if (filters.entityId) query.where('entity_id', filters.entityId);
  if (filters.actorId) query.where('actor_id', filters.actorId);
  if (filters.action) query.where('action', filters.action);
  if (filters.from) query.where('occurred_at', '>=', filters.from);
  if (filters.to) query.where('occurred_at', '<', filters.to);
  return query;
}

export function auditRowToApi(row: AuditRow) {
  return {
    id: row.id,
    seq: Number(row.seq),
    occurredAt: new Date(row.occurred_at).toISOString(),
    actorType: row.actor_type as 'user' | 'api_key' | 'system' | 'anonymous',
    actorId: row.actor_id,
    action: row.action,
    entityType: row.entity_type,
    entityId: row.entity_id,
    before: (row.before ?? null) as Record<string, unknown> | null,
    after: (row.after ?? null) as Record<string, unknown> | null,
    ip: row.ip,
    userAgent: row.user_agent,
    requestId: row.request_id,
    hash: row.hash,
  };
}

export type BrokenLinkReason = 'hash_mismatch' | 'previous_hash_mismatch' | 'sequence_gap' | 'truncated';

export interface ChainVerdict {
  valid: boolean;
  eventsChecked: number;
  firstBrokenLink: { seq: number; eventId: string | null; reason: BrokenLinkReason } | null;
}

/**
 * Walks the tenant's chain in order, in batches, recomputing each hash, then checks that the chain
 * ends where the head (written with every append) says it does, so deleting the newest events shows too.
 */
export async function verifyAuditChain(trx: Knex.Transaction, tenantId: string, batchSize = 1000): Promise<ChainVerdict> {
  let prevHash = GENESIS_HASH;
  let expectedSeq = 1;
  let checked = 0;
  for (;;) {
    const rows = (await trx('audit_events')
      .where('tenant_id', tenantId)
      .where('seq', '>=', expectedSeq)
      .orderBy('seq')
      .limit(batchSize)) as AuditRow[];
    if (rows.length === 0) break;
    for (const row of rows) {
      const seq = Number(row.seq);
      if (seq !== expectedSeq) return { valid: false, eventsChecked: checked, firstBrokenLink: { seq, eventId: row.id, reason: 'sequence_gap' } };
      if (row.prev_hash !== prevHash) return { valid: false, eventsChecked: checked, firstBrokenLink: { seq, eventId: row.id, reason: 'previous_hash_mismatch' } };
      if (eventHash(rowToFields(row)) !== row.hash) return { valid: false, eventsChecked: checked, firstBrokenLink: { seq, eventId: row.id, reason: 'hash_mismatch' } };
      prevHash = row.hash;
      expectedSeq = seq + 1;
      checked++;
    }
  }
  const head = (await trx('audit_chain_heads').where({ tenant_id: tenantId }).first('last_seq', 'last_hash')) as { last_seq: number; last_hash: string } | undefined;
  if (head && (Number(head.last_seq) !== expectedSeq - 1 || head.last_hash !== prevHash)) {
    return { valid: false, eventsChecked: checked, firstBrokenLink: { seq: expectedSeq, eventId: null, reason: 'truncated' } };
  }
  return { valid: true, eventsChecked: checked, firstBrokenLink: null };
}

export type { AuditRow };
