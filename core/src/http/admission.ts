import type { Response } from 'express';
import { Problem } from './problem';

/**
 * Admission to the database for requests. A request holds one pooled connection for its whole
 * transaction, so the pool is the resource tenants share: without a gate, one busy tenant fills the
 * pool and every other tenant's requests queue behind it. The gate admits a request only while the
 * pool has room and its tenant holds less than its share; otherwise the request waits in a bounded
 * queue, and past the bound it is refused at once (503 with Retry-After) rather than queued into a
 * latency nobody wants. When a connection frees, the waiting tenant holding the fewest connections
 * goes first, so a tenant with one request waiting is not served after another's hundred.
 */

export interface AdmissionLimits {
  /** Requests that may hold a connection at once: the pool's size. */
  capacity: number;
  /** Of those, how many one tenant (or the public operations together) may hold. */
  perTenant: number;
  /** Requests that may wait, all tenants together. */
  maxQueued: number;
  /** Of those, how many of one tenant. */
  maxQueuedPerTenant: number;
}

/**
 * The limits from the settings. A tenant may take the same part of the queue as of the pool, so one
 * tenant's flood leaves room in both for the others. PGlite is one connection, so its capacity is one.
 */
export function admissionLimits(
  settings: { dbPoolMax: number; tenantMaxConcurrency: number; maxQueuedRequests: number },
  embedded: boolean,
): AdmissionLimits {
  const capacity = embedded ? 1 : settings.dbPoolMax;
  const perTenant = Math.max(1, Math.min(settings.tenantMaxConcurrency, capacity));
  const maxQueued = settings.maxQueuedRequests;
  return {
    capacity,
    perTenant,
    maxQueued,
    maxQueuedPerTenant: Math.min(maxQueued, Math.ceil((maxQueued * perTenant) / capacity)),
  };
}

/** The key the public operations (log-in, token refresh, password reset) share, as if one tenant. */
export const PUBLIC_KEY = 'public';

/** Seconds a refused client is told to wait: a connection frees within milliseconds, a flood within a second or so. */
export const RETRY_AFTER_SECONDS = 1;

export type NotAdmittedReason = 'queue-full' | 'tenant-queue-full' | 'client-gone';

/**
 * A request that got no connection. A 503 `overloaded` problem: the client may retry after
 * Retry-After. Not an error of the server's, so the router does not log it as one.
 */
export class NotAdmitted extends Problem {
  constructor(readonly reason: NotAdmittedReason) {
    super(
      'overloaded',
      reason === 'tenant-queue-full'
        ? "Too many of your organisation's requests are waiting for the database; retry after the time in Retry-After"
        : reason === 'queue-full'
          ? 'Too many requests are waiting for the database; retry after the time in Retry-After'
          : 'The client went away while its request waited',
    );
  }
}

/** Gives the connection slot back; calling it again does nothing. */
export type Release = () => void;

interface Waiter {
  seq: number;
  admit(release: Release): void;
  detach(): void;
  /** Refuses this waiter to give its place to another tenant's request. */
  pushOut(): void;
}

interface TenantState {
  inUse: number;
  waiting: Waiter[];
}

export interface AdmissionStats {
  inUse: number;
  queued: number;
  refused: Record<NotAdmittedReason, number>;
}

export class AdmissionGate {
  private inUse = 0;
  private queued = 0;
  private seq = 0;
  private readonly tenants = new Map<string, TenantState>();
  private readonly waitingKeys = new Set<string>();
  private readonly refused: Record<NotAdmittedReason, number> = {
    'queue-full': 0,
    'tenant-queue-full': 0,
    'client-gone': 0,
  };

  constructor(readonly limits: AdmissionLimits) {}

