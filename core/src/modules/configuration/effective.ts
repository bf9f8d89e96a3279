import Handlebars from 'handlebars';
import type { FieldError } from '../../http/problem';
import type { Layered, ResolvedPack } from '../../packs/registry';
import type { ContributionOf, ExtensionPointName } from '../../packs/extensionPoints';
import type {
  Amounts,
  FormDefinition,
  LookupListDefinition,
  PortalChildField,
  PortalFeature,
  RateDefinition,
  RateRules,
  RateTable,
  RuleDefinition,
  TemplateDefinition,
  WorkflowDefinition,
} from '../../packs/types';
import {
  amountFor,
  EXTRAS_KEY,
  type OverlayRateValue,
  type OverlayRuleChange,
  type RateFacts,
} from '../../rates/engine';
import { CompiledRuleSet } from '../../rules/ruleSet';
import { inEffectOn } from '../../time';

export interface OverlayChanges {
  terminology?: Record<string, string>;
  rates?: Record<string, { amounts: Amounts }>;
  rules?: Record<string, { add?: RuleDefinition[]; remove?: string[] }>;
  lookups?: Record<string, { add: Array<{ code: string; label: string }> }>;
  forms?: Record<string, { extraFields: Record<string, object>; required?: string[] }>;
  workflows?: Record<string, { removeTransitions?: string[]; addTransitions?: WorkflowDefinition['transitions'] }>;
  templates?: Record<string, { source: string }>;
  /** The carer portal: features turned on or off, the child fields shared (the whole list), the out-of-hours number. */
  portal?: {
    features?: Partial<Record<PortalFeature, boolean>>;
    childFields?: PortalChildField[];
    outOfHoursPhone?: string | null;
    /** The keys of the forms carers may complete (the whole list). */
    carerForms?: string[];
  };
}

/** The carer portal as a tenant has it on a date, each part with the layer it came from. */
export interface EffectivePortal {
  features: Record<PortalFeature, { value: boolean; layer: string }>;
  childFields: { value: PortalChildField[]; layer: string };
  outOfHoursPhone: { value: string | null; layer: string };
  carerForms: { value: string[]; layer: string };
}

const NO_PORTAL_FEATURES: Record<PortalFeature, boolean> = {
  claims: false,
  forms: false,
  logs: false,
  documents: false,
  money: false,
};

/** The pack's portal defaults with the overlays in effect applied; a pack without a portal file turns every feature off and shares no child field. */
export function effectivePortal(pack: ResolvedPack, active: Overlay[]): EffectivePortal {
  // Without a portal file the pack's own layer answers: it shares nothing.
  const bare = `pack:${pack.manifest.id}`;
  const featuresItem = pack.points.portal.get('features');
  const fieldsItem = pack.points.portal.get('childFields');
  const formsItem = pack.points.portal.get('carerForms');
  const packFeatures = (featuresItem?.value as Record<PortalFeature, boolean> | undefined) ?? NO_PORTAL_FEATURES;
  const features = Object.fromEntries(
    (Object.keys(NO_PORTAL_FEATURES) as PortalFeature[]).map((f) => [
      f,
      { value: packFeatures[f] === true, layer: featuresItem ? packLayer(featuresItem) : bare },
    ]),
  ) as EffectivePortal['features'];
  const portal: EffectivePortal = {
    features,
    childFields: {
      value: [...((fieldsItem?.value as PortalChildField[] | undefined) ?? [])],
      layer: fieldsItem ? packLayer(fieldsItem) : bare,
    },
    outOfHoursPhone: { value: null, layer: bare },
    carerForms: {
      value: [...((formsItem?.value as string[] | undefined) ?? [])],
      layer: formsItem ? packLayer(formsItem) : bare,
    },
  };
  for (const overlay of active) {
    const change = overlay.changes.portal;
    if (!change) continue;
    const layer = overlayLayer(overlay);
    for (const [f, on] of Object.entries(change.features ?? {}))
      portal.features[f as PortalFeature] = { value: on === true, layer };
    if (change.childFields) portal.childFields = { value: [...change.childFields], layer };
    if (change.outOfHoursPhone !== undefined) portal.outOfHoursPhone = { value: change.outOfHoursPhone, layer };
    if (change.carerForms) portal.carerForms = { value: [...change.carerForms], layer };
  }
  return portal;
}

