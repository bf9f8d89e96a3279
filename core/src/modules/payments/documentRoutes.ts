import { documentResult, formatDocumentDate, formatMoney, type RemittanceView, type StatementView } from '../../documents';
import type { OperationContext, OperationMap, OperationResult } from '../../http/operation';
import { Problem } from '../../http/problem';
import { hiddenRecords, namesHidden, ROW_KEYS, WITHHELD_NAME } from '../children/visibility';
import { tenantConfiguration, type TenantConfiguration } from '../configuration/tenantConfiguration';
import type { RateRules } from '../../packs/types';
import { CALCULATED_STATUSES, FINAL_STATUSES, type LineRow, type RunRow } from './rows';

type Currency = 'GBP' | 'USD';

interface Household { id: string; name: string }

/** Lines as a document shows them: a child by initials, never by name. */
type DocumentLine = LineRow & { initials: string | null };


/**
 * The components a statement has columns for: every one the tenant's nightly rules can pay, in the
 * rules' order, whether or not this household has a line of it (a UK statement always shows
 * allowance and fee side by side), then any other a line of the run carries.
 */
function statementComponents(config: TenantConfiguration, lines: DocumentLine[]): string[] {
  const rules = config.effective?.rates.find((r) => r.key === 'placement-rules')?.value as unknown as RateRules | undefined;
  const fromRules = (rules?.rules ?? []).map((r) => r.event.params.component);
  return [...new Set([...fromRules, ...lines.filter((l) => l.kind === 'rate').map((l) => l.component)])];
}

