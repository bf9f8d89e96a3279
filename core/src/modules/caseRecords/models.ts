import { TenantModel } from '../../db/baseModel';

/**
 * What every table kept on a child shares: the child it is about, who wrote it, its version, and
 * soft delete (the application role may not DELETE these rows).
 */
export class ChildRecord extends TenantModel {
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  childId!: string;
  version!: number;
  createdBy!: string | null;
  createdAt!: Date;
  updatedAt!: Date;
  deletedAt!: Date | null;
  deletedBy!: string | null;
}

export class ChildLegalStatus extends ChildRecord {
  static override tableName = 'child_legal_statuses';
  static noun = 'legal status';

  code!: string;
  startDate!: string;
  endDate!: string | null;
  notes!: string | null;
}

export class ChildCareEpisode extends ChildRecord {
  static override tableName = 'child_care_episodes';
  static noun = 'care episode';

  startDate!: string;
  endDate!: string | null;
  startReason!: string | null;
  endReason!: string | null;
  notes!: string | null;
}

export class ChildAlert extends ChildRecord {
  static override tableName = 'child_alerts';
  static noun = 'alert';

  category!: string;
  severity!: string;
  title!: string;
  description!: string | null;
  activeFrom!: string;
  activeTo!: string | null;
}

export class ChildFamilyMember extends ChildRecord {
  static override tableName = 'child_family_members';
  static noun = 'family member';

  givenName!: string;
  familyName!: string;
  dateOfBirth!: string | null;
  relationship!: string;
  parentalResponsibility!: boolean;
  contactAllowed!: boolean;
  contactSupervised!: boolean;
  phone!: string | null;
  email!: string | null;
  address!: string | null;
  notes!: string | null;
}

export class ChildKeyContact extends ChildRecord {
  static override tableName = 'child_key_contacts';
  static noun = 'key contact';

  role!: string;
  name!: string;
  organisation!: string | null;
  phone!: string | null;
  email!: string | null;
  notes!: string | null;
}

/** The dated case records (notes, reviews, incidents…), one table keyed by `kind`, each kind's own facts in `details`. */
export class ChildCaseRecord extends ChildRecord {
  static override tableName = 'child_case_records';
  static noun = 'case record';
  static override jsonAttributes = ['details'];

  kind!: string;
  occurredOn!: string;
  dueOn!: string | null;
  summary!: string | null;
  author!: string | null;
  recordedBy!: string | null;
  details!: Record<string, unknown>;
}

/** A festival the child observes or the first day of a recognised holiday week, for the pack's extras. */
export class ChildOccasion extends ChildRecord {
  static override tableName = 'child_occasions';
  static noun = 'occasion';

  kind!: string;
  occasionDate!: string;
  name!: string;
  notes!: string | null;
}

/** Every table that keeps something on a child, so a merge carries all of it. */
export const CHILD_RECORD_MODELS: ReadonlyArray<typeof ChildRecord> = [
  ChildLegalStatus,
  ChildCareEpisode,
  ChildAlert,
  ChildFamilyMember,
  ChildKeyContact,
  ChildCaseRecord,
  ChildOccasion,
];
