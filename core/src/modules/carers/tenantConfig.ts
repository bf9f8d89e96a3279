import type { Knex } from 'knex';
import type { PackRegistry } from '../../packs/registry';
import type { WorkflowDefinition } from '../../packs/types';
import { tenantConfiguration } from '../configuration/tenantConfiguration';

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

/** Keys at a given depth of a nested amounts object (the values of one dimension). */
function keysAtDepth(amounts: unknown, depth: number, out: Set<string>): void {
  if (amounts === null || typeof amounts !== 'object') return;
  for (const [key, value] of Object.entries(amounts as Record<string, unknown>)) {
    if (depth === 0) out.add(key);
    else keysAtDepth(value, depth - 1, out);
  }
}

export async function carerConfig(
  trx: Knex.Transaction,
  tenantId: string,
  packs: PackRegistry,
  asOf?: string,
): Promise<CarerConfig> {
  const { packId, timeZone, today, effective: config } = await tenantConfiguration(trx, tenantId, packs, asOf);
  if (!config)
    return { packId, timeZone, today, workflow: null, requiredCheckTypes: [], regions: null, forms: new Map() };
  const workflow = config.workflows.map((w) => w.value).find((w) => w.subject === 'carer_household') ?? null;
  const required = new Set<string>();
  for (const t of workflow?.transitions ?? [])
    for (const e of t.evidence ?? []) if (e.kind === 'check') required.add(e.key);
  let regions: Set<string> | null = null;
  for (const item of config.rates) {
    const table = item.value;
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
  return {
    packId,
    timeZone,
    today,
    workflow,
    requiredCheckTypes: [...required].sort(),
    regions: regions ? [...regions].sort() : null,
    forms,
  };
}
