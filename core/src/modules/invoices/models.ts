import { TenantModel } from '../../db/baseModel';
import type { FeePeriod, InvoiceRounding } from './pricing';

/**
 * The invoices module's tables. Issued invoices, credit notes and their lines, and placement fees are
 * append-only (the database refuses UPDATE and DELETE of them); drafts change freely until issued.
 * Money is in integer minor units; bigint columns read as numbers (core/src/db/database.ts).
 */

export type CommissionerKind = 'local_authority' | 'county' | 'state_agency' | 'other';
export type Currency = 'GBP' | 'USD';

export class Commissioner extends TenantModel {
  static override tableName = 'commissioners';
  static noun = 'commissioner';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  name!: string;
  kind!: CommissionerKind;
  customerReference!: string | null;
  addressLines!: string[];
  email!: string | null;
  paymentTermsDays!: number | null;
  status!: 'active' | 'archived';
  version!: number;
  createdBy!: string | null;
  createdAt!: Date;
  updatedAt!: Date;
}

/** A placement's fee, from a date: a change is a new row, never an edit. */
export class PlacementCommission extends TenantModel {
  static override tableName = 'placement_commissions';
  static noun = 'placement fee';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  placementId!: string;
  commissionerId!: string;
  feeAmount!: number;
  feePeriod!: FeePeriod;
  effectiveFrom!: string;
  commissionerReference!: string | null;
  notes!: string | null;
  createdBy!: string | null;
  createdAt!: Date;
}

/** The tenant's own invoicing policy, one row per tenant once set (until then, the defaults apply). */
export class TenantInvoicingPolicy extends TenantModel {
  static override tableName = 'invoicing_policies';
  static override idColumn = 'tenant_id';

  frequency!: 'weekly' | 'four_weekly' | 'monthly';
  chargeDepartureDay!: boolean;
  rounding!: InvoiceRounding;
  paymentTermsDays!: number;
  invoicePrefix!: string;
  creditNotePrefix!: string;
  version!: number;
  updatedBy!: string | null;
  updatedAt!: Date;
}

export class InvoiceDraft extends TenantModel {
  static override tableName = 'invoice_drafts';
  static noun = 'invoice';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  commissionerId!: string;
  periodStart!: string;
  periodEnd!: string;
  currency!: Currency;
  total!: number;
  version!: number;
  createdBy!: string | null;
  createdAt!: Date;
  updatedAt!: Date;
}

/** Whom an issued invoice is addressed to, as the commissioner stood when it was issued. */
export interface BillTo {
  name: string;
  kind: CommissionerKind;
  customerReference: string | null;
  addressLines: string[];
  email: string | null;
}

export class Invoice extends TenantModel {
  static override tableName = 'invoices';
  static noun = 'invoice';
  static override idColumn = ['tenant_id', 'id'];
  static override jsonAttributes = ['billTo'];

  id!: string;
  number!: number;
  reference!: string;
  commissionerId!: string;
  periodStart!: string;
  periodEnd!: string;
  issueDate!: string;
  dueDate!: string;
  paymentTermsDays!: number;
  currency!: Currency;
  total!: number;
  billTo!: BillTo;
  journalId!: string;
  draftedBy!: string | null;
  draftedAt!: Date;
  issuedBy!: string | null;
  issuedAt!: Date;
}

/** What a line of a draft and a line of an issued invoice share: the two tables have the same columns but their parent's. */
export abstract class ChargeLine extends TenantModel {
  id!: string;
  lineNumber!: number;
  placementId!: string;
  childId!: string;
  commissionId!: string;
  commissionerReference!: string | null;
  periodStart!: string;
  periodEnd!: string;
  nights!: number;
  feeAmount!: number;
  feePeriod!: FeePeriod;
  amount!: number;
}

export class InvoiceDraftLine extends ChargeLine {
  static override tableName = 'invoice_draft_lines';
  static override idColumn = ['tenant_id', 'id'];

  draftId!: string;
}

export class InvoiceLine extends ChargeLine {
  static override tableName = 'invoice_lines';
  static override idColumn = ['tenant_id', 'id'];

  invoiceId!: string;
}

/** A night an issued line holds: one holder per placement night until a credit note frees it. */
export class InvoiceNight extends TenantModel {
  static override tableName = 'invoice_nights';
  static override idColumn = ['tenant_id', 'invoice_line_id', 'night'];

  invoiceLineId!: string;
  night!: string;
  placementId!: string;
  invoiceId!: string;
  creditNoteId!: string | null;
}

export class CreditNote extends TenantModel {
  static override tableName = 'credit_notes';
  static noun = 'credit note';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  number!: number;
  reference!: string;
  invoiceId!: string;
  issueDate!: string;
  reason!: string;
  currency!: Currency;
  total!: number;
  journalId!: string;
  createdBy!: string | null;
  createdAt!: Date;
}

export class CreditNoteLine extends TenantModel {
  static override tableName = 'credit_note_lines';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  creditNoteId!: string;
  lineNumber!: number;
  invoiceLineId!: string;
  amount!: number;
}
