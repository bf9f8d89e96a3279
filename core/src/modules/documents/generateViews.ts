import { formatDocumentDate } from '../../documents';
import type { TenantScope } from '../../http/operation';
import { Problem } from '../../http/problem';
import {
  CarerApprovalStep,
  CarerApprovalTerms,
  CarerDecision,
  CarerHouseholdMember,
  CarerPanel,
  type CarerHousehold,
} from '../carers/models';
import { Child } from '../children/models';
import type { TenantConfiguration } from '../configuration/tenantConfiguration';
import type { Placement } from '../placements/models';

/**
 * The view models of the letters, agreements and reports, built from the records. The UK and USA
 * packs' templates of a kind were written apart and print different fields (the UK letter a
 * `carer` and `service`, the USA one a `family` and `agency`), so each view carries both shapes,
 * filled from the same records: a template of either pack, or a tenant's overlay written from
 * either pack's sampleData, finds what it prints. Dates are the records' own, never today's, so a
 * record renders to the same bytes every time.
 */

export interface Tenant {
  name: string;
  currency: 'GBP' | 'USD';
}

/** A rendering's view with the date it is of (the PDF's creation date) and a reference for its name. */
export interface BuiltView {
  view: object;
  madeAt: string;
  reference: string;
}

const day = (tenant: Tenant, iso: string | null | undefined) => (iso ? formatDocumentDate(iso, tenant.currency) : '');

function term(config: TenantConfiguration, key: string, fallback: string): string {
  return config.effective?.terminology[key]?.value ?? fallback;
}

/** A household's short reference, as its statements print it. */
export const householdReference = (household: { id: string }) => household.id.slice(-8).toUpperCase();

/** The address as lines: the record keeps one text, with line breaks or commas. */
function addressLines(household: CarerHousehold): string[] {
  const lines = (household.address ?? '')
    .split(/\r?\n|,/)
    .map((l) => l.trim())
    .filter(Boolean);
  if (household.postcode) lines.push(household.postcode);
  return lines;
}

async function applicants(ctx: TenantScope, household: CarerHousehold): Promise<string[]> {
  const members = await CarerHouseholdMember.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, household_id: household.id, role: 'applicant' })
    .whereNull('left_on')
    .orderBy(['created_at', 'id']);
  return members.map((m) => m.name);
}

const joinNames = (names: string[]) =>
  names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;

async function userName(ctx: TenantScope, id: string | null | undefined): Promise<string> {
  if (!id) return '';
  const row = (await ctx.trx('users').where({ tenant_id: ctx.tenantId, id }).first('display_name')) as
    { display_name: string } | undefined;
  return row?.display_name ?? '';
}

async function householdParty(ctx: TenantScope, household: CarerHousehold) {
  const names = await applicants(ctx, household);
  const display = names.length ? joinNames(names) : household.name;
  return {
    names: display,
    salutation: names.length ? joinNames(names.map((n) => n.split(/\s+/)[0]!)) : household.name,
    addressLines: addressLines(household),
    reference: householdReference(household),
  };
}

/** The step that approved the household: the one its terms name, else the first into the approved state. */
async function approvalOf(ctx: TenantScope, household: CarerHousehold) {
  const terms = await CarerApprovalTerms.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, household_id: household.id })
    .orderBy([
      { column: 'effective_from', order: 'desc' },
      { column: 'created_at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ])
    .first();
  if (!terms || !household.approvedState)
    throw new Problem('conflict', `The household ${household.name} has no approval to write a letter of`);
  const steps = await CarerApprovalStep.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, household_id: household.id })
    .orderBy(['occurred_on', 'created_at', 'id']);
  const step =
    steps.find((s) => terms.stepId && s.id === terms.stepId) ??
    steps.find((s) => s.toState === household.approvedState) ??
    null;
  const decisions = await CarerDecision.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, household_id: household.id })
    .orderBy(['decided_on', 'created_at', 'id']);
  const decision =
    decisions.find((d) => terms.decisionId && d.id === terms.decisionId) ??
    decisions.find((d) => step?.decisionId && d.id === step.decisionId) ??
    null;
  const recommendation = [...decisions].reverse().find((d) => d.key === 'panel_recommendation' && d.panelId) ?? null;
  const panel = recommendation
    ? await CarerPanel.query(ctx.trx).where({ tenant_id: ctx.tenantId, id: recommendation.panelId }).first()
    : undefined;
  return { terms, step, steps, decision, panelDate: panel?.panelDate ?? recommendation?.decidedOn ?? null };
}

