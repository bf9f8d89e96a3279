import type { ModelClass, PartialModelObject, QueryBuilder } from 'objection';
import { findOne, type FindOptions } from '../../db/find';
import { keysetPage } from '../../db/keyset';
import { patchVersioned } from '../../db/versioned';
import {
  actorId,
  type BodyOf,
  type OperationId,
  type OperationResult,
  type ParamsOf,
  type QueryOf,
  type TenantContext,
  type TenantScope,
  type TypedOperation,
} from '../../http/operation';
import { assertIfMatch } from '../../http/etag';
import { Problem } from '../../http/problem';
import { created, ok } from '../../http/results';
import { newId } from '../../ids';
import { iso } from '../../time';
import type { Child } from '../children/models';
import { findChild, logRestrictedRead } from '../children/visibility';
import { tenantToday } from '../tenants/today';
import type { ChildRecord } from './models';

/**
 * A family's names, checked against the contract: `Singular` is a name with all five of
 * `createChild…`, `getChild…`, `updateChild…`, `deleteChild…` and `restoreChild…`; `Plural` one
 * whose `listChild…` pages like every family (limit, cursor, from, to, includeDeleted).
 */
export type Singular = {
  [Id in OperationId]: Id extends `restoreChild${infer S}`
    ? `createChild${S}` | `getChild${S}` | `updateChild${S}` | `deleteChild${S}` extends OperationId
      ? S
      : never
    : never;
}[OperationId];
export type Plural = {
  [Id in OperationId]: Id extends `listChild${infer P}` ? (QueryOf<Id> extends ListQuery ? P : never) : never;
}[OperationId];

/** What every family's list takes; a family's own filters (kind, activeOn) come beside these. */
interface ListQuery {
  limit: number;
  cursor?: string;
  from?: string;
  to?: string;
  includeDeleted: boolean;
}

/** A family's operationIds, from its names: `LegalStatus`, `LegalStatuses` → `getChildLegalStatus`, `listChildLegalStatuses`… */
export interface FamilyIds<S extends Singular, P extends Plural> {
  list: `listChild${P}`;
  create: `createChild${S}`;
  get: `getChild${S}`;
  update: `updateChild${S}`;
  remove: `deleteChild${S}`;
  restore: `restoreChild${S}`;
}

/** The fields a table adds to what every child record has. */
type DataFields<M> = { [K in keyof M]-?: M[K] extends (...args: never[]) => unknown ? never : K }[keyof M];
export type OwnFields<M extends ChildRecord> = Exclude<DataFields<M>, keyof ChildRecord> & string;
/** Its fields that hold a date (a sort or a range column). */
export type DateFields<M extends ChildRecord> = {
  [K in OwnFields<M>]-?: M[K] extends string | null ? K : never;
}[OwnFields<M>];

/** What a create or a change sends, as the contract has it. */
export type InputOf<S extends Singular> = BodyOf<`createChild${S}`> | BodyOf<`updateChild${S}`>;

export type WriteAction = 'created' | 'updated' | 'deleted' | 'restored';

/** What the request changes: the child (locked), the row before (null on create) and after. */
export interface Change<M extends ChildRecord> {
  child: Child;
  before: M | null;
  after: M;
  today: string;
}

/** A create or a change, with what the caller sent. */
export interface Checked<M extends ChildRecord, S extends Singular> extends Change<M> {
  input: InputOf<S>;
}

/**
 * One table of things kept on a child, and how its route family behaves. Every family gets the same
 * six operations (list, create, read, change, soft-delete, restore) with the same rules: the child
 * must be visible to the caller (else 404), writes hold the child's row lock (so the overlap checks
 * see every concurrent write), each write is audited once.
 */
