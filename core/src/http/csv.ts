import { once } from 'node:events';
import type { Response } from 'express';
import { stringify } from 'csv-stringify';
import type { CsvResult } from './operation';

/**
 * Streams rows as RFC 4180 CSV (CRLF, quoted where needed) with backpressure, so memory stays flat
 * however many rows a query yields.
 */
export async function streamCsv(res: Response, csv: CsvResult): Promise<void> {
  res.status(200);
  res.setHeader('Content-Type', 'text/csv; charset=utf-8');
  res.setHeader('Content-Disposition', `attachment; filename="${csv.filename}"`);
  const stringifier = stringify({ header: true, columns: csv.columns, record_delimiter: '\r\n', cast: { boolean: (v) => String(v), date: (v) => v.toISOString() } });
  stringifier.pipe(res);
  for await (const row of csv.rows) {
    if (!stringifier.write(row)) await once(stringifier, 'drain');
  }
  stringifier.end();
  await once(res, 'finish');
}
