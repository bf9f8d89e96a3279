import { TenantModel } from '../../db/baseModel';

export type UserStatus = 'active' | 'disabled';

export class User extends TenantModel {
  static override tableName = 'users';
  static noun = 'user';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  email!: string;
  displayName!: string;
  /** `carer`: a carer portal login, bound to a household member (carer_logins). */
  kind!: 'staff' | 'carer';
  passwordHash!: string | null;
  status!: UserStatus;
  failedLoginCount!: number;
  lockedUntil!: Date | null;
  mfaEnabled!: boolean;
  /** Sealed with the data key (crypto/secretBox), as is the pending one. */
  mfaSecret!: string | null;
  mfaPendingSecret!: string | null;
  /** The last TOTP step accepted; a bigint, which pg gives as a string. */
  mfaLastStep!: number | string | null;
  /** Moves on when the user's sessions end; access tokens carry the one they were issued in. */
  sessionGeneration!: number;
  version!: number;
  createdAt!: Date;
  updatedAt!: Date;
}

/** Which roles a user holds. */
export class UserRole extends TenantModel {
  static override tableName = 'user_roles';
  static override idColumn = ['tenant_id', 'user_id', 'role_id'];

  userId!: string;
  roleId!: string;
}
