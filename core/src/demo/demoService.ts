import type { Knex } from 'knex';
import type { components } from '../../../sdk/src/schema';
import type { AppServices } from '../http/operation';
import { runDueJobs } from '../jobs/worker';
import { addDays, ageOn } from '../dates';
import { hashPassword } from '../auth/passwords';
import { PAYMENT_RUN_CALCULATION_JOB, paymentRunCalculationJob } from '../modules/payments/calculation/job';
import { isPeriodStart, periodFrom, type PayPeriod, type ScheduleShape } from '../modules/payments/periods';
import type { Actor, InProcessApi } from './inProcessApi';
import { generateLargeService, type LargeService, type LargeServiceOptions, type SimPlacement } from './largeService';
import { writeLargeService, type LargeServiceCounts } from './largeServiceSeed';
import type { ServiceVocabulary } from './vocabularies';

/** Who a demo login is in the service: the seed gives each part to one person. */
export type StaffPart = 'caseworker' | 'supervisor' | 'financeCalculates' | 'financeApproves';

export interface DemoStaffMember {
  part: StaffPart;
  /** What the login is for, as the start-up lines and the README say it. */
  role: string;
  email: string;
  displayName: string;
  roles: string[];
}

/** What differs between the demo services: the place's words, whom they invoice and at what fee. */
export interface DemoServiceSettings {
  /** The generator's seed: with the tenant's date it decides the whole service. */
  seed: number;
  vocabulary: ServiceVocabulary;
  /** The agency's commissioners (fictional): the first is invoiced, the second's invoice is left a draft. */
  commissioners: [components['schemas']['CommissionerCreate'], components['schemas']['CommissionerCreate']];
  /** Placement fees, taken in turn placement by placement, in minor units per `feePeriod`. */
  fees: number[];
  feePeriod: components['schemas']['FeePeriod'];
  invoicing: components['schemas']['InvoicingPolicyUpdate'] | null;
}

/** A small service: a few dozen children over two years, a handful of households and workers. */
export function demoServiceOptions(settings: DemoServiceSettings, slug: string, asOf: string): LargeServiceOptions {
  return {
    seed: settings.seed,
    asOf,
    children: 40,
    households: 16,
    placements: 64,
    years: 2,
    caseworkers: 3,
    supervisingWorkers: 1,
    teams: 1,
    vocabulary: settings.vocabulary,
    emailDomain: `${slug}.example`,
  };
}

/** The generated service for a demo tenant as of a date: the same date gives the same service, id for id. */
export function generateDemoService(settings: DemoServiceSettings, slug: string, asOf: string): LargeService {
  return generateLargeService(demoServiceOptions(settings, slug, asOf));
}

/**
 * Gives the generated workers' parts to the demo logins: the first caseworker is the demo
 * caseworker, who holds two children in three (most of the caseload), and the supervising worker is
 * the demo supervisor. The logins exist already (made through the API), so the load keeps them.
 */
export interface CastMember {
  id: string;
  email: string;
  displayName: string;
}

export function castStaff(
  service: LargeService,
  people: { caseworker: CastMember; supervisor: CastMember },
): LargeService {
  const lead = service.workers.find((w) => w.role === 'caseworker')!;
  const supervising = service.workers.find((w) => w.role === 'supervisor')!;
  const renamed = new Map([
    [lead.id, people.caseworker],
    [supervising.id, people.supervisor],
  ]);
  const idOf = (id: string) => renamed.get(id)?.id ?? id;
  return {
    ...service,
    workers: service.workers.map((w) => ({ ...w, ...(renamed.get(w.id) ?? {}) })),
    households: service.households.map((h) => ({ ...h, supervisingWorkerId: idOf(h.supervisingWorkerId) })),
    children: service.children.map((c, i) => ({
      ...c,
      allocatedWorkerId: i % 3 === 2 ? idOf(c.allocatedWorkerId) : people.caseworker.id,
    })),
  };
}