export interface SubRecordSpec<M extends ChildRecord, S extends Singular, P extends Plural> {
  model: ModelClass<M> & { noun: string; tableName: string };
  /** Audit entity type and action prefix, e.g. `child_legal_status`. */
  entityType: string;
  /** The path segment under /v1/children/{childId}/ and the id parameter. */
  path: string;
  idParam: Exclude<keyof ParamsOf<`getChild${S}`>, 'childId'> & string;
  /** Body field → the model's field, for every field the contract's create takes. */
  fields: { readonly [F in keyof BodyOf<`createChild${S}`> & string]-?: OwnFields<M> };
  /** Keyset order: (sortBy, id); id alone when absent. */
  sortBy?: DateFields<M>;
  /** The date `from` / `to` filter on. */
  rangeBy?: DateFields<M>;
  /** Dated spans that must not overlap for one child: [start, end) with end exclusive, open when null. */
  span?: { start: DateFields<M>; end: DateFields<M>; startField: string; endField: string; what: string };
  /** Extra list filters from the query. */
  filter?(query: QueryBuilder<M, M[]>, q: QueryOf<`listChild${P}`>): void;
  /** Values set by the server on create (who recorded it…). */
  prepare?(ctx: TenantScope, fields: PartialModelObject<M>): void;
  /** Rules the contract cannot say; throws a Problem naming the field. */
  check?(ctx: TenantScope, change: Checked<M, S>): Promise<void>;
  /** Rules a deleted record must still meet to come back (what other live records allow). */
  restoring?(ctx: TenantScope, change: Change<M>): Promise<void>;
  /** What else the write does in the same transaction (case events, the child's status). */
  effects?(ctx: TenantScope, change: Change<M>, action: WriteAction): Promise<void>;
  /** Extra fields of the API shape, beside the mapped ones. */
  extra?(row: M, today: string): Record<string, unknown>;
}

/** Any family's spec, where only what every family shares is read. */
type AnySpec<M extends ChildRecord> = SubRecordSpec<M, Singular, Plural>;

const column = <M extends ChildRecord>(spec: { model: ModelClass<M> }, field: string): string =>
  spec.model.propertyNameToColumnName(field);

/** A family's rows. objection cannot resolve the query builder of a model given as a type parameter, so it is named here, once. */
function rowsOf<M extends ChildRecord>(spec: { model: ModelClass<M> }, trx: TenantScope['trx']): QueryBuilder<M, M[]> {
  return spec.model.query(trx) as unknown as QueryBuilder<M, M[]>;
}

/** Inserts a family's row and reads it back as written (its dates and defaults). */
async function insertRow<M extends ChildRecord>(
  spec: { model: ModelClass<M> },
  trx: TenantScope['trx'],
  row: PartialModelObject<M>,
): Promise<M> {
  // objection's type for returning() does not resolve on a builder of a type parameter; what comes back is the family's row.
  return (await spec.model.query(trx).insert(row).returning('*')) as unknown as M;
}

/** Changes to what every child record has (its deletion), as changes to a family's row. */
function shared<M extends ChildRecord>(changes: PartialModelObject<ChildRecord>): PartialModelObject<M> {
  return changes as PartialModelObject<M>;
}

export function toApi<M extends ChildRecord>(
  spec: Pick<AnySpec<M>, 'fields' | 'extra'>,
  row: M,
  today: string,
): Record<string, unknown> {
  const values = row as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = { id: row.id, childId: row.childId };
  for (const [field, own] of Object.entries<string>(spec.fields)) out[field] = values[own] ?? null;
  Object.assign(out, spec.extra?.(row, today) ?? {});
  out.version = row.version;
  out.createdBy = row.createdBy ?? null;
  out.createdAt = iso(row.createdAt);
  out.updatedAt = iso(row.updatedAt);
  out.deletedAt = iso(row.deletedAt);
  out.deletedBy = row.deletedBy ?? null;
  return out;
}

/** The model's fields the input sets: only those the contract lets a caller send, and only those sent. */
function fieldsOf<M extends ChildRecord>(spec: Pick<AnySpec<M>, 'fields'>, input: unknown): PartialModelObject<M> {
  const sent = (input ?? {}) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [field, own] of Object.entries<string>(spec.fields))
    if (sent[field] !== undefined && field in sent) out[own] = sent[field];
  return out as PartialModelObject<M>;
}

/** Another live span of the same child that [start, end) overlaps, if any. */
async function overlapping<M extends ChildRecord>(ctx: TenantScope, spec: AnySpec<M>, row: M): Promise<M | undefined> {
  const span = spec.span!;
  const values = row as unknown as Record<string, string | null>;
  const [start, end] = [column(spec, span.start), column(spec, span.end)];
  return rowsOf(spec, ctx.trx)
    .where({ tenant_id: ctx.tenantId, child_id: row.childId })
    .whereNull('deleted_at')
    .whereNot('id', row.id)
    .whereRaw(`${start} < coalesce(?::date, 'infinity'::date)`, [values[span.end] ?? null])
    .whereRaw(`coalesce(${end}, 'infinity'::date) > ?::date`, [values[span.start]!])
    .orderBy(start)
    .first();
}

