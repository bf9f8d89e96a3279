import { TenantModel } from '../../db/baseModel';

/** A carer's login: one user bound to one member of one household (migration 0038). */
export class CarerLogin extends TenantModel {
  static override tableName = 'carer_logins';
  static noun = 'carer login';
  static override idColumn = ['tenant_id', 'user_id'];

  userId!: string;
  householdId!: string;
  memberId!: string;
  createdBy!: string | null;
  createdAt!: Date;
}

/** What a carer wrote about a child in their care; never edited (a correction is a new log). */
export class DailyLog extends TenantModel {
  static override tableName = 'carer_daily_logs';
  static noun = 'daily log';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  householdId!: string;
  childId!: string;
  placementId!: string;
  authorId!: string;
  occurredOn!: string;
  title!: string;
  body!: string;
  correctsLogId!: string | null;
  seenBy!: string | null;
  seenAt!: Date | null;
  createdAt!: Date;
}

/** A carer's request to change the household's record; staff act on it through the task it made. */
export class HouseholdChangeRequest extends TenantModel {
  static override tableName = 'household_change_requests';
  static noun = 'change request';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  householdId!: string;
  requestedBy!: string;
  field!: string;
  proposedValue!: string;
  note!: string | null;
  taskId!: string;
  createdAt!: Date;
}
