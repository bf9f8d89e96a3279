import type { Knex } from 'knex';
import { runStatements } from './support';

/**
 * The ledger's line checks, per statement instead of per line. Migration 0018 numbered lines with a
 * row trigger that looked up the journal's last line, and queued a deferred balance check for every
 * line. Both held, but a plpgsql plan made when a journal was empty stays a sequential scan for the
 * rest of the statement: a payment run's journal of 6,567 lines took 3 s to write, and one of 130,000
 * would take hours. The same guarantees, checked once per statement and once per journal:
 *  - lines run 1, 2, 3… in the order they are written: each statement's lines for a journal must be
 *    consecutive and start just after the journal's last line (the unique key refuses repeats);
 *  - at commit, every journal that gained lines in the transaction has at least two and balances:
 *    each statement queues one deferred check per journal it touched, in a table of pending checks
 *    that each check empties as it runs (so a check run early by SET CONSTRAINTS … IMMEDIATE is queued
 *    again by the next line written).
 * The application role has no grant on the pending checks; the functions act as their owner.
 *
 * Entries also lose their own foreign key to tenants: their key to the journal (tenant_id,
 * journal_id) already holds the tenant, and checking it again per entry cost a run's journal a second.
 */
export async function up(knex: Knex): Promise<void> {
  await runStatements(knex, [
    'DROP TRIGGER ledger_entries_numbered ON ledger_entries',
    'DROP TRIGGER ledger_entries_balanced ON ledger_entries',
    'ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_tenant_id_fkey',
    // Not a tenant table (no tenant_id, no RLS): it holds a transaction's pending checks and is empty between transactions.
    `CREATE TABLE ledger_balance_checks (
       journal_tenant_id uuid NOT NULL,
       journal_id uuid NOT NULL,
       PRIMARY KEY (journal_tenant_id, journal_id)
     )`,
    'REVOKE ALL ON ledger_balance_checks FROM PUBLIC',
    `CREATE OR REPLACE FUNCTION ledger_entries_written() RETURNS trigger
       LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
       DECLARE bad record;
       BEGIN
         SELECT g.journal_id, g.lo INTO bad
           FROM (SELECT tenant_id, journal_id, min(line_number) AS lo, max(line_number) AS hi, count(*) AS n FROM new_rows GROUP BY tenant_id, journal_id) g
          WHERE g.n <> g.hi - g.lo + 1
             OR g.lo <> 1 + coalesce((SELECT max(e.line_number) FROM ledger_entries e WHERE e.tenant_id = g.tenant_id AND e.journal_id = g.journal_id AND e.line_number < g.lo), 0)
          LIMIT 1;
         IF FOUND THEN
           RAISE EXCEPTION 'ledger journal % line % is out of order', bad.journal_id, bad.lo USING ERRCODE = 'P0001';
         END IF;
         INSERT INTO ledger_balance_checks (journal_tenant_id, journal_id) SELECT DISTINCT tenant_id, journal_id FROM new_rows ON CONFLICT DO NOTHING;
         RETURN NULL;
       END $$`,
    `CREATE TRIGGER ledger_entries_written AFTER INSERT ON ledger_entries REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_written()`,
    `CREATE OR REPLACE FUNCTION ledger_balance_checked() RETURNS trigger
       LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
       DECLARE
         debits bigint;
         credits bigint;
         lines integer;
       BEGIN
         SELECT coalesce(sum(debit), 0), coalesce(sum(credit), 0), count(*) INTO debits, credits, lines
           FROM ledger_entries WHERE tenant_id = NEW.journal_tenant_id AND journal_id = NEW.journal_id;
         IF lines < 2 OR debits <> credits THEN
           RAISE EXCEPTION 'ledger journal % is unbalanced: % lines, debits %, credits %', NEW.journal_id, lines, debits, credits
             USING ERRCODE = '23514', CONSTRAINT = 'ledger_journal_balanced';
         END IF;
         DELETE FROM ledger_balance_checks WHERE journal_tenant_id = NEW.journal_tenant_id AND journal_id = NEW.journal_id;
         RETURN NULL;
       END $$`,
    `CREATE CONSTRAINT TRIGGER ledger_balance_checks_at_commit AFTER INSERT ON ledger_balance_checks
       DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_balance_checked()`,
  ]);
}