/** The pack's word for a component where it has one (`allowance`, `fee`), else the component in words. */
function componentLabel(config: TenantConfiguration, component: string): string {
  const term = config.effective?.terminology[component]?.value;
  const words = term ?? component.replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** A household's short reference: the end of its id (a UUID v7 begins with its creation time, shared by households made together). */
const householdReference = (household: Household) => household.id.slice(-8).toUpperCase();

function reference(run: RunRow, household: Household): string {
  return `${run.reference}-${householdReference(household)}`;
}

const formatOf = (ctx: OperationContext) => (ctx.query.format as 'html' | 'pdf' | undefined) ?? 'html';

async function documentInputs(ctx: OperationContext, finalOnly: boolean) {
  const run = (await ctx.trx('payment_runs').where({ tenant_id: ctx.tenantId, id: ctx.params.runId }).first()) as RunRow | undefined;
  if (!run) throw Problem.notFound('The payment run');
  if (!(finalOnly ? FINAL_STATUSES : CALCULATED_STATUSES).includes(run.status)) throw new Problem('conflict', finalOnly ? `A remittance advice is for a finalised run; ${run.reference} is ${run.status}` : `The run ${run.reference} is ${run.status}: calculate it first`);
  const household = (await ctx.trx('carer_households').where({ tenant_id: ctx.tenantId, id: ctx.params.householdId }).first('id', 'name')) as Household | undefined;
  if (!household) throw Problem.notFound('The carer household');
  const lines = (await ctx.trx('payment_lines as l')
    .leftJoin('children as c', function joinChild() { this.on('c.tenant_id', 'l.tenant_id').andOn('c.id', 'l.child_id'); })
    .where({ 'l.tenant_id': ctx.tenantId, 'l.run_id': run.id, 'l.calculation': run.calculation_number, 'l.household_id': household.id })
    .orderBy('l.position')
    .select('l.*', ctx.trx.raw("upper(left(c.given_name, 1)) || '. ' || upper(left(c.family_name, 1)) || '.' AS initials"))) as DocumentLine[];
  if (!lines.length) throw Problem.notFound(`A payment to this household in ${run.reference}`);
  // A restricted child's lines stay on the household's document, the child named to no one not named on the record.
  const hidden = await hiddenRecords(ctx);
  for (const line of lines) if (namesHidden(hidden, line, ROW_KEYS)) line.initials = WITHHELD_NAME;
  const tenant = (await ctx.trx('tenants').where({ id: ctx.tenantId }).first('name', 'currency')) as { name: string; currency: Currency };
  const config = await tenantConfiguration(ctx.trx, ctx.tenantId!, ctx.services.packs, run.payment_date);
  return { run, household, lines, tenant, config };
}

/** What one household is paid in a run, in the shape every pack's statement template reads. */
export function statementView(run: RunRow, household: Household, lines: DocumentLine[], tenant: { name: string; currency: Currency }, config: TenantConfiguration): StatementView {
  const money = (minor: number) => formatMoney(minor, tenant.currency);
  const day = (iso: string) => formatDocumentDate(iso, tenant.currency, 'short');
  const rates = lines.filter((l) => l.kind === 'rate');
  const components = statementComponents(config, lines);
  // One row per child and date range, with each component's amount beside the others.
  const rows = new Map<string, { line: DocumentLine; amounts: Map<string, number> }>();
  for (const l of rates) {
    const key = `${l.placement_id}|${l.period_start}|${l.period_end}`;
    const row = rows.get(key) ?? rows.set(key, { line: l, amounts: new Map() }).get(key)!;
    row.amounts.set(l.component, (row.amounts.get(l.component) ?? 0) + Number(l.amount));
  }
  const sum = (list: DocumentLine[]) => list.reduce((s, l) => s + Number(l.amount), 0);
  const extras = lines.filter((l) => l.kind === 'extra');
  const claims = lines.filter((l) => l.kind === 'claim');
  const corrections = lines.filter((l) => l.kind === 'arrears' || l.kind === 'recovery' || l.kind === 'adjustment');
  return {
    service: { name: tenant.name, addressLines: [], contact: tenant.name },
    statement: { reference: reference(run, household), paymentDate: formatDocumentDate(run.payment_date, tenant.currency), paymentDateIso: run.payment_date },
    period: { start: formatDocumentDate(run.period_start, tenant.currency), startIso: run.period_start, end: formatDocumentDate(run.period_end, tenant.currency), endIso: run.period_end },
    carer: { names: household.name, reference: householdReference(household) },
    components: components.map((key) => ({ key, label: componentLabel(config, key) })),
    lines: [...rows.values()].map(({ line, amounts }) => ({
      child: line.initials ?? '',
      from: day(line.period_start!),
      to: day(line.period_end!),
      nights: line.nights,
      description: line.description,
      amounts: Object.fromEntries(components.map((c) => [c, money(amounts.get(c) ?? 0)])),
      total: money([...amounts.values()].reduce((s, a) => s + a, 0)),
    })),
    extras: extras.map((l) => ({ child: l.initials ?? '', description: l.description, amount: money(Number(l.amount)) })),
    expenses: claims.map((l) => ({ date: l.period_end ? day(l.period_end) : '', description: l.description, amount: money(Number(l.amount)) })),
    adjustments: corrections.map((l) => ({ description: l.description, amount: money(Number(l.amount)) })),
    totals: {
      amounts: Object.fromEntries(components.map((c) => [c, money(sum(rates.filter((l) => l.component === c)))])),
      lines: money(sum(rates)),
      extras: money(sum(extras)),
      expenses: money(sum(claims)),
      adjustments: money(sum(corrections)),
      total: money(sum(lines)),
    },
    ...(FINAL_STATUSES.includes(run.status) ? {} : { notes: [`Draft: run ${run.reference} is ${run.status}, not yet finalised; amounts may change before it is paid.`] }),
  };
}

/** The payment itself: one line per component, as the bank transfer is made up. */
export function remittanceView(run: RunRow, household: Household, lines: DocumentLine[], tenant: { name: string; currency: Currency }, config: TenantConfiguration): RemittanceView {
  const money = (minor: number) => formatMoney(minor, tenant.currency);
  const byComponent = new Map<string, number>();
  for (const l of lines) byComponent.set(l.component, (byComponent.get(l.component) ?? 0) + Number(l.amount));
  const period = `${formatDocumentDate(run.period_start, tenant.currency, 'short')} to ${formatDocumentDate(run.period_end, tenant.currency, 'short')}`;
  return {
    service: { name: tenant.name, addressLines: [], contact: tenant.name },
    remittance: { reference: `RA-${reference(run, household)}`, paymentRun: run.reference, paymentDate: formatDocumentDate(run.payment_date, tenant.currency), paymentDateIso: run.payment_date, method: 'Bank transfer' },
    // Hearth holds no bank details; the finance system that makes the payment adds them to its own advice.
    payee: { name: household.name, reference: householdReference(household), accountEnding: '', sortCodeEnding: null },
    lines: [...byComponent].map(([component, amount]) => ({ reference: reference(run, household), description: componentLabel(config, component), period, amount: money(amount) })),
    total: money(lines.reduce((s, l) => s + Number(l.amount), 0)),
  };
}

async function getCarerStatement(ctx: OperationContext): Promise<OperationResult> {
  const { run, household, lines, tenant, config } = await documentInputs(ctx, false);
  const view = statementView(run, household, lines, tenant, config);
  // A statement's PDF is dated by the calculation it shows, so rendering it again gives the same bytes.
  return documentResult(config, 'statement', view, { format: formatOf(ctx), currency: tenant.currency, title: `Statement ${view.statement.reference}`, filename: `statement-${view.statement.reference}`, madeAt: run.calculated_at ?? run.created_at });
}

async function getRemittanceAdvice(ctx: OperationContext): Promise<OperationResult> {
  const { run, household, lines, tenant, config } = await documentInputs(ctx, true);
  const view = remittanceView(run, household, lines, tenant, config);
  return documentResult(config, 'remittance', view, { format: formatOf(ctx), currency: tenant.currency, title: `Remittance advice ${view.remittance.reference}`, filename: `remittance-${view.remittance.reference}`, madeAt: run.finalised_at! });
}

export const documentOperations: OperationMap = {
  getCarerStatement: { access: { permission: 'payments:read' }, handle: getCarerStatement },
  getRemittanceAdvice: { access: { permission: 'payments:read' }, handle: getRemittanceAdvice },
};
