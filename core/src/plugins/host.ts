import fs from 'node:fs';
import path from 'node:path';
import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import { repoRoot } from '../config';
import { emptyRegistries, pointsFor, type HearthPlugin, type PluginRegistries } from './extensionPoints';

/** A plugin's plugin.json, as plugins/plugin.schema.json defines it. */
export interface PluginManifest {
  id: string;
  version: string;
  name: string;
  description: string;
  main: string;
}

export interface LoadedPlugin {
  manifest: PluginManifest;
  folder: string;
  /** The module file that was loaded: a .ts from source (tests), a .js under dist/. */
  file: string;
}

/** What start-up hands to the modules (AppServices.plugins): the filled registries, and which plugins filled them. */
export interface PluginRegistry extends PluginRegistries {
  readonly loaded: readonly LoadedPlugin[];
}

/** Paths inside the repository are shown from its root; a plugin from elsewhere by its full path. */
function shown(file: string): string {
  const relative = path.relative(repoRoot, file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

/** A plugin that cannot load stops start-up; the message names its folder, the file and what is wrong. */
export class PluginLoadError extends Error {
  constructor(
    readonly folder: string,
    readonly file: string,
    readonly pointer: string,
    readonly reason: string,
  ) {
    const inside = path.relative(folder, file);
    const where =
      file === folder
        ? ''
        : inside && !inside.startsWith('..') && !path.isAbsolute(inside)
          ? `: ${inside}`
          : `: ${shown(file)}`;
    super(`plugin ${shown(folder)}${where}${pointer ? ` at ${pointer}` : ''}: ${reason}`);
  }
}

export const DEFAULT_PLUGIN_ROOTS = [path.join(repoRoot, 'plugins')];
const MANIFEST_SCHEMA = path.join(repoRoot, 'plugins', 'plugin.schema.json');
/**
 * Where this code was compiled to: the repository root from source, dist/ once built. Manifests are
 * read from the source tree (tsc copies no JSON), the code of a repository plugin from here.
 */
const CODE_ROOT = path.resolve(__dirname, '..', '..', '..');

function manifestValidator(): ValidateFunction<PluginManifest> {
  const ajv = new Ajv2020({ allErrors: false, strict: true });
  return ajv.compile<PluginManifest>(JSON.parse(fs.readFileSync(MANIFEST_SCHEMA, 'utf8')) as object);
}

/** The most specific schema error, in the words PackLoadError uses for packs. */
function schemaError(folder: string, file: string, errors: ErrorObject[] | null | undefined): PluginLoadError {
  const error = [...(errors ?? [])].sort((a, b) => b.instancePath.length - a.instancePath.length)[0];
  if (!error) return new PluginLoadError(folder, file, '/', 'is invalid');
  if (error.keyword === 'required')
    return new PluginLoadError(
      folder,
      file,
      `${error.instancePath}/${(error.params as { missingProperty: string }).missingProperty}`,
      'is required',
    );
  if (error.keyword === 'additionalProperties')
    return new PluginLoadError(
      folder,
      file,
      `${error.instancePath}/${(error.params as { additionalProperty: string }).additionalProperty}`,
      'is not a known field',
    );
  return new PluginLoadError(folder, file, error.instancePath || '/', error.message ?? 'is invalid');
}

/** Every folder in a root is a plugin (a folder without plugin.json is a fault, not skipped: a misspelt manifest should not pass quietly). */
function pluginFolders(root: string): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(root, { withFileTypes: true });
  } catch {
    throw new PluginLoadError(
      root,
      root,
      '',
      'is not a folder that can be read (a plugin root, from HEARTH_PLUGIN_PATHS or plugins/)',
    );
  }
  return entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => path.join(root, e.name))
    .sort();
}

function readManifest(folder: string, validate: ValidateFunction<PluginManifest>): PluginManifest {
  const file = path.join(folder, 'plugin.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new PluginLoadError(
      folder,
      file,
      '',
      'is missing: every folder in a plugin root is a plugin with a plugin.json',
    );
  }
  let manifest: unknown;
  try {
    manifest = JSON.parse(text);
  } catch (error) {
    throw new PluginLoadError(folder, file, '', `not valid JSON (${(error as Error).message})`);
  }
  if (!validate(manifest)) throw schemaError(folder, file, validate.errors);
  return manifest;
}

