import type {
  AccountDefinition,
  AccountsDefinition,
  CalendarDefinition,
  CycleDefinition,
  ExtractDefinition,
  FormDefinition,
  LookupListDefinition,
  NotificationTemplateDefinition,
  PortalDefinition,
  PostingDefinition,
  RateDefinition,
  RetentionDefinition,
  RetentionRule,
  TemplateDefinition,
  Terminology,
  WorkflowDefinition,
} from './types';

/** One thing a file contributes, under the key by which a child pack overrides it. */
export interface Contribution<T = unknown> {
  key: string;
  value: T;
  /** Where inside the file it sits, for error messages. */
  pointer: string;
}

/**
 * A named place packs contribute to. Core owns the extension points; packs only add to them, and
 * nothing in core names a pack. `contributions` splits a validated file (`FileData`) into keyed items
 * (`Item`): the unit of inheritance (a sub-pack's item with the same key replaces its parent's) and of
 * clash detection. Most points take one item per file, the file itself.
 */
export interface ExtensionPoint<FileData = unknown, Item = FileData> {
  name: ExtensionPointName;
  /** The JSON Schema in packs/schemas/ that every file for this point must pass. */
  schema: string;
  /** Whether the manifest names a list of files (true) or one file (false). */
  multiple: boolean;
  contributions(data: FileData): Contribution<Item>[];
}

/**
 * What each point's files hold once they have passed its schema, and what each item they contribute
 * is: the type a consumer of the registry reads from `points[name]`.
 */
export interface ExtensionPointTypes {
  /** One file of terms; each term's wording is an item, by the term. */
  terminology: { file: Terminology; item: string };
  lookups: { file: LookupListDefinition; item: LookupListDefinition };
  calendars: { file: CalendarDefinition; item: CalendarDefinition };
  /** By `key@version`. */
  forms: { file: FormDefinition; item: FormDefinition };
  workflows: { file: WorkflowDefinition; item: WorkflowDefinition };
  cycles: { file: CycleDefinition; item: CycleDefinition };
  rates: { file: RateDefinition; item: RateDefinition };
  templates: { file: TemplateDefinition; item: TemplateDefinition };
  extracts: { file: ExtractDefinition; item: ExtractDefinition };
  /** One event's templates per channel, by the event (`auth.password_reset`). */
  notifications: { file: NotificationTemplateDefinition; item: NotificationTemplateDefinition };
  /** One file; an account is an item by `account:<key>`, a component's posting by `posting:<component>`. */
  accounts: { file: AccountsDefinition; item: AccountDefinition | PostingDefinition };
  /** One file; each rule is an item by its key, so a state pack replaces a rule of its parent's by naming its key. */
  retention: { file: RetentionDefinition; item: RetentionRule };
  /** One file: the carer portal's default features (`features`) and shared child fields (`childFields`), each an item a sub-pack may replace. */
  portal: {
    file: PortalDefinition;
    item: PortalDefinition['features'] | PortalDefinition['childFields'] | string[];
  };
}

export type ExtensionPointName = keyof ExtensionPointTypes;

/** What one item contributed to point N is. */
export type ContributionOf<N extends ExtensionPointName> = ExtensionPointTypes[N]['item'];

/** Point N, typed by what its files hold and what they contribute. */
export type ExtensionPointOf<N extends ExtensionPointName> = ExtensionPoint<
  ExtensionPointTypes[N]['file'],
  ContributionOf<N>
> & { name: N };

const byKey =
  <T extends { key: string }>() =>
  (data: T): Contribution<T>[] => [{ key: data.key, value: data, pointer: '' }];

export const EXTENSION_POINTS: { [N in ExtensionPointName]: ExtensionPointOf<N> } = {
  terminology: {
    name: 'terminology',
    schema: 'terminology.schema.json',
    multiple: false,
    contributions: (data) =>
      Object.entries(data.terms).map(([key, value]) => ({ key, value, pointer: `/terms/${key}` })),
  },
  lookups: {
    name: 'lookups',
    schema: 'lookup.schema.json',
    multiple: true,
    contributions: byKey<LookupListDefinition>(),
  },
  calendars: {
    name: 'calendars',
    schema: 'calendar.schema.json',
    multiple: true,
    contributions: byKey<CalendarDefinition>(),
  },
  forms: {
    name: 'forms',
    schema: 'form.schema.json',
    multiple: true,
    // Versions live side by side: a submission stays tied to the version it was valid against.
    contributions: (data) => [{ key: `${data.key}@${data.version}`, value: data, pointer: '' }],
  },
  workflows: {
    name: 'workflows',
    schema: 'workflow.schema.json',
    multiple: true,
    contributions: byKey<WorkflowDefinition>(),
  },
  cycles: { name: 'cycles', schema: 'cycle.schema.json', multiple: true, contributions: byKey<CycleDefinition>() },
  rates: { name: 'rates', schema: 'rates.schema.json', multiple: true, contributions: byKey<RateDefinition>() },
  templates: {
    name: 'templates',
    schema: 'template.schema.json',
    multiple: true,
    contributions: byKey<TemplateDefinition>(),
  },
  extracts: {
    name: 'extracts',
    schema: 'extract.schema.json',
    multiple: true,
    contributions: byKey<ExtractDefinition>(),
  },
  notifications: {
    name: 'notifications',
    schema: 'notification.schema.json',
    multiple: true,
    contributions: byKey<NotificationTemplateDefinition>(),
  },
  accounts: {
    name: 'accounts',
    schema: 'accounts.schema.json',
    multiple: false,
    contributions: (data) => [
      ...data.accounts.map((a, i) => ({ key: `account:${a.key}`, value: a, pointer: `/accounts/${i}` })),
      ...Object.entries(data.postings).map(([component, posting]) => ({
        key: `posting:${component}`,
        value: posting,
        pointer: `/postings/${component}`,
      })),
    ],
  },
  retention: {
    name: 'retention',
    schema: 'retention.schema.json',
    multiple: false,
    contributions: (data) => data.rules.map((rule, i) => ({ key: rule.key, value: rule, pointer: `/rules/${i}` })),
  },
  portal: {
    name: 'portal',
    schema: 'portal.schema.json',
    multiple: false,
    contributions: (data) => [
      { key: 'features', value: data.features, pointer: '/features' },
      { key: 'childFields', value: data.childFields, pointer: '/childFields' },
      ...(data.carerForms ? [{ key: 'carerForms', value: data.carerForms, pointer: '/carerForms' }] : []),
    ],
  },
};