function kindLabels(kinds: string[]): string[] {
  return kinds.map((k) => {
    const words = k.replace(/_/g, ' ');
    return words.charAt(0).toUpperCase() + words.slice(1);
  });
}

export async function approvalLetterView(
  ctx: TenantScope,
  tenant: Tenant,
  config: TenantConfiguration,
  household: CarerHousehold,
): Promise<BuiltView> {
  const { terms, step, decision, panelDate } = await approvalOf(ctx, household);
  const decidedOn = decision?.decidedOn ?? step?.occurredOn ?? terms.effectiveFrom;
  const party = await householdParty(ctx, household);
  const decisionMaker = await userName(ctx, decision?.recordedBy ?? step?.actorId);
  const worker = await userName(ctx, household.supervisingWorkerId);
  const placementTypes = kindLabels(terms.placementKinds ?? []);
  const conditions = terms.notes ?? '';
  const reference = `${tenant.currency === 'GBP' ? 'FC' : 'RF'}-${party.reference}`;
  const service = { name: tenant.name, addressLines: [] as string[], contact: tenant.name };
  const annualDue = new Date(`${terms.effectiveFrom}T00:00:00Z`);
  annualDue.setUTCFullYear(annualDue.getUTCFullYear() + 1);
  const view = {
    reference,
    letterDate: day(tenant, decidedOn),
    letterDateIso: decidedOn,
    service,
    agency: { name: tenant.name, address: [] as string[], phone: '' },
    carer: { names: party.names, salutation: party.salutation, addressLines: party.addressLines },
    family: { names: party.names, address: party.addressLines, reference },
    terms: {
      carers: term(config, 'carers', 'carers'),
      approvalBody: term(config, 'approvalBody', 'panel'),
      decisionMaker: term(config, 'decisionMaker', 'decision maker'),
      supervisingWorker: term(
        config,
        'supervisingWorker',
        term(config, 'supervisingSocialWorker', 'supervising worker'),
      ),
      approvalTerms: term(config, 'approvalTerms', 'terms of approval'),
    },
    panel: { date: day(tenant, panelDate) },
    decision: { date: day(tenant, decidedOn), decisionMakerName: decisionMaker },
    approval: {
      numberOfChildren: terms.maxChildren,
      numberOfChildrenIsOne: terms.maxChildren === 1,
      minAge: terms.ageMin,
      maxAge: terms.ageMax,
      placementTypes,
      namedChildren: [] as string[],
      conditions,
      effectiveDate: day(tenant, terms.effectiveFrom),
      capacity: terms.maxChildren,
      ageRange: `${terms.ageMin} to ${terms.ageMax} years`,
      sex: 'any',
      levelsOfCare: terms.carerLevel ? [terms.carerLevel] : [],
      siblingGroups: terms.maxChildren > 1,
      annualUpdateDue: day(tenant, annualDue.toISOString().slice(0, 10)),
    },
    supervisingWorker: { name: worker },
    worker: { name: worker, title: term(config, 'supervisingSocialWorker', 'Supervising worker'), phone: '' },
    supervisor: { name: decisionMaker, title: term(config, 'decisionMaker', 'Decision maker') },
  };
  return { view, madeAt: decidedOn, reference };
}

