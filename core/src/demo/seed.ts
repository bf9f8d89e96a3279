import type { Knex } from 'knex';
import { applyScope } from '../db/tenantTransaction';
import type { Contract } from '../http/contract';
import type { AppServices, OperationMap } from '../http/operation';
import { newId } from '../ids';
import type { PackRegistry } from '../packs/registry';
import type { PaymentPolicy } from '../packs/types';
import { appendAuditEvent, systemActor } from '../modules/audit/service';
import type { Tenant } from '../modules/tenants/models';
import { provisionTenant, type NewTenant } from '../modules/tenants/provision';
import { todayIn } from '../time';
import {
  seedDemoService,
  type DemoServiceSettings,
  type DemoServiceSummary,
  type DemoStaffMember,
} from './demoService';
import { inProcessApi } from './inProcessApi';
import { CALIFORNIA, ENGLAND } from './vocabularies';

/**
 * The demo logins a newcomer gets on an empty embedded database. Written in the README too; they
 * exist only where seeding is on (the default without DATABASE_URL), never in production.
 */
export const DEMO_PASSWORD = 'hearth-demo-password';

export interface DemoTenant extends NewTenant {
  /** The service's people besides its admin, each a login with the demo password. */
  staff: DemoStaffMember[];
  /** The small service generated into it, or null (the platform tenant holds no service). */
  service: DemoServiceSettings | null;
  /**
   * The carer portal's demo login: an applicant of a household with a child placed today, invited
   * through the API like any carer (printed at start and listed in the README with the others).
   */
  carer: { email: string; role: string } | null;
}

const staffOf = (
  slug: string,
  names: { caseworker: string; supervisor: string; financeCalculates: string; financeApproves: string },
): DemoStaffMember[] => [
  {
    part: 'caseworker',
    role: 'caseworker (holds most children)',
    email: `caseworker@${slug}.example`,
    displayName: names.caseworker,
    roles: ['caseworker'],
  },
  {
    part: 'supervisor',
    role: 'supervisor (supervises the carers)',
    email: `supervisor@${slug}.example`,
    displayName: names.supervisor,
    roles: ['supervisor'],
  },
  {
    part: 'financeCalculates',
    role: 'finance officer (calculated the payment run)',
    email: `finance@${slug}.example`,
    displayName: names.financeCalculates,
    roles: ['finance_officer'],
  },
  {
    part: 'financeApproves',
    role: 'finance officer (may approve the payment run)',
    email: `finance2@${slug}.example`,
    displayName: names.financeApproves,
    roles: ['finance_officer'],
  },
];

/** An English independent fostering agency invoicing the local authorities that place with it (fictional councils). */
const UK_SERVICE: DemoServiceSettings = {
  seed: 4401,
  vocabulary: ENGLAND,
  commissioners: [
    {
      name: 'Northmoor County Council',
      kind: 'local_authority',
      customerReference: 'NMC-0042',
      addressLines: ["Children's Services Finance", 'County Hall', 'Northmoor NM1 1AA'],
      email: 'childrens.finance@northmoor.example',
      paymentTermsDays: 30,
    },
    {
      name: 'Eastbridge Borough Council',
      kind: 'local_authority',
      customerReference: 'EBC-0117',
      addressLines: ['Placements Finance Team', 'Civic Centre', 'Eastbridge EB2 4CD'],
      email: 'placements.finance@eastbridge.example',
      paymentTermsDays: 28,
    },
  ],
  fees: [87_500, 92_000, 98_500, 105_000, 112_500],
  feePeriod: 'week',
  invoicing: null,
};

