import type { Principal } from '../http/operation';
import type { Credential } from './passport';

/**
 * The principals this process confirmed lately, by the credential they were confirmed for. Never a
 * substitute for the re-read: a read-only request may start on the principal its credential had last
 * time, and its first query carries the re-read, whose answer must match before anything read is used
 * (core/src/db/pipeline.ts, `confirm`); a principal that changed since (a role, a status, an ended
 * session) fails the request or runs it again with the new one. What it saves is a round trip.
 */
export class PrincipalCache {
  private readonly entries = new Map<string, { principal: Principal; at: number }>();

  constructor(
    private readonly maxEntries = 10_000,
    private readonly ttlMs = 5 * 60_000,
  ) {}

  /** Only people's sessions: an API key's use is recorded as it is confirmed, a write a read-only request defers nothing for. */
  private static keyOf(credential: Credential): string | null {
    if (credential.kind !== 'user') return null;
    return `${credential.tenantId}|${credential.userId}|${credential.sessionId}|${credential.generation}|${credential.scope}|${credential.householdId ?? ''}`;
  }

  get(credential: Credential): Principal | undefined {
    const key = PrincipalCache.keyOf(credential);
    const entry = key ? this.entries.get(key) : undefined;
    if (!entry) return undefined;
    if (Date.now() - entry.at > this.ttlMs) {
      this.entries.delete(key!);
      return undefined;
    }
    return entry.principal;
  }

  set(credential: Credential, principal: Principal): void {
    const key = PrincipalCache.keyOf(credential);
    if (!key) return;
    this.entries.delete(key);
    // Oldest first in a Map's order: the least recently confirmed goes when it is full.
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { principal, at: Date.now() });
  }

  delete(credential: Credential): void {
    const key = PrincipalCache.keyOf(credential);
    if (key) this.entries.delete(key);
  }
}

const shapes = new WeakMap<Principal, string>();

/** Everything a handler may read of a principal, as one string (made once per principal: a cached one is compared on every read). */
function shapeOf(principal: Principal): string {
  let shape = shapes.get(principal);
  if (shape === undefined) {
    shape = JSON.stringify({ ...principal, permissions: [...principal.permissions].sort() });
    shapes.set(principal, shape);
  }
  return shape;
}

/** Whether two confirmations of a credential gave the same principal, everything a handler may read of it included. */
export function samePrincipal(a: Principal, b: Principal): boolean {
  return shapeOf(a) === shapeOf(b);
}

/** A read-only request began on a principal that has changed since: it runs again on the new one. */
export class StalePrincipal extends Error {
  constructor() {
    super('The principal changed since it was cached');
  }
}