async function assertNoOverlap<M extends ChildRecord>(
  ctx: TenantScope,
  spec: AnySpec<M>,
  row: M,
  options: { asConflict: boolean },
): Promise<void> {
  if (!spec.span) return;
  const other = await overlapping(ctx, spec, row);
  if (!other) return;
  const span = spec.span;
  const [mine, theirs] = [
    row as unknown as Record<string, string | null>,
    other as unknown as Record<string, string | null>,
  ];
  const message = `overlaps ${span.what} ${other.id} (${theirs[span.start]} to ${theirs[span.end] ?? 'open'}); ${span.what}s of one child may not overlap`;
  if (options.asConflict) {
    throw new Problem('conflict', `It would overlap ${span.what} ${other.id}`, {
      errors: [{ pointer: `/path/${spec.idParam}`, message }],
    });
  }
  // The start falls inside the other span, or this span runs on into the other one.
  const startInside = theirs[span.start]! <= mine[span.start]!;
  throw Problem.unprocessable([{ pointer: `/body/${startInside ? span.startField : span.endField}`, message }]);
}

/**
 * A record kept on a child, or not found: the one finder for every family's rows. The child comes
 * first, through the fence (findChild), so a restricted child's records are not found either.
 */
export function findChildRecord<M extends ChildRecord>(
  ctx: TenantScope,
  model: ModelClass<M> & { noun: string },
  child: Child,
  id: string,
  options: Pick<FindOptions, 'lock' | 'allowDeleted'> = {},
): Promise<M> {
  return findOne<M>(ctx, model, id, {
    ...options,
    softDeleted: true,
    narrow: (query) => query.where('child_id', child.id),
  });
}

async function write<M extends ChildRecord>(
  ctx: TenantScope,
  spec: AnySpec<M>,
  change: Change<M>,
  action: WriteAction,
): Promise<OperationResult> {
  await spec.effects?.(ctx, change, action);
  const after = toApi(spec, change.after, change.today);
  // A new record is an addition to the child's case (the resource in the path); later events name the record itself.
  const entity =
    action === 'created'
      ? { entityType: 'child', entityId: change.child.id }
      : { entityType: spec.entityType, entityId: change.after.id };
  await ctx.audit({
    action: `${spec.entityType}.${action}`,
    ...entity,
    ...(change.before ? { before: toApi(spec, change.before, change.today) } : {}),
    after,
  });
  if (action === 'created')
    return created(after, {
      location: `/v1/children/${change.child.id}/${spec.path}/${change.after.id}`,
      version: change.after.version,
    });
  return ok(after, change.after.version);
}

/** Every family's path: the child, and the record's id under its own parameter name. */
type PathOf = { params: { childId: string } & Record<string, string> };

/** The six operations of one family, each typed by its operationId; routes.ts merges the families. */
export type FamilyOperations<S extends Singular, P extends Plural> = {
  [K in keyof FamilyIds<S, P> as FamilyIds<S, P>[K]]: TypedOperation<FamilyIds<S, P>[K]>;
};

