import type { Knex } from 'knex';
import { addDays } from '../../dates';
import type { JobContext } from '../../jobs/worker';
import { queueNotification, type Recipient } from '../notifications/outbox';

export const CHECK_EXPIRY_JOB = 'check-expiry';

/** The days of notice a household's supervising worker gets before a check expires, longest first (as documents). */
export const CHECK_NOTICE_DAYS = [60, 30] as const;

export function checkExpiryKey(date: string): string {
  return `${CHECK_EXPIRY_JOB}:${date}`;
}

interface ExpiringCheck {
  id: string;
  household_id: string;
  expires_on: string;
  worker_id: string;
  email: string;
  display_name: string;
}

/**
 * Tells each active household's supervising worker about its checks (a DBS or background check, a
 * medical) that expire within 60 days of `date`: once when 60 days remain and again at 30. A check
 * already being renewed (a later check of the same type for the same member) is not reminded. The
 * message's unique key is the check, its expiry date and the window, so a second run sends nothing
 * and a check whose expiry moves is reminded afresh. One read and one outbox call for the tenant.
 */
export async function notifyExpiringChecks(
  scope: { trx: Knex.Transaction; tenantId: string },
  run: { date: string },
): Promise<{ date: string; checks: number; messages: number }> {
  const { trx, tenantId } = scope;
  const checks = (await trx('carer_checks as c')
    .join('carer_households as h', function joinHousehold() {
      this.on('h.tenant_id', '=', 'c.tenant_id').andOn('h.id', '=', 'c.household_id');
    })
    .join('users as u', function joinWorker() {
      this.on('u.tenant_id', '=', 'h.tenant_id').andOn('u.id', '=', 'h.supervising_worker_id');
    })
    .where({ 'c.tenant_id': tenantId, 'c.status': 'satisfactory', 'h.status': 'active', 'u.status': 'active' })
    .where('c.expires_on', '>=', run.date)
    .where('c.expires_on', '<=', addDays(run.date, CHECK_NOTICE_DAYS[0]))
    .whereNotExists((q) =>
      q
        .select(trx.raw('1'))
        .from('carer_checks as n')
        .whereRaw(
          `n.tenant_id = c.tenant_id AND n.household_id = c.household_id AND n.check_type = c.check_type
           AND n.member_id IS NOT DISTINCT FROM c.member_id AND n.id <> c.id AND n.created_at > c.created_at
           AND n.status <> 'unsatisfactory'`,
        ),
    )
    .orderBy([{ column: 'c.expires_on' }, { column: 'c.id' }])
    .select(
      'c.id',
      'c.household_id',
      'c.expires_on',
      'u.id as worker_id',
      'u.email',
      'u.display_name',
    )) as ExpiringCheck[];
  const recipients: Recipient[] = checks.map((check) => {
    const window = CHECK_NOTICE_DAYS.filter((days) => addDays(run.date, days) >= check.expires_on).pop()!;
    return {
      userId: check.worker_id,
      email: check.email,
      name: check.display_name,
      occurrence: `${check.id}:${check.expires_on}:${window}`,
      data: { expiresOn: check.expires_on, noticeDays: window, checkId: check.id },
      link: `/carer-households/${check.household_id}`,
      reference: check.id.slice(0, 8),
      records: { householdId: check.household_id },
    };
  });
  const messages = recipients.length
    ? await queueNotification(scope, { event: 'carers.check_expiring', occurrence: run.date, recipients })
    : [];
  return { date: run.date, checks: checks.length, messages: messages.length };
}

/** The `check-expiry` job: payload { date }, the tenant's day it runs for. */
export async function checkExpiryJob(ctx: JobContext): Promise<unknown> {
  const date = String(ctx.job.payload.date ?? '');
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) throw new Error(`check-expiry needs a payload date, got "${date}"`);
  return ctx.inTenant(async (trx) => {
    const result = await notifyExpiringChecks({ trx, tenantId: ctx.tenantId }, { date });
    // A run that told no one wrote nothing, so it appends nothing.
    if (result.messages)
      await ctx.audit(trx, {
        action: 'carer_checks.expiry_notified',
        entityType: 'tenant',
        entityId: ctx.tenantId,
        after: result,
      });
    return result;
  });
}