export interface Overlay {
  id: string;
  version: number;
  effectiveFrom: string;
  description: string;
  changes: OverlayChanges;
  createdBy: string | null;
  createdAt: string;
}

/** One item of the effective configuration, typed by its point, and the layer it last came from. */
export interface LayeredItem<T = unknown> {
  key: string;
  layer: string;
  value: T;
}

/** A rate table as the effective configuration shows it: the amounts in effect on the date, not every dated entry. */
export type EffectiveRateTable = Omit<RateTable, 'values'> & {
  effective: { effectiveFrom: string; source: string; amounts: Amounts; layer: string } | null;
};

/** What the effective configuration holds under rates: tables as in effect, the rest as the pack and overlays made them. */
export type EffectiveRate = Exclude<RateDefinition, RateTable> | EffectiveRateTable;

const packLayer = (item: Layered) => `pack:${item.layer}`;
const overlayLayer = (overlay: Overlay) => `overlay:${overlay.version}`;

/** The overlays in effect on a date, oldest version first (a later version wins where two touch the same thing). */
export function overlaysInEffect(overlays: Overlay[], asOf: string): Overlay[] {
  return overlays.filter((o) => o.effectiveFrom <= asOf).sort((a, b) => a.version - b.version);
}

/** The tenant's rate overlays in the engine's terms: dated amounts per table, and changes to the placement rules and the extras. */
export function rateOverlays(overlays: Overlay[]): {
  rates: OverlayRateValue[];
  rules: OverlayRuleChange[];
  extras: OverlayRuleChange[];
} {
  const rates: OverlayRateValue[] = [];
  const rules: OverlayRuleChange[] = [];
  const extras: OverlayRuleChange[] = [];
  for (const overlay of [...overlays].sort((a, b) => a.version - b.version)) {
    for (const [table, change] of Object.entries(overlay.changes.rates ?? {})) {
      rates.push({
        table,
        effectiveFrom: overlay.effectiveFrom,
        amounts: change.amounts,
        layer: overlayLayer(overlay),
        source: `tenant overlay ${overlay.version}: ${overlay.description}`,
      });
    }
    const placementRules = overlay.changes.rules?.['placement-rules'];
    if (placementRules)
      rules.push({
        effectiveFrom: overlay.effectiveFrom,
        add: placementRules.add ?? [],
        remove: placementRules.remove ?? [],
      });
    const extraRules = overlay.changes.rules?.[EXTRAS_KEY];
    if (extraRules)
      extras.push({ effectiveFrom: overlay.effectiveFrom, add: extraRules.add ?? [], remove: extraRules.remove ?? [] });
  }
  return { rates, rules, extras };
}

/** Deep-merges partial overlay amounts over the pack's, leaf by leaf. */
function mergeAmounts(base: Amounts, over: Amounts): Amounts {
  if (typeof base === 'number' || typeof over === 'number') return over;
  const out: Record<string, Amounts> = { ...base };
  for (const [key, value] of Object.entries(over)) out[key] = key in base ? mergeAmounts(base[key]!, value) : value;
  return out;
}

/**
 * `pack ⊕ sub-pack ⊕ tenant overlays` on a date, each value naming its layer. Rate tables show the
 * value in effect on the date (a floor table never below the pack).
 */
