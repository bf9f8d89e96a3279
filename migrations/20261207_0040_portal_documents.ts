import type { Knex } from 'knex';
import { portalFence, runStatements, tenantIsolation } from './support';

const household = 'household_id = hearth_portal_household()';

/**
 * The carer portal's tasks, forms and documents (issue 14).
 *
 * - `household_tasks`: what a member of staff asks of a household (acknowledge a shared document,
 *   complete a form, upload evidence). A table of its own, not `tasks`: those rows are derived from
 *   case events by the pack's cycles and recalculated (unique per subject, cycle and occurrence);
 *   a task set by hand has no cycle, no occurrence and is completed by the carer, not by an event.
 * - `portal_form_drafts`: a form a carer has started, pinned to the form version it began on, and
 *   the submission it became.
 * - `daily_log_documents`: documents of the household attached to one of its daily logs.
 *
 * What a carer's request may now see that 0038 hid: the download log rows of the documents it sees
 * (a download writes one), the tenant's document settings (the upload limit applies to carers too),
 * and the household's own form submissions.
 */
export async function up(knex: Knex): Promise<void> {
  await runStatements(knex, [
    `CREATE TABLE household_tasks (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       household_id uuid NOT NULL,
       kind text NOT NULL CHECK (kind IN ('acknowledge', 'form', 'upload')),
       title text NOT NULL,
       instructions text,
       document_id uuid,
       form_key text,
       due_date date,
       status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),
       completed_by uuid,
       completed_at timestamptz,
       form_submission_id uuid,
       completion_document_id uuid,
       created_by uuid,
       created_at timestamptz NOT NULL DEFAULT now(),
       version integer NOT NULL DEFAULT 1,
       updated_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id),
       FOREIGN KEY (tenant_id, household_id) REFERENCES carer_households (tenant_id, id),
       FOREIGN KEY (tenant_id, document_id) REFERENCES documents (tenant_id, id),
       FOREIGN KEY (tenant_id, form_submission_id) REFERENCES form_submissions (tenant_id, id),
       FOREIGN KEY (tenant_id, completion_document_id) REFERENCES documents (tenant_id, id),
       FOREIGN KEY (tenant_id, completed_by) REFERENCES users (tenant_id, id),
       FOREIGN KEY (tenant_id, created_by) REFERENCES users (tenant_id, id),
       CHECK ((kind = 'acknowledge') = (document_id IS NOT NULL)),
       CHECK ((kind = 'form') = (form_key IS NOT NULL)),
       CHECK ((status = 'done') = (completed_at IS NOT NULL))
     )`,
    `CREATE INDEX household_tasks_household ON household_tasks (tenant_id, household_id, status, created_at DESC, id)`,
    ...tenantIsolation('household_tasks', ['SELECT', 'INSERT', 'UPDATE'], { portal: household }),

    `CREATE TABLE portal_form_drafts (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       household_id uuid NOT NULL,
       form_key text NOT NULL,
       form_version integer NOT NULL,
       -- A household task (never a cycle's, which is about a child or a placement): named apart from task_id.
       household_task_id uuid,
       data jsonb NOT NULL DEFAULT '{}',
       status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'submitted')),
       submission_id uuid,
       created_by uuid NOT NULL,
       updated_by uuid NOT NULL,
       created_at timestamptz NOT NULL DEFAULT now(),
       updated_at timestamptz NOT NULL DEFAULT now(),
       version integer NOT NULL DEFAULT 1,
       PRIMARY KEY (tenant_id, id),
       FOREIGN KEY (tenant_id, household_id) REFERENCES carer_households (tenant_id, id),
       FOREIGN KEY (tenant_id, household_task_id) REFERENCES household_tasks (tenant_id, id),
       FOREIGN KEY (tenant_id, submission_id) REFERENCES form_submissions (tenant_id, id),
       FOREIGN KEY (tenant_id, created_by) REFERENCES users (tenant_id, id),
       FOREIGN KEY (tenant_id, updated_by) REFERENCES users (tenant_id, id),
       CHECK ((status = 'submitted') = (submission_id IS NOT NULL))
     )`,
    `CREATE INDEX portal_form_drafts_household ON portal_form_drafts (tenant_id, household_id, updated_at DESC, id)`,
    ...tenantIsolation('portal_form_drafts', ['SELECT', 'INSERT', 'UPDATE'], { portal: household }),

    `CREATE TABLE daily_log_documents (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       log_id uuid NOT NULL,
       document_id uuid NOT NULL,
       attached_by uuid NOT NULL,
       attached_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, log_id, document_id),
       FOREIGN KEY (tenant_id, log_id) REFERENCES carer_daily_logs (tenant_id, id),
       FOREIGN KEY (tenant_id, document_id) REFERENCES documents (tenant_id, id),
       FOREIGN KEY (tenant_id, attached_by) REFERENCES users (tenant_id, id)
     )`,
    ...tenantIsolation('daily_log_documents', ['SELECT', 'INSERT'], {
      portal: `EXISTS (SELECT 1 FROM carer_daily_logs v WHERE v.tenant_id = hearth_current_tenant() AND v.id = daily_log_documents.log_id)`,
    }),

    // A carer's download writes its log row, of a document the carer may see.
    `DROP POLICY IF EXISTS document_downloads_portal ON document_downloads`,
    ...portalFence(
      'document_downloads',
      `EXISTS (SELECT 1 FROM documents v WHERE v.tenant_id = hearth_current_tenant() AND v.id = document_downloads.document_id)`,
    ),
    // The tenant's upload limit is configuration, not anyone's data: open, as overlays are.
    `DROP POLICY IF EXISTS document_settings_portal ON document_settings`,
    // The household's own forms (a carer's submissions are about the household).
    `DROP POLICY IF EXISTS form_submissions_portal ON form_submissions`,
    ...portalFence('form_submissions', `subject_type = 'carer_household' AND subject_id = hearth_portal_household()`),
  ]);
}
