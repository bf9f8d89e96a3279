import type { Knex } from 'knex';
import { forEachTenant, runStatements, tenantIsolation } from './support';

/**
 * Name search that an index can serve under row-level security. `ILIKE` is not leakproof, so
 * PostgreSQL will not evaluate it inside the tenant policy's security barrier and scans every row;
 * the pattern comparison operators (~>=~, ~<~) are leakproof, so a prefix range over a btree
 * (text_pattern_ops) index of name words is used as an index condition. Each child's words are kept
 * by a trigger, tokenised by one SQL function that the search uses for the typed text too.
 */
export async function up(knex: Knex): Promise<void> {
  await runStatements(knex, [
    `CREATE FUNCTION hearth_name_tokens(value text) RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
       SELECT coalesce(array_agg(DISTINCT t), '{}') FROM regexp_split_to_table(lower(coalesce(value, '')), '[[:space:][:punct:]]+') AS t WHERE t <> ''
     $$`,
    `CREATE TABLE child_name_tokens (
       tenant_id uuid NOT NULL,
       child_id uuid NOT NULL,
       token text NOT NULL,
       PRIMARY KEY (tenant_id, child_id, token),
       FOREIGN KEY (tenant_id, child_id) REFERENCES children (tenant_id, id)
     )`,
    `CREATE INDEX child_name_tokens_prefix ON child_name_tokens (tenant_id, token text_pattern_ops)`,
    ...tenantIsolation('child_name_tokens', ['SELECT', 'INSERT', 'DELETE']),
    // Each word of each name, and each name with its punctuation removed ("o'brien" is found as "obrien" too).
    `CREATE FUNCTION hearth_child_name_tokens() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
       DELETE FROM child_name_tokens WHERE tenant_id = NEW.tenant_id AND child_id = NEW.id;
       INSERT INTO child_name_tokens (tenant_id, child_id, token)
         SELECT DISTINCT NEW.tenant_id, NEW.id, t FROM unnest(
           hearth_name_tokens(concat_ws(' ', NEW.given_name, NEW.family_name, NEW.preferred_name))
           || hearth_name_tokens(concat_ws(' ', replace(NEW.given_name, '''', ''), replace(NEW.family_name, '''', ''), replace(NEW.preferred_name, '''', '')))
           || hearth_name_tokens(regexp_replace(concat_ws(' ', NEW.given_name, NEW.family_name, NEW.preferred_name), '[[:punct:]]+', '', 'g'))
         ) AS t;
       RETURN NEW;
     END
     $$`,
    `CREATE TRIGGER children_name_tokens AFTER INSERT OR UPDATE OF given_name, family_name, preferred_name ON children
       FOR EACH ROW EXECUTE FUNCTION hearth_child_name_tokens()`,
  ]);
  // Children created before this migration: touching a name column fires the trigger.
  await forEachTenant(knex, async (trx) => {
    await trx.raw('UPDATE children SET given_name = given_name');
  });
}
