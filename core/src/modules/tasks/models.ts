import { TenantModel } from '../../db/baseModel';
import type { CaseEventSubject } from './catalogue';

/** What a case event happened to, and on which day: the pack's cycles turn these into tasks. */
export class CaseEvent extends TenantModel {
  static override tableName = 'case_events';
  static noun = 'case event';
  static override idColumn = ['tenant_id', 'id'];
  static override jsonAttributes = ['facts'];

  id!: string;
  name!: string;
  subjectType!: CaseEventSubject;
  subjectId!: string;
  /** The day it happened, in the tenant's calendar. */
  occurredOn!: string;
  facts!: Record<string, unknown>;
  sourceType!: string;
  sourceId!: string;
  status!: 'current' | 'superseded' | 'voided';
  supersededBy!: string | null;
  recordedBy!: string | null;
  recordedAt!: Date;
}

export type TaskStatus = 'open' | 'done' | 'cancelled';

/** Where an occurrence's due date is counted from (the trigger, the last completion…) and that day. */
export interface CountedFrom {
  basis: string;
  date: string;
}

/** One occurrence of a cycle for a subject, derived from the subject's case events. */
export class Task extends TenantModel {
  static override tableName = 'tasks';
  static noun = 'task';
  static override idColumn = ['tenant_id', 'id'];
  static override jsonAttributes = ['countedFrom'];

  id!: string;
  cycleKey!: string;
  stepKey!: string;
  stepName!: string | null;
  occurrence!: number;
  subjectType!: CaseEventSubject;
  subjectId!: string;
  dueDate!: string;
  ownerId!: string | null;
  ownerSource!: 'subject' | 'manual';
  status!: TaskStatus;
  completedOn!: string | null;
  completedByEventId!: string | null;
  completedManuallyBy!: string | null;
  triggerEventId!: string | null;
  countedFrom!: CountedFrom;
  sharedWithHousehold!: boolean;
  version!: number;
  createdAt!: Date;
  updatedAt!: Date;
}

/** A reminder the daily job wrote for a task: unique per task, kind and due date. */
export class TaskReminder extends TenantModel {
  static override tableName = 'task_reminders';
  static noun = 'task reminder';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  taskId!: string;
  kind!: 'due_soon' | 'overdue';
  dueDate!: string;
  reminderDate!: string;
  userId!: string;
  outboundMessageId!: string | null;
  jobId!: string | null;
  createdAt!: Date;
}

export class Team extends TenantModel {
  static override tableName = 'teams';
  static noun = 'team';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  name!: string;
  description!: string | null;
  version!: number;
  createdAt!: Date;
  updatedAt!: Date;
}

export class TeamMember extends TenantModel {
  static override tableName = 'team_members';
  static noun = 'member';
  static override idColumn = ['tenant_id', 'team_id', 'user_id'];

  teamId!: string;
  userId!: string;
  addedAt!: Date;
  addedBy!: string | null;
}
