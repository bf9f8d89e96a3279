import type { Migration } from './support';
import * as appRole from './20261121_0001_app_role';
import * as tenants from './20261121_0002_tenants';
import * as usersAndRoles from './20261121_0003_users_and_roles';
import * as credentials from './20261121_0004_credentials';
import * as audit from './20261121_0005_audit';
import * as idempotency from './20261121_0006_idempotency';
import * as lookups from './20261121_0007_lookups';
import * as children from './20261121_0008_children';
import * as configuration from './20261122_0009_configuration';
import * as childDetails from './20261122_0010_child_details';
import * as caseEvents from './20261201_0011_case_events';
import * as caseRecords from './20261201_0012_case_records';
import * as carers from './20261201_0013_carers';
import * as placements from './20261201_0014_placements';
import * as tasks from './20261201_0015_tasks';
import * as childNameSearch from './20261201_0016_child_name_search';
import * as financePermissions from './20261202_0017_finance_permissions';
import * as ledger from './20261202_0018_ledger';
import * as claims from './20261202_0019_claims';
import * as paymentPermissions from './20261202_0020_payment_permissions';
import * as invoices from './20261202_0022_invoices';

/** Every migration, in order. Forward-only: a change is a new entry, never an edit of an old one. */
export const migrations: Migration[] = [
  { name: '20261121_0001_app_role', up: appRole.up },
  { name: '20261121_0002_tenants', up: tenants.up },
  { name: '20261121_0003_users_and_roles', up: usersAndRoles.up },
  { name: '20261121_0004_credentials', up: credentials.up },
  { name: '20261121_0005_audit', up: audit.up },
  { name: '20261121_0006_idempotency', up: idempotency.up },
  { name: '20261121_0007_lookups', up: lookups.up },
  { name: '20261121_0008_children', up: children.up },
  { name: '20261122_0009_configuration', up: configuration.up },
  { name: '20261122_0010_child_details', up: childDetails.up },
  { name: '20261201_0011_case_events', up: caseEvents.up },
  { name: '20261201_0012_case_records', up: caseRecords.up },
  { name: '20261201_0013_carers', up: carers.up },
  { name: '20261201_0014_placements', up: placements.up },
  { name: '20261201_0015_tasks', up: tasks.up },
  { name: '20261201_0016_child_name_search', up: childNameSearch.up },
  { name: '20261202_0017_finance_permissions', up: financePermissions.up },
  { name: '20261202_0018_ledger', up: ledger.up },
  { name: '20261202_0019_claims', up: claims.up },
  { name: '20261202_0020_payment_permissions', up: paymentPermissions.up },
  { name: '20261202_0022_invoices', up: invoices.up },
];
