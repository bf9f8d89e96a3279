import { decodeCursor, toPage } from '../http/pagination';

/** What a list operation's query holds for paging (the contract's Limit and Cursor parameters). */
export interface PageRequest {
  limit: number;
  cursor?: string;
}

/** The query builders a page can be read from (knex's and objection's both have these). */
interface Pageable<Row> extends PromiseLike<Row[]> {
  where(column: string, operator: string, value: string | number): this;
  whereRaw(sql: string, bindings: Array<string | number>): this;
  orderBy(column: string, direction?: 'asc' | 'desc'): this;
  limit(n: number): this;
}

/**
 * One page of a keyset list: the rows after the cursor in `columns` order, `limit` of them, and the
 * cursor of the next page (null on the last). Every list in the API pages this way (see
 * core/src/http/pagination.ts for why); `columns` must end in a unique column so no two rows tie.
 */
export async function keysetPage<Row, Item>(
  query: Pageable<Row>,
  page: PageRequest,
  columns: ReadonlyArray<{ column: string; of: (row: Row) => string | number }>,
  toItem: (row: Row) => Item,
  direction: 'asc' | 'desc' = 'asc',
): Promise<{ data: Item[]; nextCursor: string | null; rows: Row[] }> {
  const after = decodeCursor(page.cursor, columns.length);
  const operator = direction === 'asc' ? '>' : '<';
  if (after) {
    if (columns.length === 1) query.where(columns[0]!.column, operator, after[0]!);
    else
      query.whereRaw(
        `(${columns.map((c) => c.column).join(', ')}) ${operator} (${columns.map(() => '?').join(', ')})`,
        after,
      );
  }
  for (const { column } of columns) query.orderBy(column, direction);
  query.limit(page.limit + 1);
  const rows = await query;
  const { data, nextCursor } = toPage(rows, page.limit, (row) => columns.map((c) => c.of(row)), toItem);
  return { data, nextCursor, rows: rows.slice(0, page.limit) };
}
