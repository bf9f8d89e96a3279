import type { OperationContext } from '../../http/operation';
import { todayIn } from '../../time';

/** Today's date where the tenant is: a child born "today" in London may still be "tomorrow" in UTC. */
export async function tenantToday(ctx: Pick<OperationContext, 'trx' | 'tenantId'>): Promise<string> {
  const row = (await ctx.trx('tenants').where({ id: ctx.tenantId }).first('time_zone')) as { time_zone: string };
  return todayIn(row.time_zone);
}
