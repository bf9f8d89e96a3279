import type { EntryRow, JournalRow } from '../rows';

/** What an export format knows of the tenant beyond the rows: its currency (for amounts and the finance system's edition). */
export interface ExportTenant {
  currency: string;
}

/** The extension point "exports": one CSV format of the ledger, registered by key. */
export interface LedgerExportFormat {
  key: string;
  contentType: string;
  columns: string[];
  /** The CSV rows (in `columns` order) one ledger entry becomes. */
  rowsFor(entry: EntryRow, journal: JournalRow, tenant: ExportTenant): unknown[][];
}

/** Formats by key; a key registered twice is a start-up error naming both registrations. */
export class LedgerExportRegistry {
  private readonly formats = new Map<string, { format: LedgerExportFormat; by: string }>();

  register(format: LedgerExportFormat, by: string): void {
    const existing = this.formats.get(format.key);
    if (existing) throw new Error(`Ledger export format "${format.key}" is registered twice: by ${existing.by} and by ${by}`);
    if (!/^[a-z][a-z0-9_-]*$/.test(format.key)) throw new Error(`Ledger export format key "${format.key}" (by ${by}) must be lower-case letters, digits, _ or -`);
    this.formats.set(format.key, { format, by });
  }

  get(key: string): LedgerExportFormat | undefined {
    return this.formats.get(key)?.format;
  }

  keys(): string[] {
    return [...this.formats.keys()].sort();
  }
}