/** A California foster family agency invoicing the counties that place with it (fictional counties), monthly. */
const CALIFORNIA_SERVICE: DemoServiceSettings = {
  seed: 4402,
  vocabulary: CALIFORNIA,
  commissioners: [
    {
      name: 'Sierra Pines County Department of Children and Family Services',
      kind: 'county',
      customerReference: 'SPC-2210',
      addressLines: ['Fiscal Services, Placement Payments', '425 Main Street', 'Pine Valley, CA 95999'],
      email: 'fiscal@sierrapines.example',
      paymentTermsDays: 45,
    },
    {
      name: 'Alder Valley County Child Welfare Services',
      kind: 'county',
      customerReference: 'AVC-0381',
      addressLines: ['Accounts Payable', '90 Court Street', 'Alder Valley, CA 95998'],
      email: 'ap@aldervalley.example',
      paymentTermsDays: 30,
    },
  ],
  fees: [9_500, 11_000, 12_500, 14_000],
  feePeriod: 'day',
  invoicing: {
    frequency: 'monthly',
    chargeDepartureDay: false,
    rounding: 'half_up_per_line',
    paymentTermsDays: 45,
    invoicePrefix: 'INV-',
    creditNotePrefix: 'CN-',
  },
};

export const DEMO_TENANTS: DemoTenant[] = [
  {
    kind: 'service',
    name: 'Demo Fostering (England)',
    slug: 'demo-uk',
    packId: 'uk',
    currency: 'GBP',
    timeZone: 'Europe/London',
    firstAdmin: { email: 'admin@demo-uk.example', displayName: 'UK Demo Admin', password: DEMO_PASSWORD },
    staff: staffOf('demo-uk', {
      caseworker: 'Priya Shah',
      supervisor: 'Tom Hughes',
      financeCalculates: 'Grace Okafor',
      financeApproves: 'Daniel Reid',
    }),
    service: UK_SERVICE,
    carer: { email: 'carer@demo-uk.example', role: 'foster carer (the carer portal, /v1/portal)' },
  },
  {
    kind: 'service',
    name: 'Demo Resource Families (California)',
    slug: 'demo-usa',
    packId: 'usa/ca',
    currency: 'USD',
    timeZone: 'America/Los_Angeles',
    firstAdmin: { email: 'admin@demo-usa.example', displayName: 'USA Demo Admin', password: DEMO_PASSWORD },
    staff: staffOf('demo-usa', {
      caseworker: 'Maria Lopez',
      supervisor: 'James Carter',
      financeCalculates: 'Linda Nguyen',
      financeApproves: 'Robert Kim',
    }),
    service: CALIFORNIA_SERVICE,
    carer: { email: 'carer@demo-usa.example', role: 'resource parent (the carer portal, /v1/portal)' },
  },
  // Created last: its presence says the seed ran to the end.
  {
    kind: 'platform',
    name: 'Hearth platform',
    slug: 'platform',
    packId: 'platform',
    currency: 'GBP',
    timeZone: 'Europe/London',
    firstAdmin: { email: 'admin@platform.example', displayName: 'Platform Admin', password: DEMO_PASSWORD },
    staff: [],
    service: null,
    carer: null,
  },
];

export interface SeededLogin {
  tenant: string;
  role: string;
  email: string;
  password: string;
}

/** Every demo login, tenant by tenant: the admin first, then the staff. */
export function demoLogins(): SeededLogin[] {
  return DEMO_TENANTS.flatMap((t) => [
    {
      tenant: t.slug,
      role: t.kind === 'platform' ? 'platform admin' : 'admin',
      email: t.firstAdmin.email,
      password: DEMO_PASSWORD,
    },
    ...t.staff.map((s) => ({ tenant: t.slug, role: s.role, email: s.email, password: DEMO_PASSWORD })),
    ...(t.carer ? [{ tenant: t.slug, role: t.carer.role, email: t.carer.email, password: DEMO_PASSWORD }] : []),
  ]);
}

/** The lines start-up prints under "Demo logins". */
export function demoLoginLines(): string[] {
  return [
    ...demoLogins().map(
      (l) => `tenant ${l.tenant.padEnd(9)} ${l.role.padEnd(45)} email ${l.email.padEnd(27)} password ${l.password}`,
    ),
  ];
}

/** Creates a tenant outside any request (seeding, tests), with its creation audited as the system's act. */
export async function bootstrapTenant(
  db: Knex,
  packs: PackRegistry,
  input: NewTenant,
): Promise<{ tenant: Tenant; adminUserId: string }> {
  return db.transaction(async (trx) => {
    await applyScope(trx, { tenantId: null, platform: true });
    const created = await provisionTenant(trx, packs, input);
    await appendAuditEvent(trx, created.tenant.id, systemActor(`bootstrap-${newId()}`), {
      action: 'tenant.created',
      entityType: 'tenant',
      entityId: created.tenant.id,
      after: { slug: created.tenant.slug, packId: created.tenant.packId, firstAdminUserId: created.adminUserId },
    });
    return created;
  });
}

