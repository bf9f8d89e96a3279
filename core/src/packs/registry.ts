import fs from 'node:fs';
import path from 'node:path';
import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import Handlebars from 'handlebars';
import { repoRoot } from '../config';
import { CASE_EVENTS, isCaseEventName } from '../modules/tasks/catalogue';
import { EXTENSION_POINTS, type ContributionOf, type ExtensionPoint, type ExtensionPointName } from './extensionPoints';
import type {
  AccountsDefinition,
  CalendarDefinition,
  CycleDefinition,
  LookupListDefinition,
  PackManifest,
  RateTable,
} from './types';

export type { LookupListDefinition, LookupValueDefinition, PackManifest } from './types';

/** A pack that cannot load stops start-up; the message names the file, the path inside it and the fault. */
export class PackLoadError extends Error {
  constructor(
    readonly file: string,
    readonly pointer: string,
    readonly reason: string,
  ) {
    super(`${path.relative(repoRoot, file) || file}${pointer ? ` at ${pointer}` : ''}: ${reason}`);
  }
}

/** One item as a pack contributed it: the layer it came from is what explanations name. */
export interface Layered<T = unknown> {
  value: T;
  /** The id of the pack whose file holds it. */
  layer: string;
  /** The contributing pack's folder, which paths inside its files are relative to. */
  folder: string;
  file: string;
  pointer: string;
}

/** Each point's items by key, typed by what the point holds: `points.rates.get(key)?.value` is a RateDefinition. */
export type PointItems = { [N in ExtensionPointName]: Map<string, Layered<ContributionOf<N>>> };

export interface LoadedPack {
  manifest: PackManifest;
  folder: string;
  /** This pack's own contributions (without what it inherits), by extension point and key. */
  own: PointItems;
}

/** A pack with everything it inherits: `pack ⊕ sub-pack`, each item remembering its layer. */
export interface ResolvedPack {
  manifest: PackManifest;
  /** From the baseline to this pack, e.g. ['usa', 'usa/ca']. */
  chain: string[];
  points: PointItems;
  calendar: CalendarDefinition | null;
}

const SCHEMA_DIR = path.join(repoRoot, 'packs', 'schemas');

function schemaValidators(): { manifest: ValidateFunction<PackManifest>; point: (file: string) => ValidateFunction } {
  const ajv = new Ajv2020({ allErrors: false, strict: false });
  addFormats(ajv);
  for (const file of fs.readdirSync(SCHEMA_DIR).filter((f) => f.endsWith('.schema.json'))) {
    ajv.addSchema(JSON.parse(fs.readFileSync(path.join(SCHEMA_DIR, file), 'utf8')) as object);
  }
  const get = (file: string) => {
    const validate = ajv.getSchema(`https://hearth.dev/schemas/${file}`);
    if (!validate) throw new Error(`No schema ${file} in ${SCHEMA_DIR}`);
    return validate;
  };
  return { manifest: get('manifest.schema.json') as ValidateFunction<PackManifest>, point: get };
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new PackLoadError(file, '', 'the file cannot be read');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new PackLoadError(file, '', `not valid JSON (${(error as Error).message})`);
  }
}

/** The most specific schema error: a failed oneOf reports its branches, which say less than their innermost fault. */
function schemaError(file: string, errors: ErrorObject[] | null | undefined): PackLoadError {
  const error = [...(errors ?? [])].sort((a, b) => b.instancePath.length - a.instancePath.length)[0];
  if (!error) return new PackLoadError(file, '/', 'is invalid');
  let pointer = error.instancePath || '/';
  let reason = error.message ?? 'is invalid';
  if (error.keyword === 'required') {
    pointer = `${error.instancePath}/${(error.params as { missingProperty: string }).missingProperty}`;
    reason = 'is required';
  } else if (error.keyword === 'additionalProperties') {
    pointer = `${error.instancePath}/${(error.params as { additionalProperty: string }).additionalProperty}`;
    reason = 'is not a known field';
  } else if (error.keyword === 'enum') {
    reason = `must be one of ${JSON.stringify((error.params as { allowedValues: unknown[] }).allowedValues)}`;
  }
  return new PackLoadError(file, pointer, reason);
}

function emptyPoints(): PointItems {
  return Object.fromEntries(Object.keys(EXTENSION_POINTS).map((name) => [name, new Map()])) as PointItems;
}

