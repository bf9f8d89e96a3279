import type { Readable } from 'node:stream';

/** What a scanner says of a file: `quarantine` keeps the version but never serves it. */
export interface ScanVerdict {
  verdict: 'clean' | 'quarantine';
  /** Why, in a line (the signature's name, say); shown on the version. */
  detail?: string;
}

/**
 * The extension point "documentScanners": each registered scanner reads every upload's bytes as
 * they arrive (its own copy of the stream, which it must read to the end) and gives a verdict. Any
 * `quarantine`, or a scanner that fails, quarantines the version; with no scanner registered versions
 * are `not_scanned`.
 */
export interface DocumentScanner {
  /** Lower-case letters, digits, `_` or `-`, at most 50. */
  key: string;
  scan(bytes: Readable, info: { mediaType: string; filename: string }): Promise<ScanVerdict>;
}

export class DocumentScannerRegistry {
  private readonly scanners = new Map<string, { scanner: DocumentScanner; by: string }>();

  register(scanner: DocumentScanner, by: string): void {
    if (!scanner || typeof scanner !== 'object' || typeof scanner.scan !== 'function')
      throw new Error(`Document scanner (by ${by}) must be an object with key and scan`);
    if (typeof scanner.key !== 'string' || !/^[a-z][a-z0-9_-]{0,49}$/.test(scanner.key))
      throw new Error(
        `Document scanner key "${String(scanner.key)}" (by ${by}) must be lower-case letters, digits, _ or -, at most 50`,
      );
    const existing = this.scanners.get(scanner.key);
    if (existing)
      throw new Error(`Document scanner "${scanner.key}" is registered twice: by ${existing.by} and by ${by}`);
    this.scanners.set(scanner.key, { scanner, by });
  }

  all(): DocumentScanner[] {
    return [...this.scanners.values()].map((s) => s.scanner);
  }
}
