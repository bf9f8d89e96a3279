import { TenantModel } from '../../db/baseModel';
import type { RetentionStartEvent } from '../../packs/types';
import type { SubjectType } from './models';

export class LegalHold extends TenantModel {
  static override tableName = 'retention_legal_holds';
  static override idColumn = ['tenant_id', 'id'];
  static noun = 'legal hold';

  id!: string;
  documentId!: string | null;
  subjectType!: SubjectType | null;
  subjectId!: string | null;
  childId!: string | null;
  householdId!: string | null;
  reason!: string;
  placedBy!: string | null;
  placedAt!: Date;
  releasedBy!: string | null;
  releasedAt!: Date | null;
  releaseReason!: string | null;
  version!: number;
  updatedAt!: Date;
}

export type DestructionStatus = 'pending' | 'approved' | 'rejected' | 'done';

export class DestructionRequest extends TenantModel {
  static override tableName = 'retention_destruction_requests';
  static override idColumn = ['tenant_id', 'id'];
  static noun = 'destruction request';

  id!: string;
  status!: DestructionStatus;
  asOf!: string;
  note!: string | null;
  requestedBy!: string;
  requestedByKind!: 'user' | 'api_key';
  requestedAt!: Date;
  decidedBy!: string | null;
  decidedByKind!: 'user' | 'api_key' | null;
  decidedAt!: Date | null;
  decisionNote!: string | null;
  completedAt!: Date | null;
  jobId!: string | null;
  version!: number;
  updatedAt!: Date;
}

export class DestructionItem extends TenantModel {
  static override tableName = 'retention_destruction_items';
  static override idColumn = ['tenant_id', 'request_id', 'document_id'];

  requestId!: string;
  documentId!: string;
  childId!: string | null;
  ruleKey!: string;
  ruleSource!: string;
  startEvent!: RetentionStartEvent;
  eventOn!: string;
  dueOn!: string;
  outcome!: 'destroyed' | 'held' | null;
}

export class Tombstone extends TenantModel {
  static override tableName = 'retention_tombstones';
  static override idColumn = ['tenant_id', 'id'];
  static noun = 'tombstone';

  id!: string;
  documentId!: string;
  subjectType!: SubjectType;
  subjectId!: string;
  childId!: string | null;
  householdId!: string | null;
  category!: string;
  versionCount!: number;
  sha256s!: string[];
  ruleKey!: string;
  ruleSource!: string;
  startEvent!: RetentionStartEvent;
  eventOn!: string;
  dueOn!: string;
  requestId!: string;
  requestedBy!: string;
  approvedBy!: string;
  destroyedAt!: Date;
}

/** A message a destruction request names, with the rule and due date it was due under when asked. */
export class DestructionMessageItem extends TenantModel {
  static override tableName = 'retention_destruction_messages';
  static override idColumn = ['tenant_id', 'request_id', 'message_id'];

  requestId!: string;
  messageId!: string;
  childId!: string | null;
  ruleKey!: string;
  ruleSource!: string;
  startEvent!: RetentionStartEvent;
  eventOn!: string;
  dueOn!: string;
  outcome!: 'destroyed' | 'held' | null;
}

/** What a destroyed message leaves: the records it was tied to, its event and channel, never its wording or address. */
export class MessageTombstone extends TenantModel {
  static override tableName = 'retention_message_tombstones';
  static override idColumn = ['tenant_id', 'id'];
  static noun = 'message tombstone';

  id!: string;
  messageId!: string;
  event!: string;
  channel!: string;
  sentOn!: Date;
  childId!: string | null;
  householdId!: string | null;
  placementId!: string | null;
  claimId!: string | null;
  paymentRunId!: string | null;
  ruleKey!: string;
  ruleSource!: string;
  startEvent!: RetentionStartEvent;
  eventOn!: string;
  dueOn!: string;
  requestId!: string;
  requestedBy!: string;
  approvedBy!: string;
  destroyedAt!: Date;
}
