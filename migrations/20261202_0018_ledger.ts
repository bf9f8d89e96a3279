import type { Knex } from 'knex';
import { runStatements, tenantIsolation } from './support';

/**
 * The ledger: journals and their entries, append-only for everyone (no UPDATE or DELETE grant to the
 * application role, and `hearth_refuse_change()` refuses UPDATE, DELETE and TRUNCATE even to the
 * owner), balanced by the database (a deferred constraint trigger checks, at commit, that every
 * journal touched has at least two lines and debits = credits). Journals are numbered per tenant
 * without gaps from a counter row that a posting locks until it commits. Exports are recorded,
 * append-only too: "exported" is answered by `ledger_exports`, never by a flag on a journal.
 */
export async function up(knex: Knex): Promise<void> {
  await runStatements(knex, [
    `CREATE TABLE ledger_counters (
       tenant_id uuid PRIMARY KEY REFERENCES tenants (id),
       last_number bigint NOT NULL CHECK (last_number > 0)
     )`,
    ...tenantIsolation('ledger_counters', ['SELECT', 'INSERT', 'UPDATE']),

    `CREATE TABLE ledger_journals (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       number bigint NOT NULL CHECK (number > 0),
       posting_date date NOT NULL,
       description text NOT NULL,
       source_type text NOT NULL,
       source_id text,
       currency text NOT NULL CHECK (currency IN ('GBP', 'USD')),
       created_by text,
       created_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id),
       UNIQUE (tenant_id, number)
     )`,
    `CREATE INDEX ledger_journals_date ON ledger_journals (tenant_id, posting_date, number)`,
    `CREATE INDEX ledger_journals_source ON ledger_journals (tenant_id, source_type, source_id)`,
    ...tenantIsolation('ledger_journals', ['SELECT', 'INSERT']),

    `CREATE TABLE ledger_entries (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       journal_id uuid NOT NULL,
       line_number integer NOT NULL CHECK (line_number > 0),
       account_key text NOT NULL,
       account_code text NOT NULL,
       debit bigint NOT NULL DEFAULT 0 CHECK (debit >= 0),
       credit bigint NOT NULL DEFAULT 0 CHECK (credit >= 0),
       carer_household_id uuid,
       child_id uuid,
       placement_id uuid,
       period_start date,
       period_end date,
       source_line_id text,
       description text,
       PRIMARY KEY (tenant_id, id),
       UNIQUE (tenant_id, journal_id, line_number),
       CONSTRAINT ledger_entries_one_side CHECK ((debit > 0 AND credit = 0) OR (credit > 0 AND debit = 0)),
       CONSTRAINT ledger_entries_period CHECK (period_start IS NULL OR period_end IS NULL OR period_start <= period_end),
       FOREIGN KEY (tenant_id, journal_id) REFERENCES ledger_journals (tenant_id, id),
       FOREIGN KEY (tenant_id, carer_household_id) REFERENCES carer_households (tenant_id, id),
       FOREIGN KEY (tenant_id, child_id) REFERENCES children (tenant_id, id),
       FOREIGN KEY (tenant_id, placement_id) REFERENCES placements (tenant_id, id)
     )`,
    ...tenantIsolation('ledger_entries', ['SELECT', 'INSERT']),

    `CREATE TABLE ledger_exports (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       format text NOT NULL,
       posting_from date,
       posting_to date,
       journal_from bigint,
       journal_to bigint,
       source_type text,
       source_id text,
       through_journal_number bigint NOT NULL,
       journal_count integer NOT NULL,
       row_count integer NOT NULL,
       first_journal_number bigint,
       last_journal_number bigint,
       total_minor bigint NOT NULL,
       created_by text,
       created_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id)
     )`,
    `CREATE INDEX ledger_exports_time ON ledger_exports (tenant_id, created_at, id)`,
    ...tenantIsolation('ledger_exports', ['SELECT', 'INSERT']),

    ...['ledger_journals', 'ledger_entries', 'ledger_exports'].flatMap((table) => [
      `CREATE TRIGGER ${table}_append_only BEFORE UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION hearth_refuse_change()`,
      `CREATE TRIGGER ${table}_no_truncate BEFORE TRUNCATE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION hearth_refuse_change()`,
    ]),

    // Numbers without gaps, held by the database too: the counter only ever steps by one, and a
    // journal takes the number the counter holds now (its row locked by the same transaction).
    `CREATE OR REPLACE FUNCTION ledger_counter_steps() RETURNS trigger
       LANGUAGE plpgsql AS $$
       BEGIN
         IF (TG_OP = 'INSERT' AND NEW.last_number <> 1) OR (TG_OP = 'UPDATE' AND (NEW.last_number <> OLD.last_number + 1 OR NEW.tenant_id <> OLD.tenant_id)) THEN
           RAISE EXCEPTION 'ledger_counters only step by one: % refused', TG_OP USING ERRCODE = 'P0001';
         END IF;
         RETURN NEW;
       END $$`,
    `CREATE TRIGGER ledger_counters_step BEFORE INSERT OR UPDATE ON ledger_counters FOR EACH ROW EXECUTE FUNCTION ledger_counter_steps()`,
    `CREATE TRIGGER ledger_counters_no_delete BEFORE DELETE ON ledger_counters FOR EACH ROW EXECUTE FUNCTION hearth_refuse_change()`,
    `CREATE TRIGGER ledger_counters_no_truncate BEFORE TRUNCATE ON ledger_counters FOR EACH STATEMENT EXECUTE FUNCTION hearth_refuse_change()`,
    `CREATE OR REPLACE FUNCTION ledger_journal_numbered() RETURNS trigger
       LANGUAGE plpgsql AS $$
       BEGIN
         IF NEW.number IS DISTINCT FROM (SELECT last_number FROM ledger_counters WHERE tenant_id = NEW.tenant_id) THEN
           RAISE EXCEPTION 'ledger journal number % is not the number the tenant''s counter gave', NEW.number USING ERRCODE = 'P0001';
         END IF;
         RETURN NEW;
       END $$`,
    `CREATE TRIGGER ledger_journals_numbered BEFORE INSERT ON ledger_journals FOR EACH ROW EXECUTE FUNCTION ledger_journal_numbered()`,
    // A journal's lines are numbered 1, 2, 3… in the order they are written (one index probe each),
    // so a line written after a journal was checked always has a higher number than any it checked.
    `CREATE OR REPLACE FUNCTION ledger_entry_numbered() RETURNS trigger
       LANGUAGE plpgsql AS $$
       BEGIN
         IF NEW.line_number <> coalesce((SELECT max(line_number) FROM ledger_entries WHERE tenant_id = NEW.tenant_id AND journal_id = NEW.journal_id), 0) + 1 THEN
           RAISE EXCEPTION 'ledger journal % line % is out of order', NEW.journal_id, NEW.line_number USING ERRCODE = 'P0001';
         END IF;
         RETURN NEW;
       END $$`,
    `CREATE TRIGGER ledger_entries_numbered BEFORE INSERT ON ledger_entries FOR EACH ROW EXECUTE FUNCTION ledger_entry_numbered()`,
    // At commit: every journal that gained lines (or was created) holds at least two lines and
    // balances. A journal is summed once per check, not once per line: the check remembers, for this
    // transaction only, the last line it summed, and a line at or below it was already in that sum.
    `CREATE OR REPLACE FUNCTION ledger_check_balanced() RETURNS trigger
       LANGUAGE plpgsql AS $$
       DECLARE
         j uuid;
         debits bigint;
         credits bigint;
         lines integer;
         top integer;
         seen text := coalesce(current_setting('hearth.ledger_checked', true), '');
         at integer;
       BEGIN
         IF TG_TABLE_NAME = 'ledger_journals' THEN
           j := NEW.id;
         ELSE
           j := NEW.journal_id;
           at := position(j::text || ':' IN seen);
           IF at > 0 AND NEW.line_number <= split_part(substr(seen, at + 37), ';', 1)::integer THEN
             RETURN NULL;
           END IF;
         END IF;
         SELECT coalesce(sum(debit), 0), coalesce(sum(credit), 0), count(*), coalesce(max(line_number), 0) INTO debits, credits, lines, top
           FROM ledger_entries WHERE tenant_id = NEW.tenant_id AND journal_id = j;
         IF lines < 2 OR debits <> credits THEN
           RAISE EXCEPTION 'ledger journal % is unbalanced: % lines, debits %, credits %', j, lines, debits, credits
             USING ERRCODE = '23514', CONSTRAINT = 'ledger_journal_balanced';
         END IF;
         PERFORM set_config('hearth.ledger_checked', regexp_replace(seen, j::text || ':[0-9]+;', '') || j::text || ':' || top || ';', true);
         RETURN NULL;
       END $$`,
    `CREATE CONSTRAINT TRIGGER ledger_entries_balanced AFTER INSERT ON ledger_entries
       DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced()`,
    `CREATE CONSTRAINT TRIGGER ledger_journals_balanced AFTER INSERT ON ledger_journals
       DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced()`,
  ]);
}
