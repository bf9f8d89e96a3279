import fs from 'node:fs';
import path from 'node:path';
import Ajv2020, { type ErrorObject } from 'ajv/dist/2020';
import { repoRoot } from '../config';

export interface LookupValueDefinition {
  code: string;
  label: string;
  sortOrder?: number;
  /** Codes this value carries in statutory returns (ssda903, afcars…). */
  statutory?: Record<string, string>;
}

export interface LookupListDefinition {
  key: string;
  name: string;
  source: string;
  values: LookupValueDefinition[];
}

export interface PackManifest {
  id: string;
  version: string;
  name: string;
  jurisdiction: string;
  currency: 'GBP' | 'USD';
  defaultTimeZone: string;
  extends?: string;
  lookups?: string[];
}

export interface LoadedPack {
  manifest: PackManifest;
  folder: string;
  lookups: LookupListDefinition[];
}

/** A pack that cannot load stops start-up; the message names the file, the path inside it and the fault. */
export class PackLoadError extends Error {
  constructor(
    readonly file: string,
    readonly pointer: string,
    readonly reason: string,
  ) {
    super(`${path.relative(repoRoot, file)}${pointer ? ` at ${pointer}` : ''}: ${reason}`);
  }
}

const manifestSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'version', 'name', 'jurisdiction', 'currency', 'defaultTimeZone'],
  properties: {
    id: { type: 'string', pattern: '^[a-z][a-z0-9-]*(/[a-z][a-z0-9-]*)*$' },
    version: { type: 'string', pattern: '^[0-9]+\\.[0-9]+\\.[0-9]+$' },
    name: { type: 'string', minLength: 1 },
    jurisdiction: { type: 'string', minLength: 2 },
    currency: { enum: ['GBP', 'USD'] },
    defaultTimeZone: { type: 'string', minLength: 1 },
    extends: { type: 'string' },
    lookups: { type: 'array', items: { type: 'string', pattern: '\\.json$' } },
  },
} as const;

const lookupSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['key', 'name', 'source', 'values'],
  properties: {
    key: { type: 'string', pattern: '^[a-z][a-z0-9_]{0,62}$' },
    name: { type: 'string', minLength: 1 },
    source: { type: 'string', minLength: 1 },
    values: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['code', 'label'],
        properties: {
          code: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$' },
          label: { type: 'string', minLength: 1 },
          sortOrder: { type: 'integer', minimum: 0 },
          statutory: { type: 'object', additionalProperties: { type: 'string' } },
        },
      },
    },
  },
} as const;

const ajv = new Ajv2020({ allErrors: true, strict: true });
const validateManifest = ajv.compile<PackManifest>(manifestSchema);
const validateLookup = ajv.compile<LookupListDefinition>(lookupSchema);

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

function firstError(file: string, errors: ErrorObject[] | null | undefined): PackLoadError {
  const error = errors?.[0];
  const pointer = error?.keyword === 'required' ? `${error.instancePath}/${(error.params as { missingProperty: string }).missingProperty}` : (error?.instancePath ?? '');
  const reason = error?.keyword === 'additionalProperties' ? `unknown field "${(error.params as { additionalProperty: string }).additionalProperty}"` : (error?.message ?? 'is invalid');
  return new PackLoadError(file, pointer || '/', reason);
}

/** The packs found on disk, by id. The full plugin host (extension points, overlays) builds on this. */
export class PackRegistry {
  private readonly packs = new Map<string, LoadedPack>();

  register(pack: LoadedPack, file: string): void {
    const clash = this.packs.get(pack.manifest.id);
    if (clash) throw new PackLoadError(file, '/id', `pack "${pack.manifest.id}" is already registered from ${path.relative(repoRoot, clash.folder)}`);
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

  /** A pack's option lists, with what it inherits: a list of the same key in the child pack replaces the parent's. */
  lookupDefaults(id: string): LookupListDefinition[] {
    const chain: LoadedPack[] = [];
    for (let pack = this.packs.get(id); pack; pack = pack.manifest.extends ? this.packs.get(pack.manifest.extends) : undefined) {
      chain.unshift(pack);
    }
    const merged = new Map<string, LookupListDefinition>();
    for (const pack of chain) for (const list of pack.lookups) merged.set(list.key, list);
    return [...merged.values()];
  }
}

function loadPack(folder: string): { pack: LoadedPack; file: string } {
  const file = path.join(folder, 'pack.json');
  const manifest = readJson(file);
  if (!validateManifest(manifest)) throw firstError(file, validateManifest.errors);
  const lookups = (manifest.lookups ?? []).map((relative, index) => {
    const lookupFile = path.join(folder, relative);
    if (!fs.existsSync(lookupFile)) throw new PackLoadError(file, `/lookups/${index}`, `no file ${relative}`);
    const list = readJson(lookupFile);
    if (!validateLookup(list)) throw firstError(lookupFile, validateLookup.errors);
    const codes = new Set<string>();
    list.values.forEach((value, i) => {
      if (codes.has(value.code)) throw new PackLoadError(lookupFile, `/values/${i}/code`, `code "${value.code}" appears twice`);
      codes.add(value.code);
    });
    return list;
  });
  return { pack: { manifest, folder, lookups }, file };
}

/** Finds every `pack.json` under the pack roots (a pack folder, and its `states/*` sub-packs). */
export function loadPacks(roots: string[] = [path.join(repoRoot, 'packs')]): PackRegistry {
  const registry = new PackRegistry();
  const folders: string[] = [];
  for (const root of roots) {
    for (const entry of fs.readdirSync(root, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const folder = path.join(root, entry.name);
      if (fs.existsSync(path.join(folder, 'pack.json'))) folders.push(folder);
      const states = path.join(folder, 'states');
      if (fs.existsSync(states)) {
        for (const state of fs.readdirSync(states, { withFileTypes: true })) {
          if (state.isDirectory() && fs.existsSync(path.join(states, state.name, 'pack.json'))) folders.push(path.join(states, state.name));
        }
      }
    }
  }
  const loaded = folders.map(loadPack);
  for (const { pack, file } of loaded) registry.register(pack, file);
  for (const { pack, file } of loaded) {
    if (pack.manifest.extends && !registry.has(pack.manifest.extends)) {
      throw new PackLoadError(file, '/extends', `extends "${pack.manifest.extends}", which is not a known pack`);
    }
  }
  return registry;
}
