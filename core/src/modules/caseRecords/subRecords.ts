import type { Knex } from 'knex';
import type { OperationContext, OperationDefinition, OperationResult } from '../../http/operation';
import { assertIfMatch, etagOf } from '../../http/etag';
import { decodeCursor, toPage } from '../../http/pagination';
import { Problem } from '../../http/problem';
import { newId } from '../../ids';
import { iso } from '../../time';
import type { Child } from '../children/models';
import { findChild, logRestrictedRead } from '../children/visibility';
import { tenantToday } from '../tenants/today';

/** A row of one of the case-record tables, as the database holds it (snake_case columns). */
export type Row = Record<string, unknown> & { id: string; child_id: string; version: number; deleted_at: Date | null };

export type WriteAction = 'created' | 'updated' | 'deleted' | 'restored';

/** What the request changes: the child (locked), the row before (null on create) and after. */
export interface Change {
  child: Child;
  before: Row | null;
  after: Row;
  input: Record<string, unknown>;
  today: string;
}

/**
 * One table of things kept on a child, and how its route family behaves. Every family gets the same
 * six operations (list, create, read, change, soft-delete, restore) with the same rules: the child
 * must be visible to the caller (else 404), writes hold the child's row lock (so the overlap checks
 * see every concurrent write), each write is audited once.
 */
export interface SubRecordSpec {
  table: string;
  /** Audit entity type and action prefix, e.g. `child_legal_status`. */
  entityType: string;
  /** For messages: "The legal status was not found". */
  noun: string;
  /** The path segment under /v1/children/{childId}/ and the id parameter. */
  path: string;
  idParam: string;
  /** Body field → column; `json` columns are stored as jsonb. */
  fields: Record<string, string>;
  json?: string[];
  /** Keyset order: (sortColumn, id); id alone when absent. */
  sortColumn?: string;
  /** The date column `from` / `to` filter on. */
  rangeColumn?: string;
  /** Dated spans that must not overlap for one child: [start, end) with end exclusive, open when null. */
  span?: { start: string; end: string; startField: string; endField: string; what: string };
  /** Extra list filters from the query. */
  filter?(query: Knex.QueryBuilder, params: Record<string, unknown>): void;
  /** Values set by the server on create (who recorded it…). */
  prepare?(ctx: OperationContext, columns: Record<string, unknown>): void;
  /** Rules the contract cannot say; throws a Problem naming the field. */
  check?(ctx: OperationContext, change: Change): Promise<void>;
  /** Rules a deleted record must still meet to come back (what other live records allow). */
  restoring?(ctx: OperationContext, change: Change): Promise<void>;
  /** What else the write does in the same transaction (case events, the child's status). */
  effects?(ctx: OperationContext, change: Change, action: WriteAction): Promise<void>;
  /** Extra fields of the API shape, beside the mapped ones. */
  extra?(row: Row, today: string): Record<string, unknown>;
}

export function toApi(spec: SubRecordSpec, row: Row, today: string): Record<string, unknown> {
  const out: Record<string, unknown> = { id: row.id, childId: row.child_id };
  for (const [field, column] of Object.entries(spec.fields)) out[field] = row[column] ?? null;
  Object.assign(out, spec.extra?.(row, today) ?? {});
  out.version = row.version;
  out.createdBy = row.created_by ?? null;
  out.createdAt = iso(row.created_at as Date);
  out.updatedAt = iso(row.updated_at as Date);
  out.deletedAt = iso(row.deleted_at);
  out.deletedBy = row.deleted_by ?? null;
  return out;
}

function columnsOf(spec: SubRecordSpec, input: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, column] of Object.entries(spec.fields)) if (input[field] !== undefined && field in input) out[column] = input[field];
  return out;
}

/** jsonb columns go to the driver as JSON text (PGlite and pg alike). */
function forDatabase(spec: SubRecordSpec, columns: Record<string, unknown>): Record<string, unknown> {
  const out = { ...columns };
  for (const column of spec.json ?? []) if (column in out) out[column] = JSON.stringify(out[column]);
  return out;
}

const userId = (ctx: OperationContext) => (ctx.principal!.kind === 'user' ? ctx.principal!.id : null);