/**
 * The file `main` names: for a plugin inside the repository, its compiled twin under dist/ when this
 * code runs from there; else the folder's own module (from source, or a plugin that ships JavaScript).
 */
function mainFile(folder: string, manifest: PluginManifest): string {
  const inRepository = !path.relative(repoRoot, folder).startsWith('..');
  const candidates = [path.join(folder, manifest.main)];
  if (inRepository && CODE_ROOT !== repoRoot)
    candidates.unshift(path.join(CODE_ROOT, path.relative(repoRoot, folder), manifest.main));
  for (const candidate of candidates) {
    try {
      return require.resolve(candidate);
    } catch {
      // try the next place
    }
  }
  throw new PluginLoadError(
    folder,
    path.join(folder, 'plugin.json'),
    '/main',
    `no module "${manifest.main}" (looked for ${candidates.map(shown).join(', ')} with a .js or, from source, .ts extension)`,
  );
}

async function pluginOf(folder: string, file: string, manifest: PluginManifest): Promise<HearthPlugin> {
  let loaded: { default?: unknown };
  try {
    loaded = (await import(file)) as { default?: unknown };
  } catch (error) {
    throw new PluginLoadError(folder, file, '', `cannot be loaded: ${(error as Error).message}`);
  }
  const factory = loaded.default;
  if (typeof factory !== 'function')
    throw new PluginLoadError(
      folder,
      file,
      '',
      'must export its factory as the default export (export default (): HearthPlugin => ({ id, register }))',
    );
  let plugin: unknown;
  try {
    plugin = (factory as () => unknown)();
  } catch (error) {
    throw new PluginLoadError(folder, file, '', `the factory failed: ${(error as Error).message}`);
  }
  const candidate = plugin as Partial<HearthPlugin> | null;
  if (!candidate || typeof candidate !== 'object' || typeof candidate.register !== 'function')
    throw new PluginLoadError(folder, file, '', 'the factory must return an object with an id and a register function');
  if (candidate.id !== manifest.id)
    throw new PluginLoadError(
      folder,
      file,
      '',
      `the factory made plugin "${String(candidate.id)}", but plugin.json says "${manifest.id}"`,
    );
  return candidate as HearthPlugin;
}

/**
 * Finds every plugin under the roots (the repository's plugins/, then any the configuration adds),
 * checks its manifest, loads it and lets it register with core's extension points. Runs once, before
 * the server listens; any fault is a PluginLoadError and start-up stops. Each call makes fresh
 * registries, so servers started side by side (tests) each have their own plugin set.
 */
export async function loadPlugins(roots: string[] = DEFAULT_PLUGIN_ROOTS): Promise<PluginRegistry> {
  const validate = manifestValidator();
  const registries = emptyRegistries();
  const loaded: LoadedPlugin[] = [];
  let open = true;
  for (const root of roots) {
    for (const folder of pluginFolders(root)) {
      const manifest = readManifest(folder, validate);
      const clash = loaded.find((p) => p.manifest.id === manifest.id);
      if (clash)
        throw new PluginLoadError(
          folder,
          path.join(folder, 'plugin.json'),
          '/id',
          `plugin "${manifest.id}" is already loaded from ${shown(clash.folder)}`,
        );
      const file = mainFile(folder, manifest);
      const plugin = await pluginOf(folder, file, manifest);
      let result: unknown;
      try {
        result = plugin.register(pointsFor(registries, `plugin ${manifest.id} (${shown(file)})`, () => open));
      } catch (error) {
        throw new PluginLoadError(folder, file, '', `register failed: ${(error as Error).message}`);
      }
      if (result && typeof (result as { then?: unknown }).then === 'function') {
        (result as Promise<unknown>).then(undefined, () => undefined); // refused below; its outcome must not surface as an unhandled rejection
        throw new PluginLoadError(
          folder,
          file,
          '',
          'register must be synchronous (it only declares what the plugin adds)',
        );
      }
      loaded.push({ manifest, folder, file });
    }
  }
  open = false;
  return { ...registries, loaded };
}