function loadPack(folder: string, validators: ReturnType<typeof schemaValidators>): LoadedPack {
  const manifestFile = path.join(folder, 'pack.json');
  const manifest = readJson(manifestFile);
  if (!validators.manifest(manifest)) throw schemaError(manifestFile, validators.manifest.errors);
  const own = emptyPoints();
  // Each file passes its point's schema before its point reads it, so a point and its map are taken
  // here untyped (ExtensionPoint, Map<string, Layered>); PointItems types what comes out.
  for (const point of Object.values(EXTENSION_POINTS) as ExtensionPoint[]) {
    const items: Map<string, Layered> = own[point.name];
    const named = manifest[point.name as keyof PackManifest] as string | string[] | undefined;
    const files = named === undefined ? [] : point.multiple ? (named as string[]) : [named as string];
    const validate = validators.point(point.schema);
    files.forEach((relative, index) => {
      const file = path.join(folder, relative);
      if (!fs.existsSync(file))
        throw new PackLoadError(
          manifestFile,
          point.multiple ? `/${point.name}/${index}` : `/${point.name}`,
          `no file ${relative}`,
        );
      const data = readJson(file);
      if (!validate(data)) throw schemaError(file, validate.errors);
      for (const item of point.contributions(data)) {
        const clash = items.get(item.key);
        if (clash)
          throw new PackLoadError(
            file,
            item.pointer || '/key',
            `${point.name} "${item.key}" is also contributed by ${path.relative(repoRoot, clash.file)}`,
          );
        items.set(item.key, { value: item.value, layer: manifest.id, folder, file, pointer: item.pointer });
      }
    });
  }
  return { manifest, folder, own };
}

/**
 * The packs found on disk, registered by id, and resolved with what they inherit. Everything is
 * read and checked once, before the server listens; a fault anywhere is a start-up error.
 */
export class PackRegistry {
  private readonly packs = new Map<string, LoadedPack>();
  private readonly resolved = new Map<string, ResolvedPack>();

  register(pack: LoadedPack): void {
    const clash = this.packs.get(pack.manifest.id);
    if (clash)
      throw new PackLoadError(
        path.join(pack.folder, 'pack.json'),
        '/id',
        `pack "${pack.manifest.id}" is already registered from ${path.relative(repoRoot, clash.folder)}`,
      );
    this.packs.set(pack.manifest.id, pack);
  }

  has(id: string): boolean {
    return this.packs.has(id);
  }

  get(id: string): LoadedPack | undefined {
    return this.packs.get(id);
  }

  list(): LoadedPack[] {
    return [...this.packs.values()].sort((a, b) => a.manifest.id.localeCompare(b.manifest.id));
  }

  /** The pack with its parents merged under it; throws for an unknown id. */
  resolve(id: string): ResolvedPack {
    const cached = this.resolved.get(id);
    if (cached) return cached;
    const chain: LoadedPack[] = [];
    for (
      let pack = this.packs.get(id);
      pack;
      pack = pack.manifest.extends ? this.packs.get(pack.manifest.extends) : undefined
    ) {
      if (chain.includes(pack))
        throw new PackLoadError(
          path.join(pack.folder, 'pack.json'),
          '/extends',
          `"${id}" extends itself through ${chain.map((p) => p.manifest.id).join(' -> ')}`,
        );
      chain.unshift(pack);
    }
    if (!chain.length) throw new Error(`No pack "${id}"`);
    const points = emptyPoints();
    for (const pack of chain) {
      for (const name of Object.keys(points) as ExtensionPointName[]) {
        const into: Map<string, Layered> = points[name];
        for (const [key, item] of pack.own[name]) into.set(key, item);
      }
    }
    const calendarKey = [...chain].reverse().find((p) => p.manifest.calendar)?.manifest.calendar;
    const calendar = calendarKey ? (points.calendars.get(calendarKey)?.value ?? null) : null;
    const resolved: ResolvedPack = {
      manifest: chain[chain.length - 1]!.manifest,
      chain: chain.map((p) => p.manifest.id),
      points,
      calendar,
    };
    this.resolved.set(id, resolved);
    return resolved;
  }

  /** A pack's option lists, with what it inherits: a list of the same key in the child pack replaces the parent's. */
  lookupDefaults(id: string): LookupListDefinition[] {
    return [...this.resolve(id).points.lookups.values()].map((l) => l.value);
  }

