/**
 * What packs contribute, as TypeScript sees it. The JSON Schemas in packs/schemas/ are the
 * published definitions; these types follow them, and the loader only hands out data that has
 * passed those schemas.
 */

export type JsonCondition = Record<string, unknown>;

export interface Duration {
  days?: number;
  workingDays?: number;
  weeks?: number;
  months?: number;
  years?: number;
  schoolTerms?: number;
}

export interface PackManifest {
  id: string;
  version: string;
  name: string;
  jurisdiction: string;
  currency: 'GBP' | 'USD';
  defaultTimeZone: string;
  extends?: string;
  calendar?: string;
  terminology?: string;
  accounts?: string;
  lookups?: string[];
  calendars?: string[];
  forms?: string[];
  workflows?: string[];
  cycles?: string[];
  rates?: string[];
  templates?: string[];
  extracts?: string[];
  retention?: string;
  notifications?: string[];
  portal?: string;
}

/** A carer portal feature a tenant turns on or off. */
export type PortalFeature = 'claims' | 'forms' | 'logs' | 'documents' | 'money';

/** The child's fields a tenant may share with carers; core never sends any other through the portal. */
export const PORTAL_CHILD_FIELDS = [
  'givenName',
  'familyName',
  'preferredName',
  'dateOfBirth',
  'sex',
  'gender',
  'ethnicity',
  'language',
  'interpreterNeeded',
  'religion',
  'disabilities',
] as const;
export type PortalChildField = (typeof PORTAL_CHILD_FIELDS)[number];

/** The carer portal's defaults in a pack, which tenants override with overlays. */
export interface PortalDefinition {
  source: string;
  features: Record<PortalFeature, boolean>;
  childFields: PortalChildField[];
  /** The keys of the pack's forms carers may complete in the portal. */
  carerForms?: string[];
}

export interface Terminology {
  source: string;
  terms: Record<string, string>;
}

export interface LookupValueDefinition {
  code: string;
  label: string;
  sortOrder?: number;
  normalised?: string;
  statutory?: Record<string, string>;
}

export interface LookupListDefinition {
  key: string;
  name: string;
  source: string;
  values: LookupValueDefinition[];
}

export interface CalendarDefinition {
  key: string;
  name: string;
  source: string;
  weekend: number[];
  holidays: Array<{ date: string; name: string }>;
  schoolTerms?: Array<{ start: string; end: string; name: string }>;
}

export interface FormDefinition {
  key: string;
  version: number;
  title: string;
  description?: string;
  source?: string;
  schema: Record<string, unknown>;
}

export interface WorkflowDefinition {
  key: string;
  name: string;
  source?: string;
  subject: 'carer_household' | 'placement' | 'payment_run' | 'child';
  initial: string;
  states: Array<{ key: string; name: string; terminal?: boolean }>;
  transitions: Array<{
    key: string;
    name?: string;
    from: string[];
    to: string;
    permission: string;
    evidence?: Array<{ kind: 'form' | 'check' | 'document' | 'decision'; key: string; description?: string }>;
    conditions?: JsonCondition;
  }>;
}

export interface CycleStep {
  key: string;
  name?: string;
  due: Duration;
  from: 'trigger' | 'previous';
  repeat?: boolean;
  until?: Duration;
  when?: JsonCondition;
}

export interface CycleDefinition {
  key: string;
  name: string;
  source: string;
  subject: 'child' | 'placement' | 'carer_household';
  /** Whether the carer household sees the cycle's tasks in the portal (never an unannounced visit). */
  sharedWithHousehold?: boolean;
  trigger: string;
  completedBy?: string;
  stoppedBy?: string[];
  steps: CycleStep[];
}

export type Amounts = number | { [dimensionValue: string]: Amounts };

export interface RateTable {
  kind: 'table';
  key: string;
  name: string;
  description?: string;
  component: 'allowance' | 'fee' | 'extra' | 'supplement' | 'level_of_care';
  period: 'day' | 'week' | 'month' | 'year' | 'once';
  floor?: boolean;
  dimensions: Array<'ageBand' | 'region' | 'carerLevel' | 'levelOfCare' | 'placementType'>;
  ageBands?: Array<{ key: string; minAge: number; maxAge: number }>;
  values: Array<{ effectiveFrom: string; source: string; amounts: Amounts }>;
}

