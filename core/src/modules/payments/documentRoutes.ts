import {
  documentResult,
  formatDocumentDate,
  formatMoney,
  type RemittanceView,
  type StatementView,
} from '../../documents';
import { defineOperations, type OperationResult, type TenantContext, type TenantScope } from '../../http/operation';
import { Problem } from '../../http/problem';
import type { CarerHousehold } from '../carers/models';
import { findHousehold } from '../carers/shared';
import { hiddenRecords, namesHidden, WITHHELD_NAME } from '../children/visibility';
import { tenantConfiguration, type TenantConfiguration } from '../configuration/tenantConfiguration';
import { PaymentLine, type PaymentRun } from './models';
import { CALCULATED_STATUSES, FINAL_STATUSES } from './rows';
import { findRun } from './runs';
import type { Currency } from './shared';

/** Lines as a document shows them: a child by initials, never by name. */
type DocumentLine = PaymentLine & { initials: string | null };

/**
 * The components a statement has columns for: every one the tenant's nightly rules can pay, in the
 * rules' order, whether or not this household has a line of it (a UK statement always shows
 * allowance and fee side by side), then any other a line of the run carries.
 */
function statementComponents(config: TenantConfiguration, lines: DocumentLine[]): string[] {
  const found = config.effective?.rates.find((r) => r.key === 'placement-rules')?.value;
  const rules = found?.kind === 'rules' ? found : undefined;
  const fromRules = (rules?.rules ?? []).map((r) => r.event.params.component);
  return [...new Set([...fromRules, ...lines.filter((l) => l.kind === 'rate').map((l) => l.component)])];
}