  /** Cross-references no single file's schema can check, made once every pack is registered. */
  checkReferences(): void {
    for (const pack of this.list()) {
      const manifestFile = path.join(pack.folder, 'pack.json');
      if (pack.manifest.extends && !this.has(pack.manifest.extends)) {
        throw new PackLoadError(
          manifestFile,
          '/extends',
          `extends "${pack.manifest.extends}", which is not a known pack`,
        );
      }
      const resolved = this.resolve(pack.manifest.id);
      if (pack.manifest.calendar && !resolved.calendar)
        throw new PackLoadError(
          manifestFile,
          '/calendar',
          `no calendar "${pack.manifest.calendar}" in this pack or those it extends`,
        );
      checkWorkflows(resolved);
      checkRates(resolved);
      checkForms(resolved);
      checkTemplates(resolved);
      checkNotifications(resolved);
      checkAccounts(resolved);
      checkCycles(resolved);
      checkRetention(resolved);
    }
  }
}

function checkWorkflows(pack: ResolvedPack): void {
  for (const item of pack.points.workflows.values()) {
    const workflow = item.value;
    const states = new Set(workflow.states.map((s) => s.key));
    if (!states.has(workflow.initial))
      throw new PackLoadError(item.file, '/initial', `"${workflow.initial}" is not one of the workflow's states`);
    workflow.transitions.forEach((t, i) => {
      t.from.forEach((from, j) => {
        if (!states.has(from))
          throw new PackLoadError(
            item.file,
            `/transitions/${i}/from/${j}`,
            `"${from}" is not one of the workflow's states`,
          );
      });
      if (!states.has(t.to))
        throw new PackLoadError(item.file, `/transitions/${i}/to`, `"${t.to}" is not one of the workflow's states`);
    });
  }
}

function checkRates(pack: ResolvedPack): void {
  for (const item of pack.points.rates.values()) {
    const rate = item.value;
    if (rate.kind === 'rules') {
      rate.rules.forEach((rule, i) => {
        const table = pack.points.rates.get(rule.event.params.table)?.value;
        if (!table || table.kind !== 'table')
          throw new PackLoadError(
            item.file,
            `/rules/${i}/event/params/table`,
            `no rate table "${rule.event.params.table}" in the pack or those it extends`,
          );
      });
    }
    if (rate.kind === 'table') checkTable(item.file, rate);
    if (rate.kind === 'table' || rate.kind === 'mileage') {
      rate.values.forEach((value, i) => {
        const previous = rate.values[i - 1];
        if (previous && previous.effectiveFrom >= value.effectiveFrom)
          throw new PackLoadError(
            item.file,
            `/values/${i}/effectiveFrom`,
            'values must be in order of the date they take effect',
          );
      });
    }
  }
}

/** Every value's amounts must nest exactly along the table's dimensions, with integer leaves. */
function checkTable(file: string, table: RateTable): void {
  if (table.dimensions.includes('ageBand') && !table.ageBands?.length)
    throw new PackLoadError(file, '/ageBands', 'is required when ageBand is a dimension');
  table.values.forEach((value, i) => {
    const walk = (node: unknown, depth: number, pointer: string): void => {
      if (depth === table.dimensions.length) {
        if (!Number.isInteger(node))
          throw new PackLoadError(
            file,
            pointer,
            `must be an amount in minor units (nesting follows dimensions ${JSON.stringify(table.dimensions)})`,
          );
        return;
      }
      if (!node || typeof node !== 'object')
        throw new PackLoadError(file, pointer, `must be an object keyed by ${table.dimensions[depth]}`);
      if (table.dimensions[depth] === 'ageBand') {
        for (const band of table.ageBands!)
          if (!(band.key in node)) throw new PackLoadError(file, pointer, `has no amount for age band "${band.key}"`);
      }
      for (const [key, child] of Object.entries(node)) walk(child, depth + 1, `${pointer}/${key}`);
    };
    walk(value.amounts, 0, `/values/${i}/amounts`);
  });
}

function checkForms(pack: ResolvedPack): void {
  const ajv = new Ajv2020({ strict: false });
  addFormats(ajv);
  for (const item of pack.points.forms.values()) {
    try {
      ajv.compile(item.value.schema);
    } catch (error) {
      throw new PackLoadError(item.file, '/schema', `is not a valid JSON Schema: ${(error as Error).message}`);
    }
  }
}

function checkTemplates(pack: ResolvedPack): void {
  for (const item of pack.points.templates.values()) {
    const template = item.value;
    const found = path.join(item.folder, template.file);
    if (!fs.existsSync(found)) throw new PackLoadError(item.file, '/file', `no file ${template.file}`);
    try {
      Handlebars.precompile(fs.readFileSync(found, 'utf8'), { strict: false });
    } catch (error) {
      throw new PackLoadError(found, '', `does not compile: ${(error as Error).message}`);
    }
  }
}