export interface MileageTable {
  kind: 'mileage';
  key: string;
  name: string;
  thresholdResets: 'uk_tax_year' | 'calendar_year' | 'never';
  values: Array<{ effectiveFrom: string; source: string; bands: Array<{ upToMiles?: number; amountPerMile: number }> }>;
}

export interface RuleDefinition {
  name: string;
  description?: string;
  priority?: number;
  conditions: JsonCondition;
  event: { type: 'component'; params: { component: string; table: string; weeks?: number } };
}

export interface RateRules {
  kind: 'rules';
  key: string;
  name: string;
  description?: string;
  /** For the extras: how many occasions of a kind a child may have recorded in a calendar year. */
  occasions?: Array<{ kind: 'festival' | 'holiday'; perYear: number; description?: string }>;
  rules: RuleDefinition[];
}

export interface PaymentPolicy {
  kind: 'policy';
  key: string;
  name: string;
  source?: string;
  paymentUnit: 'night' | 'day';
  departureDayPaid: boolean;
  conversion: 'weekly_div_7' | 'monthly_div_days_in_month' | 'daily';
  rounding: 'half_up_per_line' | 'half_even_per_line';
  schedule: { frequency: 'weekly' | 'fortnightly' | 'four_weekly' | 'monthly'; timing: 'advance' | 'arrears' };
}

export type RateDefinition = RateTable | MileageTable | RateRules | PaymentPolicy;

export interface TemplateDefinition {
  key: string;
  name: string;
  kind: 'letter' | 'agreement' | 'report' | 'statement' | 'remittance' | 'annual_statement' | 'invoice' | 'credit_note';
  file: string;
  sampleData: Record<string, unknown>;
}

/** One event's templates per channel (packs/schemas/notification.schema.json). */
export interface NotificationTemplateDefinition {
  key: string;
  version: number;
  name: string;
  channels: {
    email?: { subject: string; text: string; html?: string };
    sms?: { text: string };
    inapp?: { subject: string; text: string };
  };
  sampleData: Record<string, unknown>;
}

export interface ExtractDefinition {
  key: string;
  name: string;
  source: string;
  files: Array<{
    name: string;
    description?: string;
    columns: Array<{ name: string; from: string; lookup?: string; format?: string }>;
  }>;
}

// Type aliases, not interfaces, like the anonymous types they were: the effective configuration
// (configuration/effective.ts) casts every point's items to Record<string, unknown>, which an interface cannot be.
export type AccountDefinition = {
  key: string;
  code: string;
  name: string;
  type: 'asset' | 'liability' | 'expense' | 'income' | 'equity';
};

/** The accounts (by key) a component's amount is debited to and credited to. */
export type PostingDefinition = {
  debit: string;
  credit: string;
};

export interface AccountsDefinition {
  source?: string;
  accounts: AccountDefinition[];
  postings: Record<string, PostingDefinition>;
}

/** The events a retention period is counted from; core finds each one's date for a document (retentionRules.ts). */
export type RetentionStartEvent =
  'approval_ended' | 'child_75th_birthday' | 'placement_ended' | 'claim_paid' | 'payment_run_finalised';

export type RetentionSubjectType =
  | 'child'
  | 'case_record'
  | 'household'
  | 'member'
  | 'check'
  | 'claim'
  | 'claim_line'
  | 'placement'
  | 'panel'
  | 'payment_run'
  | 'invoice';

// A type alias, like the accounts' items: the effective configuration reads items as records.
export type RetentionRule = {
  key: string;
  name: string;
  description?: string;
  documents: { subjectTypes?: RetentionSubjectType[]; categories?: string[] };
  /** The rule holds the messages tied to the records its subjectTypes name, as well as their documents. */
  messages?: boolean;
  startEvent: RetentionStartEvent;
  period: { years?: number; months?: number };
  source: string;
};

export interface RetentionDefinition {
  description?: string;
  rules: RetentionRule[];
}
