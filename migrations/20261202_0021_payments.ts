import type { Knex } from 'knex';
import { runStatements, tenantIsolation } from './support';

/**
 * Pay schedules, payment runs and their lines, adjustments and disputes.
 *
 * What the database itself holds, whoever connects:
 *  - payment lines, their explanations, calculation issues and run steps are append-only (no UPDATE
 *    or DELETE grant to the application role; `hearth_refuse_change()` refuses both, and TRUNCATE, to
 *    the owner too). A recalculation writes a new calculation number beside the old lines, so nothing
 *    a run ever showed is lost and a crashed calculation leaves only rows its rollback removed;
 *  - a run's period, schedule and lines cannot be added to once it is approved, and a finalised run's
 *    money never changes (`payment_run_guard`): only finalised → exported may follow;
 *  - runs are never deleted (cancelled instead).
 */
export async function up(knex: Knex): Promise<void> {
  await runStatements(knex, [
    `CREATE TABLE pay_schedules (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       key text NOT NULL CHECK (key ~ '^[a-z][a-z0-9_-]*$'),
       name text NOT NULL,
       frequency text NOT NULL CHECK (frequency IN ('weekly', 'fortnightly', 'four_weekly', 'monthly')),
       timing text NOT NULL CHECK (timing IN ('advance', 'arrears')),
       anchor_date date NOT NULL,
       payment_lag_days integer NOT NULL DEFAULT 0 CHECK (payment_lag_days BETWEEN 0 AND 60),
       correction_lookback_days integer NOT NULL DEFAULT 366 CHECK (correction_lookback_days BETWEEN 0 AND 1100),
       status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'retired')),
       version integer NOT NULL DEFAULT 1,
       created_by uuid,
       created_at timestamptz NOT NULL DEFAULT now(),
       updated_by uuid,
       updated_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id),
       UNIQUE (tenant_id, key),
       CHECK (frequency <> 'monthly' OR extract(day FROM anchor_date) <= 28)
     )`,
    // One schedule pays a tenant's carers at a time, so no night is in two schedules' periods.
    `CREATE UNIQUE INDEX pay_schedules_one_active ON pay_schedules (tenant_id) WHERE status = 'active'`,
    ...tenantIsolation('pay_schedules', ['SELECT', 'INSERT', 'UPDATE']),

    `CREATE TABLE payment_runs (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       number integer NOT NULL CHECK (number > 0),
       reference text NOT NULL,
       schedule_id uuid NOT NULL,
       timing text NOT NULL CHECK (timing IN ('advance', 'arrears')),
       period_start date NOT NULL,
       period_end date NOT NULL,
       payment_date date NOT NULL,
       status text NOT NULL CHECK (status IN ('draft', 'calculating', 'calculated', 'submitted', 'approved', 'finalised', 'exported', 'cancelled')),
       workflow_key text NOT NULL,
       calculation_number integer NOT NULL DEFAULT 0,
       calculation_job_id uuid,
       calculation_requested_by uuid,
       calculation_requested_at timestamptz,
       calculated_by uuid,
       calculated_at timestamptz,
       calculation_error text,
       inputs jsonb,
       total bigint NOT NULL DEFAULT 0,
       line_count integer NOT NULL DEFAULT 0,
       household_count integer NOT NULL DEFAULT 0,
       placement_count integer NOT NULL DEFAULT 0,
       issue_count integer NOT NULL DEFAULT 0,
       notice_count integer NOT NULL DEFAULT 0,
       correction_count integer NOT NULL DEFAULT 0,
       submitted_by uuid,
       submitted_at timestamptz,
       approved_by uuid,
       approved_at timestamptz,
       finalised_by uuid,
       finalised_at timestamptz,
       journal_id uuid,
       exported_at timestamptz,
       cancelled_by uuid,
       cancelled_at timestamptz,
       notes text,
       version integer NOT NULL DEFAULT 1,
       created_by uuid,
       created_at timestamptz NOT NULL DEFAULT now(),
       updated_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id),
       UNIQUE (tenant_id, number),
       FOREIGN KEY (tenant_id, schedule_id) REFERENCES pay_schedules (tenant_id, id),
       FOREIGN KEY (tenant_id, journal_id) REFERENCES ledger_journals (tenant_id, id),
       CHECK (period_start <= period_end),
       -- A finalised run has its journal, unless it had no line to post.
       CHECK (journal_id IS NULL OR status IN ('finalised', 'exported')),
       CHECK (status NOT IN ('finalised', 'exported') OR journal_id IS NOT NULL OR line_count = 0)
     )`,
    `CREATE INDEX payment_runs_period ON payment_runs (tenant_id, period_start) WHERE status <> 'cancelled'`,
    `CREATE INDEX payment_runs_status ON payment_runs (tenant_id, status, number)`,
    ...tenantIsolation('payment_runs', ['SELECT', 'INSERT', 'UPDATE']),
    `CREATE TRIGGER payment_runs_no_delete BEFORE DELETE ON payment_runs FOR EACH ROW EXECUTE FUNCTION hearth_refuse_change()`,
    `CREATE TRIGGER payment_runs_no_truncate BEFORE TRUNCATE ON payment_runs FOR EACH STATEMENT EXECUTE FUNCTION hearth_refuse_change()`,
    // Once approved, what was approved stays: the period, the calculation and its totals. Once
    // finalised, only the step to exported remains.
    `CREATE OR REPLACE FUNCTION payment_run_guard() RETURNS trigger
       LANGUAGE plpgsql AS $$
       BEGIN
         IF OLD.status IN ('approved', 'finalised', 'exported') AND (
              NEW.period_start <> OLD.period_start OR NEW.period_end <> OLD.period_end OR NEW.schedule_id <> OLD.schedule_id
              OR NEW.calculation_number <> OLD.calculation_number OR NEW.total <> OLD.total OR NEW.line_count <> OLD.line_count
              OR NEW.payment_date <> OLD.payment_date OR NEW.tenant_id <> OLD.tenant_id OR NEW.number <> OLD.number
              OR NEW.approved_by IS DISTINCT FROM OLD.approved_by OR NEW.calculated_by IS DISTINCT FROM OLD.calculated_by) THEN
           RAISE EXCEPTION 'payment run % is %: what was approved does not change', OLD.reference, OLD.status USING ERRCODE = 'P0001';
         END IF;
         IF OLD.status IN ('finalised', 'exported') AND (NEW.status NOT IN ('finalised', 'exported') OR NEW.journal_id IS DISTINCT FROM OLD.journal_id) THEN
           RAISE EXCEPTION 'payment run % is %: it cannot become %', OLD.reference, OLD.status, NEW.status USING ERRCODE = 'P0001';
         END IF;
         IF OLD.status = 'exported' AND NEW.status <> 'exported' THEN
           RAISE EXCEPTION 'payment run % is exported', OLD.reference USING ERRCODE = 'P0001';
         END IF;
         IF OLD.status = 'cancelled' AND NEW.status <> 'cancelled' THEN
           RAISE EXCEPTION 'payment run % is cancelled', OLD.reference USING ERRCODE = 'P0001';
         END IF;
         RETURN NEW;
       END $$`,
    `CREATE TRIGGER payment_runs_guard BEFORE UPDATE ON payment_runs FOR EACH ROW EXECUTE FUNCTION payment_run_guard()`,

    `CREATE TABLE payment_run_steps (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       run_id uuid NOT NULL,
       action text NOT NULL,
       from_status text,
       to_status text NOT NULL,
       actor_type text NOT NULL,
       actor_id uuid,
       at timestamptz NOT NULL DEFAULT now(),
       notes text,
       detail jsonb,
       PRIMARY KEY (tenant_id, id),
       FOREIGN KEY (tenant_id, run_id) REFERENCES payment_runs (tenant_id, id)
     )`,
    `CREATE INDEX payment_run_steps_run ON payment_run_steps (tenant_id, run_id, at, id)`,
    ...tenantIsolation('payment_run_steps', ['SELECT', 'INSERT']),

    // A run's lines share a few dozen distinct explanations (rule, table value, facts), stored once each.
    // Lines and explanations name their tenant through their run's key (tenant_id, run_id), which
    // the run holds against tenants: a second check of the tenant per line would cost a run of
    // 134,000 lines a second for nothing.
    `CREATE TABLE payment_explanations (
       tenant_id uuid NOT NULL,
       run_id uuid NOT NULL,
       calculation integer NOT NULL,
       key integer NOT NULL,
       body jsonb NOT NULL,
       PRIMARY KEY (tenant_id, run_id, calculation, key),
       FOREIGN KEY (tenant_id, run_id) REFERENCES payment_runs (tenant_id, id)
     )`,
    ...tenantIsolation('payment_explanations', ['SELECT', 'INSERT']),

    `CREATE TABLE payment_lines (
       tenant_id uuid NOT NULL,
       id uuid NOT NULL,
       run_id uuid NOT NULL,
       calculation integer NOT NULL CHECK (calculation > 0),
       position integer NOT NULL CHECK (position > 0),
       household_id uuid NOT NULL,
       placement_id uuid,
       child_id uuid,
       kind text NOT NULL CHECK (kind IN ('rate', 'extra', 'arrears', 'recovery', 'claim', 'adjustment')),
       component text NOT NULL,
       period_start date,
       period_end date,
       nights integer,
       amount bigint NOT NULL CHECK (amount <> 0),
       explanation_key integer,
       corrects_run_id uuid,
       corrects_line_ids uuid[],
       claim_id uuid,
       adjustment_id uuid,
       description text NOT NULL,
       PRIMARY KEY (tenant_id, id),
       UNIQUE (tenant_id, run_id, calculation, position),
       FOREIGN KEY (tenant_id, run_id) REFERENCES payment_runs (tenant_id, id),
       FOREIGN KEY (tenant_id, household_id) REFERENCES carer_households (tenant_id, id),
       FOREIGN KEY (tenant_id, placement_id) REFERENCES placements (tenant_id, id),
       FOREIGN KEY (tenant_id, child_id) REFERENCES children (tenant_id, id),
       FOREIGN KEY (tenant_id, corrects_run_id) REFERENCES payment_runs (tenant_id, id),
       CHECK (period_start IS NULL OR period_end IS NULL OR period_start <= period_end),
       CHECK ((kind IN ('arrears', 'recovery')) = (corrects_run_id IS NOT NULL)),
       CHECK (kind NOT IN ('rate', 'extra', 'arrears') OR amount > 0),
       CHECK (kind <> 'recovery' OR amount < 0),
       CHECK ((kind = 'claim') = (claim_id IS NOT NULL)),
       CHECK ((kind = 'adjustment') = (adjustment_id IS NOT NULL))
     )`,
    `CREATE INDEX payment_lines_run_household ON payment_lines (tenant_id, run_id, calculation, household_id)`,
    `CREATE INDEX payment_lines_placement ON payment_lines (tenant_id, placement_id, run_id) WHERE placement_id IS NOT NULL`,
    ...tenantIsolation('payment_lines', ['SELECT', 'INSERT']),

    `CREATE TABLE payment_run_issues (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       run_id uuid NOT NULL,
       calculation integer NOT NULL,
       household_id uuid,
       placement_id uuid,
       child_id uuid,
       severity text NOT NULL CHECK (severity IN ('error', 'notice')),
       code text NOT NULL,
       message text NOT NULL,
       PRIMARY KEY (tenant_id, id),
       FOREIGN KEY (tenant_id, run_id) REFERENCES payment_runs (tenant_id, id)
     )`,
    `CREATE INDEX payment_run_issues_run ON payment_run_issues (tenant_id, run_id, calculation)`,
    ...tenantIsolation('payment_run_issues', ['SELECT', 'INSERT']),

    // Lines are written once, by the calculation that owns them, and only while the run may still be recalculated.
    `CREATE OR REPLACE FUNCTION payment_lines_open_run() RETURNS trigger
       LANGUAGE plpgsql AS $$
       DECLARE bad text;
       BEGIN
         SELECT r.reference || ' is ' || r.status INTO bad
           FROM (SELECT DISTINCT tenant_id, run_id, calculation FROM new_rows) n
           JOIN payment_runs r ON r.tenant_id = n.tenant_id AND r.id = n.run_id
          WHERE r.status <> 'calculating' OR r.calculation_number <> n.calculation
          LIMIT 1;
         IF bad IS NOT NULL THEN
           RAISE EXCEPTION 'payment lines are written only by the run''s current calculation: run %', bad USING ERRCODE = 'P0001';
         END IF;
         RETURN NULL;
       END $$`,
    ...['payment_lines', 'payment_explanations', 'payment_run_issues'].flatMap((table) => [
      `CREATE TRIGGER ${table}_open_run AFTER INSERT ON ${table} REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION payment_lines_open_run()`,
    ]),
    ...['payment_lines', 'payment_explanations', 'payment_run_issues', 'payment_run_steps'].flatMap((table) => [
      `CREATE TRIGGER ${table}_append_only BEFORE UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION hearth_refuse_change()`,
      `CREATE TRIGGER ${table}_no_truncate BEFORE TRUNCATE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION hearth_refuse_change()`,
    ]),

    `CREATE TABLE payment_adjustments (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       household_id uuid NOT NULL,
       placement_id uuid,
       child_id uuid,
       component text NOT NULL,
       amount bigint NOT NULL CHECK (amount <> 0),
       reason text NOT NULL,
       source text NOT NULL CHECK (source IN ('manual', 'dispute')),
       dispute_id uuid,
       corrects_line_id uuid,
       status text NOT NULL CHECK (status IN ('proposed', 'approved', 'rejected', 'paid')),
       proposed_by uuid,
       proposed_at timestamptz NOT NULL DEFAULT now(),
       decided_by uuid,
       decided_at timestamptz,
       decision_reasons text,
       paid_in_run_id uuid,
       version integer NOT NULL DEFAULT 1,
       updated_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id),
       FOREIGN KEY (tenant_id, household_id) REFERENCES carer_households (tenant_id, id),
       FOREIGN KEY (tenant_id, placement_id) REFERENCES placements (tenant_id, id),
       FOREIGN KEY (tenant_id, child_id) REFERENCES children (tenant_id, id),
       FOREIGN KEY (tenant_id, corrects_line_id) REFERENCES payment_lines (tenant_id, id),
       FOREIGN KEY (tenant_id, paid_in_run_id) REFERENCES payment_runs (tenant_id, id),
       CHECK ((status = 'paid') = (paid_in_run_id IS NOT NULL))
     )`,
    `CREATE INDEX payment_adjustments_status ON payment_adjustments (tenant_id, status, household_id)`,
    ...tenantIsolation('payment_adjustments', ['SELECT', 'INSERT', 'UPDATE']),

    `CREATE TABLE payment_disputes (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       line_id uuid NOT NULL,
       run_id uuid NOT NULL,
       household_id uuid NOT NULL,
       reason text NOT NULL,
       expected_amount bigint,
       status text NOT NULL CHECK (status IN ('open', 'upheld', 'rejected', 'withdrawn')),
       raised_by uuid,
       raised_at timestamptz NOT NULL DEFAULT now(),
       resolution text,
       resolved_by uuid,
       resolved_at timestamptz,
       adjustment_id uuid,
       version integer NOT NULL DEFAULT 1,
       updated_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id),
       FOREIGN KEY (tenant_id, line_id) REFERENCES payment_lines (tenant_id, id),
       FOREIGN KEY (tenant_id, run_id) REFERENCES payment_runs (tenant_id, id),
       FOREIGN KEY (tenant_id, household_id) REFERENCES carer_households (tenant_id, id),
       FOREIGN KEY (tenant_id, adjustment_id) REFERENCES payment_adjustments (tenant_id, id)
     )`,
    // One open dispute per line at a time.
    `CREATE UNIQUE INDEX payment_disputes_one_open ON payment_disputes (tenant_id, line_id) WHERE status = 'open'`,
    `CREATE INDEX payment_disputes_status ON payment_disputes (tenant_id, status, raised_at)`,
    ...tenantIsolation('payment_disputes', ['SELECT', 'INSERT', 'UPDATE']),
    `ALTER TABLE payment_adjustments ADD FOREIGN KEY (tenant_id, dispute_id) REFERENCES payment_disputes (tenant_id, id)`,
    ...['payment_adjustments', 'payment_disputes'].flatMap((table) => [
      `CREATE TRIGGER ${table}_no_delete BEFORE DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION hearth_refuse_change()`,
      `CREATE TRIGGER ${table}_no_truncate BEFORE TRUNCATE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION hearth_refuse_change()`,
    ]),
  ]);
}
