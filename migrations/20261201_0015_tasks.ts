import type { Knex } from 'knex';
import { runStatements, tenantIsolation } from './support';

/**
 * Tasks and reminders (from the packs' cycles), teams, and the jobs queue.
 *
 * - `tasks`: one row per occurrence of a cycle for a subject (a child, a placement, a carer
 *   household), derived from the subject's case events: the occurrences done so far and the next
 *   one due, never an unbounded series. Unique per (subject, cycle, occurrence), so recalculating
 *   is idempotent.
 * - `teams`, `team_members`: a user may be in several teams; a team's tasks are its members' tasks.
 * - `task_reminders`: written by the daily `task-reminders` job, unique per task, kind and due date.
 * - `jobs`: a durable queue claimed with FOR UPDATE SKIP LOCKED. Each job belongs to a tenant and
 *   runs in that tenant's scope; the owner's worker sees every tenant's jobs to claim them.
 */
export async function up(knex: Knex): Promise<void> {
  await runStatements(knex, [
    `CREATE TABLE teams (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
       description text,
       version integer NOT NULL DEFAULT 1,
       created_at timestamptz NOT NULL DEFAULT now(),
       updated_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id)
     )`,
    `CREATE UNIQUE INDEX teams_name ON teams (tenant_id, lower(name))`,
    ...tenantIsolation('teams'),

    `CREATE TABLE team_members (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       team_id uuid NOT NULL,
       user_id uuid NOT NULL,
       added_at timestamptz NOT NULL DEFAULT now(),
       added_by uuid,
       PRIMARY KEY (tenant_id, team_id, user_id),
       FOREIGN KEY (tenant_id, team_id) REFERENCES teams (tenant_id, id) ON DELETE CASCADE,
       FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
     )`,
    // "The teams of a user" (a task's teams) and "the members of a team" (a team's tasks).
    `CREATE INDEX team_members_user ON team_members (tenant_id, user_id, team_id)`,
    ...tenantIsolation('team_members'),

    `CREATE TABLE tasks (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       cycle_key text NOT NULL,
       step_key text NOT NULL,
       step_name text,
       occurrence integer NOT NULL CHECK (occurrence >= 1),
       subject_type text NOT NULL CHECK (subject_type IN ('child', 'placement', 'carer_household')),
       subject_id uuid NOT NULL,
       due_date date NOT NULL,
       owner_id uuid,
       owner_source text NOT NULL DEFAULT 'subject' CHECK (owner_source IN ('subject', 'manual')),
       status text NOT NULL CHECK (status IN ('open', 'done', 'cancelled')),
       completed_on date,
       completed_by_event_id uuid,
       completed_manually_by uuid,
       trigger_event_id uuid,
       counted_from jsonb NOT NULL,
       version integer NOT NULL DEFAULT 1,
       created_at timestamptz NOT NULL DEFAULT now(),
       updated_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id),
       UNIQUE (tenant_id, subject_type, subject_id, cycle_key, occurrence),
       FOREIGN KEY (tenant_id, owner_id) REFERENCES users (tenant_id, id),
       FOREIGN KEY (tenant_id, completed_manually_by) REFERENCES users (tenant_id, id),
       FOREIGN KEY (tenant_id, completed_by_event_id) REFERENCES case_events (tenant_id, id),
       FOREIGN KEY (tenant_id, trigger_event_id) REFERENCES case_events (tenant_id, id),
       CHECK ((status = 'done') = (completed_on IS NOT NULL))
     )`,
    // Lists are ordered by (due_date, id): per owner and status (a worker's open or overdue tasks,
    // and a team's through its members), per status alone, and per subject.
    `CREATE INDEX tasks_owner_due ON tasks (tenant_id, owner_id, status, due_date, id)`,
    `CREATE INDEX tasks_status_due ON tasks (tenant_id, status, due_date, id)`,
    `CREATE INDEX tasks_due ON tasks (tenant_id, due_date, id)`,
    `CREATE INDEX tasks_subject ON tasks (tenant_id, subject_type, subject_id, due_date, id)`,
    ...tenantIsolation('tasks', ['SELECT', 'INSERT', 'UPDATE']),

    `CREATE TABLE task_reminders (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       task_id uuid NOT NULL,
       kind text NOT NULL CHECK (kind IN ('due_soon', 'overdue')),
       due_date date NOT NULL,
       reminder_date date NOT NULL,
       user_id uuid NOT NULL,
       outbound_message_id uuid,
       job_id uuid,
       created_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id),
       UNIQUE (tenant_id, task_id, kind, due_date),
       FOREIGN KEY (tenant_id, task_id) REFERENCES tasks (tenant_id, id),
       FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id),
       FOREIGN KEY (tenant_id, outbound_message_id) REFERENCES outbound_messages (tenant_id, id) DEFERRABLE INITIALLY DEFERRED
     )`,
    `CREATE INDEX task_reminders_user ON task_reminders (tenant_id, user_id, reminder_date, id)`,
    `CREATE INDEX task_reminders_date ON task_reminders (tenant_id, reminder_date, id)`,
    ...tenantIsolation('task_reminders', ['SELECT', 'INSERT']),

    `CREATE TABLE jobs (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       kind text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9-]*$'),
       unique_key text,
       payload jsonb NOT NULL DEFAULT '{}',
       status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
       attempts integer NOT NULL DEFAULT 0,
       max_attempts integer NOT NULL DEFAULT 5 CHECK (max_attempts >= 1),
       run_after timestamptz NOT NULL DEFAULT now(),
       locked_until timestamptz,
       locked_by uuid,
       progress jsonb NOT NULL DEFAULT '{"done": 0, "total": null}',
       result jsonb,
       error text,
       created_at timestamptz NOT NULL DEFAULT now(),
       started_at timestamptz,
       finished_at timestamptz,
       PRIMARY KEY (tenant_id, id)
     )`,
    // Enqueued twice, stored once.
    `CREATE UNIQUE INDEX jobs_unique_key ON jobs (tenant_id, kind, unique_key) WHERE unique_key IS NOT NULL`,
    // What the worker claims next: queued and due, or running with a lock that has run out.
    `CREATE INDEX jobs_ready ON jobs (run_after, id) WHERE status = 'queued'`,
    `CREATE INDEX jobs_locked ON jobs (locked_until) WHERE status = 'running'`,
    ...tenantIsolation('jobs', ['SELECT', 'INSERT', 'UPDATE']),
    // The worker runs as the owner, whom FORCE ROW LEVEL SECURITY also filters: it claims jobs of
    // every tenant, then runs each one in a transaction scoped to that job's tenant (as hearth_app).
    `DO $$ BEGIN
       EXECUTE format('CREATE POLICY jobs_owner_worker ON jobs TO %I USING (true) WITH CHECK (true)', current_user);
     END $$`,
  ]);
}