/** The last whole pay period before today on a schedule: a run in arrears for it can be paid now. */
export function lastCompletePeriod(shape: ScheduleShape, today: string): PayPeriod {
  let start = today;
  while (!isPeriodStart(shape, start)) start = addDays(start, -1);
  do start = addDays(start, -1);
  while (!isPeriodStart(shape, start));
  return periodFrom(shape, start);
}

const inPeriod = (p: SimPlacement, period: { start: string; end: string }) =>
  p.startOn <= period.end && (p.endOn === null || p.endOn > period.start);

export interface DemoServiceSummary {
  asOf: string;
  counts: LargeServiceCounts;
  runReference: string;
  invoiceReference: string;
}

/**
 * A demo service's day-to-day state, made the way its people would make it: the staff (through the
 * API), the generated service (bulk: its history, events and tasks), then, through the API's
 * handlers as the staff, the tasks no record can complete yet marked done by hand (California's
 * permanency hearings), three claims (a draft, one submitted, one approved), an issued invoice
 * to the first commissioner for the placement fees of the last period and a draft to the second,
 * and the last complete pay period's run, calculated by the first finance officer (the job run here,
 * in-process) and submitted, so the second finance officer or the admin approves it.
 */
export async function seedDemoService(
  deps: { db: Knex; api: InProcessApi; services: AppServices },
  tenant: { id: string; slug: string; today: string },
  admin: Actor,
  staff: DemoStaffMember[],
  settings: DemoServiceSettings,
  password: string,
  carer: { email: string } | null = null,
): Promise<DemoServiceSummary> {
  const { api } = deps;
  const as = new Map<StaffPart, Actor & { member: CastMember }>();
  for (const member of staff) {
    const user = await api.call(admin, 'createUser', {
      body: { email: member.email, displayName: member.displayName, roles: member.roles, password },
    });
    as.set(member.part, {
      tenantId: tenant.id,
      userId: user.id,
      member: { id: user.id, email: member.email, displayName: member.displayName },
    });
  }
  const person = (part: StaffPart) => {
    const found = as.get(part);
    if (!found) throw new Error(`The demo tenant ${tenant.slug} has no ${part} among its staff`);
    return found;
  };
  const caseworker = person('caseworker');
  const financeCalculates = person('financeCalculates');
  const financeApproves = person('financeApproves');

  const generated = generateDemoService(settings, tenant.slug, tenant.today);
  const service = castStaff(generated, { caseworker: caseworker.member, supervisor: person('supervisor').member });
  const counts = await writeLargeService(deps.db, deps.services.packs, tenant.id, service);

  const schedules = await api.call(financeCalculates, 'listPaySchedules');
  const schedule = schedules.data.find((s) => s.status === 'active');
  if (!schedule) throw new Error(`The demo tenant ${tenant.slug} has no active pay schedule`);
  const shape = {
    frequency: schedule.frequency,
    timing: schedule.timing,
    anchorDate: schedule.anchorDate,
    paymentLagDays: schedule.paymentLagDays,
  };
  const period = lastCompletePeriod(shape, tenant.today);
  const placed = service.placements.filter((p) => inPeriod(p, period));
  if (placed.length < 3)
    throw new Error(
      `The demo service of ${tenant.slug} has ${placed.length} placements in ${period.start}..${period.end}; it needs three for its claims`,
    );

  await tasksDoneByHand(api, admin, caseworker, settings.vocabulary.cyclesDoneByHand, tenant.today);
  await claims(api, { caseworker, approver: financeApproves }, placed, tenant.today);
  const invoiceReference = await invoices(api, financeCalculates, settings, service.placements, period);
  const runReference = await submittedRun(deps, financeCalculates, period);
  if (carer) await demoCarer(deps, tenant, admin, service, carer.email, password);
  return { asOf: tenant.today, counts, runReference, invoiceReference };
}

/**
 * The demo carer: an adult applicant of a household with a child placed today, invited to the portal
 * through the API as any carer is. A real carer sets their password through the invitation's link;
 * the seed sets the demo password in its place (and the invitation's link stays unused).
 */
