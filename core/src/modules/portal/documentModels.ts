import { TenantModel } from '../../db/baseModel';

/** What staff ask of a household in the portal (migration 0040): not a cycle's task, so a table of its own. */
export class HouseholdTask extends TenantModel {
  static override tableName = 'household_tasks';
  static noun = 'household task';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  householdId!: string;
  kind!: 'acknowledge' | 'form' | 'upload';
  title!: string;
  instructions!: string | null;
  documentId!: string | null;
  formKey!: string | null;
  dueDate!: string | null;
  status!: 'open' | 'done';
  completedBy!: string | null;
  completedAt!: Date | null;
  formSubmissionId!: string | null;
  completionDocumentId!: string | null;
  createdBy!: string | null;
  createdAt!: Date;
  version!: number;
  updatedAt!: Date;
}

/** A form a carer has started, pinned to the version it began on. */
export class PortalFormDraft extends TenantModel {
  static override tableName = 'portal_form_drafts';
  static noun = 'form draft';
  static override idColumn = ['tenant_id', 'id'];
  static override jsonAttributes = ['data'];

  id!: string;
  householdId!: string;
  formKey!: string;
  formVersion!: number;
  householdTaskId!: string | null;
  data!: Record<string, unknown>;
  status!: 'draft' | 'submitted';
  submissionId!: string | null;
  createdBy!: string;
  updatedBy!: string;
  createdAt!: Date;
  updatedAt!: Date;
  version!: number;
}

/** A document of the household attached to one of its daily logs. */
export class DailyLogDocument extends TenantModel {
  static override tableName = 'daily_log_documents';
  static noun = 'daily log attachment';
  static override idColumn = ['tenant_id', 'log_id', 'document_id'];

  logId!: string;
  documentId!: string;
  attachedBy!: string;
  attachedAt!: Date;
}
