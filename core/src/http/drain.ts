import type http from 'node:http';

/** A request still running when the shutdown deadline passed. */
export interface CutRequest {
  requestId: string | null;
  method: string;
  path: string;
  runningMs: number;
}

/**
 * Drains an HTTP server for shutdown. `server.close()` alone stops accepting but leaves keep-alive
 * connections open for as long as their clients keep sending on them, so a busy server never
 * finished closing. Draining also answers every request it has accepted with `Connection: close`
 * (those already running and those still arriving on open connections), and closes each connection
 * as soon as it has no request in progress. Requests are never cut here; `cut` is for the deadline.
 */
export class HttpDrain {
  private draining = false;
  private readonly inFlight = new Map<http.ServerResponse, { method: string; path: string; startedAt: number }>();
  private sweep: NodeJS.Timeout | null = null;

  constructor(private readonly server: http.Server) {
    // Before express's own listener, so a request arriving while draining is marked before it runs.
    server.prependListener('request', (req: http.IncomingMessage, res: http.ServerResponse) => this.track(req, res));
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Resolves once every connection has closed: all accepted requests answered. */
  drain(): Promise<void> {
    this.draining = true;
    for (const res of this.inFlight.keys()) if (!res.headersSent) res.setHeader('Connection', 'close');
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // server.close() closes the idle connections once (Node 19+); a response whose headers had
    // already gone out keep-alive leaves its connection idle afterwards, so look again now and then.
    this.sweep = setInterval(() => this.server.closeIdleConnections(), 100);
    this.sweep.unref();
    return closed.finally(() => {
      if (this.sweep) clearInterval(this.sweep);
    });
  }

  /** Past the deadline: says what was still running, then destroys every connection. */
  cut(): CutRequest[] {
    const now = Date.now();
    const cut = [...this.inFlight].map(([res, r]) => {
      const id = res.getHeader('X-Request-Id');
      return {
        requestId: typeof id === 'string' ? id : null,
        method: r.method,
        path: r.path,
        runningMs: now - r.startedAt,
      };
    });
    if (this.sweep) clearInterval(this.sweep);
    this.server.closeAllConnections();
    return cut;
  }

  private track(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (this.draining) res.setHeader('Connection', 'close');
    this.inFlight.set(res, { method: req.method ?? '', path: (req.url ?? '').split('?')[0]!, startedAt: Date.now() });
    res.once('close', () => {
      this.inFlight.delete(res);
      if (this.draining) setImmediate(() => this.server.closeIdleConnections());
    });
  }
}