  /**
   * Resolves with a release once `key` may use a connection: at once, or after waiting its turn.
   * Rejects with NotAdmitted when the queue (or the tenant's part of it) is full, or when `signal`
   * aborts while it waits (its place is given up).
   */
  acquire(key: string, signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) return Promise.reject(this.refuse('client-gone'));
    const tenant = this.tenant(key);
    // Whenever a slot frees, every waiter that may take it does, so an arrival that may take one
    // now overtakes nobody.
    if (this.inUse < this.limits.capacity && tenant.inUse < this.limits.perTenant)
      return Promise.resolve(this.admit(key, tenant));
    if (tenant.waiting.length >= this.limits.maxQueuedPerTenant)
      return Promise.reject(this.refuse('tenant-queue-full'));
    // A full queue makes room by refusing the newest waiter of the tenant with most waiting, when that
    // is not this one: tenants flooding together can fill it, but cannot keep another tenant out.
    if (this.queued >= this.limits.maxQueued && !this.makeRoomFor(tenant)) {
      this.forget(key, tenant);
      return Promise.reject(this.refuse('queue-full'));
    }
    return new Promise<Release>((resolve, reject) => {
      const leave = (reason: NotAdmittedReason) => {
        tenant.waiting.splice(tenant.waiting.indexOf(waiter), 1);
        this.queued--;
        if (!tenant.waiting.length) this.waitingKeys.delete(key);
        waiter.detach();
        this.forget(key, tenant);
        reject(this.refuse(reason));
      };
      const onAbort = () => leave('client-gone');
      const waiter: Waiter = {
        seq: ++this.seq,
        admit: resolve,
        detach: () => signal?.removeEventListener('abort', onAbort),
        pushOut: () => leave('queue-full'),
      };
      tenant.waiting.push(waiter);
      this.waitingKeys.add(key);
      this.queued++;
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Runs a request's database work holding a slot for its tenant (null: the public operations).
   * The slot is released when the work ends, however it ends. A refusal sets Retry-After on the
   * response before it is thrown; a client that disconnects while waiting gives its place up.
   */
  async run<T>(tenantId: string | null, res: Response, work: () => Promise<T>): Promise<T> {
    const gone = new AbortController();
    // Before the response, 'close' can only mean the client went away.
    const onClose = () => gone.abort();
    res.once('close', onClose);
    if (res.socket?.destroyed) gone.abort();
    let release: Release;
    try {
      release = await this.acquire(tenantId ?? PUBLIC_KEY, gone.signal);
    } catch (error) {
      if (error instanceof NotAdmitted && error.reason !== 'client-gone')
        res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
      throw error;
    } finally {
      res.off('close', onClose);
    }
    try {
      return await work();
    } finally {
      release();
    }
  }

  stats(): AdmissionStats {
    return { inUse: this.inUse, queued: this.queued, refused: { ...this.refused } };
  }

  /** What one tenant holds and has waiting (for tests and diagnostics). */
  tenantStats(key: string): { inUse: number; queued: number } {
    const tenant = this.tenants.get(key);
    return { inUse: tenant?.inUse ?? 0, queued: tenant?.waiting.length ?? 0 };
  }

  private tenant(key: string): TenantState {
    let tenant = this.tenants.get(key);
    if (!tenant) {
      tenant = { inUse: 0, waiting: [] };
      this.tenants.set(key, tenant);
    }
    return tenant;
  }

  /** A tenant with nothing held and nothing waiting is dropped, so a thousand quiet tenants cost nothing. */
  private forget(key: string, tenant: TenantState): void {
    if (tenant.inUse === 0 && tenant.waiting.length === 0) this.tenants.delete(key);
  }

  private refuse(reason: NotAdmittedReason): NotAdmitted {
    this.refused[reason]++;
    return new NotAdmitted(reason);
  }

  private admit(key: string, tenant: TenantState): Release {
    this.inUse++;
    tenant.inUse++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inUse--;
      tenant.inUse--;
      this.forget(key, tenant);
      this.pump();
    };
  }

  /** Pushes out the newest waiter of the tenant with the longest wait list, if it is longer than this one's. */
  private makeRoomFor(tenant: TenantState): boolean {
    let longest: TenantState | null = null;
    for (const key of this.waitingKeys) {
      const other = this.tenants.get(key)!;
      if (!longest || other.waiting.length > longest.waiting.length) longest = other;
    }
    if (!longest || longest === tenant || longest.waiting.length <= tenant.waiting.length + 1) return false;
    longest.waiting[longest.waiting.length - 1]!.pushOut();
    return true;
  }

  /** Hands free slots to waiters: the tenant holding fewest first, then the one waiting longest. */
  private pump(): void {
    while (this.inUse < this.limits.capacity) {
      let bestKey: string | null = null;
      let best: TenantState | null = null;
      for (const key of this.waitingKeys) {
        const tenant = this.tenants.get(key)!;
        if (tenant.inUse >= this.limits.perTenant) continue;
        if (
          !best ||
          tenant.inUse < best.inUse ||
          (tenant.inUse === best.inUse && tenant.waiting[0]!.seq < best.waiting[0]!.seq)
        ) {
          best = tenant;
          bestKey = key;
        }
      }
      if (!best || bestKey === null) return;
      const waiter = best.waiting.shift()!;
      this.queued--;
      if (!best.waiting.length) this.waitingKeys.delete(bestKey);
      waiter.detach();
      waiter.admit(this.admit(bestKey, best));
    }
  }
}
