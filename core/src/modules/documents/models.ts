import { TenantModel } from '../../db/baseModel';

export type SubjectType =
  | 'child'
  | 'case_record'
  | 'household'
  | 'member'
  | 'check'
  | 'claim'
  | 'claim_line'
  | 'placement'
  | 'panel'
  | 'payment_run'
  | 'invoice';
export type Sensitivity = 'shared_with_household' | 'staff' | 'confidential';
export type ScanStatus = 'clean' | 'quarantined' | 'not_scanned';

export class Document extends TenantModel {
  static override tableName = 'documents';
  static override idColumn = ['tenant_id', 'id'];
  static noun = 'document';

  id!: string;
  subjectType!: SubjectType;
  subjectId!: string;
  childId!: string | null;
  householdId!: string | null;
  category!: string;
  title!: string;
  sensitivity!: Sensitivity;
  expiresOn!: string | null;
  status!: 'active' | 'destroyed';
  /** Null for a record of receipt with no file kept yet (see evidence.ts). */
  currentVersion!: number | null;
  /** As evidence: the key a workflow step or a claim names it by, with the day it was received; both or neither. */
  evidenceKey!: string | null;
  receivedOn!: string | null;
  notes!: string | null;
  version!: number;
  createdBy!: string | null;
  createdAt!: Date;
  updatedAt!: Date;
}

export interface TemplateOrigin {
  key: string;
  layer: string;
  version: string;
}

export class DocumentVersion extends TenantModel {
  static override tableName = 'document_versions';
  static override idColumn = ['tenant_id', 'id'];
  static override jsonAttributes = ['template'];
  static noun = 'document version';

  id!: string;
  documentId!: string;
  number!: number;
  objectKey!: string | null;
  filename!: string;
  mediaType!: string;
  sizeBytes!: number;
  sha256!: string;
  scanStatus!: ScanStatus;
  scanDetail!: string | null;
  source!: 'upload' | 'generated';
  template!: TemplateOrigin | null;
  uploadedBy!: string | null;
  createdAt!: Date;
}

export class DocumentDownload extends TenantModel {
  static override tableName = 'document_downloads';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  documentId!: string;
  versionNumber!: number;
  actorType!: 'user' | 'api_key';
  actorId!: string;
  via!: 'stream' | 'signed_url';
  requestId!: string | null;
  at!: Date;
}

export class DocumentSettingsRow extends TenantModel {
  static override tableName = 'document_settings';
  static override idColumn = 'tenant_id';

  maxUploadBytes!: number;
  version!: number;
  updatedBy!: string | null;
  updatedAt!: Date;
}
