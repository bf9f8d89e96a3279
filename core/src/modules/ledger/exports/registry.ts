import type { LedgerExportFormat } from '../../../plugins/api';

// The format's shape is the published plugin API (core/src/plugins/api.ts), with the views it is handed.
export type { ExportTenant, LedgerExportFormat } from '../../../plugins/api';

/** Formats by key; a key registered twice is a start-up error naming both registrations. */
export class LedgerExportRegistry {
  private readonly formats = new Map<string, { format: LedgerExportFormat; by: string }>();

  register(format: LedgerExportFormat, by: string): void {
    if (!format || typeof format !== 'object')
      throw new Error(`Ledger export format (by ${by}) must be an object with key, contentType, columns and rowsFor`);
    const existing = this.formats.get(format.key);
    if (existing)
      throw new Error(`Ledger export format "${format.key}" is registered twice: by ${existing.by} and by ${by}`);
    // The contract's LedgerExportFormatKey: a key it would refuse could never be asked for.
    if (typeof format.key !== 'string' || !/^[a-z][a-z0-9_-]{0,49}$/.test(format.key))
      throw new Error(
        `Ledger export format key "${String(format.key)}" (by ${by}) must be lower-case letters, digits, _ or -, at most 50`,
      );
    // Plugins may be plain JavaScript: a malformed format fails here, at start-up, not in the middle of a streamed export.
    if (!Array.isArray(format.columns) || !format.columns.length || !format.columns.every((c) => typeof c === 'string'))
      throw new Error(`Ledger export format "${format.key}" (by ${by}) must have columns, a list of names`);
    if (typeof format.rowsFor !== 'function')
      throw new Error(`Ledger export format "${format.key}" (by ${by}) must have a rowsFor function`);
    if (typeof format.contentType !== 'string' || !format.contentType)
      throw new Error(`Ledger export format "${format.key}" (by ${by}) must have a contentType`);
    this.formats.set(format.key, { format, by });
  }

  get(key: string): LedgerExportFormat | undefined {
    return this.formats.get(key)?.format;
  }

  keys(): string[] {
    return [...this.formats.keys()].sort();
  }

  /** Who registered a format (the plugin and its file, as the host names it), or undefined for a key nobody registered. */
  registeredBy(key: string): string | undefined {
    return this.formats.get(key)?.by;
  }
}
