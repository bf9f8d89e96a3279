import { TenantModel } from '../../db/baseModel';

export class ApiKey extends TenantModel {
  static override tableName = 'api_keys';
  static noun = 'API key';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  name!: string;
  prefix!: string;
  tokenHash!: string;
  permissions!: string[];
  createdBy!: string;
  expiresAt!: Date | null;
  revokedAt!: Date | null;
  lastUsedAt!: Date | null;
  createdAt!: Date;
}
