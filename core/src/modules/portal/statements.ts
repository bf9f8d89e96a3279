import { documentResult, formatDocumentDate, formatMoney, type AnnualStatementView } from '../../documents';
import type { OperationResult, TenantContext, TenantScope } from '../../http/operation';
import { Problem } from '../../http/problem';
import { ok } from '../../http/results';
import { findHousehold } from '../carers/shared';
import { tenantConfiguration } from '../configuration/tenantConfiguration';
import {
  componentLabel,
  householdLines,
  householdReference,
  remittanceView,
  statementView,
} from '../payments/documentRoutes';
import { FINAL_STATUSES } from '../payments/rows';
import { findRun } from '../payments/runs';
import { auditChildAccess } from './access';
import { carerOf, portalSettings, requireFeature } from './settings';

/**
 * The household's payment documents from the portal: the staff's own views and the tenant's own
 * templates, for a finalised run that paid the household only (any other run is not found: the
 * portal's role sees no other). Each names the children paid for (by initials), so each is audited
 * as an access.
 */
async function paidDocumentInputs(ctx: TenantScope, runId: string) {
  const carer = carerOf(ctx);
  requireFeature(await portalSettings(ctx), 'money');
  const run = await findRun(ctx, runId);
  if (!FINAL_STATUSES.includes(run.status)) throw Problem.notFound('The payment run');
  const household = await findHousehold(ctx, carer.householdId);
  const lines = await householdLines(ctx, run, household.id);
  const tenant = await ctx
    .trx('tenants')
    .where({ id: ctx.tenantId })
    .first<{ name: string; currency: 'GBP' | 'USD' }>('name', 'currency');
  const config = await tenantConfiguration(ctx.trx, ctx.tenantId, ctx.services.packs, run.paymentDate);
  await auditChildAccess(
    ctx,
    { type: 'payment_run', id: run.id },
    lines.filter((l) => l.childId).map((l) => ({ childId: l.childId!, group: 'name' })),
  );
  return { run, household, lines, tenant, config };
}

async function getPortalRemittanceAdvice(ctx: TenantContext<'getPortalRemittanceAdvice'>): Promise<OperationResult> {
  const { run, household, lines, tenant, config } = await paidDocumentInputs(ctx, ctx.params.runId);
  const view = remittanceView(run, household, lines, tenant, config);
  const result = await documentResult(config, 'remittance', view, {
    format: ctx.query.format ?? 'html',
    currency: tenant.currency,
    title: `Remittance advice ${view.remittance.reference}`,
    filename: `remittance-${view.remittance.reference}`,
    madeAt: run.finalisedAt!,
  });
  // Its access is audited: this is a write like any other.
  return { ...result, noWrite: false };
}

async function getPortalPaymentStatement(ctx: TenantContext<'getPortalPaymentStatement'>): Promise<OperationResult> {
  const { run, household, lines, tenant, config } = await paidDocumentInputs(ctx, ctx.params.runId);
  const view = statementView(run, household, lines, tenant, config);
  const result = await documentResult(config, 'statement', view, {
    format: ctx.query.format ?? 'html',
    currency: tenant.currency,
    title: `Statement ${view.statement.reference}`,
    filename: `statement-${view.statement.reference}`,
    madeAt: run.calculatedAt ?? run.createdAt,
  });
  return { ...result, noWrite: false };
}

/** A tax year: the UK's from 6 April (GBP tenants), the USA's the calendar year (USD tenants). */
export function taxYear(currency: 'GBP' | 'USD', year: number) {
  return currency === 'GBP'
    ? { year, basis: 'uk_tax_year' as const, from: `${year}-04-06`, to: `${year + 1}-04-05` }
    : { year, basis: 'calendar_year' as const, from: `${year}-01-01`, to: `${year}-12-31` };
}

/** The tax year that holds a day. */
export function taxYearOf(currency: 'GBP' | 'USD', day: string): number {
  const year = Number(day.slice(0, 4));
  return currency === 'GBP' && day < `${year}-04-06` ? year - 1 : year;
}

/** Each calendar month from one day's to another's, as YYYY-MM. */
function monthsBetween(from: string, to: string): string[] {
  const months: string[] = [];
  let [y, m] = [Number(from.slice(0, 4)), Number(from.slice(5, 7))];
  const last = to.slice(0, 7);
  for (;;) {
    const month = `${y}-${String(m).padStart(2, '0')}`;
    months.push(month);
    if (month >= last) return months;
    if (++m > 12) [y, m] = [y + 1, 1];
  }
}

interface PaidRow {
  run_id: string;
  reference: string;
  payment_date: string;
  component: string;
  amount: string | number;
}

/**
 * What finalised runs paid the household in a tax year, by their payment date (the day the money
 * was paid is the day it counts for tax), from each run's final calculation. Names no child, so it
 * reads as any list does.
 */
