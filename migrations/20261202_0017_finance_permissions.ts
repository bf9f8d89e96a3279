import type { Knex } from 'knex';
import { grantToSystemRoles } from './support';

/** The claims and ledger permissions, for the system roles of tenants that already exist. */
const FINANCE_GRANTS: Record<string, string[]> = {
  tenant_admin: ['claims:read', 'claims:submit', 'claims:approve', 'ledger:read', 'ledger:export'],
  finance_officer: ['claims:read', 'claims:approve', 'ledger:read', 'ledger:export'],
  caseworker: ['claims:read', 'claims:submit'],
  placement_officer: ['claims:read', 'claims:submit'],
};

export async function up(knex: Knex): Promise<void> {
  // A literal copy, not an import of systemRoles.ts: a migration says what was granted when it ran.
  await grantToSystemRoles(knex, FINANCE_GRANTS);
}
