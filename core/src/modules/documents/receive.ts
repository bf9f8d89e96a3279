import crypto from 'node:crypto';
import { PassThrough, Transform, type Readable, type TransformCallback } from 'node:stream';
import type { AppServices } from '../../http/operation';
import type { FilePart } from '../../http/multipart';
import { newId } from '../../ids';
import { detectType, SNIFF_BYTES } from './fileTypes';
import { documentStore } from './openStore';
import type { ScanStatus } from './models';
import { objectKey } from './storage';

/** A file as it was stored: what the version row records. */
export interface ReceivedFile {
  objectKey: string;
  filename: string;
  mediaType: string;
  sizeBytes: number;
  sha256: string;
  scanStatus: ScanStatus;
  scanDetail: string | null;
}

/**
 * Counts and hashes every byte, and holds back the first SNIFF_BYTES until the type is known: a file
 * of a type off the list fails the stream before a byte reaches the store.
 */
class Inspector extends Transform {
  readonly hash = crypto.createHash('sha256');
  size = 0;
  mediaType: string | null = null;
  private head: Buffer[] = [];
  private headBytes = 0;

  constructor(private readonly onType: (mediaType: string) => void) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    if (this.mediaType) return done(null, chunk);
    this.head.push(chunk);
    this.headBytes += chunk.length;
    if (this.headBytes < SNIFF_BYTES) return done();
    this.decide(false, done);
  }

  override _flush(done: TransformCallback): void {
    if (this.mediaType) return done();
    this.decide(true, done);
  }

  private decide(whole: boolean, done: TransformCallback): void {
    const sample = Buffer.concat(this.head);
    this.head = [];
    detectType(sample, whole).then(
      (mediaType) => {
        this.mediaType = mediaType;
        this.onType(mediaType);
        done(null, sample);
      },
      (problem: Error) => done(problem),
    );
  }
}

/** Sanitised for display and for Content-Disposition: no path, no control characters, at most 255 characters. */
export function cleanFilename(raw: string): string {
  const base = raw.split(/[\\/]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex
  const clean = base.replace(/[\u0000-\u001f\u007f]/g, '').trim();
  return (clean || 'file').slice(0, 255);
}

/**
 * Streams one uploaded file to the document store under a fresh key of the tenant's, through the
 * inspector and every registered scanner at once. Rejects (leaving no object) when the type is refused,
 * the stream is cut or too large, or the store fails.
 */
export async function receiveDocumentFile(
  file: Readable,
  part: FilePart,
  scope: { tenantId: string; services: AppServices },
): Promise<ReceivedFile> {
  const store = documentStore(scope.services);
  const key = objectKey(scope.tenantId, newId());
  const filename = cleanFilename(part.filename);
  const scanners = scope.services.plugins.documentScanners.all();
  const verdicts: Array<Promise<{ verdict: 'clean' | 'quarantine'; detail?: string }>> = [];
  const copies: PassThrough[] = [];
  const inspector = new Inspector((mediaType) => {
    for (const scanner of scanners) {
      const copy = new PassThrough();
      copies.push(copy);
      inspector.pipe(copy);
      verdicts.push(
        scanner.scan(copy, { mediaType, filename }).catch((error: unknown) => {
          copy.resume();
          return {
            verdict: 'quarantine' as const,
            detail: `scanner ${scanner.key} failed: ${(error as Error).message}`,
          };
        }),
      );
    }
  });
  // The file's own failure (cut, too large) fails the inspector, and through it the store's write.
  file.on('error', (error) => inspector.destroy(error));
  file.pipe(inspector);
  const stored = new PassThrough();
  // The store may attach its reader a moment later (after making a folder, say); an error before then
  // stays on the stream, where the store's pipeline finds it.
  stored.on('error', () => undefined);
  inspector.pipe(stored);
  inspector.on('error', (error) => {
    stored.destroy(error);
    for (const copy of copies) copy.destroy(error);
  });
  await store.put(key, stored, { contentType: 'application/octet-stream' });
  const results = await Promise.all(verdicts);
  const quarantined = results.filter((r) => r.verdict === 'quarantine');
  return {
    objectKey: key,
    filename,
    mediaType: inspector.mediaType!,
    sizeBytes: inspector.size,
    sha256: inspector.hash.digest('hex'),
    scanStatus: scanners.length === 0 ? 'not_scanned' : quarantined.length ? 'quarantined' : 'clean',
    scanDetail:
      quarantined
        .map((r) => r.detail ?? 'quarantined')
        .join('; ')
        .slice(0, 500) || null,
  };
}

/** Removes what an upload stored, when its request fails after the bytes arrived. */
export async function discardReceived(services: AppServices, received: ReceivedFile): Promise<void> {
  await documentStore(services).delete(received.objectKey);
}
