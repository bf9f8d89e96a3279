import type { Knex } from 'knex';
import { runStatements, tenantIsolation } from './support';

/**
 * The invoices module's tables: the commissioners a tenant invoices, placement fees (effective-dated,
 * never edited), the tenant's invoicing policy, drafts (free to change or delete) and issued invoices
 * and credit notes (append-only, numbered without gaps, like the ledger).
 *
 * A draft becomes an issued invoice by being copied into `invoices` and deleted: the application
 * role has only SELECT and INSERT on issued invoices, credit notes and their lines, so no UPDATE or
 * DELETE of them can be written by the API, and `hearth_refuse_change()` refuses both to the owner.
 *
 * Nights invoiced are held one row per placement night in `invoice_nights`; a partial unique index
 * lets a night be held by at most one issued line that no credit note has fully reversed, so the
 * database itself refuses invoicing a night twice. A night comes free only by naming the credit note
 * that fully credited its line (the only column the application may update there).
 */
export async function up(knex: Knex): Promise<void> {
  await runStatements(knex, [
    `CREATE TABLE commissioners (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       name text NOT NULL,
       kind text NOT NULL CHECK (kind IN ('local_authority', 'county', 'state_agency', 'other')),
       customer_reference text,
       address_lines text[] NOT NULL DEFAULT '{}',
       email text,
       payment_terms_days integer CHECK (payment_terms_days BETWEEN 0 AND 365),
       status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
       version integer NOT NULL DEFAULT 1,
       created_by uuid,
       created_at timestamptz NOT NULL DEFAULT now(),
       updated_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id)
     )`,
    `CREATE INDEX commissioners_status ON commissioners (tenant_id, status, id)`,
    ...tenantIsolation('commissioners', ['SELECT', 'INSERT', 'UPDATE']),

    `CREATE TABLE placement_commissions (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       placement_id uuid NOT NULL,
       commissioner_id uuid NOT NULL,
       fee_amount bigint NOT NULL CHECK (fee_amount >= 0),
       fee_period text NOT NULL CHECK (fee_period IN ('week', 'day')),
       effective_from date NOT NULL,
       commissioner_reference text,
       notes text,
       created_by uuid,
       created_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id),
       FOREIGN KEY (tenant_id, placement_id) REFERENCES placements (tenant_id, id),
       FOREIGN KEY (tenant_id, commissioner_id) REFERENCES commissioners (tenant_id, id)
     )`,
    `CREATE INDEX placement_commissions_placement ON placement_commissions (tenant_id, placement_id, effective_from, id)`,
    `CREATE INDEX placement_commissions_commissioner ON placement_commissions (tenant_id, commissioner_id)`,
    ...tenantIsolation('placement_commissions', ['SELECT', 'INSERT']),

    `CREATE TABLE invoicing_policies (
       tenant_id uuid PRIMARY KEY REFERENCES tenants (id),
       frequency text NOT NULL CHECK (frequency IN ('weekly', 'four_weekly', 'monthly')),
       charge_departure_day boolean NOT NULL,
       rounding text NOT NULL CHECK (rounding IN ('half_up_per_line', 'half_even_per_line')),
       payment_terms_days integer NOT NULL CHECK (payment_terms_days BETWEEN 0 AND 365),
       invoice_prefix text NOT NULL,
       credit_note_prefix text NOT NULL,
       version integer NOT NULL DEFAULT 1,
       updated_by uuid,
       updated_at timestamptz NOT NULL DEFAULT now(),
       CHECK (invoice_prefix <> credit_note_prefix)
     )`,
    ...tenantIsolation('invoicing_policies', ['SELECT', 'INSERT', 'UPDATE']),

    `CREATE TABLE invoice_counters (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       series text NOT NULL CHECK (series IN ('invoice', 'credit_note')),
       last_number bigint NOT NULL CHECK (last_number > 0),
       PRIMARY KEY (tenant_id, series)
     )`,
    ...tenantIsolation('invoice_counters', ['SELECT', 'INSERT', 'UPDATE']),

    `CREATE TABLE invoice_drafts (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       commissioner_id uuid NOT NULL,
       period_start date NOT NULL,
       period_end date NOT NULL,
       currency text NOT NULL CHECK (currency IN ('GBP', 'USD')),
       total bigint NOT NULL CHECK (total >= 0),
       version integer NOT NULL DEFAULT 1,
       created_by uuid,
       created_at timestamptz NOT NULL DEFAULT now(),
       updated_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id),
       FOREIGN KEY (tenant_id, commissioner_id) REFERENCES commissioners (tenant_id, id),
       CHECK (period_start <= period_end)
     )`,
    `CREATE INDEX invoice_drafts_commissioner ON invoice_drafts (tenant_id, commissioner_id, period_start)`,
    ...tenantIsolation('invoice_drafts'),

    `CREATE TABLE invoice_draft_lines (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       draft_id uuid NOT NULL,
       line_number integer NOT NULL CHECK (line_number > 0),
       placement_id uuid NOT NULL,
       child_id uuid NOT NULL,
       commission_id uuid NOT NULL,
       commissioner_reference text,
       period_start date NOT NULL,
       period_end date NOT NULL,
       nights integer NOT NULL CHECK (nights > 0),
       fee_amount bigint NOT NULL CHECK (fee_amount > 0),
       fee_period text NOT NULL CHECK (fee_period IN ('week', 'day')),
       amount bigint NOT NULL CHECK (amount > 0),
       PRIMARY KEY (tenant_id, id),
       UNIQUE (tenant_id, draft_id, line_number),
       CHECK (nights = period_end - period_start + 1),
       FOREIGN KEY (tenant_id, draft_id) REFERENCES invoice_drafts (tenant_id, id),
       FOREIGN KEY (tenant_id, placement_id) REFERENCES placements (tenant_id, id),
       FOREIGN KEY (tenant_id, child_id) REFERENCES children (tenant_id, id),
       FOREIGN KEY (tenant_id, commission_id) REFERENCES placement_commissions (tenant_id, id),
       CHECK (period_start <= period_end)
     )`,
    ...tenantIsolation('invoice_draft_lines'),

    `CREATE TABLE invoices (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       number bigint NOT NULL CHECK (number > 0),
       reference text NOT NULL,
       commissioner_id uuid NOT NULL,
       period_start date NOT NULL,
       period_end date NOT NULL,
       issue_date date NOT NULL,
       due_date date NOT NULL,
       payment_terms_days integer NOT NULL,
       currency text NOT NULL CHECK (currency IN ('GBP', 'USD')),
       total bigint NOT NULL CHECK (total > 0),
       bill_to jsonb NOT NULL,
       journal_id uuid NOT NULL,
       drafted_by uuid,
       drafted_at timestamptz NOT NULL,
       issued_by uuid,
       issued_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id),
       UNIQUE (tenant_id, number),
       UNIQUE (tenant_id, reference),
       FOREIGN KEY (tenant_id, commissioner_id) REFERENCES commissioners (tenant_id, id),
       FOREIGN KEY (tenant_id, journal_id) REFERENCES ledger_journals (tenant_id, id),
       CHECK (period_start <= period_end),
       CHECK (due_date >= issue_date)
     )`,
    `CREATE INDEX invoices_commissioner ON invoices (tenant_id, commissioner_id, period_start)`,
    `CREATE INDEX invoices_period ON invoices (tenant_id, period_start, period_end)`,
    ...tenantIsolation('invoices', ['SELECT', 'INSERT']),

    `CREATE TABLE invoice_lines (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       invoice_id uuid NOT NULL,
       line_number integer NOT NULL CHECK (line_number > 0),
       placement_id uuid NOT NULL,
       child_id uuid NOT NULL,
       commission_id uuid NOT NULL,
       commissioner_reference text,
       period_start date NOT NULL,
       period_end date NOT NULL,
       nights integer NOT NULL CHECK (nights > 0),
       fee_amount bigint NOT NULL CHECK (fee_amount > 0),
       fee_period text NOT NULL CHECK (fee_period IN ('week', 'day')),
       amount bigint NOT NULL CHECK (amount > 0),
       PRIMARY KEY (tenant_id, id),
       UNIQUE (tenant_id, invoice_id, line_number),
       CHECK (nights = period_end - period_start + 1),
       FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id),
       FOREIGN KEY (tenant_id, placement_id) REFERENCES placements (tenant_id, id),
       FOREIGN KEY (tenant_id, child_id) REFERENCES children (tenant_id, id),
       FOREIGN KEY (tenant_id, commission_id) REFERENCES placement_commissions (tenant_id, id),
       CHECK (period_start <= period_end)
     )`,
    `CREATE INDEX invoice_lines_placement ON invoice_lines (tenant_id, placement_id, period_start)`,
    ...tenantIsolation('invoice_lines', ['SELECT', 'INSERT']),

    `CREATE TABLE credit_notes (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       number bigint NOT NULL CHECK (number > 0),
       reference text NOT NULL,
       invoice_id uuid NOT NULL,
       issue_date date NOT NULL,
       reason text NOT NULL,
       currency text NOT NULL CHECK (currency IN ('GBP', 'USD')),
       total bigint NOT NULL CHECK (total > 0),
       journal_id uuid NOT NULL,
       created_by uuid,
       created_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id),
       UNIQUE (tenant_id, number),
       UNIQUE (tenant_id, reference),
       FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id),
       FOREIGN KEY (tenant_id, journal_id) REFERENCES ledger_journals (tenant_id, id)
     )`,
    `CREATE INDEX credit_notes_invoice ON credit_notes (tenant_id, invoice_id)`,
    ...tenantIsolation('credit_notes', ['SELECT', 'INSERT']),

    `CREATE TABLE credit_note_lines (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       credit_note_id uuid NOT NULL,
       line_number integer NOT NULL CHECK (line_number > 0),
       invoice_line_id uuid NOT NULL,
       amount bigint NOT NULL CHECK (amount > 0),
       PRIMARY KEY (tenant_id, id),
       UNIQUE (tenant_id, credit_note_id, line_number),
       UNIQUE (tenant_id, credit_note_id, invoice_line_id),
       FOREIGN KEY (tenant_id, credit_note_id) REFERENCES credit_notes (tenant_id, id),
       FOREIGN KEY (tenant_id, invoice_line_id) REFERENCES invoice_lines (tenant_id, id)
     )`,
    `CREATE INDEX credit_note_lines_invoice_line ON credit_note_lines (tenant_id, invoice_line_id)`,
    ...tenantIsolation('credit_note_lines', ['SELECT', 'INSERT']),

    `CREATE TABLE invoice_nights (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       invoice_line_id uuid NOT NULL,
       night date NOT NULL,
       placement_id uuid NOT NULL,
       invoice_id uuid NOT NULL,
       credit_note_id uuid,
       PRIMARY KEY (tenant_id, invoice_line_id, night),
       FOREIGN KEY (tenant_id, invoice_line_id) REFERENCES invoice_lines (tenant_id, id),
       FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id),
       FOREIGN KEY (tenant_id, placement_id) REFERENCES placements (tenant_id, id),
       FOREIGN KEY (tenant_id, credit_note_id) REFERENCES credit_notes (tenant_id, id)
     )`,
    // The fence against a night invoiced twice: one holder per placement night until a credit note frees it.
    `CREATE UNIQUE INDEX invoice_nights_held ON invoice_nights (tenant_id, placement_id, night) WHERE credit_note_id IS NULL`,
    `CREATE INDEX invoice_nights_invoice ON invoice_nights (tenant_id, invoice_id)`,
    ...tenantIsolation('invoice_nights', ['SELECT', 'INSERT']),
    `GRANT UPDATE (credit_note_id) ON invoice_nights TO hearth_app`,

    // Issued records never change, for anyone.
    ...['invoices', 'invoice_lines', 'credit_notes', 'credit_note_lines'].flatMap((table) => [
      `CREATE TRIGGER ${table}_append_only BEFORE UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION hearth_refuse_change()`,
      `CREATE TRIGGER ${table}_no_truncate BEFORE TRUNCATE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION hearth_refuse_change()`,
    ]),
    // A fee change is a new row from a date, never an edit.
    `CREATE TRIGGER placement_commissions_append_only BEFORE UPDATE OR DELETE ON placement_commissions FOR EACH ROW EXECUTE FUNCTION hearth_refuse_change()`,
    `CREATE TRIGGER placement_commissions_no_truncate BEFORE TRUNCATE ON placement_commissions FOR EACH STATEMENT EXECUTE FUNCTION hearth_refuse_change()`,

    // Numbers without gaps, as the ledger's: a counter per series that only steps by one, and a
    // document takes the number its series' counter holds now (locked by the same transaction).
    `CREATE OR REPLACE FUNCTION invoice_counter_steps() RETURNS trigger
       LANGUAGE plpgsql AS $$
       BEGIN
         IF (TG_OP = 'INSERT' AND NEW.last_number <> 1)
            OR (TG_OP = 'UPDATE' AND (NEW.last_number <> OLD.last_number + 1 OR NEW.tenant_id <> OLD.tenant_id OR NEW.series <> OLD.series)) THEN
           RAISE EXCEPTION 'invoice_counters only step by one: % refused', TG_OP USING ERRCODE = 'P0001';
         END IF;
         RETURN NEW;
       END $$`,
    `CREATE TRIGGER invoice_counters_step BEFORE INSERT OR UPDATE ON invoice_counters FOR EACH ROW EXECUTE FUNCTION invoice_counter_steps()`,
    `CREATE TRIGGER invoice_counters_no_delete BEFORE DELETE ON invoice_counters FOR EACH ROW EXECUTE FUNCTION hearth_refuse_change()`,
    `CREATE TRIGGER invoice_counters_no_truncate BEFORE TRUNCATE ON invoice_counters FOR EACH STATEMENT EXECUTE FUNCTION hearth_refuse_change()`,
    `CREATE OR REPLACE FUNCTION invoice_document_numbered() RETURNS trigger
       LANGUAGE plpgsql AS $$
       DECLARE
         counted text := CASE TG_TABLE_NAME WHEN 'invoices' THEN 'invoice' ELSE 'credit_note' END;
       BEGIN
         IF NEW.number IS DISTINCT FROM (SELECT c.last_number FROM invoice_counters c WHERE c.tenant_id = NEW.tenant_id AND c.series = counted) THEN
           RAISE EXCEPTION '% number % is not the number the tenant''s counter gave', TG_TABLE_NAME, NEW.number USING ERRCODE = 'P0001';
         END IF;
         RETURN NEW;
       END $$`,
    `CREATE TRIGGER invoices_numbered BEFORE INSERT ON invoices FOR EACH ROW EXECUTE FUNCTION invoice_document_numbered()`,
    `CREATE TRIGGER credit_notes_numbered BEFORE INSERT ON credit_notes FOR EACH ROW EXECUTE FUNCTION invoice_document_numbered()`,

    // At commit, an issued invoice's total is the sum of its lines and every night of its lines is
    // held (a line's nights are consecutive, so each night is held once by the primary key). The
    // total never changes, so a line added later to an issued invoice is refused here too.
    `CREATE OR REPLACE FUNCTION invoice_check_whole() RETURNS trigger
       LANGUAGE plpgsql AS $$
       DECLARE
         inv uuid;
         expected bigint;
         lines_total bigint;
         lines_nights bigint;
         held bigint;
       BEGIN
         IF TG_TABLE_NAME = 'invoices' THEN
           inv := NEW.id;
         ELSE
           inv := NEW.invoice_id;
         END IF;
         SELECT total INTO expected FROM invoices WHERE tenant_id = NEW.tenant_id AND id = inv;
         SELECT coalesce(sum(amount), 0), coalesce(sum(nights), 0) INTO lines_total, lines_nights FROM invoice_lines WHERE tenant_id = NEW.tenant_id AND invoice_id = inv;
         IF expected IS DISTINCT FROM lines_total THEN
           RAISE EXCEPTION 'invoice % is not whole: total %, lines %', inv, expected, lines_total USING ERRCODE = '23514', CONSTRAINT = 'invoice_whole';
         END IF;
         IF TG_TABLE_NAME = 'invoices' THEN
           SELECT count(*) INTO held FROM invoice_nights WHERE tenant_id = NEW.tenant_id AND invoice_id = inv;
           IF held <> lines_nights THEN
             RAISE EXCEPTION 'invoice % holds % nights; its lines count %', inv, held, lines_nights USING ERRCODE = '23514', CONSTRAINT = 'invoice_whole';
           END IF;
         END IF;
         RETURN NULL;
       END $$`,
    `CREATE CONSTRAINT TRIGGER invoices_whole AFTER INSERT ON invoices DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION invoice_check_whole()`,
    `CREATE CONSTRAINT TRIGGER invoice_lines_whole AFTER INSERT ON invoice_lines DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION invoice_check_whole()`,

    // A night row belongs to its line: the line's placement, inside the line's period, of the line's invoice.
    `CREATE OR REPLACE FUNCTION invoice_night_on_line() RETURNS trigger
       LANGUAGE plpgsql AS $$
       BEGIN
         IF NEW.credit_note_id IS NOT NULL OR NOT EXISTS (
              SELECT 1 FROM invoice_lines l
               WHERE l.tenant_id = NEW.tenant_id AND l.id = NEW.invoice_line_id AND l.invoice_id = NEW.invoice_id
                 AND l.placement_id = NEW.placement_id AND NEW.night BETWEEN l.period_start AND l.period_end) THEN
           RAISE EXCEPTION 'invoice night % of placement % is not a night of line %', NEW.night, NEW.placement_id, NEW.invoice_line_id USING ERRCODE = 'P0001';
         END IF;
         RETURN NEW;
       END $$`,
    `CREATE TRIGGER invoice_nights_on_line BEFORE INSERT ON invoice_nights FOR EACH ROW EXECUTE FUNCTION invoice_night_on_line()`,
    // The one change a held night may take: freed, once, by a credit note of its invoice that fully credited its line.
    `CREATE OR REPLACE FUNCTION invoice_night_freed() RETURNS trigger
       LANGUAGE plpgsql AS $$
       BEGIN
         IF OLD.credit_note_id IS NOT NULL OR NEW.credit_note_id IS NULL
            OR (NEW.tenant_id, NEW.invoice_line_id, NEW.night, NEW.placement_id, NEW.invoice_id) IS DISTINCT FROM (OLD.tenant_id, OLD.invoice_line_id, OLD.night, OLD.placement_id, OLD.invoice_id)
            OR NOT EXISTS (SELECT 1 FROM credit_notes c WHERE c.tenant_id = NEW.tenant_id AND c.id = NEW.credit_note_id AND c.invoice_id = NEW.invoice_id)
            OR (SELECT coalesce(sum(cl.amount), 0) FROM credit_note_lines cl WHERE cl.tenant_id = NEW.tenant_id AND cl.invoice_line_id = NEW.invoice_line_id)
               <> (SELECT l.amount FROM invoice_lines l WHERE l.tenant_id = NEW.tenant_id AND l.id = NEW.invoice_line_id) THEN
           RAISE EXCEPTION 'invoice night % of line % can only be freed once, by a credit note that fully credited the line', OLD.night, OLD.invoice_line_id USING ERRCODE = 'P0001';
         END IF;
         RETURN NEW;
       END $$`,
    `CREATE TRIGGER invoice_nights_freed BEFORE UPDATE ON invoice_nights FOR EACH ROW EXECUTE FUNCTION invoice_night_freed()`,
    `CREATE TRIGGER invoice_nights_no_delete BEFORE DELETE ON invoice_nights FOR EACH ROW EXECUTE FUNCTION hearth_refuse_change()`,
    `CREATE TRIGGER invoice_nights_no_truncate BEFORE TRUNCATE ON invoice_nights FOR EACH STATEMENT EXECUTE FUNCTION hearth_refuse_change()`,

    // A credit note line credits a line of its own invoice, never more than is left on it; and at
    // commit a credit note's total is the sum of its lines.
    `CREATE OR REPLACE FUNCTION credit_note_line_within() RETURNS trigger
       LANGUAGE plpgsql AS $$
       DECLARE
         line_amount bigint;
         credited bigint;
       BEGIN
         SELECT l.amount INTO line_amount FROM invoice_lines l JOIN credit_notes c ON c.tenant_id = l.tenant_id AND c.invoice_id = l.invoice_id
          WHERE l.tenant_id = NEW.tenant_id AND l.id = NEW.invoice_line_id AND c.id = NEW.credit_note_id;
         IF line_amount IS NULL THEN
           RAISE EXCEPTION 'credit note % cannot credit line %: it is not a line of the credited invoice', NEW.credit_note_id, NEW.invoice_line_id USING ERRCODE = 'P0001';
         END IF;
         SELECT coalesce(sum(amount), 0) INTO credited FROM credit_note_lines WHERE tenant_id = NEW.tenant_id AND invoice_line_id = NEW.invoice_line_id;
         IF credited + NEW.amount > line_amount THEN
           RAISE EXCEPTION 'invoice line % would be credited % of its %', NEW.invoice_line_id, credited + NEW.amount, line_amount USING ERRCODE = '23514', CONSTRAINT = 'credit_note_line_within';
         END IF;
         RETURN NEW;
       END $$`,
    `CREATE TRIGGER credit_note_lines_within BEFORE INSERT ON credit_note_lines FOR EACH ROW EXECUTE FUNCTION credit_note_line_within()`,
    `CREATE OR REPLACE FUNCTION credit_note_check_whole() RETURNS trigger
       LANGUAGE plpgsql AS $$
       DECLARE
         cn uuid;
         expected bigint;
         lines_total bigint;
       BEGIN
         IF TG_TABLE_NAME = 'credit_notes' THEN
           cn := NEW.id;
         ELSE
           cn := NEW.credit_note_id;
         END IF;
         SELECT total INTO expected FROM credit_notes WHERE tenant_id = NEW.tenant_id AND id = cn;
         SELECT coalesce(sum(amount), 0) INTO lines_total FROM credit_note_lines WHERE tenant_id = NEW.tenant_id AND credit_note_id = cn;
         IF expected IS DISTINCT FROM lines_total THEN
           RAISE EXCEPTION 'credit note % is not whole: total %, lines %', cn, expected, lines_total USING ERRCODE = '23514', CONSTRAINT = 'credit_note_whole';
         END IF;
         RETURN NULL;
       END $$`,
    `CREATE CONSTRAINT TRIGGER credit_notes_whole AFTER INSERT ON credit_notes DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION credit_note_check_whole()`,
    `CREATE CONSTRAINT TRIGGER credit_note_lines_whole AFTER INSERT ON credit_note_lines DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION credit_note_check_whole()`,
  ]);
}
