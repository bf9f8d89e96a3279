import { TenantModel } from '../../db/baseModel';
import type { OverlayChanges } from './effective';
import type { FormSubjectType } from './formSubmissions';

/** A tenant's configuration overlay: versioned, effective-dated, append-only (a trigger refuses changes). */
export class ConfigOverlay extends TenantModel {
  static override tableName = 'tenant_config_overlays';
  static noun = 'overlay';
  static override idColumn = ['tenant_id', 'id'];
  static override jsonAttributes = ['changes'];

  id!: string;
  version!: number;
  effectiveFrom!: string;
  description!: string;
  changes!: OverlayChanges;
  createdBy!: string | null;
  createdAt!: Date;
}

/** Data checked against a version of one of the tenant's forms, stored with the version and layer it was valid against. */
export class FormSubmission extends TenantModel {
  static override tableName = 'form_submissions';
  static noun = 'form submission';
  static override idColumn = ['tenant_id', 'id'];
  static override jsonAttributes = ['data'];

  id!: string;
  formKey!: string;
  formVersion!: number;
  layer!: string;
  subjectType!: FormSubjectType;
  subjectId!: string;
  data!: Record<string, unknown>;
  submittedBy!: string | null;
  submittedAt!: Date;
}
