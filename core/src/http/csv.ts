import { once } from 'node:events';
import type { Response } from 'express';
import { stringify } from 'csv-stringify';
import type { CsvResult } from './operation';

/**
 * Streams rows as RFC 4180 CSV (CRLF, quoted where needed) with backpressure, so memory stays flat
 * however many rows a query yields. With `end: false` the response is left open: a CSV whose request
 * also writes (an export recorded and audited) ends only once its transaction has committed, so no
 * client holds a complete file the database does not remember giving.
 */
export async function streamCsv(res: Response, csv: CsvResult, options: { end?: boolean } = {}): Promise<void> {
  const end = options.end ?? true;
  res.status(200);
  res.setHeader('Content-Type', 'text/csv; charset=utf-8');
  res.setHeader('Content-Disposition', `attachment; filename="${csv.filename}"`);
  const stringifier = stringify({
    header: true,
    columns: csv.columns,
    record_delimiter: '\r\n',
    cast: { boolean: (v) => String(v), date: (v) => v.toISOString() },
  });
  stringifier.pipe(res, { end });
  for await (const row of csv.rows) {
    if (!stringifier.write(row)) await once(stringifier, 'drain');
  }
  stringifier.end();
  if (end) await once(res, 'finish');
  else await once(stringifier, 'end');
}
