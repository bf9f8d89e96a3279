import type { Knex } from 'knex';
import { applyScope } from '../db/tenantTransaction';
import { newId } from '../ids';
import type { PackRegistry } from '../packs/registry';
import type { PaymentPolicy } from '../packs/types';
import { appendAuditEvent } from '../modules/audit/service';
import { provisionTenant, type NewTenant, type TenantRow } from '../modules/tenants/provision';

/**
 * The demo logins a newcomer gets on an empty embedded database. Written in the README too; they
 * exist only where seeding is on (the default without DATABASE_URL), never in production.
 */
export const DEMO_PASSWORD = 'hearth-demo-password';

export const DEMO_TENANTS: NewTenant[] = [
  { kind: 'platform', name: 'Hearth platform', slug: 'platform', packId: 'platform', currency: 'GBP', timeZone: 'Europe/London', firstAdmin: { email: 'admin@platform.example', displayName: 'Platform Admin', password: DEMO_PASSWORD } },
  { kind: 'service', name: 'Demo Fostering (England)', slug: 'demo-uk', packId: 'uk', currency: 'GBP', timeZone: 'Europe/London', firstAdmin: { email: 'admin@demo-uk.example', displayName: 'UK Demo Admin', password: DEMO_PASSWORD } },
  { kind: 'service', name: 'Demo Resource Families (California)', slug: 'demo-usa', packId: 'usa/ca', currency: 'USD', timeZone: 'America/Los_Angeles', firstAdmin: { email: 'admin@demo-usa.example', displayName: 'USA Demo Admin', password: DEMO_PASSWORD } },
];

export interface SeededLogin {
  tenant: string;
  email: string;
  password: string;
}

/** Creates a tenant outside any request (seeding, tests), with its creation audited as the system's act. */
export async function bootstrapTenant(db: Knex, packs: PackRegistry, input: NewTenant): Promise<{ tenant: TenantRow; adminUserId: string }> {
  return db.transaction(async (trx) => {
    await applyScope(trx, { tenantId: null, platform: true });
    const created = await provisionTenant(trx, packs, input);
    await appendAuditEvent(trx, created.tenant.id, { actorType: 'system', actorId: null, ip: null, userAgent: null, requestId: `bootstrap-${newId()}` }, {
      action: 'tenant.created',
      entityType: 'tenant',
      entityId: created.tenant.id,
      after: { slug: created.tenant.slug, packId: created.tenant.pack_id, firstAdminUserId: created.adminUserId },
    });
    return created;
  });
}

/** Creates the platform tenant and the demo tenants, once: an existing platform tenant means it ran before. */
export async function seedDemoTenants(db: Knex, packs: PackRegistry): Promise<SeededLogin[] | null> {
  const existing = (await db.raw(`SELECT id FROM hearth_tenant_by_slug('platform')`)) as { rows: unknown[] };
  if (existing.rows.length) return null;
  for (const tenant of DEMO_TENANTS) {
    const { tenant: row } = await bootstrapTenant(db, packs, tenant);
    if (tenant.kind === 'service') await demoPaySchedule(db, packs, row);
  }
  return DEMO_TENANTS.map((t) => ({ tenant: t.slug, email: t.firstAdmin.email, password: DEMO_PASSWORD }));
}

/**
 * A demo tenant pays carers on the schedule its pack suggests (the UK weekly in arrears, California
 * monthly in arrears), from the start of 2026, so a newcomer can open a payment run at once.
 */
async function demoPaySchedule(db: Knex, packs: PackRegistry, tenant: TenantRow): Promise<void> {
  const policy = packs.resolve(tenant.pack_id).points.rates.get('payment-policy')?.value as PaymentPolicy | undefined;
  if (!policy) return;
  const frequency = policy.schedule.frequency;
  await db.transaction(async (trx) => {
    await trx.raw(`SELECT set_config('app.tenant_id', ?, true)`, [tenant.id]);
    const id = newId();
    await trx('pay_schedules').insert({
      tenant_id: tenant.id, id, key: `demo-${frequency}`, name: `${frequency.replace('_', '-')} in ${policy.schedule.timing}`, frequency, timing: policy.schedule.timing,
      // 5 January 2026 is a Monday: weekly periods run Monday to Sunday.
      anchor_date: frequency === 'monthly' ? '2026-01-01' : '2026-01-05', payment_lag_days: 3,
    });
    await appendAuditEvent(trx, tenant.id, { actorType: 'system', actorId: null, ip: null, userAgent: null, requestId: `demo-seed-${id}` }, { action: 'pay_schedule.created', entityType: 'pay_schedule', entityId: id, after: { frequency, timing: policy.schedule.timing } });
  });
}
