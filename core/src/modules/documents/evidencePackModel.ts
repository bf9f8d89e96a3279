import { TenantModel } from '../../db/baseModel';

/** A document version in a pack, with what the document was called when the snapshot was taken. */
export interface PackedVersion {
  documentId: string;
  number: number;
  title: string;
  category: string;
}

export class EvidencePack extends TenantModel {
  static override tableName = 'evidence_packs';
  static override idColumn = ['tenant_id', 'id'];
  static override jsonAttributes = ['snapshotDocuments'];
  static noun = 'evidence pack';

  id!: string;
  subjectType!: 'household' | 'child';
  subjectId!: string;
  childId!: string | null;
  householdId!: string | null;
  periodFrom!: string;
  periodTo!: string;
  status!: 'queued' | 'building' | 'ready' | 'failed';
  progressDone!: number;
  progressTotal!: number;
  snapshotSeq!: string | number;
  snapshotAt!: Date;
  snapshotDocuments!: PackedVersion[];
  requestedByType!: 'user' | 'api_key';
  requestedBy!: string;
  rebuildOf!: string | null;
  documentId!: string | null;
  manifestSha256!: string | null;
  error!: string | null;
  version!: number;
  createdAt!: Date;
  updatedAt!: Date;
}
