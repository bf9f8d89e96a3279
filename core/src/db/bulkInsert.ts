import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Knex } from 'knex';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

/** A column of a bulk insert: its name and the PostgreSQL type its values are sent as (for `jsonb`, the value is JSON text). */
export interface BulkColumn<Row> {
  name: string;
  type: 'uuid' | 'uuid[]' | 'text' | 'text[]' | 'date' | 'integer' | 'bigint' | 'jsonb';
  value(row: Row): unknown;
}

const BATCH = 10_000;
const ARRAY_TYPES = new Set(['uuid[]', 'text[]']);

/** An array as a PostgreSQL array literal, every element quoted. */
function arrayLiteral(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/["\\]/g, (c) => `\\${c}`)}"`).join(',')}}`;
}

/** Types whose text never holds a backslash, tab or line end. */
const PLAIN_TYPES = new Set(['uuid', 'date', 'integer', 'bigint']);

/** Text as a field of COPY's text format: backslash, tab and line ends escaped. */
function copyText(text: string): string {
  return /[\\\t\n\r]/.test(text)
    ? text.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'))
    : text;
}

/** How a column's values are written as fields of COPY's text format (\N for null), chosen once per column rather than once per value. */
function copyField(column: BulkColumn<never>): (value: unknown) => string {
  if (PLAIN_TYPES.has(column.type)) return (value) => (value === null || value === undefined ? '\\N' : String(value));
  if (ARRAY_TYPES.has(column.type))
    return (value) => (value === null || value === undefined ? '\\N' : copyText(arrayLiteral(value as string[])));
  return (value) => (value === null || value === undefined ? '\\N' : copyText(String(value)));
}

/**
 * Inserts many rows inside the caller's transaction. On a PostgreSQL server they stream with COPY
 * (pg-copy-streams) into a temporary table, then move in one INSERT … SELECT: COPY cannot write a
 * table under row-level security, and this way costs half of any INSERT of parameters. On PGlite,
 * which takes no COPY from a client, each batch's columns travel as one array parameter each and
 * `unnest` turns them back into rows. Either way the table's policies, constraints and triggers
 * (statement triggers with transition tables too) see every row, in one statement.
 */
export async function bulkInsert<Row>(
  trx: Knex.Transaction,
  table: string,
  columns: Array<BulkColumn<Row>>,
  rows: readonly Row[],
): Promise<void> {
  if (!rows.length) return;
  const inserter = bulkInserter(trx, table, columns);
  await inserter.insert(rows);
  await inserter.close();
}

/**
 * Rows inserted into one table a batch at a time, in the caller's transaction, as bulkInsert inserts
 * them: one statement per batch, so a writer that streams (a payment run, a slice of households at a
 * time) holds one batch, not all of them. On a server the batches share one temporary table, emptied
 * after each, instead of making and dropping one per batch; `close` drops it (so does the commit).
 */
export interface BulkInserter<Row> {
  insert(rows: readonly Row[]): Promise<void>;
  close(): Promise<void>;
}

let stagings = 0;

export function bulkInserter<Row>(
  trx: Knex.Transaction,
  table: string,
  columns: Array<BulkColumn<Row>>,
): BulkInserter<Row> {
  let staging: string | null = null;
  let client: pg.Client | null = null;
  return {
    async insert(rows) {
      if (!rows.length) return;
      // Inside a transaction the client hands back the transaction's own connection.
      const connection = (await trx.client.acquireConnection()) as unknown;
      if (!(connection instanceof pg.Client)) return unnestRows(trx, table, columns, rows);
      client = connection;
      if (staging === null) {
        staging = `bulk_insert_${++stagings}`;
        // The given columns' types, and none of the table's constraints: the INSERT checks those, and a column left to its default stays out.
        await client.query(
          `CREATE TEMP TABLE ${staging} ON COMMIT DROP AS SELECT ${columns.map((c) => c.name).join(', ')} FROM ${table} WITH NO DATA`,
        );
      }
      await copyRows(client, staging, table, columns, rows);
    },
    async close() {
      if (client && staging !== null) await client.query(`DROP TABLE ${staging}`);
      staging = null;
    },
  };
}

async function copyRows<Row>(
  client: pg.Client,
  staging: string,
  table: string,
  columns: Array<BulkColumn<Row>>,
  rows: readonly Row[],
): Promise<void> {
  const names = columns.map((c) => c.name).join(', ');
  const fields = columns.map((c) => copyField(c as BulkColumn<never>));
  function* lines() {
    for (let start = 0; start < rows.length; start += 1000) {
      let chunk = '';
      for (let r = start; r < rows.length && r < start + 1000; r++) {
        const row = rows[r]!;
        for (let i = 0; i < columns.length; i++) chunk += (i === 0 ? '' : '\t') + fields[i]!(columns[i]!.value(row));
        chunk += '\n';
      }
      yield chunk;
    }
  }
  await pipeline(Readable.from(lines()), client.query(copyFrom(`COPY ${staging} (${names}) FROM STDIN`)));
  // Emptied for the next batch in the same round trip. Made in this transaction, the table is emptied
  // in place: no new file, no dead rows for the next batch to pass over.
  await client.query(`INSERT INTO ${table} (${names}) SELECT ${names} FROM ${staging}; TRUNCATE ${staging}`);
}

async function unnestRows<Row>(
  trx: Knex.Transaction,
  table: string,
  columns: Array<BulkColumn<Row>>,
  rows: readonly Row[],
): Promise<void> {
  for (let start = 0; start < rows.length; start += BATCH) {
    const batch = rows.slice(start, start + BATCH);
    const bindings = columns.map((column) => {
      const values = batch.map((row) => column.value(row));
      // Arrays of arrays travel as text, cast per row: unnest would flatten a uuid[][].
      if (ARRAY_TYPES.has(column.type))
        return values.map((v) => (v === null || v === undefined ? null : arrayLiteral(v as string[])));
      return values;
    });
    const asText = (column: BulkColumn<Row>) => ARRAY_TYPES.has(column.type) || column.type === 'jsonb';
    const arrays = columns.map((column) => `?::${asText(column) ? 'text' : column.type}[]`).join(', ');
    const casts = columns.map((column, i) => (asText(column) ? `c${i}::${column.type}` : `c${i}`)).join(', ');
    const names = columns.map((_, i) => `c${i}`).join(', ');
    await trx.raw(
      `INSERT INTO ${table} (${columns.map((c) => c.name).join(', ')}) SELECT ${casts} FROM unnest(${arrays}) WITH ORDINALITY AS t(${names}, ord) ORDER BY ord`,
      bindings as unknown as Knex.RawBinding[],
    );
  }
}
