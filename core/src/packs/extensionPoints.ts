import type {
  AccountsDefinition,
  CalendarDefinition,
  CycleDefinition,
  ExtractDefinition,
  FormDefinition,
  LookupListDefinition,
  RateDefinition,
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
 * nothing in core names a pack. `contributions` splits a validated file into keyed items: the unit of
 * inheritance (a sub-pack's item with the same key replaces its parent's) and of clash detection.
 */
export interface ExtensionPoint<T = unknown> {
  name: ExtensionPointName;
  /** The JSON Schema in packs/schemas/ that every file for this point must pass. */
  schema: string;
  /** Whether the manifest names a list of files (true) or one file (false). */
  multiple: boolean;
  contributions(data: T): Contribution[];
}

export type ExtensionPointName = 'terminology' | 'lookups' | 'calendars' | 'forms' | 'workflows' | 'cycles' | 'rates' | 'templates' | 'extracts' | 'accounts';

const byKey =
  <T extends { key: string }>() =>
  (data: T): Contribution[] => [{ key: data.key, value: data, pointer: '' }];

export const EXTENSION_POINTS: { [N in ExtensionPointName]: ExtensionPoint } = {
  terminology: {
    name: 'terminology',
    schema: 'terminology.schema.json',
    multiple: false,
    contributions: (data) => Object.entries((data as Terminology).terms).map(([key, value]) => ({ key, value, pointer: `/terms/${key}` })),
  },
  lookups: { name: 'lookups', schema: 'lookup.schema.json', multiple: true, contributions: byKey<LookupListDefinition>() as ExtensionPoint['contributions'] },
  calendars: { name: 'calendars', schema: 'calendar.schema.json', multiple: true, contributions: byKey<CalendarDefinition>() as ExtensionPoint['contributions'] },
  forms: {
    name: 'forms',
    schema: 'form.schema.json',
    multiple: true,
    // Versions live side by side: a submission stays tied to the version it was valid against.
    contributions: (data) => [{ key: `${(data as FormDefinition).key}@${(data as FormDefinition).version}`, value: data, pointer: '' }],
  },
  workflows: { name: 'workflows', schema: 'workflow.schema.json', multiple: true, contributions: byKey<WorkflowDefinition>() as ExtensionPoint['contributions'] },
  cycles: { name: 'cycles', schema: 'cycle.schema.json', multiple: true, contributions: byKey<CycleDefinition>() as ExtensionPoint['contributions'] },
  rates: { name: 'rates', schema: 'rates.schema.json', multiple: true, contributions: byKey<RateDefinition>() as ExtensionPoint['contributions'] },
  templates: { name: 'templates', schema: 'template.schema.json', multiple: true, contributions: byKey<TemplateDefinition>() as ExtensionPoint['contributions'] },
  extracts: { name: 'extracts', schema: 'extract.schema.json', multiple: true, contributions: byKey<ExtractDefinition>() as ExtensionPoint['contributions'] },
  accounts: {
    name: 'accounts',
    schema: 'accounts.schema.json',
    multiple: false,
    contributions: (data) => {
      const accounts = data as AccountsDefinition;
      return [
        ...accounts.accounts.map((a, i) => ({ key: `account:${a.key}`, value: a, pointer: `/accounts/${i}` })),
        ...Object.entries(accounts.postings).map(([component, posting]) => ({ key: `posting:${component}`, value: posting, pointer: `/postings/${component}` })),
      ];
    },
  },
};
