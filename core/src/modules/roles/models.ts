import { TenantModel } from '../../db/baseModel';

export class Role extends TenantModel {
  static override tableName = 'roles';
  static noun = 'role';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  key!: string;
  name!: string;
  description!: string;
  /** A role every tenant is created with (core/src/access/systemRoles.ts); fixed. */
  system!: boolean;
  permissions!: string[];
  version!: number;
  createdAt!: Date;
  updatedAt!: Date;
}
