import type { OperationContext } from '../../http/operation';
import { todayIn } from '../../time';
import { Tenant } from './models';

/** Today's date where the tenant is: a child born "today" in London may still be "tomorrow" in UTC. */
export async function tenantToday(ctx: Pick<OperationContext, 'trx' | 'tenantId'>): Promise<string> {
  const row = await Tenant.query(ctx.trx).where({ id: ctx.tenantId }).first().select('time_zone');
  return todayIn(row!.timeZone);
}