async function getPortalAnnualStatement(ctx: TenantContext<'getPortalAnnualStatement'>): Promise<OperationResult> {
  const carer = carerOf(ctx);
  const settings = await portalSettings(ctx);
  requireFeature(settings, 'money');
  const period = taxYear(settings.currency, ctx.query.year ?? taxYearOf(settings.currency, settings.today));
  const rows = (await ctx
    .trx('payment_lines as l')
    .join('payment_runs as r', function joinRun() {
      this.on('r.tenant_id', 'l.tenant_id').andOn('r.id', 'l.run_id').andOn('r.calculation_number', 'l.calculation');
    })
    .where('l.tenant_id', ctx.tenantId)
    .where('l.household_id', carer.householdId)
    .whereIn('r.status', [...FINAL_STATUSES])
    .whereBetween('r.payment_date', [period.from, period.to])
    .groupBy('l.run_id', 'r.reference', 'r.payment_date', 'l.component')
    .orderBy([{ column: 'r.payment_date' }, { column: 'l.run_id' }, { column: 'l.component' }])
    .select(
      'l.run_id',
      'r.reference',
      'r.payment_date',
      'l.component',
      ctx.trx.raw('sum(l.amount)::bigint AS amount'),
    )) as PaidRow[];
  const config = await tenantConfiguration(ctx.trx, ctx.tenantId, ctx.services.packs);
  const byComponent = new Map<string, number>();
  const byMonth = new Map(monthsBetween(period.from, period.to).map((m) => [m, 0]));
  const byRun = new Map<string, { runId: string; reference: string; paidOn: string; total: number }>();
  for (const r of rows) {
    const amount = Number(r.amount);
    const paidOn = String(r.payment_date);
    byComponent.set(r.component, (byComponent.get(r.component) ?? 0) + amount);
    byMonth.set(paidOn.slice(0, 7), (byMonth.get(paidOn.slice(0, 7)) ?? 0) + amount);
    const run =
      byRun.get(r.run_id) ??
      byRun.set(r.run_id, { runId: r.run_id, reference: r.reference, paidOn, total: 0 }).get(r.run_id)!;
    run.total += amount;
  }
  const statement = {
    ...period,
    currency: settings.currency,
    total: rows.reduce((s, r) => s + Number(r.amount), 0),
    byComponent: [...byComponent].map(([component, amount]) => ({
      component,
      label: componentLabel(config, component),
      amount,
    })),
    byMonth: [...byMonth].map(([month, amount]) => ({ month, amount })),
    runs: [...byRun.values()],
  };
  const format = ctx.query.format ?? 'json';
  if (format === 'json') return ok({ ...statement, runs: statement.runs.map(({ reference: _r, ...run }) => run) });
  const household = await findHousehold(ctx, carer.householdId);
  const tenant = await ctx.trx('tenants').where({ id: ctx.tenantId }).first<{ name: string }>('name');
  const view = annualStatementView(statement, {
    names: household.name,
    reference: householdReference(household),
    service: tenant!.name,
    title: settings.terms.annualStatement,
  });
  return documentResult(config, 'annual_statement', view, {
    format,
    currency: settings.currency,
    title: `${view.statement.title} ${view.carer.reference}`,
    filename: `annual-statement-${period.year}-${view.carer.reference}`,
    // The year's last payment dates it, so rendering it again gives the same bytes.
    madeAt: `${statement.runs.at(-1)?.paidOn ?? period.from}T00:00:00Z`,
  });
}

type AnnualStatement = ReturnType<typeof taxYear> & {
  currency: 'GBP' | 'USD';
  total: number;
  byComponent: Array<{ label: string; amount: number }>;
  byMonth: Array<{ month: string; amount: number }>;
  runs: Array<{ reference: string; paidOn: string; total: number }>;
};

/** The statement as the pack's annual statement template reads it: display strings, the pack's words. */
function annualStatementView(
  statement: AnnualStatement,
  who: { names: string; reference: string; service: string; title: string | undefined },
): AnnualStatementView {
  const { currency } = statement;
  const money = (minor: number) => formatMoney(minor, currency);
  const locale = currency === 'GBP' ? 'en-GB' : 'en-US';
  const monthName = (month: string) =>
    new Date(`${month}-01T00:00:00Z`).toLocaleString(locale, { month: 'long', year: 'numeric', timeZone: 'UTC' });
  const title = who.title ?? 'annual statement of payments';
  return {
    service: { name: who.service, addressLines: [], contact: who.service },
    statement: {
      title: title.charAt(0).toUpperCase() + title.slice(1),
      basis: statement.basis === 'uk_tax_year' ? 'UK tax year, 6 April to 5 April' : 'Calendar year',
      from: formatDocumentDate(statement.from, currency),
      fromIso: statement.from,
      to: formatDocumentDate(statement.to, currency),
      toIso: statement.to,
    },
    carer: { names: who.names, reference: who.reference },
    components: statement.byComponent.map((c) => ({ label: c.label, amount: money(c.amount) })),
    months: statement.byMonth.map((m) => ({ month: monthName(m.month), amount: money(m.amount) })),
    runs: statement.runs.map((r) => ({
      reference: r.reference,
      paidOn: formatDocumentDate(r.paidOn, currency),
      paidOnIso: r.paidOn,
      amount: money(r.total),
    })),
    total: money(statement.total),
  };
}

export const portalStatementOperations = {
  getPortalRemittanceAdvice: { access: { carer: true }, handle: getPortalRemittanceAdvice },
  getPortalPaymentStatement: { access: { carer: true }, handle: getPortalPaymentStatement },
  getPortalAnnualStatement: { access: { carer: true }, handle: getPortalAnnualStatement },
} as const;
