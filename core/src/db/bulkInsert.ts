import type { Knex } from 'knex';

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

/**
 * Inserts many rows with one statement per batch: each column travels as one array parameter and
 * `unnest` turns the arrays back into rows. A multi-row VALUES list needs a parameter per cell
 * (PostgreSQL allows 65,535 per statement) and costs a parse of each; this needs one per column, on
 * PostgreSQL and on PGlite alike. Rows go in in the order given.
 */
export async function bulkInsert<Row>(trx: Knex.Transaction, table: string, columns: Array<BulkColumn<Row>>, rows: readonly Row[]): Promise<void> {
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
