import { TenantModel } from '../../db/baseModel';

/** A tenant's option list, copied from the platform and pack defaults at tenant creation. */
export class LookupList extends TenantModel {
  static override tableName = 'lookup_lists';
  static noun = 'option list';
  static override idColumn = ['tenant_id', 'key'];

  key!: string;
  name!: string;
}

/** One code of a list; a default's code is kept for good (statutory returns map it), its label and activity are the tenant's. */
export class LookupValue extends TenantModel {
  static override tableName = 'lookup_values';
  static noun = 'option';
  static override idColumn = ['tenant_id', 'list_key', 'code'];

  listKey!: string;
  code!: string;
  label!: string;
  active!: boolean;
  sortOrder!: number;
  source!: 'default' | 'tenant';
  version!: number;
  createdAt!: Date;
  updatedAt!: Date;
}
