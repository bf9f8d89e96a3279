import type { Knex } from 'knex';
import type { PackRegistry } from '../../packs/registry';
import { tenantConfiguration } from '../configuration/tenantConfiguration';

export interface ChartAccount {
  key: string;
  code: string;
  name: string;
}

/** The tenant's chart of accounts on a date: accounts by key, and per component the accounts it posts to. */
export interface TenantChart {
  currency: 'GBP' | 'USD';
  accounts: Map<string, ChartAccount>;
  postings: Map<string, { debit: string; credit: string }>;
}

/**
 * Read from the tenant's effective configuration (pack ⊕ sub-pack ⊕ overlays), never the pack alone,
 * so a tenant's own account codes apply as soon as the configuration carries them.
 */
export async function tenantChart(
  trx: Knex.Transaction,
  tenantId: string,
  packs: PackRegistry,
  asOf?: string,
): Promise<TenantChart> {
  const config = await tenantConfiguration(trx, tenantId, packs, asOf);
  const accounts = new Map<string, ChartAccount>();
  const postings = new Map<string, { debit: string; credit: string }>();
  for (const item of config.effective?.accounts ?? []) {
    const value = item.value;
    if ('code' in value) {
      accounts.set(value.key, { key: value.key, code: value.code, name: value.name });
    } else {
      postings.set(item.key.slice('posting:'.length), { debit: value.debit, credit: value.credit });
    }
  }
  return { currency: config.currency, accounts, postings };
}
