import type { Knex } from 'knex';
import { addDays, addMonths } from '../../dates';
import { iso, todayIn } from '../../time';
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

interface PolicyRow {
  frequency: InvoicingFrequency;
  charge_departure_day: boolean;
  rounding: InvoiceRounding;
  payment_terms_days: number;
  invoice_prefix: string;
  credit_note_prefix: string;
  version: number;
  updated_by: string | null;
  updated_at: Date;
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

export async function invoicingPolicy(trx: Knex.Transaction, tenantId: string, options: { lock?: boolean } = {}): Promise<InvoicingPolicy> {
  const query = trx('invoicing_policies').where({ tenant_id: tenantId }).first();
  if (options.lock) query.forUpdate();
  const row = (await query) as PolicyRow | undefined;
  if (!row) return { ...DEFAULT_POLICY, version: 0, updatedBy: null, updatedAt: null };
  return {
    frequency: row.frequency, chargeDepartureDay: row.charge_departure_day, rounding: row.rounding, paymentTermsDays: row.payment_terms_days,
    invoicePrefix: row.invoice_prefix, creditNotePrefix: row.credit_note_prefix, numberDigits: NUMBER_DIGITS,
    version: row.version, updatedBy: row.updated_by, updatedAt: iso(row.updated_at),
  };
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
export async function tenantForInvoicing(trx: Knex.Transaction, tenantId: string): Promise<{ name: string; currency: 'GBP' | 'USD'; today: string }> {
  const row = (await trx('tenants').where({ id: tenantId }).first('name', 'currency', 'time_zone')) as { name: string; currency: 'GBP' | 'USD'; time_zone: string };
  return { name: row.name, currency: row.currency, today: todayIn(row.time_zone) };
}
