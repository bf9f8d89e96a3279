import { patchVersioned } from '../../db/versioned';
import type { Knex } from 'knex';
import { addDays, addMonths } from '../../dates';
import { iso, todayIn } from '../../time';
import { TenantInvoicingPolicy, type Currency } from './models';
import type { InvoiceRounding } from './pricing';

export type InvoicingFrequency = 'weekly' | 'four_weekly' | 'monthly';

export interface InvoicingPolicy {
  frequency: InvoicingFrequency;
  chargeDepartureDay: boolean;
  rounding: InvoiceRounding;
  paymentTermsDays: number;
  invoicePrefix: string;
  creditNotePrefix: string;
  numberDigits: number;
  version: number;
  updatedBy: string | null;
  updatedAt: string | null;
}

/** Numbers are printed zero-padded to this many digits (INV-000042); longer numbers simply grow. */
export const NUMBER_DIGITS = 6;

/**
 * What applies until a tenant sets its own: weekly, a night charged as for carers' pay (the day of
 * arrival counts, the day of departure does not), each line rounded half up, 30 days to pay.
 */
export const DEFAULT_POLICY: Omit<InvoicingPolicy, 'version' | 'updatedBy' | 'updatedAt'> = {
  frequency: 'weekly',
  chargeDepartureDay: false,
  rounding: 'half_up_per_line',
  paymentTermsDays: 30,
  invoicePrefix: 'INV-',
  creditNotePrefix: 'CN-',
  numberDigits: NUMBER_DIGITS,
};

/** The tenant's policy (its defaults until it sets one, at version 0); `lock` takes the row's lock for a write. */
export async function invoicingPolicy(
  trx: Knex.Transaction,
  tenantId: string,
  options: { lock?: boolean } = {},
): Promise<InvoicingPolicy> {
  const query = TenantInvoicingPolicy.query(trx).where('tenant_id', tenantId).first();
  if (options.lock) query.forUpdate();
  const row = await query;
  if (!row) return { ...DEFAULT_POLICY, version: 0, updatedBy: null, updatedAt: null };
  return {
    frequency: row.frequency,
    chargeDepartureDay: row.chargeDepartureDay,
    rounding: row.rounding,
    paymentTermsDays: row.paymentTermsDays,
    invoicePrefix: row.invoicePrefix,
    creditNotePrefix: row.creditNotePrefix,
    numberDigits: NUMBER_DIGITS,
    version: row.version,
    updatedBy: row.updatedBy,
    updatedAt: iso(row.updatedAt),
  };
}

export type PolicySettings = Pick<
  InvoicingPolicy,
  'frequency' | 'chargeDepartureDay' | 'rounding' | 'paymentTermsDays' | 'invoicePrefix' | 'creditNotePrefix'
>;

/**
 * Writes the tenant's policy over `before` (read under lock): its first write inserts the row at
 * version 1, later ones move the version on (the table is keyed by the tenant alone).
 */
export async function saveInvoicingPolicy(
  trx: Knex.Transaction,
  tenantId: string,
  input: { before: InvoicingPolicy; settings: PolicySettings; updatedBy: string | null },
): Promise<void> {
  const { before, settings, updatedBy } = input;
  const changes = { ...settings, updatedBy, updatedAt: trx.fn.now() };
  if (before.version === 0) await TenantInvoicingPolicy.query(trx).insert({ tenantId, ...changes, version: 1 });
  else
    await patchVersioned<TenantInvoicingPolicy>(trx, TenantInvoicingPolicy, before, changes, { tenant_id: tenantId });
}

/** The last night of one invoicing period that starts on `start`. */
export function periodEndFor(start: string, frequency: InvoicingFrequency): string {
  if (frequency === 'weekly') return addDays(start, 6);
  if (frequency === 'four_weekly') return addDays(start, 27);
  return addDays(addMonths(start, 1), -1);
}

export function printedNumber(prefix: string, number: number): string {
  return `${prefix}${String(number).padStart(NUMBER_DIGITS, '0')}`;
}

/** What a document needs of its tenant: the name it is issued in, its currency and today where it is. */
export async function tenantForInvoicing(
  trx: Knex.Transaction,
  tenantId: string,
): Promise<{ name: string; currency: Currency; today: string }> {
  const row: { name: string; currency: Currency; time_zone: string } = await trx('tenants')
    .where({ id: tenantId })
    .first('name', 'currency', 'time_zone');
  return { name: row.name, currency: row.currency, today: todayIn(row.time_zone) };
}
