import crypto from 'node:crypto';
import type { AuditChainKey } from '../../config';

/** The fields an event's hash covers: everything but the hash itself. */
export interface ChainedFields {
  tenantId: string;
  id: string;
  seq: number;
  occurredAt: string;
  actorType: string;
  actorId: string | null;
  action: string;
  entityType: string;
  entityId: string | null;
  before: unknown;
  after: unknown;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  prevHash: string;
  /** The chain key that hashed the event; null for an event hashed before chains were keyed (plain SHA-256). */
  keyId: string | null;
}

export const GENESIS_HASH = '0'.repeat(64);

/** JSON with object keys sorted at every depth: jsonb does not keep key order, so hashing must not depend on it. */
export function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The hash events had before the chain was keyed: SHA-256 of the canonical fields, which anyone who
 * can read the table can recompute. Verification accepts it only below the tenant's boundary
 * (audit_chain_heads.keyed_from_seq, carried by every checkpoint); nothing appends it any more.
 */
export function unkeyedEventHash(fields: ChainedFields): string {
  const { keyId: _keyId, ...covered } = fields;
  return crypto.createHash('sha256').update(canonicalJson(covered)).digest('hex');
}

/**
 * HMAC-SHA256 of the canonical fields, key id included (so an event cannot be passed off as hashed
 * by another key), with a key the database never sees: its owner can read and rewrite the rows, but
 * cannot make a hash that verifies.
 */
export function keyedEventHash(fields: ChainedFields, key: AuditChainKey): string {
  return crypto
    .createHmac('sha256', key.secret)
    .update(canonicalJson({ ...fields, keyId: key.id }))
    .digest('hex');
}
