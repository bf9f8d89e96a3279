import { TenantModel } from '../../db/baseModel';

export type ChildStatus = 'referred' | 'in_care' | 'left_care';

export class Child extends TenantModel {
  static override tableName = 'children';
  static noun = 'child';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  givenName!: string;
  familyName!: string;
  preferredName!: string | null;
  dateOfBirth!: string;
  sex!: string;
  ethnicity!: string | null;
  status!: ChildStatus;
  allocatedWorkerId!: string | null;
  gender!: string | null;
  language!: string | null;
  interpreterNeeded!: boolean;
  religion!: string | null;
  disabilities!: string[];
  mergedInto!: string | null;
  restricted!: boolean;
  version!: number;
  createdBy!: string | null;
  createdAt!: Date;
  updatedAt!: Date;
  deletedAt!: Date | null;
  deletedBy!: string | null;
}

export class ChildAccessGrant extends TenantModel {
  static override tableName = 'child_access_grants';
  static override idColumn = ['tenant_id', 'child_id', 'user_id'];

  childId!: string;
  userId!: string;
  grantedAt!: Date;
}

export class ChildIdentifier extends TenantModel {
  static override tableName = 'child_identifiers';
  static override idColumn = ['tenant_id', 'child_id', 'kind'];

  childId!: string;
  kind!: string;
  valueSealed!: string;
  valueDigest!: string;
  lastFour!: string;
}
