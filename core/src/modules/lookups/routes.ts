import { patchVersioned } from '../../db/versioned';
import { notFound, type FindOptions, type FindScope } from '../../db/find';
import { defineOperations, type OperationResult, type TenantContext } from '../../http/operation';
import { assertIfMatch } from '../../http/etag';
import { Problem } from '../../http/problem';
import { created, ok } from '../../http/results';
import { LookupList, LookupValue } from './models';

function valueToApi(row: LookupValue) {
  return {
    code: row.code,
    label: row.label,
    active: row.active,
    sortOrder: row.sortOrder,
    source: row.source,
    version: row.version,
  };
}

/** The tenant's option list by its key, or not found. Lists are keyed, not id'd, so this reads the key itself. */
export async function findLookupList(scope: FindScope, key: string): Promise<LookupList> {
  const list = await LookupList.query(scope.trx).where({ tenant_id: scope.tenantId, key }).first();
  if (!list) throw notFound(LookupList.noun);
  return list;
}

/** One code of one of the tenant's lists, or not found. */
export async function findLookupValue(
  scope: FindScope,
  listKey: string,
  code: string,
  options: Pick<FindOptions, 'lock'> = {},
): Promise<LookupValue> {
  const query = LookupValue.query(scope.trx).where({ tenant_id: scope.tenantId, list_key: listKey, code }).first();
  if (options.lock) query.forUpdate();
  const row = await query;
  if (!row) throw notFound(LookupValue.noun);
  return row;
}

async function listLookupLists(ctx: TenantContext<'listLookupLists'>): Promise<OperationResult> {
  const rows = await LookupList.query(ctx.trx)
    .alias('l')
    .where('l.tenant_id', ctx.tenantId)
    .select(
      'l.key',
      'l.name',
      ctx.trx.raw(
        '(SELECT count(*)::int FROM lookup_values v WHERE v.tenant_id = l.tenant_id AND v.list_key = l.key) AS value_count',
      ),
    )
    .orderBy('l.key')
    .castTo<Array<LookupList & { valueCount: number }>>();
  return ok({ data: rows.map((r) => ({ key: r.key, name: r.name, valueCount: r.valueCount })) });
}

async function getLookupList(ctx: TenantContext<'getLookupList'>): Promise<OperationResult> {
  const list = await findLookupList(ctx, ctx.params.listKey);
  const values = await LookupValue.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, list_key: list.key })
    .orderBy([{ column: 'sort_order' }, { column: 'code' }]);
  return ok({ key: list.key, name: list.name, values: values.map(valueToApi) });
}

async function addLookupValue(ctx: TenantContext<'addLookupValue'>): Promise<OperationResult> {
  const list = await findLookupList(ctx, ctx.params.listKey);
  const body = ctx.body;
  const exists = await LookupValue.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, list_key: list.key, code: body.code })
    .first();
  if (exists) {
    throw new Problem('conflict', `The list already has the code "${body.code}"`, {
      errors: [{ pointer: '/body/code', message: 'is already in the list' }],
    });
  }
  const row = await LookupValue.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      listKey: list.key,
      code: body.code,
      label: body.label,
      sortOrder: body.sortOrder ?? 1000,
      source: 'tenant',
    })
    .returning('*');
  await ctx.audit({
    action: 'lookup_value.added',
    entityType: 'lookup_value',
    entityId: `${list.key}/${body.code}`,
    after: valueToApi(row),
  });
  // Added, not created at an address of its own: the contract gives this 201 an ETag and no Location.
  return created(valueToApi(row), { version: row.version });
}

async function updateLookupValue(ctx: TenantContext<'updateLookupValue'>): Promise<OperationResult> {
  const list = await findLookupList(ctx, ctx.params.listKey);
  const body = ctx.body;
  const before = await findLookupValue(ctx, list.key, ctx.params.code, { lock: true });
  assertIfMatch(ctx.ifMatch, before.version);
  // Default values can be relabelled or retired but keep their code, which statutory returns map.
  const after = await patchVersioned<LookupValue>(
    ctx.trx,
    LookupValue,
    before,
    {
      label: body.label ?? before.label,
      active: body.active ?? before.active,
      sortOrder: body.sortOrder ?? before.sortOrder,
    },
    { tenant_id: ctx.tenantId, list_key: list.key, code: before.code },
  );
  const entityId = `${list.key}/${before.code}`;
  await ctx.audit({
    action: 'lookup_value.updated',
    entityType: 'lookup_value',
    entityId,
    before: valueToApi(before),
    after: valueToApi(after),
  });
  return ok(valueToApi(after), after.version);
}

export const lookupOperations = defineOperations({
  listLookupLists: { access: { permission: 'lookups:read' }, handle: listLookupLists },
  getLookupList: { access: { permission: 'lookups:read' }, handle: getLookupList },
  addLookupValue: { access: { permission: 'lookups:manage' }, handle: addLookupValue },
  updateLookupValue: { access: { permission: 'lookups:manage' }, handle: updateLookupValue },
});
