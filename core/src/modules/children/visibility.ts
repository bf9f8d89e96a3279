import type { Knex } from 'knex';
import type { QueryBuilder } from 'objection';
import { notFound, type FindOptions } from '../../db/find';
import { patchVersioned } from '../../db/versioned';
import type { Principal, TenantScope } from '../../http/operation';
import type { FieldError } from '../../http/problem';
import { Child } from './models';

/** What the fence needs to know: who asks, in which tenant's transaction. A request's context is one. */
export type Fenced = Pick<TenantScope, 'trx' | 'tenantId'> & { principal: Principal | null };

/**
 * The one visibility fence for children's records.
 *
 * A restricted child is visible only to the users named on it; to anyone else (another user, however
 * senior, and every API key) it and everything about it do not exist. "Everything about it" is its
 * case record, its matching requests and placements and all kept under them, and the tasks, form
 * submissions and case events whose subject is the child or one of its placements: each module finds
 * those through the functions below, never through the tables alone.
 *
 * Money about a restricted child (payment lines and their issues, claim lines, ledger entries, invoice
 * lines) is the service's money, not the child's record: it stays visible so that runs, invoices and
 * books still add up, with the child and the placement withheld (`withholdRestricted`).
 *
 * Restricted children are few, so every check is written as "not one of the hidden children", which
 * costs nothing where a tenant restricts nobody and lets rows about no child through.
 */

/** The user a restriction could name, or null for a credential no restriction ever names (an API key). */
function namedUser(ctx: Fenced): string | null {
  return ctx.principal?.kind === 'user' ? ctx.principal.id : null;
}

/** `h` is a child hidden from the caller: restricted, and the caller not named on it. */
function hiddenChildCondition(ctx: Fenced): { sql: string; bindings: string[] } {
  const user = namedUser(ctx);
  if (!user) return { sql: 'h.restricted', bindings: [] };
  return {
    sql: 'h.restricted AND NOT EXISTS (SELECT 1 FROM child_access_grants g WHERE g.tenant_id = h.tenant_id AND g.child_id = h.id AND g.user_id = ?)',
    bindings: [user],
  };
}

/** True where the child id in `column` (a trusted column name, e.g. `t.child_id`) is visible to the caller, or null. */
export function childVisible(ctx: Fenced, column: string): Knex.Raw {
  const hidden = hiddenChildCondition(ctx);
  return ctx.trx.raw(`NOT EXISTS (SELECT 1 FROM children h WHERE h.tenant_id = ? AND h.id = ?? AND ${hidden.sql})`, [
    ctx.tenantId,
    column,
    ...hidden.bindings,
  ]);
}

/** True where the placement id in `column` belongs to a child visible to the caller, or is null. */
export function placementVisible(ctx: Fenced, column: string): Knex.Raw {
  const hidden = hiddenChildCondition(ctx);
  return ctx.trx.raw(
    `NOT EXISTS (SELECT 1 FROM placements hp JOIN children h ON h.tenant_id = hp.tenant_id AND h.id = hp.child_id
                  WHERE hp.tenant_id = ? AND hp.id = ?? AND ${hidden.sql})`,
    [ctx.tenantId, column, ...hidden.bindings],
  );
}

/**
 * True where a polymorphic subject (tasks, case events, form submissions: `child`, `placement`,
 * `carer_household`, `user`) is visible: a child or a placement through the fence, anything else always.
 */
export function subjectVisible(ctx: Fenced, typeColumn: string, idColumn: string): Knex.Raw {
  const child = childVisible(ctx, idColumn).toSQL();
  const placement = placementVisible(ctx, idColumn).toSQL();
  return ctx.trx.raw(`CASE ?? WHEN 'child' THEN ${child.sql} WHEN 'placement' THEN ${placement.sql} ELSE true END`, [
    typeColumn,
    ...(child.bindings as Knex.RawBinding[]),
    ...(placement.bindings as Knex.RawBinding[]),
  ]);
}

/**
 * The ids of the records hidden from the caller that other records name: hidden children, their
 * placements, their matching requests and their documents, as one `id` column (for a `WITH … AS MATERIALIZED`).
 */
export function hiddenRecordIds(ctx: Fenced): Knex.Raw {
  const hidden = hiddenChildCondition(ctx);
  return ctx.trx.raw(
    `SELECT h.id FROM children h WHERE h.tenant_id = ? AND ${hidden.sql}
     UNION ALL SELECT hp.id FROM placements hp JOIN children h ON h.tenant_id = hp.tenant_id AND h.id = hp.child_id WHERE hp.tenant_id = ? AND ${hidden.sql}
     UNION ALL SELECT hm.id FROM matching_requests hm JOIN children h ON h.tenant_id = hm.tenant_id AND h.id = hm.child_id WHERE hm.tenant_id = ? AND ${hidden.sql}
     UNION ALL SELECT hd.id FROM documents hd JOIN children h ON h.tenant_id = hd.tenant_id AND h.id = hd.child_id WHERE hd.tenant_id = ? AND ${hidden.sql}`,
    [
      ctx.tenantId,
      ...hidden.bindings,
      ctx.tenantId,
      ...hidden.bindings,
      ctx.tenantId,
      ...hidden.bindings,
      ctx.tenantId,
      ...hidden.bindings,
    ],
  );
}

export interface HiddenRecords {
  children: ReadonlySet<string>;
  placements: ReadonlySet<string>;
}

const hiddenByRequest = new WeakMap<Fenced, Promise<HiddenRecords>>();

