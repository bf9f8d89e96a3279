import { TenantModel } from '../../db/baseModel';

export type TokenScope = 'full' | 'mfa_enrolment';

/** One refresh token of a session: a log-in starts a family, each refresh uses one token and adds the next. */
export class RefreshToken extends TenantModel {
  static override tableName = 'refresh_tokens';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  userId!: string;
  familyId!: string;
  tokenHash!: string;
  scope!: TokenScope;
  expiresAt!: Date;
  usedAt!: Date | null;
  revokedAt!: Date | null;
  createdAt!: Date;
}

/** A single-use set-password token: a reset, or an invitation. */
export class PasswordToken extends TenantModel {
  static override tableName = 'password_tokens';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  userId!: string;
  purpose!: 'reset' | 'invite';
  tokenHash!: string;
  expiresAt!: Date;
  usedAt!: Date | null;
  createdAt!: Date;
}