/** The latest completed review: a step back into the approved state after the approval itself. */
export async function reviewReportView(
  ctx: TenantScope,
  tenant: Tenant,
  config: TenantConfiguration,
  household: CarerHousehold,
): Promise<BuiltView> {
  const { terms, step: approval, steps } = await approvalOf(ctx, household);
  const reviews = steps.filter((s) => s.toState === household.approvedState && s.id !== approval?.id);
  const review = reviews[reviews.length - 1];
  if (!review) throw new Problem('conflict', `The household ${household.name} has no completed review to report`);
  const previous = reviews.length > 1 ? reviews[reviews.length - 2]!.occurredOn : (approval?.occurredOn ?? null);
  const decision = review.decisionId
    ? await CarerDecision.query(ctx.trx).where({ tenant_id: ctx.tenantId, id: review.decisionId }).first()
    : undefined;
  const party = await householdParty(ctx, household);
  const reference = `REV-${party.reference}-${reviews.length}`;
  const view = {
    reference,
    service: { name: tenant.name, addressLines: [] as string[], contact: tenant.name },
    terms: {
      carers: term(config, 'carers', 'carers'),
      carerReview: term(config, 'carerReview', term(config, 'annualReview', 'annual review')),
      supervisingWorker: term(
        config,
        'supervisingWorker',
        term(config, 'supervisingSocialWorker', 'supervising worker'),
      ),
      approvalTerms: term(config, 'approvalTerms', 'terms of approval'),
    },
    carer: { names: party.names, reference: party.reference, addressLines: party.addressLines },
    review: {
      number: reviews.length,
      date: day(tenant, review.occurredOn),
      dateIso: review.occurredOn,
      periodFrom: day(tenant, previous),
      periodTo: day(tenant, review.occurredOn),
      reviewer: await userName(ctx, decision?.recordedBy ?? review.actorId),
      outcome: decision?.outcome ?? 'Approval continues',
      reasons: decision?.reasons ?? review.note ?? '',
    },
    approval: {
      numberOfChildren: terms.maxChildren,
      minAge: terms.ageMin,
      maxAge: terms.ageMax,
      placementTypes: kindLabels(terms.placementKinds ?? []),
      level: terms.carerLevel ?? '',
    },
    supervisingWorker: { name: await userName(ctx, household.supervisingWorkerId) },
  };
  return { view, madeAt: review.occurredOn, reference };
}

export async function placementAgreementView(
  ctx: TenantScope,
  tenant: Tenant,
  config: TenantConfiguration,
  placement: Placement,
  household: CarerHousehold,
): Promise<BuiltView> {
  // The placement was found through the fence, so its child is one the caller may see.
  const child = await Child.query(ctx.trx).where({ tenant_id: ctx.tenantId, id: placement.childId }).first();
  if (!child) throw Problem.notFound('placement');
  const party = await householdParty(ctx, household);
  const childName = `${child.preferredName ?? child.givenName} ${child.familyName}`;
  const worker = await userName(ctx, household.supervisingWorkerId);
  const socialWorker = await userName(ctx, child.allocatedWorkerId);
  const type = placement.placementType ?? placement.kind.replace(/_/g, ' ');
  const reference = `PA-${placement.id.slice(-8).toUpperCase()}`;
  const view = {
    reference,
    service: { name: tenant.name },
    agency: { name: tenant.name, caseworker: socialWorker, phone: '', afterHoursPhone: '' },
    terms: {
      carers: term(config, 'carers', 'carers'),
      supervisingWorker: term(
        config,
        'supervisingWorker',
        term(config, 'supervisingSocialWorker', 'Supervising worker'),
      ),
    },
    child: {
      name: childName,
      dateOfBirth: day(tenant, child.dateOfBirth),
      legalStatus: '',
      socialWorker,
    },
    carer: { names: party.names, addressLines: party.addressLines, supervisingWorker: worker },
    family: { names: party.names, reference: party.reference },
    placement: {
      startDate: day(tenant, placement.startDate),
      type,
      setting: type,
      purpose: placement.kind.replace(/_/g, ' '),
      expectedEndDate: day(tenant, placement.plannedEndDate),
      levelOfCare: household.carerLevel ?? '',
      emergency: placement.kind === 'emergency',
    },
    arrangements: { health: '', education: '', contact: [] as unknown[], identityAndCulture: '' },
    delegatedAuthority: [] as unknown[],
    // What is paid is the payment run's to say, from the rates on each night; the agreement does not quote a figure.
    finance: { allowance: '', fee: '', schedule: '' },
    rate: { amount: '', period: '', basis: '' },
    responsibilities: {
      medicalConsent: '',
      education: '',
      familyTime: '',
      reporting: '',
      reasonableAndPrudentParent: '',
    },
    signatures: [
      ...(await applicants(ctx, household)).map((name) => ({
        role: term(config, 'carer', 'Carer'),
        name,
        date: '',
      })),
      ...(socialWorker ? [{ role: term(config, 'childsWorker', 'Caseworker'), name: socialWorker, date: '' }] : []),
    ],
  };
  return { view, madeAt: placement.startDate, reference };
}
