import type { Knex } from 'knex';

/** Above every character, so `[word, word + TOP)` is the range of strings that start with word. */
const TOP = '\u{10FFFF}';

/** The part of a knex or objection query builder the filter uses. */
interface NameFilterable {
  whereIn(column: string, values: Knex.QueryBuilder): unknown;
  whereRaw(sql: string): unknown;
}

/**
 * Restricts a children query (aliased `c`) to those with a name word starting with each word typed:
 * "sm jo" finds Joe Smith. The typed text is tokenised by the same SQL function that keeps
 * `child_name_tokens` (migration 0016), so both sides agree on case and punctuation; the prefix
 * ranges use leakproof operators, which an index serves under row-level security.
 */
export async function whereNameStartsWith(
  trx: Knex.Transaction,
  tenantId: string,
  query: NameFilterable,
  text: string,
): Promise<void> {
  const { rows } = (await trx.raw('SELECT hearth_name_tokens(?) AS tokens', [text])) as {
    rows: Array<{ tokens: string[] }>;
  };
  const words = rows[0]?.tokens ?? [];
  if (!words.length) {
    // Only punctuation was typed: no name matches it.
    query.whereRaw('false');
    return;
  }
  for (const word of words) {
    query.whereIn(
      'c.id',
      trx('child_name_tokens')
        .where('tenant_id', tenantId)
        .whereRaw('token ~>=~ ? AND token ~<~ ?', [word, word + TOP])
        .select('child_id'),
    );
  }
}