export function effectiveConfiguration(pack: ResolvedPack, overlays: Overlay[], asOf: string) {
  const active = overlaysInEffect(overlays, asOf);
  const terminology: Record<string, { value: string; layer: string }> = {};
  for (const [key, item] of pack.points.terminology)
    terminology[key] = { value: item.value as string, layer: packLayer(item) };
  const section = <N extends ExtensionPointName>(name: N): Map<string, LayeredItem<ContributionOf<N>>> =>
    new Map(
      [...(pack.points[name] as Map<string, Layered<ContributionOf<N>>>)].map(([key, item]) => [
        key,
        { key, layer: packLayer(item), value: structuredClone(item.value) },
      ]),
    );
  const lookups = section('lookups');
  const forms = section('forms');
  const workflows = section('workflows');
  // An overlay may replace a template's text, which the effective item then carries as `source`.
  const templates: Map<string, LayeredItem<TemplateDefinition & { source?: string }>> = section('templates');
  const rates = section('rates');

  for (const overlay of active) {
    const layer = overlayLayer(overlay);
    const changes = overlay.changes;
    for (const [term, value] of Object.entries(changes.terminology ?? {})) terminology[term] = { value, layer };
    for (const [key, change] of Object.entries(changes.lookups ?? {})) {
      const list = lookups.get(key);
      if (!list) continue;
      const value = list.value;
      value.values.push(...change.add.map((v) => ({ ...v, layer })));
      list.layer = layer;
    }
    for (const [key, change] of Object.entries(changes.forms ?? {})) {
      for (const form of forms.values()) {
        const value = form.value;
        if (value.key !== key) continue;
        const schema = value.schema as { properties?: Record<string, unknown>; required?: string[] };
        schema.properties = { ...(schema.properties ?? {}), ...change.extraFields };
        schema.required = [...new Set([...(schema.required ?? []), ...(change.required ?? [])])];
        form.layer = layer;
      }
    }
    for (const [key, change] of Object.entries(changes.workflows ?? {})) {
      const workflow = workflows.get(key);
      if (!workflow) continue;
      const value = workflow.value;
      value.transitions = [
        ...value.transitions.filter((t) => !(change.removeTransitions ?? []).includes(t.key)),
        ...(change.addTransitions ?? []),
      ];
      workflow.layer = layer;
    }
    for (const [key, change] of Object.entries(changes.templates ?? {})) {
      const template = templates.get(key);
      if (!template) continue;
      template.value = { ...template.value, source: change.source };
      template.layer = layer;
    }
    for (const [key, change] of Object.entries(changes.rules ?? {})) {
      const rules = rates.get(key);
      if (!rules) continue;
      const value = rules.value;
      if (value.kind !== 'rules') continue;
      const replaced = new Set([...(change.remove ?? []), ...(change.add ?? []).map((r) => r.name)]);
      value.rules = [...value.rules.filter((r) => !replaced.has(r.name)), ...(change.add ?? [])];
      rules.layer = layer;
    }
  }

  // Rate tables: the value in effect on the date, with overlays merged over the pack's and floors kept.
  const effectiveRates = new Map<string, LayeredItem<EffectiveRate>>();
  for (const [key, item] of rates) {
    const table = item.value;
    if (table.kind !== 'table') {
      effectiveRates.set(key, { ...item, value: table });
      continue;
    }
    const packValue = inEffectOn(table.values, asOf);
    let effective = packValue
      ? {
          effectiveFrom: packValue.effectiveFrom,
          source: packValue.source,
          amounts: packValue.amounts,
          layer: item.layer,
        }
      : null;
    for (const overlay of active) {
      const change = overlay.changes.rates?.[key];
      if (!change) continue;
      const merged = mergeAmounts(effective?.amounts ?? {}, change.amounts);
      effective = {
        effectiveFrom: overlay.effectiveFrom,
        source: `tenant overlay ${overlay.version}: ${overlay.description}`,
        amounts: table.floor && packValue ? liftToFloor(merged, packValue.amounts) : merged,
        layer: overlayLayer(overlay),
      };
    }
    const { values: _values, ...rest } = table;
    effectiveRates.set(key, { key, layer: effective?.layer ?? item.layer, value: { ...rest, effective } });
  }

  const list = <T>(map: Map<string, LayeredItem<T>>) => [...map.values()].sort((a, b) => a.key.localeCompare(b.key));
  return {
    packId: pack.manifest.id,
    chain: pack.chain,
    asOf,
    overlaysApplied: active.map((o) => ({ id: o.id, version: o.version, effectiveFrom: o.effectiveFrom })),
    calendar: pack.calendar?.key ?? null,
    terminology,
    lookups: list(lookups),
    forms: list(forms),
    workflows: list(workflows),
    cycles: list(section('cycles')),
    rates: list(effectiveRates),
    templates: list(templates),
    extracts: list(section('extracts')),
    accounts: list(section('accounts')),
    portal: effectivePortal(pack, active),
  };
}

