import type { FindScope } from '../../db/find';

export type Currency = 'GBP' | 'USD';

/** The tenant's currency, which every amount the module answers is in. */
export async function tenantCurrency(scope: FindScope): Promise<Currency> {
  const tenant = await scope.trx('tenants').where({ id: scope.tenantId }).first<{ currency: Currency }>('currency');
  return tenant.currency;
}
