import type { Knex } from 'knex';
import { runStatements, tenantIsolation } from './support';

const KINDS = `('emergency', 'short_term', 'long_term', 'respite', 'parent_and_child', 'remand', 'short_breaks')`;

/**
 * Matching requests, placements (with their workflow steps), visits and supervised contact, and the
 * per-tenant placement settings. Occupancy of a household is derived from placements alone:
 * a placement holds a place on the nights [start_date, occupied_until), where occupied_until is the
 * end date once ended, the planned end of a respite stay, and open otherwise.
 */
export async function up(knex: Knex): Promise<void> {
  await runStatements(knex, [
    `CREATE TABLE placement_settings (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       approval_required boolean NOT NULL DEFAULT false,
       end_reason_lists text[],
       version integer NOT NULL DEFAULT 1,
       updated_by uuid,
       updated_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id)
     )`,
    ...tenantIsolation('placement_settings', ['SELECT', 'INSERT', 'UPDATE']),

    `CREATE TABLE matching_requests (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       child_id uuid NOT NULL,
       placement_kind text NOT NULL CHECK (placement_kind IN ${KINDS}),
       wanted_from date NOT NULL,
       planned_end date,
       child_count integer NOT NULL DEFAULT 1 CHECK (child_count BETWEEN 1 AND 10),
       sibling_ids uuid[] NOT NULL DEFAULT '{}',
       required_skills text[] NOT NULL DEFAULT '{}',
       language text,
       location_lat double precision,
       location_lon double precision,
       max_distance_km double precision,
       preferred_region text,
       exclude_household_ids uuid[] NOT NULL DEFAULT '{}',
       notes text,
       status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'matched', 'closed')),
       version integer NOT NULL DEFAULT 1,
       created_by uuid,
       created_at timestamptz NOT NULL DEFAULT now(),
       updated_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id),
       FOREIGN KEY (tenant_id, child_id) REFERENCES children (tenant_id, id)
     )`,
    `CREATE INDEX matching_requests_child ON matching_requests (tenant_id, child_id, id)`,
    `CREATE INDEX matching_requests_status ON matching_requests (tenant_id, status, id)`,
    ...tenantIsolation('matching_requests', ['SELECT', 'INSERT', 'UPDATE']),

    `CREATE TABLE placements (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       child_id uuid NOT NULL,
       household_id uuid NOT NULL,
       kind text NOT NULL CHECK (kind IN ${KINDS}),
       placement_type text,
       status text NOT NULL CHECK (status IN ('proposed', 'approved', 'active', 'ended', 'cancelled')),
       workflow_key text,
       workflow_state text,
       start_date date NOT NULL,
       planned_end_date date,
       end_date date,
       long_term boolean NOT NULL DEFAULT false,
       respite_of uuid,
       matching_request_id uuid,
       agreement_submission_id uuid,
       end_reasons jsonb NOT NULL DEFAULT '[]',
       end_outcome text,
       end_notes text,
       moved_to uuid,
       occupied_until date GENERATED ALWAYS AS (coalesce(end_date, CASE WHEN respite_of IS NOT NULL THEN planned_end_date END)) STORED,
       version integer NOT NULL DEFAULT 1,
       created_by uuid,
       created_at timestamptz NOT NULL DEFAULT now(),
       updated_at timestamptz NOT NULL DEFAULT now(),
       started_at timestamptz,
       ended_at timestamptz,
       PRIMARY KEY (tenant_id, id),
       FOREIGN KEY (tenant_id, child_id) REFERENCES children (tenant_id, id),
       FOREIGN KEY (tenant_id, household_id) REFERENCES carer_households (tenant_id, id),
       FOREIGN KEY (tenant_id, respite_of) REFERENCES placements (tenant_id, id),
       FOREIGN KEY (tenant_id, matching_request_id) REFERENCES matching_requests (tenant_id, id),
       FOREIGN KEY (tenant_id, moved_to) REFERENCES placements (tenant_id, id),
       CHECK (planned_end_date IS NULL OR planned_end_date > start_date),
       CHECK (end_date IS NULL OR end_date >= start_date),
       CHECK ((status = 'ended') = (end_date IS NOT NULL))
     )`,
    `CREATE INDEX placements_child ON placements (tenant_id, child_id, start_date)`,
    `CREATE INDEX placements_household ON placements (tenant_id, household_id, start_date) WHERE status <> 'cancelled'`,
    `CREATE INDEX placements_status ON placements (tenant_id, status, id)`,
    `CREATE INDEX placements_respite_of ON placements (tenant_id, respite_of) WHERE respite_of IS NOT NULL`,
    ...tenantIsolation('placements', ['SELECT', 'INSERT', 'UPDATE']),

    `CREATE TABLE placement_workflow_steps (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       placement_id uuid NOT NULL,
       transition text NOT NULL,
       from_state text NOT NULL,
       to_state text NOT NULL,
       evidence jsonb NOT NULL DEFAULT '[]',
       conditions jsonb,
       notes text,
       taken_by uuid,
       taken_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id),
       FOREIGN KEY (tenant_id, placement_id) REFERENCES placements (tenant_id, id)
     )`,
    `CREATE INDEX placement_workflow_steps_placement ON placement_workflow_steps (tenant_id, placement_id, id)`,
    ...tenantIsolation('placement_workflow_steps', ['SELECT', 'INSERT']),

    `CREATE TABLE placement_visits (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       placement_id uuid NOT NULL,
       kind text NOT NULL CHECK (kind IN ('child_visit', 'supervising_visit', 'unannounced_visit')),
       visit_date date NOT NULL,
       visited_by uuid,
       child_seen boolean,
       child_seen_alone boolean,
       notes text,
       case_event_id uuid,
       created_by uuid,
       created_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id),
       FOREIGN KEY (tenant_id, placement_id) REFERENCES placements (tenant_id, id),
       FOREIGN KEY (tenant_id, visited_by) REFERENCES users (tenant_id, id)
     )`,
    `CREATE INDEX placement_visits_placement ON placement_visits (tenant_id, placement_id, visit_date, id)`,
    ...tenantIsolation('placement_visits', ['SELECT', 'INSERT']),

    `CREATE TABLE placement_contact_sessions (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       placement_id uuid NOT NULL,
       with_whom text NOT NULL,
       relationship text,
       supervisor_id uuid,
       venue text,
       scheduled_start timestamptz NOT NULL,
       scheduled_end timestamptz,
       status text NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'held', 'cancelled')),
       attendance text CHECK (attendance IN ('all_attended', 'child_did_not_attend', 'family_did_not_attend', 'ended_early')),
       cancellation_reason text,
       notes text,
       version integer NOT NULL DEFAULT 1,
       created_by uuid,
       created_at timestamptz NOT NULL DEFAULT now(),
       updated_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id),
       FOREIGN KEY (tenant_id, placement_id) REFERENCES placements (tenant_id, id),
       FOREIGN KEY (tenant_id, supervisor_id) REFERENCES users (tenant_id, id),
       CHECK (scheduled_end IS NULL OR scheduled_end > scheduled_start)
     )`,
    `CREATE INDEX placement_contact_sessions_placement ON placement_contact_sessions (tenant_id, placement_id, scheduled_start, id)`,
    ...tenantIsolation('placement_contact_sessions', ['SELECT', 'INSERT', 'UPDATE']),
  ]);
}