/** Another live span of the same child that [start, end) overlaps, if any. */
async function overlapping(ctx: OperationContext, spec: SubRecordSpec, row: Row): Promise<Row | undefined> {
  const span = spec.span!;
  const start = row[span.start] as string;
  const end = (row[span.end] as string | null) ?? null;
  return (await ctx
    .trx(spec.table)
    .where({ tenant_id: ctx.tenantId!, child_id: row.child_id })
    .whereNull('deleted_at')
    .whereNot('id', row.id)
    .whereRaw(`${span.start} < coalesce(?::date, 'infinity'::date)`, [end])
    .whereRaw(`coalesce(${span.end}, 'infinity'::date) > ?::date`, [start])
    .orderBy(span.start)
    .first()) as Row | undefined;
}

async function assertNoOverlap(ctx: OperationContext, spec: SubRecordSpec, row: Row, asConflict: boolean): Promise<void> {
  if (!spec.span) return;
  const other = await overlapping(ctx, spec, row);
  if (!other) return;
  const span = spec.span;
  const otherEnd = (other[span.end] as string | null) ?? null;
  const message = `overlaps ${span.what} ${other.id} (${other[span.start] as string} to ${otherEnd ?? 'open'}); ${span.what}s of one child may not overlap`;
  if (asConflict) throw new Problem('conflict', `It would overlap ${span.what} ${other.id}`, { errors: [{ pointer: `/path/${spec.idParam}`, message }] });
  // The start falls inside the other span, or this span runs on into the other one.
  const startInside = (other[span.start] as string) <= (row[span.start] as string);
  throw Problem.unprocessable([{ pointer: `/body/${startInside ? span.startField : span.endField}`, message }]);
}

async function findRow(ctx: OperationContext, spec: SubRecordSpec, child: Child, options: { lock?: boolean; allowDeleted?: boolean }): Promise<Row> {
  const query = ctx.trx(spec.table).where({ tenant_id: ctx.tenantId!, child_id: child.id, id: ctx.params[spec.idParam]! }).first();
  if (options.lock) query.forUpdate();
  const row = (await query) as Row | undefined;
  if (!row || (row.deleted_at && !options.allowDeleted)) throw Problem.notFound(spec.noun);
  return row;
}

async function write(ctx: OperationContext, spec: SubRecordSpec, change: Change, action: WriteAction, status: number): Promise<OperationResult> {
  await spec.effects?.(ctx, change, action);
  const after = toApi(spec, change.after, change.today);
  // A new record is an addition to the child's case (the resource in the path); later events name the record itself.
  const entity = action === 'created' ? { entityType: 'child', entityId: change.child.id } : { entityType: spec.entityType, entityId: change.after.id };
  await ctx.audit({ action: `${spec.entityType}.${action}`, ...entity, ...(change.before ? { before: toApi(spec, change.before, change.today) } : {}), after });
  const headers: Record<string, string> = { ETag: etagOf(change.after.version) };
  if (action === 'created') headers.Location = `/v1/children/${change.child.id}/${spec.path}/${change.after.id}`;
  return { status, body: after, headers };
}

async function patchRow(ctx: OperationContext, spec: SubRecordSpec, before: Row, columns: Record<string, unknown>): Promise<Row> {
  const [row] = (await ctx
    .trx(spec.table)
    .where({ tenant_id: ctx.tenantId!, id: before.id })
    .update({ ...forDatabase(spec, columns), version: before.version + 1, updated_at: ctx.trx.fn.now() })
    .returning('*')) as Row[];
  return row!;
}

