import { Model, snakeCaseMappers } from 'objection';

export interface SecurityPolicy {
  mfaRequiredForRoles: string[];
  maxFailedLogins: number;
  lockoutMinutes: number;
}

export type TenantKind = 'service' | 'platform';

/**
 * A tenant. Not a TenantModel: the table is the tenants themselves, keyed by id with no tenant_id
 * (RLS shows a tenant itself, and the platform every tenant). Columns map as TenantModel's do.
 */
export class Tenant extends Model {
  static override tableName = 'tenants';
  static noun = 'tenant';
  static override jsonAttributes = ['securityPolicy'];

  static override get columnNameMappers() {
    return snakeCaseMappers();
  }

  id!: string;
  kind!: TenantKind;
  slug!: string;
  name!: string;
  packId!: string;
  currency!: 'GBP' | 'USD';
  timeZone!: string;
  status!: 'active' | 'suspended';
  securityPolicy!: SecurityPolicy;
  version!: number;
  createdAt!: Date;
  updatedAt!: Date;
}