export interface SeedDeps {
  services: AppServices;
  contract: Contract;
  operations: OperationMap;
  /** Told each tenant's figures and time as it is seeded, then the whole seed's time. */
  log?: (detail: Record<string, unknown>, message: string) => void;
}

/**
 * Creates the demo tenants, each service with its staff and a small generated service driven to
 * a working state, then the platform tenant, once: an existing platform tenant means it ran before.
 * A demo tenant found without the platform tenant is what an interrupted seed leaves; it is not
 * seeded twice (its slug is taken), so start-up stops and says how to begin again.
 */
export async function seedDemoTenants(db: Knex, deps: SeedDeps): Promise<SeededLogin[] | null> {
  const exists = async (slug: string) =>
    ((await db.raw(`SELECT id FROM hearth_tenant_by_slug(?)`, [slug])) as { rows: unknown[] }).rows.length > 0;
  if (await exists('platform')) return null;
  const seedStarted = Date.now();
  const packs = deps.services.packs;
  const api = inProcessApi({ db, services: deps.services, contract: deps.contract, operations: deps.operations });
  for (const demo of DEMO_TENANTS) {
    if (await exists(demo.slug)) {
      throw new Error(
        `The demo tenant "${demo.slug}" exists but the seed never finished (no "platform" tenant): ` +
          'remove the embedded database (.hearth/pgdata) or the database DATABASE_URL names, and start again',
      );
    }
    const started = Date.now();
    const { tenant, adminUserId } = await bootstrapTenant(db, packs, demo);
    let summary: DemoServiceSummary | null = null;
    if (demo.kind === 'service') {
      await demoPaySchedule(db, packs, tenant);
      if (demo.service) {
        const where = { id: tenant.id, slug: tenant.slug, today: todayIn(tenant.timeZone) };
        summary = await seedDemoService(
          { db, api, services: deps.services },
          where,
          { tenantId: tenant.id, userId: adminUserId },
          demo.staff,
          demo.service,
          DEMO_PASSWORD,
          demo.carer,
        );
      }
    }
    deps.log?.({ tenant: demo.slug, seconds: (Date.now() - started) / 1000, ...(summary ?? {}) }, 'demo tenant seeded');
  }
  deps.log?.(
    { tenants: DEMO_TENANTS.map((t) => t.slug), seconds: (Date.now() - seedStarted) / 1000 },
    'demo tenants seeded',
  );
  return demoLogins();
}

/**
 * A demo tenant pays carers on the schedule its pack suggests (the UK weekly, Monday to Sunday;
 * California monthly; both in arrears). The seed runs the last complete period; the newcomer opens
 * the next.
 */
async function demoPaySchedule(db: Knex, packs: PackRegistry, tenant: Tenant): Promise<void> {
  const policy = packs.resolve(tenant.packId).points.rates.get('payment-policy')?.value as PaymentPolicy | undefined;
  if (!policy) return;
  const frequency = policy.schedule.frequency;
  await db.transaction(async (trx) => {
    await trx.raw(`SELECT set_config('app.tenant_id', ?, true)`, [tenant.id]);
    const id = newId();
    await trx('pay_schedules').insert({
      tenant_id: tenant.id,
      id,
      key: `demo-${frequency}`,
      name: `${frequency.replace('_', '-')} in ${policy.schedule.timing}`,
      frequency,
      timing: policy.schedule.timing,
      // 5 January 2026 is a Monday: weekly periods run Monday to Sunday.
      anchor_date: frequency === 'monthly' ? '2026-01-01' : '2026-01-05',
      payment_lag_days: 3,
    });
    await appendAuditEvent(trx, tenant.id, systemActor(`demo-seed-${id}`), {
      action: 'pay_schedule.created',
      entityType: 'pay_schedule',
      entityId: id,
      after: { frequency, timing: policy.schedule.timing },
    });
  });
}
