import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { AddressRefused, hostOf, isPublicAddress, publicLookup } from './addresses';
import type { WebhookSettings } from './settings';

export interface SendOutcome {
  ok: boolean;
  /** The receiver's status, or null where none came (refused, unreachable, timed out). */
  responseCode: number | null;
  error: string | null;
  durationMs: number;
  startedAt: Date;
}

/** The most of a receiver's answer read: its body is not kept, only drained so the socket closes cleanly. */
const MAX_RESPONSE_BYTES = 64 * 1024;

/** Why a URL may not be sent to under these settings, or null. Checked again on every attempt. */
export function urlRefusal(url: URL, settings: WebhookSettings): string | null {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'is not an http(s) URL';
  if (settings.requireHttps && url.protocol !== 'https:') return 'must use https';
  if (url.username || url.password) return 'must not carry credentials';
  return null;
}

/**
 * One POST of a signed body: a 2xx is success; anything else, a redirect included (never followed:
 * it could point anywhere), a refused address, a network error or the timeout is a failure with
 * its reason. Private addresses are refused at connection time unless the operator allows them.
 */
export async function sendOnce(
  target: string,
  body: string,
  headers: Record<string, string>,
  settings: WebhookSettings,
): Promise<SendOutcome> {
  const startedAt = new Date();
  const began = process.hrtime.bigint();
  const done = (ok: boolean, responseCode: number | null, error: string | null): SendOutcome => ({
    ok,
    responseCode,
    error,
    startedAt,
    durationMs: Math.round(Number(process.hrtime.bigint() - began) / 1e6),
  });
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return done(false, null, 'the URL does not parse');
  }
  const refusal = urlRefusal(url, settings);
  if (refusal) return done(false, null, `refused: the URL ${refusal}`);
  const host = hostOf(url);
  // An address literal never goes through lookup, so it is checked here.
  if (!settings.allowPrivate && net.isIP(host) && !isPublicAddress(host))
    return done(false, null, `refused: ${host} is a private or reserved address`);

  return new Promise<SendOutcome>((resolve) => {
    let settled = false;
    const finish = (outcome: SendOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const client = url.protocol === 'https:' ? https : http;
    const request = client.request(
      url,
      {
        method: 'POST',
        agent: false,
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          'user-agent': 'Hearth-Webhooks/1',
        },
        ...(settings.allowPrivate ? {} : { lookup: publicLookup() }),
      },
      (response) => {
        const status = response.statusCode ?? 0;
        let read = 0;
        response.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > MAX_RESPONSE_BYTES) response.destroy();
        });
        const close = () => {
          if (status >= 200 && status < 300) finish(done(true, status, null));
          else if (status >= 300 && status < 400)
            finish(done(false, status, `redirect to ${response.headers.location ?? '(no location)'} not followed`));
          else finish(done(false, status, `the receiver answered ${status}`));
        };
        response.on('end', close);
        response.on('close', close);
        response.on('error', close);
      },
    );
    const timer = setTimeout(() => {
      finish(done(false, null, `timed out after ${settings.timeoutMs} ms`));
      request.destroy();
    }, settings.timeoutMs);
    request.on('error', (error: Error) => {
      const refused = error instanceof AddressRefused || error.cause instanceof AddressRefused;
      finish(done(false, null, refused ? `refused: ${error.message}` : error.message || 'connection failed'));
    });
    request.end(body);
  });
}
