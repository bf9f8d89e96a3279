import type { OperationContext, OperationMap, OperationResult } from '../../http/operation';
import { assertIfMatch, etagOf } from '../../http/etag';
import { Problem } from '../../http/problem';

interface LookupValueRow {
  list_key: string;
  code: string;
  label: string;
  active: boolean;
  sort_order: number;
  source: 'default' | 'tenant';
  version: number;
}

function valueToApi(row: LookupValueRow) {
  return { code: row.code, label: row.label, active: row.active, sortOrder: row.sort_order, source: row.source, version: row.version };
}

async function findList(ctx: OperationContext): Promise<{ key: string; name: string }> {
  const list = (await ctx.trx('lookup_lists').where({ tenant_id: ctx.tenantId, key: ctx.params.listKey }).first('key', 'name')) as { key: string; name: string } | undefined;
  if (!list) throw Problem.notFound('The option list');
  return list;
}

async function listLookupLists(ctx: OperationContext): Promise<OperationResult> {
  const rows = (await ctx.trx('lookup_lists as l')
    .where('l.tenant_id', ctx.tenantId)
    .select('l.key', 'l.name', ctx.trx.raw('(SELECT count(*)::int FROM lookup_values v WHERE v.tenant_id = l.tenant_id AND v.list_key = l.key) AS value_count'))
    .orderBy('l.key')) as Array<{ key: string; name: string; value_count: number }>;
  return { status: 200, body: { data: rows.map((r) => ({ key: r.key, name: r.name, valueCount: r.value_count })) } };
}

async function getLookupList(ctx: OperationContext): Promise<OperationResult> {
  const list = await findList(ctx);
  const values = (await ctx.trx('lookup_values').where({ tenant_id: ctx.tenantId, list_key: list.key }).orderBy([{ column: 'sort_order' }, { column: 'code' }])) as LookupValueRow[];
  return { status: 200, body: { key: list.key, name: list.name, values: values.map(valueToApi) } };
}

async function addLookupValue(ctx: OperationContext): Promise<OperationResult> {
  const list = await findList(ctx);
  const body = ctx.body as { code: string; label: string; sortOrder?: number };
  const exists = await ctx.trx('lookup_values').where({ tenant_id: ctx.tenantId, list_key: list.key, code: body.code }).first('code');
  if (exists) throw new Problem('conflict', `The list already has the code "${body.code}"`, { errors: [{ pointer: '/body/code', message: 'is already in the list' }] });
  const [row] = (await ctx.trx('lookup_values')
    .insert({ tenant_id: ctx.tenantId, list_key: list.key, code: body.code, label: body.label, sort_order: body.sortOrder ?? 1000, source: 'tenant' })
    .returning('*')) as LookupValueRow[];
  await ctx.audit({ action: 'lookup_value.added', entityType: 'lookup_value', entityId: `${list.key}/${body.code}`, after: valueToApi(row!) });
  return { status: 201, body: valueToApi(row!), headers: { ETag: etagOf(row!.version) } };
}

async function updateLookupValue(ctx: OperationContext): Promise<OperationResult> {
  const list = await findList(ctx);
  const body = ctx.body as { label?: string; active?: boolean; sortOrder?: number };
  const before = (await ctx.trx('lookup_values').where({ tenant_id: ctx.tenantId, list_key: list.key, code: ctx.params.code }).forUpdate().first()) as LookupValueRow | undefined;
  if (!before) throw Problem.notFound('The option');
  assertIfMatch(ctx.ifMatch, before.version);
  // Default values can be relabelled or retired but keep their code, which statutory returns map.
  const [after] = (await ctx.trx('lookup_values')
    .where({ tenant_id: ctx.tenantId, list_key: list.key, code: before.code })
    .update({ label: body.label ?? before.label, active: body.active ?? before.active, sort_order: body.sortOrder ?? before.sort_order, version: before.version + 1, updated_at: ctx.trx.fn.now() })
    .returning('*')) as LookupValueRow[];
  await ctx.audit({ action: 'lookup_value.updated', entityType: 'lookup_value', entityId: `${list.key}/${before.code}`, before: valueToApi(before), after: valueToApi(after!) });
  return { status: 200, body: valueToApi(after!), headers: { ETag: etagOf(after!.version) } };
}

export const lookupOperations: OperationMap = {
  listLookupLists: { access: { permission: 'lookups:read' }, handle: listLookupLists },
  getLookupList: { access: { permission: 'lookups:read' }, handle: getLookupList },
  addLookupValue: { access: { permission: 'lookups:manage' }, handle: addLookupValue },
  updateLookupValue: { access: { permission: 'lookups:manage' }, handle: updateLookupValue },
};
