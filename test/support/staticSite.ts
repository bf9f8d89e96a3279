import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

/** A folder of built files served on a loopback port of its own: a front end's own origin. */
export interface StaticSite {
  /** `http://127.0.0.1:<port>`, which is also the origin its pages run in. */
  origin: string;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** Serves `root` read-only: `/` is index.html, nothing outside `root` is reachable, anything missing is a 404. */
export function serveStatic(root: string): Promise<StaticSite> {
  const base = path.resolve(root);
  const server = http.createServer((request, response) => {
    const fail = (status: number) =>
      response.writeHead(status, { 'Content-Type': 'text/plain' }).end(http.STATUS_CODES[status]);
    if (request.method !== 'GET' && request.method !== 'HEAD') return fail(405);
    let pathname: string;
    try {
      pathname = decodeURIComponent(new URL(request.url ?? '/', 'http://site.invalid').pathname);
    } catch {
      return fail(400);
    }
    const file = path.resolve(base, `.${pathname === '/' ? '/index.html' : pathname}`);
    if (!file.startsWith(`${base}${path.sep}`)) return fail(404);
    fs.readFile(file, (error, body) => {
      if (error) return fail(404);
      response.writeHead(200, {
        'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream',
        'Cache-Control': 'no-store',
        'Content-Length': body.length,
      });
      response.end(request.method === 'HEAD' ? undefined : body);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        origin: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