/** The children (and their placements) hidden from the caller, read once per request: they are few. */
export function hiddenRecords(ctx: Fenced): Promise<HiddenRecords> {
  let found = hiddenByRequest.get(ctx);
  if (!found) {
    const hidden = hiddenChildCondition(ctx);
    found = (async () => {
      const result = (await ctx.trx.raw(
        `SELECT h.id, coalesce(array_agg(hp.id) FILTER (WHERE hp.id IS NOT NULL), '{}') AS placement_ids
           FROM children h LEFT JOIN placements hp ON hp.tenant_id = h.tenant_id AND hp.child_id = h.id
          WHERE h.tenant_id = ? AND ${hidden.sql}
          GROUP BY h.id`,
        [ctx.tenantId, ...hidden.bindings],
      )) as { rows: Array<{ id: string; placement_ids: string[] }> };
      return {
        children: new Set(result.rows.map((r) => r.id)),
        placements: new Set(result.rows.flatMap((r) => r.placement_ids)),
      };
    })();
    hiddenByRequest.set(ctx, found);
  }
  return found;
}

/** A row or an input that may name a child and a placement, in the API's words. */
export interface NamesAChild {
  childId?: string | null;
  placementId?: string | null;
}

/** Which fields of a row name a child and a placement: the API's words, or the table's. */
export interface ChildKeys {
  child: string;
  placement: string;
}
export const API_KEYS: ChildKeys = { child: 'childId', placement: 'placementId' };
export const ROW_KEYS: ChildKeys = { child: 'child_id', placement: 'placement_id' };

/** Whether a row names a child (or a placement of a child) hidden from the caller. */
export function namesHidden(hidden: HiddenRecords, row: object, keys: ChildKeys = API_KEYS): boolean {
  const r = row as Record<string, unknown>;
  const child = r[keys.child];
  const placement = r[keys.placement];
  return (
    (typeof child === 'string' && hidden.children.has(child)) ||
    (typeof placement === 'string' && hidden.placements.has(placement))
  );
}

/**
 * Money rows as the caller may see them: a row about a hidden child keeps its amounts, with its child
 * and placement withheld (null) and `replace` laid over it (the child's initials, a placement's
 * reference, an explanation built from the child's facts). Rows are copied, never changed in place.
 */
export async function withholdRestricted<T extends object>(
  ctx: Fenced,
  rows: T[],
  replace: Partial<T> = {},
  keys: ChildKeys = API_KEYS,
): Promise<T[]> {
  const hidden = await hiddenRecords(ctx);
  if (!hidden.children.size) return rows;
  return rows.map((row) => {
    if (!namesHidden(hidden, row, keys)) return row;
    const out: Record<string, unknown> = { ...row, ...replace };
    if (keys.child in row) out[keys.child] = null;
    if (keys.placement in row) out[keys.placement] = null;
    return out as T;
  });
}

/** One row, as `withholdRestricted` shows it. */
export async function withholdRestrictedOne<T extends object>(
  ctx: Fenced,
  row: T,
  replace: Partial<T> = {},
  keys: ChildKeys = API_KEYS,
): Promise<T> {
  return (await withholdRestricted(ctx, [row], replace, keys))[0]!;
}

/**
 * Errors for inputs that name a child or a placement hidden from the caller, in the words used for
 * any id that is not the tenant's: to the caller, it is not one.
 */
export async function hiddenReferenceErrors(
  ctx: Fenced,
  items: NamesAChild[],
  pointer: (index: number, field: keyof NamesAChild) => string,
): Promise<FieldError[]> {
  const hidden = await hiddenRecords(ctx);
  if (!hidden.children.size) return [];
  return items.flatMap((item, i) => [
    ...(item.childId && hidden.children.has(item.childId)
      ? [{ pointer: pointer(i, 'childId'), message: 'is not a child of this tenant' }]
      : []),
    ...(item.placementId && hidden.placements.has(item.placementId)
      ? [{ pointer: pointer(i, 'placementId'), message: 'is not a placement of this tenant' }]
      : []),
  ]);
}

/** How withheld names read on a document or report. */
export const WITHHELD_NAME = 'Restricted record';

/** The children the caller may see, as a query to narrow further (alias `c`). */
export function visibleChildren(ctx: Fenced): QueryBuilder<Child> {
  return Child.query(ctx.trx).alias('c').where('c.tenant_id', ctx.tenantId).where(childVisible(ctx, 'c.id'));
}

/**
 * A child as the caller may see it, or not found (404, or 422 naming `pointer` for an id from a
 * body): the one finder every module uses for a child. `lock` takes its row lock for a write;
 * `columns` adds columns computed in the same statement (its masked identifiers).
 */
export async function findChild<Extra extends object = object>(
  ctx: Fenced,
  childId: string,
  options: FindOptions & { columns?: Knex.Raw[] } = {},
): Promise<Child & Extra> {
  const query = visibleChildren(ctx)
    .where('c.id', childId)
    .select('c.*', ...(options.columns ?? []))
    .first();
  if (options.lock) query.forUpdate();
  const row = await query;
  if (!row || (row.deletedAt && !options.allowDeleted)) throw notFound(Child.noun, options.pointer);
  return row as Child & Extra;
}

/** Each read of a restricted child's record is audited (the named users' reads are the trail). */
export async function logRestrictedRead(ctx: Fenced & Pick<TenantScope, 'audit'>, rows: Child[]): Promise<void> {
  for (const row of rows)
    if (row.restricted) await ctx.audit({ action: 'child.restricted_read', entityType: 'child', entityId: row.id });
}

/**
 * Sets the child's normalised status as a case record changed it (a care episode opened or ended);
 * the version moves, so a client holding the child's ETag re-reads it. The caller audits its write.
 */
export async function setChildStatus(ctx: Fenced, child: Child, status: Child['status']): Promise<void> {
  if (child.status === status) return;
  const after = await patchVersioned(ctx.trx, Child, child, { status });
  child.status = after.status;
  child.version = after.version;
}
