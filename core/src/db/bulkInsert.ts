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

/** A value as a field of COPY's text format: \N for null, and backslash, tab and line ends escaped. */
function copyField(column: BulkColumn<never>, value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  if (PLAIN_TYPES.has(column.type)) return String(value);
  const text = ARRAY_TYPES.has(column.type) ? arrayLiteral(value as string[]) : String(value);
  return text.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

/**
 * Inserts many rows inside the caller's transaction. On a PostgreSQL server they stream with COPY
 * (pg-copy-streams) into a temporary table, then move in one INSERT … SELECT: COPY cannot write a
 * table under row-level security, and this way costs half of any INSERT of parameters. On PGlite,
 * which takes no COPY from a client, each batch's columns travel as one array parameter each and
 * `unnest` turns them back into rows. Either way the table's policies, constraints and triggers
 * (statement triggers with transition tables too) see every row, in one statement.
 */
export async function bulkInsert<Row>(trx: Knex.Transaction, table: string, columns: Array<BulkColumn<Row>>, rows: readonly Row[]): Promise<void> {
  if (!rows.length) return;
  // Inside a transaction the client hands back the transaction's own connection.
  const connection = (await trx.client.acquireConnection()) as unknown;
  if (connection instanceof pg.Client) return copyRows(connection, table, columns, rows);
  return unnestRows(trx, table, columns, rows);
}

let stagings = 0;

async function copyRows<Row>(client: pg.Client, table: string, columns: Array<BulkColumn<Row>>, rows: readonly Row[]): Promise<void> {
  const staging = `bulk_insert_${++stagings}`;
  const names = columns.map((c) => c.name).join(', ');
  function* lines() {
    for (let start = 0; start < rows.length; start += 1000) {
      let chunk = '';
      for (const row of rows.slice(start, start + 1000)) chunk += `${columns.map((c) => copyField(c as BulkColumn<never>, c.value(row))).join('\t')}\n`;
      yield chunk;
    }
  }
  // The given columns' types, and none of the table's constraints: the INSERT checks those, and a column left to its default stays out.
  await client.query(`CREATE TEMP TABLE ${staging} ON COMMIT DROP AS SELECT ${names} FROM ${table} WITH NO DATA`);
  await pipeline(Readable.from(lines()), client.query(copyFrom(`COPY ${staging} (${names}) FROM STDIN`)));
  await client.query(`INSERT INTO ${table} (${names}) SELECT ${names} FROM ${staging}`);
  await client.query(`DROP TABLE ${staging}`);
}

async function unnestRows<Row>(trx: Knex.Transaction, table: string, columns: Array<BulkColumn<Row>>, rows: readonly Row[]): Promise<void> {
  for (let start = 0; start < rows.length; start += BATCH) {
    const batch = rows.slice(start, start + BATCH);
    const bindings = columns.map((column) => {
      const values = batch.map((row) => column.value(row));
      // Arrays of arrays travel as text, cast per row: unnest would flatten a uuid[][].
      if (ARRAY_TYPES.has(column.type)) return values.map((v) => (v === null || v === undefined ? null : arrayLiteral(v as string[])));
      return values;
    });
    const asText = (column: BulkColumn<Row>) => ARRAY_TYPES.has(column.type) || column.type === 'jsonb';
    const arrays = columns.map((column) => `?::${asText(column) ? 'text' : column.type}[]`).join(', ');
    const casts = columns.map((column, i) => (asText(column) ? `c${i}::${column.type}` : `c${i}`)).join(', ');
    const names = columns.map((_, i) => `c${i}`).join(', ');
    await trx.raw(`INSERT INTO ${table} (${columns.map((c) => c.name).join(', ')}) SELECT ${casts} FROM unnest(${arrays}) WITH ORDINALITY AS t(${names}, ord) ORDER BY ord`, bindings as unknown as Knex.RawBinding[]);
  }
}