async function demoCarer(
  deps: { db: Knex; api: InProcessApi },
  tenant: { id: string; slug: string; today: string },
  admin: Actor,
  service: LargeService,
  email: string,
  password: string,
): Promise<void> {
  const placed = new Set(
    service.placements
      .filter((p) => p.startOn <= tenant.today && (p.endOn === null || p.endOn > tenant.today))
      .map((p) => p.householdId),
  );
  const member = service.members.find(
    (m) => m.role === 'applicant' && placed.has(m.householdId) && ageOn(m.dateOfBirth, tenant.today) >= 18,
  );
  if (!member)
    throw new Error(`The demo service of ${tenant.slug} has no applicant of a household with a child placed today`);
  const login = await deps.api.call(admin, 'inviteCarerToPortal', {
    params: { householdId: member.householdId, memberId: member.id },
    body: { email, displayName: `${member.givenName} ${member.familyName}` },
  });
  const hash = await hashPassword(password);
  await deps.db.transaction(async (trx) => {
    await trx.raw(`SELECT set_config('app.tenant_id', ?, true)`, [tenant.id]);
    await trx('users').where({ tenant_id: tenant.id, id: login.userId }).update({ password_hash: hash });
  });
}

/**
 * Tasks of cycles no record completes yet, more than six weeks overdue, marked done by their owner
 * (else the caseworker) on the day they were due; each done task may bring the next occurrence due,
 * so this repeats until none is left that late.
 */
async function tasksDoneByHand(
  api: InProcessApi,
  admin: Actor,
  caseworker: Actor,
  cycles: readonly string[],
  today: string,
): Promise<void> {
  if (!cycles.length) return;
  // A few rounds reach today: each occurrence is a year (or a review period) after the last.
  for (let round = 0; round < 20; round++) {
    const page = await api.call(admin, 'listTasks', {
      query: { status: 'open', dueBefore: addDays(today, -42), limit: 200 },
    });
    const late = page.data.filter((task) => cycles.includes(task.cycleKey));
    if (!late.length) return;
    for (const task of late) {
      const owner = task.ownerId ? { tenantId: admin.tenantId, userId: task.ownerId } : caseworker;
      await api.call(owner, 'completeTask', {
        params: { taskId: task.id },
        body: { completedOn: task.dueDate },
        version: task.version,
      });
    }
  }
}

/** A carer's mileage for a child's contact (a draft), an expense submitted, and a journey approved by finance (paid by the run). */
async function claims(
  api: InProcessApi,
  people: { caseworker: Actor; approver: Actor },
  placed: SimPlacement[],
  today: string,
): Promise<void> {
  const [first, second, third] = placed;
  const day = (n: number) => addDays(today, -n);
  await api.call(people.caseworker, 'createClaim', {
    params: { householdId: first!.householdId },
    body: {
      description: 'Contact at the family centre',
      lines: [
        {
          kind: 'mileage',
          date: day(3),
          from: 'Home',
          to: 'Family centre',
          purpose: 'Supervised contact with birth family',
          miles: 14.2,
          childId: first!.childId,
          placementId: first!.id,
        },
      ],
    },
  });
  const submitted = await api.call(people.caseworker, 'createClaim', {
    params: { householdId: second!.householdId },
    body: {
      description: 'School uniform',
      lines: [
        {
          kind: 'expense',
          date: day(9),
          category: 'school_uniform',
          description: 'Winter uniform and PE kit',
          amount: 4650,
          childId: second!.childId,
          placementId: second!.id,
        },
      ],
      evidence: [{ key: 'receipt', title: 'Uniform shop receipt', receivedOn: day(8) }],
    },
  });
  await api.call(people.caseworker, 'submitClaim', { params: { claimId: submitted.id }, body: {} });
  const approved = await api.call(people.caseworker, 'createClaim', {
    params: { householdId: third!.householdId },
    body: {
      description: 'Health assessment and school meeting',
      lines: [
        {
          kind: 'mileage',
          date: day(12),
          from: 'Home',
          to: 'Community health clinic',
          purpose: 'Review health assessment',
          miles: 9.6,
          childId: third!.childId,
          placementId: third!.id,
        },
        {
          kind: 'mileage',
          date: day(10),
          from: 'Home',
          to: 'School',
          purpose: 'Personal education plan meeting',
          miles: 4.5,
          childId: third!.childId,
          placementId: third!.id,
        },
      ],
    },
  });
  await api.call(people.caseworker, 'submitClaim', { params: { claimId: approved.id }, body: {} });
  await api.call(people.approver, 'approveClaim', {
    params: { claimId: approved.id },
    body: { reasons: 'Journeys match the diary and the placement plan.' },
  });
}

