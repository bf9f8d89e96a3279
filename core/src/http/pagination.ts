import { Problem } from './problem';

/**
 * Keyset cursors: the sort key of the last row seen, opaque to the caller. A page never skips or
 * repeats a row however many are inserted meanwhile, and costs the same on page 1 and page 1,000.
 */
export function encodeCursor(key: Array<string | number>): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string | undefined, arity: number): Array<string | number> | null {
  if (cursor === undefined) return null;
  try {
    const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(key) && key.length === arity && key.every((k) => typeof k === 'string' || typeof k === 'number'))
      return key;
  } catch {
    // reported below
  }
  throw Problem.validation([{ pointer: '/query/cursor', message: 'is not a cursor this list issued' }]);
}

/** Rows were fetched with `limit + 1`; the extra row only says whether another page exists. */
export function toPage<Row, Item>(
  rows: Row[],
  limit: number,
  keyOf: (row: Row) => Array<string | number>,
  map: (row: Row) => Item,
) {
  const more = rows.length > limit;
  const pageRows = more ? rows.slice(0, limit) : rows;
  const last = pageRows[pageRows.length - 1];
  return { data: pageRows.map(map), nextCursor: more && last !== undefined ? encodeCursor(keyOf(last)) : null };
}