/** The pack's word for a component where it has one (`allowance`, `fee`), else the component in words. */
export function componentLabel(config: TenantConfiguration, component: string): string {
  const term = config.effective?.terminology[component]?.value;
  const words = term ?? component.replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** A household's short reference: the end of its id (a UUID v7 begins with its creation time, shared by households made together). */
export const householdReference = (household: CarerHousehold) => household.id.slice(-8).toUpperCase();

function reference(run: PaymentRun, household: CarerHousehold): string {
  return `${run.reference}-${householdReference(household)}`;
}

/** Which run, which household, and which of a run's documents: a remittance advice is for a finalised run only. */
interface DocumentRequest {
  runId: string;
  householdId: string;
  finalOnly: boolean;
}

/**
 * A household's lines of a run's current calculation, each child by initials, a restricted child's
 * name withheld from whoever is not named on the record (its lines stay: the money is the household's);
 * not found where the run paid the household nothing. Statements and remittances, on request or
 * generated into a document, read them here.
 */
export async function householdLines(ctx: TenantScope, run: PaymentRun, householdId: string): Promise<DocumentLine[]> {
  const lines = await PaymentLine.query(ctx.trx)
    .alias('l')
    .leftJoin('children as c', function joinChild() {
      this.on('c.tenant_id', 'l.tenant_id').andOn('c.id', 'l.child_id');
    })
    .where({
      'l.tenant_id': ctx.tenantId,
      'l.run_id': run.id,
      'l.calculation': run.calculationNumber,
      'l.household_id': householdId,
    })
    .orderBy('l.position')
    .select(
      'l.*',
      ctx.trx.raw("upper(left(c.given_name, 1)) || '. ' || upper(left(c.family_name, 1)) || '.' AS initials"),
    )
    .castTo<DocumentLine[]>();
  if (!lines.length) throw Problem.notFound(`A payment to this household in ${run.reference}`);
  const hidden = await hiddenRecords(ctx);
  for (const line of lines) if (namesHidden(hidden, line)) line.initials = WITHHELD_NAME;
  return lines;
}

async function documentInputs(
  ctx: TenantContext<'getCarerStatement' | 'getRemittanceAdvice'>,
  request: DocumentRequest,
) {
  const run = await findRun(ctx, request.runId);
  if (!(request.finalOnly ? FINAL_STATUSES : CALCULATED_STATUSES).includes(run.status)) {
    throw new Problem(
      'conflict',
      request.finalOnly
        ? `A remittance advice is for a finalised run; ${run.reference} is ${run.status}`
        : `The run ${run.reference} is ${run.status}: calculate it first`,
    );
  }
  const household = await findHousehold(ctx, request.householdId);
  const lines = await householdLines(ctx, run, household.id);
  const tenant = await tenantOf(ctx);
  const config = await tenantConfiguration(ctx.trx, ctx.tenantId, ctx.services.packs, run.paymentDate);
  return { run, household, lines, tenant, config };
}

async function tenantOf(ctx: TenantScope): Promise<{ name: string; currency: Currency }> {
  return ctx.trx('tenants').where({ id: ctx.tenantId }).first<{ name: string; currency: Currency }>('name', 'currency');
}

/** What one household is paid in a run, in the shape every pack's statement template reads. */
export function statementView(
  run: PaymentRun,
  household: CarerHousehold,
  lines: DocumentLine[],
  tenant: { name: string; currency: Currency },
  config: TenantConfiguration,
): StatementView {
  const money = (minor: number) => formatMoney(minor, tenant.currency);
  const day = (iso: string) => formatDocumentDate(iso, tenant.currency, 'short');
  const rates = lines.filter((l) => l.kind === 'rate');
  const components = statementComponents(config, lines);
  // One row per child and date range, with each component's amount beside the others.
  const rows = new Map<string, { line: DocumentLine; amounts: Map<string, number> }>();
  for (const l of rates) {
    const key = `${l.placementId}|${l.periodStart}|${l.periodEnd}`;
    const row = rows.get(key) ?? rows.set(key, { line: l, amounts: new Map() }).get(key)!;
    row.amounts.set(l.component, (row.amounts.get(l.component) ?? 0) + Number(l.amount));
  }
  const sum = (list: DocumentLine[]) => list.reduce((s, l) => s + Number(l.amount), 0);
  const extras = lines.filter((l) => l.kind === 'extra');
  const claims = lines.filter((l) => l.kind === 'claim');
  const corrections = lines.filter((l) => l.kind === 'arrears' || l.kind === 'recovery' || l.kind === 'adjustment');
  return {
    service: { name: tenant.name, addressLines: [], contact: tenant.name },
    statement: {
      reference: reference(run, household),
      paymentDate: formatDocumentDate(run.paymentDate, tenant.currency),
      paymentDateIso: run.paymentDate,
    },
    period: {
      start: formatDocumentDate(run.periodStart, tenant.currency),
      startIso: run.periodStart,
      end: formatDocumentDate(run.periodEnd, tenant.currency),
      endIso: run.periodEnd,
    },
    carer: { names: household.name, reference: householdReference(household) },
    components: components.map((key) => ({ key, label: componentLabel(config, key) })),
    lines: [...rows.values()].map(({ line, amounts }) => ({
      child: line.initials ?? '',
      from: day(line.periodStart!),
      to: day(line.periodEnd!),
      nights: line.nights,
      description: line.description,
      amounts: Object.fromEntries(components.map((c) => [c, money(amounts.get(c) ?? 0)])),
      total: money([...amounts.values()].reduce((s, a) => s + a, 0)),
    })),
    extras: extras.map((l) => ({
      child: l.initials ?? '',
      description: l.description,
      amount: money(Number(l.amount)),
    })),
    expenses: claims.map((l) => ({
      date: l.periodEnd ? day(l.periodEnd) : '',
      description: l.description,
      amount: money(Number(l.amount)),
    })),
    adjustments: corrections.map((l) => ({ description: l.description, amount: money(Number(l.amount)) })),
    totals: {
      amounts: Object.fromEntries(components.map((c) => [c, money(sum(rates.filter((l) => l.component === c)))])),
      lines: money(sum(rates)),
      extras: money(sum(extras)),
      expenses: money(sum(claims)),
      adjustments: money(sum(corrections)),
      total: money(sum(lines)),
    },
    ...(FINAL_STATUSES.includes(run.status)
      ? {}
      : {
          notes: [
            `Draft: run ${run.reference} is ${run.status}, not yet finalised; amounts may change before it is paid.`,
          ],
        }),
  };
}

/** The payment itself: one line per component, as the bank transfer is made up. */
export function remittanceView(
  run: PaymentRun,
  household: CarerHousehold,
  lines: DocumentLine[],
  tenant: { name: string; currency: Currency },
  config: TenantConfiguration,
): RemittanceView {
  const money = (minor: number) => formatMoney(minor, tenant.currency);
  const byComponent = new Map<string, number>();
  for (const l of lines) byComponent.set(l.component, (byComponent.get(l.component) ?? 0) + Number(l.amount));
  const period = `${formatDocumentDate(run.periodStart, tenant.currency, 'short')} to ${formatDocumentDate(run.periodEnd, tenant.currency, 'short')}`;
  return {
    service: { name: tenant.name, addressLines: [], contact: tenant.name },
    remittance: {
      reference: `RA-${reference(run, household)}`,
      paymentRun: run.reference,
      paymentDate: formatDocumentDate(run.paymentDate, tenant.currency),
      paymentDateIso: run.paymentDate,
      method: 'Bank transfer',
    },
    // Hearth holds no bank details; the finance system that makes the payment adds them to its own advice.
    payee: { name: household.name, reference: householdReference(household), accountEnding: '', sortCodeEnding: null },
    lines: [...byComponent].map(([component, amount]) => ({
      reference: reference(run, household),
      description: componentLabel(config, component),
      period,
      amount: money(amount),
    })),
    total: money(lines.reduce((s, l) => s + Number(l.amount), 0)),
  };
}

async function getCarerStatement(ctx: TenantContext<'getCarerStatement'>): Promise<OperationResult> {
  const { run, household, lines, tenant, config } = await documentInputs(ctx, {
    runId: ctx.params.runId,
    householdId: ctx.params.householdId,
    finalOnly: false,
  });
  const view = statementView(run, household, lines, tenant, config);
  // A statement's PDF is dated by the calculation it shows, so rendering it again gives the same bytes.
  return documentResult(config, 'statement', view, {
    format: ctx.query.format ?? 'html',
    currency: tenant.currency,
    title: `Statement ${view.statement.reference}`,
    filename: `statement-${view.statement.reference}`,
    madeAt: run.calculatedAt ?? run.createdAt,
  });
}

async function getRemittanceAdvice(ctx: TenantContext<'getRemittanceAdvice'>): Promise<OperationResult> {
  const { run, household, lines, tenant, config } = await documentInputs(ctx, {
    runId: ctx.params.runId,
    householdId: ctx.params.householdId,
    finalOnly: true,
  });
  const view = remittanceView(run, household, lines, tenant, config);
  return documentResult(config, 'remittance', view, {
    format: ctx.query.format ?? 'html',
    currency: tenant.currency,
    title: `Remittance advice ${view.remittance.reference}`,
    filename: `remittance-${view.remittance.reference}`,
    madeAt: run.finalisedAt!,
  });
}

export const documentOperations = defineOperations({
  getCarerStatement: { access: { permission: 'payments:read' }, handle: getCarerStatement },
  getRemittanceAdvice: { access: { permission: 'payments:read' }, handle: getRemittanceAdvice },
});