function liftToFloor(amounts: Amounts, floor: Amounts): Amounts {
  if (typeof amounts === 'number') return typeof floor === 'number' ? Math.max(amounts, floor) : amounts;
  if (typeof floor === 'number') return amounts;
  return Object.fromEntries(Object.entries(amounts).map(([k, v]) => [k, k in floor ? liftToFloor(v, floor[k]!) : v]));
}

export interface FloorBreach {
  table: string;
  dimensions: Record<string, string>;
  floorAmount: number;
  offered: number;
  floorEffectiveFrom: string;
  floorLayer: string;
  floorSource: string;
}

/** Dimensions whose values are a code list's codes: an overlay may price a code the pack's table leaves out (a level of care it has no figure for). */
const DIMENSION_LISTS: Partial<Record<RateTable['dimensions'][number], string>> = {
  levelOfCare: 'level_of_care',
  carerLevel: 'carer_level',
};

function listCodes(pack: ResolvedPack, dimension: string): string[] {
  const listKey = DIMENSION_LISTS[dimension as RateTable['dimensions'][number]];
  const list = listKey ? (pack.points.lookups.get(listKey)?.value as LookupListDefinition | undefined) : undefined;
  return list?.values.map((v) => v.code) ?? [];
}

/**
 * Checks an overlay against the pack before it is stored: every key it names exists, amounts nest
 * along the table's dimensions, rules compile and name real tables, templates compile, added workflow
 * steps join real states, and no amount goes below a floor in effect on the overlay's date.
 */