/**
 * The commissioners, a fee for every placement in the period (taken in turn between them, from the
 * placement's start), the drafts for the period, and the first commissioner's invoice issued.
 */
async function invoices(
  api: InProcessApi,
  finance: Actor,
  settings: DemoServiceSettings,
  placements: SimPlacement[],
  period: PayPeriod,
): Promise<string> {
  if (settings.invoicing) {
    const policy = await api.call(finance, 'getInvoicingPolicy');
    await api.call(finance, 'updateInvoicingPolicy', { body: settings.invoicing, version: policy.version });
  }
  const commissioners: Array<{ id: string }> = [];
  for (const body of settings.commissioners)
    commissioners.push(await api.call(finance, 'createCommissioner', { body }));
  const charged = placements.filter((p) => inPeriod(p, period));
  for (const [i, p] of charged.entries()) {
    await api.call(finance, 'recordPlacementCommission', {
      params: { placementId: p.id },
      body: {
        commissionerId: commissioners[i % 2]!.id,
        feeAmount: settings.fees[i % settings.fees.length]!,
        feePeriod: settings.feePeriod,
        effectiveFrom: p.startOn,
        commissionerReference: `PO-${p.startOn.slice(0, 4)}-${String(101 + i).padStart(4, '0')}`,
      },
    });
  }
  const drafts = await api.call(finance, 'generateInvoiceDrafts', {
    body: { periodStart: period.start, periodEnd: period.end },
  });
  const draft = drafts.invoices.find((d) => d.commissionerId === commissioners[0]!.id);
  if (!draft)
    throw new Error(`No draft invoice for ${settings.commissioners[0].name} in ${period.start}..${period.end}`);
  const issued = await api.call(finance, 'issueInvoice', {
    params: { invoiceId: draft.id },
    body: {},
    version: draft.version ?? undefined,
  });
  return issued.reference ?? issued.id;
}

/** The period's run, opened, calculated (the job run here) and submitted by one finance officer. */
async function submittedRun(
  deps: { db: Knex; api: InProcessApi; services: AppServices },
  finance: Actor,
  period: PayPeriod,
): Promise<string> {
  const { api } = deps;
  const run = await api.call(finance, 'createPaymentRun', {
    body: { periodStart: period.start, notes: 'Placements and approved claims for the period' },
  });
  await api.call(finance, 'calculatePaymentRun', { params: { runId: run.id }, body: {} });
  // What the server's worker would do in the background: only this kind of job, so nothing else is
  // run early. Another process's worker on the same database may have claimed it: wait for that one.
  const calculation = {
    handlers: { [PAYMENT_RUN_CALCULATION_JOB]: paymentRunCalculationJob },
    services: deps.services,
    backoffMs: () => 0,
  };
  let calculated = await api.call(finance, 'getPaymentRun', { params: { runId: run.id } });
  for (let waited = 0; calculated.status === 'calculating' && waited < 600; waited++) {
    if (!(await runDueJobs(deps.db, calculation))) await new Promise((resolve) => setTimeout(resolve, 100));
    calculated = await api.call(finance, 'getPaymentRun', { params: { runId: run.id } });
  }
  if (calculated.status !== 'calculated') {
    throw new Error(
      `The demo run ${calculated.reference} is ${calculated.status} after its calculation: ${JSON.stringify(calculated.calculation)}`,
    );
  }
  await api.call(finance, 'submitPaymentRun', {
    params: { runId: run.id },
    body: { notes: 'Checked against the placements list' },
  });
  return calculated.reference;
}