/** Every channel's wording must compile; a typo in a subject would otherwise surface only when a message is sent. */
function checkNotifications(pack: ResolvedPack): void {
  for (const item of pack.points.notifications.values()) {
    for (const [channel, parts] of Object.entries(item.value.channels)) {
      for (const [part, source] of Object.entries(parts as Record<string, string>)) {
        try {
          Handlebars.precompile(source, { strict: false });
        } catch (error) {
          throw new PackLoadError(
            item.file,
            `/channels/${channel}/${part}`,
            `does not compile: ${(error as Error).message}`,
          );
        }
      }
    }
  }
}

function checkAccounts(pack: ResolvedPack): void {
  for (const [key, item] of pack.points.accounts) {
    if (!key.startsWith('posting:')) continue;
    const posting = item.value as AccountsDefinition['postings'][string];
    for (const side of ['debit', 'credit'] as const) {
      if (!pack.points.accounts.has(`account:${posting[side]}`))
        throw new PackLoadError(item.file, `${item.pointer}/${side}`, `no account "${posting[side]}"`);
    }
  }
}

/**
 * A cycle listens for events in the core's words (CASE_EVENTS in core/src/modules/tasks/catalogue.ts):
 * a name the core never records would leave its tasks never created, never done or never stopped,
 * and an event about another kind of subject (a placement's event on a child's cycle) could not
 * find the cycle's tasks.
 */
function checkCycleEvents(item: Layered, cycle: CycleDefinition): void {
  const named: Array<[string, string]> = [['/trigger', cycle.trigger]];
  if (cycle.completedBy !== undefined) named.push(['/completedBy', cycle.completedBy]);
  (cycle.stoppedBy ?? []).forEach((name, i) => named.push([`/stoppedBy/${i}`, name]));
  for (const [pointer, name] of named) {
    if (!isCaseEventName(name))
      throw new PackLoadError(
        item.file,
        pointer,
        `"${name}" is not an event the core records (one of ${Object.keys(CASE_EVENTS).join(', ')})`,
      );
    const subject = CASE_EVENTS[name].subject;
    if (subject !== cycle.subject)
      throw new PackLoadError(
        item.file,
        pointer,
        `"${name}" is an event about a ${subject}, but the cycle's subject is ${cycle.subject}`,
      );
  }
}

function checkCycles(pack: ResolvedPack): void {
  for (const item of pack.points.cycles.values()) {
    const cycle = item.value;
    checkCycleEvents(item, cycle);
    cycle.steps.forEach((step, i) => {
      if (step.due.workingDays !== undefined && !pack.calendar)
        throw new PackLoadError(item.file, `/steps/${i}/due`, 'counts working days, but the pack names no calendar');
      if (step.due.schoolTerms !== undefined && !pack.calendar?.schoolTerms?.length)
        throw new PackLoadError(item.file, `/steps/${i}/due`, "counts school terms, but the pack's calendar has none");
    });
  }
}

/**
 * A retention rule names document categories by their codes in the pack's `document_category` list:
 * a code the list lacks would match no document, and the rule would silently keep nothing it meant to.
 */
function checkRetention(pack: ResolvedPack): void {
  const categories = new Set(pack.points.lookups.get('document_category')?.value.values.map((v) => v.code) ?? []);
  for (const item of pack.points.retention.values()) {
    (item.value.documents.categories ?? []).forEach((code, i) => {
      if (!categories.has(code))
        throw new PackLoadError(
          item.file,
          `${item.pointer}/documents/categories/${i}`,
          `"${code}" is not a code of the pack's document_category list`,
        );
    });
  }
}

/** The folders that hold a pack.json: each root's children, and their `states/*` sub-packs. */
function packFolders(root: string): string[] {
  const folders: string[] = [];
  for (const entry of fs.readdirSync(root, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const folder = path.join(root, entry.name);
    if (fs.existsSync(path.join(folder, 'pack.json'))) folders.push(folder);
    const states = path.join(folder, 'states');
    if (fs.existsSync(states)) {
      for (const state of fs.readdirSync(states, { withFileTypes: true })) {
        if (state.isDirectory() && fs.existsSync(path.join(states, state.name, 'pack.json')))
          folders.push(path.join(states, state.name));
      }
    }
  }
  return folders;
}

export const DEFAULT_PACK_ROOTS = [path.join(repoRoot, 'packs')];

/** Finds, validates and registers every pack under the roots (the repository's packs/, plus any the configuration adds). */
export function loadPacks(roots: string[] = DEFAULT_PACK_ROOTS): PackRegistry {
  const validators = schemaValidators();
  const registry = new PackRegistry();
  for (const root of roots) for (const folder of packFolders(root)) registry.register(loadPack(folder, validators));
  registry.checkReferences();
  return registry;
}
