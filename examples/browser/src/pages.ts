/** One page of a list, as every list operation answers. */
export interface Page<T> {
  data: T[];
  nextCursor?: string | null;
}

/**
 * Every item of a list, following `nextCursor` page by page. For lists that stay small (one worker's
 * children, one child's tasks, one household's lines in a run); a long list is shown a page at a time.
 */
export async function allPages<T>(page: (cursor: { cursor?: string }) => Promise<Page<T>>): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  do {
    const next = await page(cursor ? { cursor } : {});
    items.push(...next.data);
    cursor = next.nextCursor ?? undefined;
  } while (cursor);
  return items;
}
