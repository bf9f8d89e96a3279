import type { Knex } from 'knex';
import { grantToSystemRoles } from './support';

/** The payment-run and invoice permissions, for the system roles of tenants that already exist. */
const PAYMENT_GRANTS: Record<string, string[]> = {
  tenant_admin: [
    'payments:read',
    'payments:manage',
    'payments:calculate',
    'payments:approve',
    'payments:finalise',
    'payments:adjust',
    'invoices:read',
    'invoices:manage',
    'invoices:issue',
  ],
  finance_officer: [
    'payments:read',
    'payments:manage',
    'payments:calculate',
    'payments:approve',
    'payments:finalise',
    'payments:adjust',
    'invoices:read',
    'invoices:manage',
    'invoices:issue',
  ],
};

export async function up(knex: Knex): Promise<void> {
  // A literal copy, not an import of systemRoles.ts: a migration says what was granted when it ran.
  await grantToSystemRoles(knex, PAYMENT_GRANTS);
}
