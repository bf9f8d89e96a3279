import type { TenantScope } from '../../http/operation';
import { Problem, type FieldError } from '../../http/problem';
import type { ExtractDefinition } from '../../packs/types';
import { LookupValue } from '../lookups/models';
import { lookupCodeErrors } from '../lookups/service';

/**
 * What a coded field of the case record means, in the core's own data paths. A pack says which of
 * its option lists holds the codes for a path where its statutory extract maps that path to a list
 * (`{ "from": "episode.endReason", "lookup": "episode_end_reason" }`), or, for a field the return
 * reports as one yes/no column per code (`episode.removalReasonIncludes.<code>`), by the list whose
 * codes those columns name. The core names no pack's list: a new pack brings its own.
 */
export const FIELD_PURPOSES = {
  legalStatus: ['episode.legalStatus', 'legalStatus.code'],
  episodeStartReason: ['episode.reasonForNewEpisode', 'episode.removalReason'],
  episodeEndReason: ['episode.endReason', 'episode.dischargeReason'],
  reviewParticipation: ['review.participation'],
  missingType: ['missing.type'],
} as const;

export type FieldPurpose = keyof typeof FIELD_PURPOSES;

interface TenantLists {
  /** list key → its codes (every code, active or not: which list is meant does not depend on activity). */
  codes: Map<string, Set<string>>;
  extracts: ExtractDefinition[];
}

/** What reading the tenant's lists needs: its transaction and tenant, and the packs. */
type ListScope = Pick<TenantScope, 'trx' | 'tenantId' | 'services'>;

const cache = new WeakMap<ListScope, Promise<TenantLists>>();

async function tenantLists(ctx: ListScope): Promise<TenantLists> {
  let found = cache.get(ctx);
  if (!found) {
    found = (async () => {
      const tenant = (await ctx.trx('tenants').where({ id: ctx.tenantId }).first('pack_id')) as
        { pack_id: string | null } | undefined;
      const extracts =
        tenant?.pack_id && ctx.services.packs.has(tenant.pack_id)
          ? [...ctx.services.packs.resolve(tenant.pack_id).points.extracts.values()].map(
              (item) => item.value as ExtractDefinition,
            )
          : [];
      const rows = await LookupValue.query(ctx.trx).where({ tenant_id: ctx.tenantId }).select('list_key', 'code');
      const codes = new Map<string, Set<string>>();
      for (const row of rows) {
        if (!codes.has(row.listKey)) codes.set(row.listKey, new Set());
        codes.get(row.listKey)!.add(row.code);
      }
      return { codes, extracts };
    })();
    cache.set(ctx, found);
  }
  return found;
}

/** The tenant's option list for a purpose, or null when its pack declares none (then any code is accepted). */
export async function listFor(ctx: ListScope, purpose: FieldPurpose): Promise<string | null> {
  const { codes, extracts } = await tenantLists(ctx);
  const paths: readonly string[] = FIELD_PURPOSES[purpose];
  const columns = extracts.flatMap((e) => e.files.flatMap((f) => f.columns));
  for (const column of columns)
    if (column.lookup && paths.includes(column.from) && codes.has(column.lookup)) return column.lookup;
  for (const path of paths) {
    const prefix = `${path}Includes.`;
    const named = columns.filter((c) => c.from.startsWith(prefix)).map((c) => c.from.slice(prefix.length));
    if (!named.length) continue;
    for (const [list, held] of codes) if (named.every((code) => held.has(code))) return list;
  }
  return null;
}

/** Checks each given code against the list its purpose names; a purpose with no list accepts any code. */
export async function purposeCodeErrors(
  ctx: ListScope,
  checks: Array<{ purpose: FieldPurpose; code: string | null | undefined; pointer: string }>,
): Promise<FieldError[]> {
  const resolved = [];
  for (const check of checks) {
    if (typeof check.code !== 'string') continue;
    const list = await listFor(ctx, check.purpose);
    if (list) resolved.push({ list, code: check.code, pointer: check.pointer });
  }
  return lookupCodeErrors(ctx.trx, ctx.tenantId, resolved);
}

export async function assertPurposeCodes(
  ctx: ListScope,
  checks: Parameters<typeof purposeCodeErrors>[1],
): Promise<void> {
  const errors = await purposeCodeErrors(ctx, checks);
  if (errors.length) throw Problem.unprocessable(errors);
}
