import type { Knex } from 'knex';
import { newId } from '../../ids';
import { publishEvent } from '../events/publish';
import { canonicalJson, GENESIS_HASH, keyedEventHash, type ChainedFields } from './hashChain';
import { auditKeys } from './keys';
import { knexRaw, type Statement } from '../../db/pipeline';

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

/**
 * Hearth itself acting (a job, a start-up seed): no person, no credential. `requestId` names the run
 * that acted (`job-<id>`, `demo-seed-…`), so its events can be found together.
 */
export function systemActor(requestId: string | null = null): AuditActor {
  return { actorType: 'system', actorId: null, ip: null, userAgent: null, requestId };
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
  /** The chain key that hashed it; null before chains were keyed. */
  key_id: string | null;
}

/** Strips secrets from what an audit event records of a row. */
const REDACTED_KEYS = new Set([
  'password',
  'passwordHash',
  'password_hash',
  'mfaSecret',
  'mfa_secret',
  'mfaPendingSecret',
  'mfa_pending_secret',
  'tokenHash',
  'token_hash',
  'secret',
  'newPassword',
  'currentPassword',
]);

function redact(value: unknown): unknown {
  if (value === undefined) return null;
  // Round-trip through JSON so dates become strings, exactly as jsonb will give them back.
  const plain = JSON.parse(JSON.stringify(value ?? null)) as unknown;
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (node && typeof node === 'object') {
      return Object.fromEntries(
        Object.entries(node as Record<string, unknown>).map(([k, v]) => [
          k,
          REDACTED_KEYS.has(k) ? '[redacted]' : walk(v),
        ]),
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
    keyId: row.key_id,
  };
}

/**
 * What this process last saw of each tenant's head. Only a guess: the database checks it, and a
 * wrong guess (another process appended, a transaction rolled back) costs one more round trip.
 */
const knownHeads = new Map<string, { seq: number; hash: string; occurredAt: number }>();
/** How far this process's clock is behind the database's, as last measured (the database refuses a time more than 2 s off its own). */
let clockOffsetMs = 0;
const APPEND_ATTEMPTS = 5;

interface AppendOutcome {
  outcome: 'appended' | 'stale' | 'clock';
  head_seq: number | null;
  head_hash: string | null;
  head_time: Date | string | null;
  db_time: Date | string;
}

/** The call that appends an event at the position `head` is guessed to give it, hashed for that position. */
function appendCall(
  tenantId: string,
  id: string,
  actor: AuditActor,
  event: AuditEventInput,
  recorded: { before: unknown; after: unknown },
  head: { seq: number; hash: string; occurredAt: number },
) {
  const key = auditKeys().chainKey;
  // Never before the event it follows: the database refuses that too.
  const occurredAt = new Date(Math.max(Date.now() + clockOffsetMs, head.occurredAt));
  const fields: ChainedFields = {
    tenantId,
    id,
    seq: head.seq + 1,
    occurredAt: occurredAt.toISOString(),
    actorType: actor.actorType,
    actorId: actor.actorId,
    action: event.action,
    entityType: event.entityType,
    entityId: event.entityId ?? null,
    before: recorded.before,
    after: recorded.after,
    ip: actor.ip,
    userAgent: actor.userAgent,
    requestId: actor.requestId,
    prevHash: head.hash,
    keyId: key.id,
  };
  const hash = keyedEventHash(fields, key);
  const statement: Statement = {
    text: `SELECT * FROM hearth_append_audit_event($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12::jsonb, $13, $14, $15, $16, $17)`,
    values: [
      tenantId,
      id,
      fields.seq,
      fields.prevHash,
      fields.occurredAt,
      fields.actorType,
      fields.actorId,
      fields.action,
      fields.entityType,
      fields.entityId,
      recorded.before === null ? null : canonicalJson(recorded.before),
      recorded.after === null ? null : canonicalJson(recorded.after),
      fields.ip,
      fields.userAgent,
      fields.requestId,
      key.id,
      hash,
    ],
  };
  return { statement, fields, hash, occurredAt };
}

/** Takes the database's answer to an append: true once appended (the head and the public event follow it). */
async function settleAppend(
  trx: Knex.Transaction,
  tenantId: string,
  event: AuditEventInput,
  call: ReturnType<typeof appendCall>,
  answer: AppendOutcome,
): Promise<boolean> {
  // Every answer carries the database's clock: keep in step with it, so the next stamp is its time.
  clockOffsetMs = new Date(answer.db_time).getTime() - Date.now();
  if (answer.outcome === 'appended') {
    knownHeads.set(tenantId, { seq: call.fields.seq, hash: call.hash, occurredAt: call.occurredAt.getTime() });
    // The public event rides on the audit event: same transaction, and its position in the chain as its order.
    await publishEvent(
      trx,
      tenantId,
      { id: call.fields.id, seq: call.fields.seq, occurredAt: call.fields.occurredAt },
      event,
    );
    return true;
  }
  if (answer.outcome === 'stale')
    knownHeads.set(tenantId, {
      seq: Number(answer.head_seq),
      hash: answer.head_hash!,
      occurredAt: answer.head_time ? new Date(answer.head_time).getTime() : 0,
    });
  return false;
}

/**
 * Appends one event to the tenant's chain in the caller's transaction, through the database's
 * hearth_append_audit_event: the application role cannot write the events or the head itself.
 * The event is hashed here, with the chain key (which never enters the database), over the
 * position and time the head is expected to give it; the function checks both against the locked
 * head and its own clock and either appends and moves the head, or says what the head and the time
 * are, and the event is hashed again with those. In the usual case that is one round trip.
 */
export async function appendAuditEvent(
  trx: Knex.Transaction,
  tenantId: string,
  actor: AuditActor,
  event: AuditEventInput,
): Promise<string> {
  const id = newId();
  const recorded = { before: redact(event.before), after: redact(event.after) };
  for (let attempt = 0; attempt < APPEND_ATTEMPTS; attempt++) {
    const head = knownHeads.get(tenantId) ?? { seq: 0, hash: GENESIS_HASH, occurredAt: 0 };
    const call = appendCall(tenantId, id, actor, event, recorded, head);
    const result = (await knexRaw(trx, call.statement)) as { rows: AppendOutcome[] };
    if (await settleAppend(trx, tenantId, event, call, result.rows[0]!)) return id;
  }
  throw new Error(`audit: the chain of tenant ${tenantId} did not take the event after ${APPEND_ATTEMPTS} attempts`);
}

/** An append sent ahead of time: its statement, and what takes the rows it answered. */
export interface AuditAppendAhead {
  statement: Statement;
  /** Takes the statement's rows in the same transaction; where the guess of the head was stale, appends as usual. */
  settle(trx: Knex.Transaction, rows: ReadonlyArray<Record<string, unknown>>): Promise<string>;
}

/**
 * An append to send with other statements (a transaction's opening), on this process's guess of the
 * tenant's head: when the guess holds, the event costs no round trip of its own. Its statement must
 * run in the transaction `settle` is then given, and `settle` must be called before that commits.
 */
export function auditAppendAhead(tenantId: string, actor: AuditActor, event: AuditEventInput): AuditAppendAhead {
  const recorded = { before: redact(event.before), after: redact(event.after) };
  const head = knownHeads.get(tenantId) ?? { seq: 0, hash: GENESIS_HASH, occurredAt: 0 };
  const call = appendCall(tenantId, newId(), actor, event, recorded, head);
  return {
    statement: call.statement,
    async settle(trx, rows) {
      if (await settleAppend(trx, tenantId, event, call, rows[0] as unknown as AppendOutcome)) return call.fields.id;
      return appendAuditEvent(trx, tenantId, actor, event);
    },
  };
}

export interface AuditFilters {
  entityType?: string;
  entityId?: string;
  actorId?: string;
  action?: string;
  from?: string;
  to?: string;
}

export function applyAuditFilters(
  query: Knex.QueryBuilder,
  tenantId: string,
  filters: AuditFilters,
): Knex.QueryBuilder {
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

export type { AuditRow };
