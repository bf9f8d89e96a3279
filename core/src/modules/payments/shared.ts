import type { OperationContext } from '../../http/operation';

/** The tenant's currency, which every amount the module answers is in. */
export async function tenantCurrency(ctx: OperationContext): Promise<'GBP' | 'USD'> {
  return ((await ctx.trx('tenants').where({ id: ctx.tenantId }).first('currency')) as { currency: 'GBP' | 'USD' }).currency;
}