/** The six operations of one family, keyed by verb; routes.ts names them. */
export function subRecordOperations(spec: SubRecordSpec, permissions: { read: 'children:read'; write: 'children:update'; remove: 'children:delete' }) {
  const list: OperationDefinition = {
    access: { permission: permissions.read },
    async handle(ctx) {
      const q = ctx.query as { limit: number; cursor?: string; from?: string; to?: string; includeDeleted?: boolean } & Record<string, unknown>;
      if (q.includeDeleted && !ctx.principal!.permissions.has('children:delete')) throw new Problem('forbidden', 'Listing deleted records needs the permission children:delete');
      const child = await findChild(ctx, ctx.params.childId!);
      const keyed = spec.sortColumn !== undefined;
      const after = decodeCursor(q.cursor, keyed ? 2 : 1);
      const query = ctx.trx(spec.table).where({ tenant_id: ctx.tenantId!, child_id: child.id }).limit(q.limit + 1);
      if (keyed) {
        query.orderBy([spec.sortColumn!, 'id']);
        if (after) query.whereRaw(`(${spec.sortColumn}, id) > (?, ?)`, [after[0]!, after[1]!]);
      } else {
        query.orderBy('id');
        if (after) query.where('id', '>', after[0] as string);
      }
      if (!q.includeDeleted) query.whereNull('deleted_at');
      if (spec.rangeColumn && q.from) query.where(spec.rangeColumn, '>=', q.from);
      if (spec.rangeColumn && q.to) query.where(spec.rangeColumn, '<=', q.to);
      spec.filter?.(query, q);
      const rows = (await query) as Row[];
      const today = await tenantToday(ctx);
      const page = toPage(rows, q.limit, (r) => (keyed ? [String(r[spec.sortColumn!]), r.id] : [r.id]), (r) => toApi(spec, r, today));
      await logRestrictedRead(ctx, [child]);
      return { status: 200, body: page };
    },
  };

  const create: OperationDefinition = {
    access: { permission: permissions.write },
    async handle(ctx) {
      const input = ctx.body as Record<string, unknown>;
      const child = await findChild(ctx, ctx.params.childId!, { lock: true });
      const columns = columnsOf(spec, input);
      spec.prepare?.(ctx, columns);
      const draft = { ...columns, tenant_id: ctx.tenantId!, id: newId(), child_id: child.id, version: 1, deleted_at: null, created_by: userId(ctx) } as Row;
      const change: Change = { child, before: null, after: draft, input, today: await tenantToday(ctx) };
      await spec.check?.(ctx, change);
      await assertNoOverlap(ctx, spec, draft, false);
      const [row] = (await ctx.trx(spec.table).insert(forDatabase(spec, draft)).returning('*')) as Row[];
      change.after = row!;
      return write(ctx, spec, change, 'created', 201);
    },
  };

  const get: OperationDefinition = {
    access: { permission: permissions.read },
    async handle(ctx) {
      const child = await findChild(ctx, ctx.params.childId!);
      const row = await findRow(ctx, spec, child, { allowDeleted: ctx.principal!.permissions.has('children:delete') });
      await logRestrictedRead(ctx, [child]);
      return { status: 200, body: toApi(spec, row, await tenantToday(ctx)), headers: { ETag: etagOf(row.version) } };
    },
  };

  const update: OperationDefinition = {
    access: { permission: permissions.write },
    async handle(ctx) {
      const input = ctx.body as Record<string, unknown>;
      const child = await findChild(ctx, ctx.params.childId!, { lock: true });
      const before = await findRow(ctx, spec, child, { lock: true });
      assertIfMatch(ctx.ifMatch, before.version);
      const columns = columnsOf(spec, input);
      const change: Change = { child, before, after: { ...before, ...columns }, input, today: await tenantToday(ctx) };
      await spec.check?.(ctx, change);
      await assertNoOverlap(ctx, spec, change.after, false);
      change.after = await patchRow(ctx, spec, before, columns);
      return write(ctx, spec, change, 'updated', 200);
    },
  };

  const remove: OperationDefinition = {
    access: { permission: permissions.remove },
    async handle(ctx) {
      const child = await findChild(ctx, ctx.params.childId!, { lock: true });
      const before = await findRow(ctx, spec, child, { lock: true, allowDeleted: true });
      assertIfMatch(ctx.ifMatch, before.version);
      if (before.deleted_at) throw new Problem('conflict', 'It is already deleted');
      const after = await patchRow(ctx, spec, before, { deleted_at: ctx.trx.fn.now(), deleted_by: userId(ctx) });
      return write(ctx, spec, { child, before, after, input: {}, today: await tenantToday(ctx) }, 'deleted', 200);
    },
  };

  const restore: OperationDefinition = {
    access: { permission: permissions.remove },
    async handle(ctx) {
      const child = await findChild(ctx, ctx.params.childId!, { lock: true });
      const before = await findRow(ctx, spec, child, { lock: true, allowDeleted: true });
      if (!before.deleted_at) throw new Problem('conflict', 'It is not deleted');
      await assertNoOverlap(ctx, spec, before, true);
      await spec.restoring?.(ctx, { child, before, after: before, input: {}, today: await tenantToday(ctx) });
      const after = await patchRow(ctx, spec, before, { deleted_at: null, deleted_by: null });
      return write(ctx, spec, { child, before, after, input: {}, today: await tenantToday(ctx) }, 'restored', 200);
    },
  };

  return { list, create, get, update, remove, restore };
}