/** The six operations of one family (list, create, read, change, soft-delete, restore). */
export function subRecordOperations<M extends ChildRecord, S extends Singular, P extends Plural>(
  names: { singular: S; plural: P },
  spec: SubRecordSpec<M, S, P>,
  permissions: { read: 'children:read'; write: 'children:update'; remove: 'children:delete' },
): FamilyOperations<S, P> {
  const any = spec as unknown as AnySpec<M>;
  const idOf = (ctx: PathOf) => ctx.params[spec.idParam]!;

  async function list(
    ctx: TenantContext<FamilyIds<S, P>['list']> & { query: ListQuery } & PathOf,
  ): Promise<OperationResult> {
    const q = ctx.query;
    if (q.includeDeleted && !ctx.principal.permissions.has('children:delete')) {
      throw new Problem('forbidden', 'Listing deleted records needs the permission children:delete');
    }
    const child = await findChild(ctx, ctx.params.childId);
    const query = rowsOf(spec, ctx.trx).where({ tenant_id: ctx.tenantId, child_id: child.id });
    if (!q.includeDeleted) query.whereNull('deleted_at');
    if (spec.rangeBy && q.from) query.where(column(spec, spec.rangeBy), '>=', q.from);
    if (spec.rangeBy && q.to) query.where(column(spec, spec.rangeBy), '<=', q.to);
    spec.filter?.(query, q);
    const today = await tenantToday(ctx);
    const sortBy = spec.sortBy;
    const byId = { column: 'id', of: (r: M) => r.id };
    const order = sortBy ? [{ column: column(spec, sortBy), of: (r: M) => String(r[sortBy]) }, byId] : [byId];
    const page = await keysetPage(query, q, order, (r) => toApi(any, r, today));
    await logRestrictedRead(ctx, [child]);
    return ok({ data: page.data, nextCursor: page.nextCursor });
  }

  async function create(ctx: TenantContext<FamilyIds<S, P>['create']> & PathOf): Promise<OperationResult> {
    const input = ctx.body;
    const child = await findChild(ctx, ctx.params.childId, { lock: true });
    const fields = fieldsOf<M>(any, input);
    spec.prepare?.(ctx, fields);
    const own = shared<M>({
      tenantId: ctx.tenantId,
      id: newId(),
      childId: child.id,
      version: 1,
      deletedAt: null,
      createdBy: actorId(ctx),
    });
    const row: PartialModelObject<M> = { ...fields, ...own };
    const draft = spec.model.fromJson(row);
    const change: Checked<M, S> = { child, before: null, after: draft, input, today: await tenantToday(ctx) };
    await spec.check?.(ctx, change);
    await assertNoOverlap(ctx, any, draft, { asConflict: false });
    change.after = await insertRow(spec, ctx.trx, row);
    return write(ctx, any, change, 'created');
  }

  async function get(ctx: TenantContext<FamilyIds<S, P>['get']> & PathOf): Promise<OperationResult> {
    const child = await findChild(ctx, ctx.params.childId);
    const row = await findChildRecord(ctx, spec.model, child, idOf(ctx), {
      allowDeleted: ctx.principal.permissions.has('children:delete'),
    });
    await logRestrictedRead(ctx, [child]);
    return ok(toApi(any, row, await tenantToday(ctx)), row.version);
  }

  async function update(ctx: TenantContext<FamilyIds<S, P>['update']> & PathOf): Promise<OperationResult> {
    const input = ctx.body;
    const child = await findChild(ctx, ctx.params.childId, { lock: true });
    const before = await findChildRecord(ctx, spec.model, child, idOf(ctx), { lock: true });
    assertIfMatch(ctx.ifMatch, before.version);
    const fields = fieldsOf<M>(any, input);
    const change: Checked<M, S> = {
      child,
      before,
      after: before.$clone().$set(fields),
      input,
      today: await tenantToday(ctx),
    };
    await spec.check?.(ctx, change);
    await assertNoOverlap(ctx, any, change.after, { asConflict: false });
    change.after = await patchVersioned<M>(ctx.trx, spec.model, before, fields);
    return write(ctx, any, change, 'updated');
  }

  async function remove(ctx: TenantContext<FamilyIds<S, P>['remove']> & PathOf): Promise<OperationResult> {
    const child = await findChild(ctx, ctx.params.childId, { lock: true });
    const before = await findChildRecord(ctx, spec.model, child, idOf(ctx), { lock: true, allowDeleted: true });
    assertIfMatch(ctx.ifMatch, before.version);
    if (before.deletedAt) throw new Problem('conflict', 'It is already deleted');
    const after = await patchVersioned<M>(
      ctx.trx,
      spec.model,
      before,
      shared({ deletedAt: ctx.trx.fn.now(), deletedBy: actorId(ctx) }),
    );
    return write(ctx, any, { child, before, after, today: await tenantToday(ctx) }, 'deleted');
  }

  async function restore(ctx: TenantContext<FamilyIds<S, P>['restore']> & PathOf): Promise<OperationResult> {
    const child = await findChild(ctx, ctx.params.childId, { lock: true });
    const before = await findChildRecord(ctx, spec.model, child, idOf(ctx), { lock: true, allowDeleted: true });
    if (!before.deletedAt) throw new Problem('conflict', 'It is not deleted');
    await assertNoOverlap(ctx, any, before, { asConflict: true });
    await spec.restoring?.(ctx, { child, before, after: before, today: await tenantToday(ctx) });
    const after = await patchVersioned<M>(ctx.trx, spec.model, before, shared({ deletedAt: null, deletedBy: null }));
    return write(ctx, any, { child, before, after, today: await tenantToday(ctx) }, 'restored');
  }

  const { singular, plural } = names;
  // The keys are the family's operationIds, which Singular and Plural hold to the contract.
  return {
    [`listChild${plural}`]: { access: { permission: permissions.read }, handle: list },
    [`createChild${singular}`]: { access: { permission: permissions.write }, handle: create },
    [`getChild${singular}`]: { access: { permission: permissions.read }, handle: get },
    [`updateChild${singular}`]: { access: { permission: permissions.write }, handle: update },
    [`deleteChild${singular}`]: { access: { permission: permissions.remove }, handle: remove },
    [`restoreChild${singular}`]: { access: { permission: permissions.remove }, handle: restore },
  } as FamilyOperations<S, P>;
}