export function checkOverlay(
  pack: ResolvedPack,
  changes: OverlayChanges,
  effectiveFrom: string,
): { errors: FieldError[]; floor: FloorBreach | null } {
  const errors: FieldError[] = [];
  let floor: FloorBreach | null = null;
  const at = (...parts: string[]) => `/body/changes/${parts.join('/')}`;

  for (const term of Object.keys(changes.terminology ?? {})) {
    if (!pack.points.terminology.has(term))
      errors.push({ pointer: at('terminology', term), message: 'is not a term of the pack' });
  }
  for (const [key, change] of Object.entries(changes.rates ?? {})) {
    const item = pack.points.rates.get(key);
    const table = item?.value as RateTable | undefined;
    if (!table || table.kind !== 'table') {
      errors.push({ pointer: at('rates', key), message: 'is not a rate table of the pack' });
      continue;
    }
    const packValue = inEffectOn(table.values, effectiveFrom);
    const walk = (node: Amounts, depth: number, path: string[]): void => {
      const pointer = at('rates', key, 'amounts', ...path);
      if (depth === table.dimensions.length) {
        if (typeof node !== 'number')
          return void errors.push({
            pointer,
            message: `must be an amount in minor units (the table nests by ${table.dimensions.join(', ') || 'nothing'})`,
          });
        const dims = Object.fromEntries(table.dimensions.map((d, i) => [d, path[i]!]));
        const floorAmount =
          table.floor && packValue ? amountFor(table, packValue.amounts, dims as unknown as RateFacts) : null;
        if (floorAmount !== null && node < floorAmount && !floor) {
          floor = {
            table: key,
            dimensions: dims,
            floorAmount,
            offered: node,
            floorEffectiveFrom: packValue!.effectiveFrom,
            floorLayer: `pack:${item!.layer}`,
            floorSource: packValue!.source,
          };
        }
        return;
      }
      if (typeof node !== 'object')
        return void errors.push({ pointer, message: `must be an object keyed by ${table.dimensions[depth]}` });
      const dimension = table.dimensions[depth]!;
      const known =
        dimension === 'ageBand'
          ? new Set(table.ageBands?.map((b) => b.key))
          : packValue && depth === 0
            ? new Set([...Object.keys(packValue.amounts as object), ...listCodes(pack, dimension)])
            : null;
      for (const [k, child] of Object.entries(node)) {
        if (known && !known.has(k))
          errors.push({ pointer: `${pointer}/${k}`, message: `is not a ${table.dimensions[depth]} of the table` });
        else walk(child, depth + 1, [...path, k]);
      }
    };
    walk(change.amounts, 0, []);
  }
  for (const [key, change] of Object.entries(changes.rules ?? {})) {
    const rules = pack.points.rates.get(key)?.value as RateRules | undefined;
    if (!rules || rules.kind !== 'rules') {
      errors.push({ pointer: at('rules', key), message: 'is not a rule set of the pack' });
      continue;
    }
    (change.add ?? []).forEach((rule, i) => {
      const table = pack.points.rates.get(rule?.event?.params?.table ?? '')?.value as RateTable | undefined;
      if (!rule || typeof rule.name !== 'string' || !rule.conditions || rule.event?.type !== 'component')
        errors.push({
          pointer: at('rules', key, 'add', String(i)),
          message: 'must be a rule: { name, conditions, event: { type: "component", params: { component, table } } }',
        });
      else if (!table || table.kind !== 'table')
        errors.push({
          pointer: at('rules', key, 'add', String(i), 'event', 'params', 'table'),
          message: 'is not a rate table of the pack',
        });
      else {
        try {
          new CompiledRuleSet('overlay', [rule]);
        } catch (error) {
          errors.push({ pointer: at('rules', key, 'add', String(i)), message: (error as Error).message });
        }
      }
    });
    (change.remove ?? []).forEach((name, i) => {
      if (!rules.rules.some((r) => r.name === name))
        errors.push({ pointer: at('rules', key, 'remove', String(i)), message: 'is not a rule of the set' });
    });
  }
  for (const key of Object.keys(changes.lookups ?? {})) {
    if (!pack.points.lookups.has(key))
      errors.push({ pointer: at('lookups', key), message: 'is not an option list of the pack' });
  }
  for (const key of Object.keys(changes.forms ?? {})) {
    if (![...pack.points.forms.values()].some((f) => (f.value as FormDefinition).key === key))
      errors.push({ pointer: at('forms', key), message: 'is not a form of the pack' });
  }
  for (const [key, change] of Object.entries(changes.workflows ?? {})) {
    const workflow = pack.points.workflows.get(key)?.value as WorkflowDefinition | undefined;
    if (!workflow) {
      errors.push({ pointer: at('workflows', key), message: 'is not a workflow of the pack' });
      continue;
    }
    const states = new Set(workflow.states.map((s) => s.key));
    (change.removeTransitions ?? []).forEach((t, i) => {
      if (!workflow.transitions.some((x) => x.key === t))
        errors.push({
          pointer: at('workflows', key, 'removeTransitions', String(i)),
          message: 'is not a step of the workflow',
        });
    });
    (change.addTransitions ?? []).forEach((t, i) => {
      const ok =
        t &&
        typeof t.key === 'string' &&
        Array.isArray(t.from) &&
        t.from.every((f) => states.has(f)) &&
        states.has(t.to) &&
        /^[a-z][a-z_]*:[a-z][a-z_]*$/.test(String(t.permission));
      if (!ok)
        errors.push({
          pointer: at('workflows', key, 'addTransitions', String(i)),
          message: 'must be a step { key, from: [states], to: state, permission } between states of the workflow',
        });
    });
  }
  for (const [key, change] of Object.entries(changes.templates ?? {})) {
    if (!pack.points.templates.has(key)) {
      errors.push({ pointer: at('templates', key), message: 'is not a template of the pack' });
      continue;
    }
    try {
      Handlebars.precompile(change.source);
    } catch (error) {
      errors.push({
        pointer: at('templates', key, 'source'),
        message: `does not compile: ${(error as Error).message.split('\n')[0]}`,
      });
    }
  }
  return { errors, floor };
}
