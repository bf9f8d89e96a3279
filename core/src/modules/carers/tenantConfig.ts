import type { Knex } from 'knex';
import { DEFAULT_PACK_ROOTS, loadPacks, type PackRegistry } from '../../packs/registry';
import type { RateTable, WorkflowDefinition } from '../../packs/types';
import { todayIn } from '../../time';
import { effectiveConfiguration, type Overlay, type OverlayChanges } from '../configuration/effective';
import path from 'node:path';

/** What the carers module needs from the tenant's effective configuration (pack ⊕ sub-pack ⊕ overlays). */
export interface CarerConfig {
  packId: string;
  timeZone: string;
  today: string;
  /** The tenant's workflow for subject `carer_household`, or null when its pack has none. */
  workflow: WorkflowDefinition | null;
  /** Check types a household must hold for each adult member: those the workflow names as evidence. */
  requiredCheckTypes: string[];
  /** The `region` values the tenant's rate tables declare, or null when no table has that dimension. */
  regions: string[] | null;
  /** Form versions by key, latest last, for household forms. */
  forms: Map<string, Array<{ version: number; layer: string; schema: Record<string, unknown> }>>;
}

let fallbackRegistry: PackRegistry | null = null;
let rememberedRegistry: PackRegistry | null = null;

/** The server's registry, remembered from the first request this module handles. */
export function rememberPackRegistry(packs: PackRegistry): void {
  rememberedRegistry = packs;
}

/** For callers outside a request (another module's service): the server's registry, else the packs on disk. */
export function packRegistry(): PackRegistry {
  if (rememberedRegistry) return rememberedRegistry;
  if (!fallbackRegistry) {
    const extra = (process.env.HEARTH_PACK_PATHS ?? '').split(path.delimiter).map((s) => s.trim()).filter(Boolean).map((p) => path.resolve(p));
    fallbackRegistry = loadPacks([...DEFAULT_PACK_ROOTS, ...extra]);
  }
  return fallbackRegistry;
}

interface OverlayRow {
  id: string;
  version: number;
  effective_from: string;
  description: string;
  changes: OverlayChanges;
  created_by: string | null;
  created_at: Date;
}

/** Keys at a given depth of a nested amounts object (the values of one dimension). */
function keysAtDepth(amounts: unknown, depth: number, out: Set<string>): void {
  if (amounts === null || typeof amounts !== 'object') return;
  for (const [key, value] of Object.entries(amounts as Record<string, unknown>)) {
    if (depth === 0) out.add(key);
    else keysAtDepth(value, depth - 1, out);
  }
}

export async function carerConfig(trx: Knex.Transaction, tenantId: string, packs: PackRegistry, asOf?: string): Promise<CarerConfig> {
  const tenant = (await trx('tenants').where({ id: tenantId }).first('pack_id', 'time_zone')) as { pack_id: string; time_zone: string };
  const today = todayIn(tenant.time_zone);
  if (!packs.has(tenant.pack_id)) return { packId: tenant.pack_id, timeZone: tenant.time_zone, today, workflow: null, requiredCheckTypes: [], regions: null, forms: new Map() };
  const rows = (await trx('tenant_config_overlays').where({ tenant_id: tenantId }).orderBy('version')) as OverlayRow[];
  const overlays: Overlay[] = rows.map((r) => ({ id: r.id, version: r.version, effectiveFrom: String(r.effective_from), description: r.description, changes: r.changes, createdBy: r.created_by, createdAt: new Date(r.created_at).toISOString() }));
  const config = effectiveConfiguration(packs.resolve(tenant.pack_id), overlays, asOf ?? today);
  const workflow = (config.workflows.map((w) => w.value as unknown as WorkflowDefinition).find((w) => w.subject === 'carer_household')) ?? null;
  const required = new Set<string>();
  for (const t of workflow?.transitions ?? []) for (const e of t.evidence ?? []) if (e.kind === 'check') required.add(e.key);
  let regions: Set<string> | null = null;
  for (const item of config.rates) {
    const table = item.value as unknown as RateTable & { effective?: { amounts: unknown } | null };
    if (table.kind !== 'table' || !Array.isArray(table.dimensions)) continue;
    const depth = (table.dimensions as string[]).indexOf('region');
    if (depth < 0) continue;
    regions ??= new Set();
    keysAtDepth(table.effective?.amounts, depth, regions);
  }
  const forms = new Map<string, Array<{ version: number; layer: string; schema: Record<string, unknown> }>>();
  for (const item of config.forms) {
    const form = item.value as { key: string; version: number; schema: Record<string, unknown> };
    const list = forms.get(form.key) ?? [];
    list.push({ version: form.version, layer: item.layer, schema: form.schema });
    list.sort((a, b) => a.version - b.version);
    forms.set(form.key, list);
  }
  return { packId: tenant.pack_id, timeZone: tenant.time_zone, today, workflow, requiredCheckTypes: [...required].sort(), regions: regions ? [...regions].sort() : null, forms };
}
