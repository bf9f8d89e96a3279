import fs from 'node:fs';
import path from 'node:path';
import type { effectiveConfiguration } from '../modules/configuration/effective';
import type { TenantConfiguration } from '../modules/configuration/tenantConfiguration';
import type { ResolvedPack } from '../packs/registry';
import type { TemplateDefinition } from '../packs/types';

export type EffectiveConfiguration = ReturnType<typeof effectiveConfiguration>;
export type TemplateKind = TemplateDefinition['kind'];

/** The template a tenant's documents use: the pack's, or a tenant overlay's source in its place. */
export interface DocumentTemplate {
  key: string;
  kind: TemplateKind;
  name: string;
  /** Where the source came from, as the configuration endpoint names it: `pack:uk`, `pack:usa`, `overlay:3`. */
  layer: string;
  source: string;
}

/** The tenant's configuration names no such template, or its pack is not loaded here. */
export class DocumentTemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DocumentTemplateError';
  }
}

/** Pack files do not change while the process runs, so each is read once. */
const packSources = new Map<string, string>();

function packSource(pack: ResolvedPack, key: string): string {
  const item = pack.points.templates.get(key);
  if (!item) throw new DocumentTemplateError(`The pack "${pack.manifest.id}" has no template "${key}"`);
  const file = path.join(item.folder, (item.value as TemplateDefinition).file);
  let source = packSources.get(file);
  if (source === undefined) {
    source = fs.readFileSync(file, 'utf8');
    packSources.set(file, source);
  }
  return source;
}

function isEffective(config: TenantConfiguration | EffectiveConfiguration): config is EffectiveConfiguration {
  return 'templates' in config;
}

function resolve(
  config: TenantConfiguration | EffectiveConfiguration,
  pack: ResolvedPack | undefined,
): { effective: EffectiveConfiguration; pack: ResolvedPack } {
  if (isEffective(config)) {
    if (!pack)
      throw new DocumentTemplateError(
        'An effective configuration needs its resolved pack to read the pack’s template files',
      );
    if (pack.manifest.id !== config.packId)
      throw new DocumentTemplateError(
        `The effective configuration is for pack "${config.packId}", not "${pack.manifest.id}"`,
      );
    return { effective: config, pack };
  }
  if (!config.pack || !config.effective)
    throw new DocumentTemplateError(`The tenant's pack "${config.packId}" is not loaded on this platform`);
  return { effective: config.effective, pack: config.pack };
}

function toDocument(item: EffectiveConfiguration['templates'][number], pack: ResolvedPack): DocumentTemplate {
  const value = item.value;
  // An overlay puts its source on the item; a pack's template is only named by its file.
  const source = typeof value.source === 'string' ? value.source : packSource(pack, item.key);
  return { key: item.key, kind: value.kind, name: value.name, layer: item.layer, source };
}

/**
 * The template `templateKey` as this tenant has it on the configuration's date, with the layer it
 * came from. Give the TenantConfiguration, or an effectiveConfiguration(...) result with its pack.
 */
export function documentFor(config: TenantConfiguration, templateKey: string): DocumentTemplate;
export function documentFor(config: EffectiveConfiguration, templateKey: string, pack: ResolvedPack): DocumentTemplate;
export function documentFor(
  config: TenantConfiguration | EffectiveConfiguration,
  templateKey: string,
  pack?: ResolvedPack,
): DocumentTemplate {
  const resolved = resolve(config, pack);
  const item = resolved.effective.templates.find((t) => t.key === templateKey);
  if (!item)
    throw new DocumentTemplateError(
      `The tenant's configuration (pack "${resolved.effective.packId}") has no template "${templateKey}"`,
    );
  return toDocument(item, resolved.pack);
}

/**
 * The one template of a kind, for callers that know what they make but not what each pack calls
 * it (the UK's `carer-statement` is the USA's `provider-statement`). Kinds with several templates
 * (letters) must be asked for by key.
 */
export function documentOfKind(config: TenantConfiguration, kind: TemplateKind): DocumentTemplate;
export function documentOfKind(
  config: EffectiveConfiguration,
  kind: TemplateKind,
  pack: ResolvedPack,
): DocumentTemplate;
export function documentOfKind(
  config: TenantConfiguration | EffectiveConfiguration,
  kind: TemplateKind,
  pack?: ResolvedPack,
): DocumentTemplate {
  const resolved = resolve(config, pack);
  const items = resolved.effective.templates.filter((t) => t.value.kind === kind);
  if (items.length !== 1) {
    const found = items.length ? `several (${items.map((t) => t.key).join(', ')}); ask for one by key` : 'none';
    throw new DocumentTemplateError(
      `The tenant's configuration (pack "${resolved.effective.packId}") has ${found} of kind "${kind}"`,
    );
  }
  return toDocument(items[0]!, resolved.pack);
}
