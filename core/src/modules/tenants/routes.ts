import type { OperationContext, OperationMap, OperationResult } from '../../http/operation';
import { assertIfMatch, etagOf } from '../../http/etag';
import { decodeCursor, toPage } from '../../http/pagination';
import { Problem } from '../../http/problem';
import { iso } from '../../time';
import { isValidTimeZone, provisionTenant, type NewTenant, type SecurityPolicy, type TenantRow } from './provision';

function tenantToApi(row: TenantRow) {
  return {
    id: row.id,
    name: row.name,
    slug: row.slug,
    packId: row.pack_id,
    currency: row.currency,
    timeZone: row.time_zone,
    status: row.status,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

/** A tenant's own view of itself: what the platform sees, less lifecycle fields, plus its security policy. */
function settingsToApi(row: TenantRow) {
  const { status: _status, createdAt: _createdAt, ...settings } = tenantToApi(row);
  return { ...settings, securityPolicy: row.security_policy };
}

/** Platform operations read service tenants only: the platform tenant administers itself through /v1/tenant. */
async function serviceTenant(ctx: OperationContext, forUpdate = false): Promise<TenantRow> {
  const query = ctx.trx('tenants').where({ id: ctx.params.tenantId, kind: 'service' });
  const row = (await (forUpdate ? query.forUpdate() : query).first()) as TenantRow | undefined;
  if (!row) throw Problem.notFound('The tenant');
  return row;
}

async function listTenants(ctx: OperationContext): Promise<OperationResult> {
  const limit = ctx.query.limit as number;
  const after = decodeCursor(ctx.query.cursor as string | undefined, 1);
  const query = ctx.trx('tenants').where({ kind: 'service' }).orderBy('id').limit(limit + 1);
  if (after) query.where('id', '>', after[0] as string);
  const rows = (await query) as TenantRow[];
  return { status: 200, body: toPage(rows, limit, (r) => [r.id], tenantToApi) };
}

async function createTenant(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as Omit<NewTenant, 'kind'>;
  const pack = ctx.services.packs.get(body.packId);
  if (pack && pack.manifest.currency !== body.currency) {
    throw Problem.unprocessable([{ pointer: '/body/currency', message: `pack "${body.packId}" pays in ${pack.manifest.currency}` }]);
  }
  const platformTenantId = ctx.tenantId!;
  const { tenant, adminUserId } = await provisionTenant(ctx.trx, ctx.services.packs, { ...body, kind: 'service' });
  // The event belongs to the platform's chain: it is the platform administrator's act.
  await ctx.enterTenant(platformTenantId);
  const after = { ...tenantToApi(tenant), firstAdminUserId: adminUserId, firstAdminEmail: body.firstAdmin.email };
  await ctx.audit({ action: 'tenant.created', entityType: 'tenant', entityId: tenant.id, after });
  return { status: 201, body: tenantToApi(tenant), headers: { ETag: etagOf(tenant.version), Location: `/v1/platform/tenants/${tenant.id}` } };
}

async function getTenant(ctx: OperationContext): Promise<OperationResult> {
  const row = await serviceTenant(ctx);
  return { status: 200, body: tenantToApi(row), headers: { ETag: etagOf(row.version) } };
}

async function updateTenantStatus(ctx: OperationContext): Promise<OperationResult> {
  const { status } = ctx.body as { status: TenantRow['status'] };
  const before = await serviceTenant(ctx, true);
  assertIfMatch(ctx.ifMatch, before.version);
  const [after] = (await ctx.trx('tenants')
    .where({ id: before.id })
    .update({ status, version: before.version + 1, updated_at: ctx.trx.fn.now() })
    .returning('*')) as TenantRow[];
  await ctx.audit({ action: status === 'suspended' ? 'tenant.suspended' : 'tenant.reactivated', entityType: 'tenant', entityId: before.id, before: tenantToApi(before), after: tenantToApi(after!) });
  return { status: 200, body: tenantToApi(after!), headers: { ETag: etagOf(after!.version) } };
}

async function ownTenant(ctx: OperationContext, forUpdate = false): Promise<TenantRow> {
  const query = ctx.trx('tenants').where({ id: ctx.tenantId });
  return (await (forUpdate ? query.forUpdate() : query).first()) as TenantRow;
}

async function getTenantSettings(ctx: OperationContext): Promise<OperationResult> {
  const row = await ownTenant(ctx);
  return { status: 200, body: settingsToApi(row), headers: { ETag: etagOf(row.version) } };
}

async function updateTenantSettings(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as { name?: string; timeZone?: string; securityPolicy?: Partial<SecurityPolicy> };
  const before = await ownTenant(ctx, true);
  assertIfMatch(ctx.ifMatch, before.version);
  if (body.timeZone !== undefined && !isValidTimeZone(body.timeZone)) throw Problem.unprocessable([{ pointer: '/body/timeZone', message: 'is not an IANA time zone' }]);
  const policy = { ...before.security_policy, ...(body.securityPolicy ?? {}) };
  if (body.securityPolicy?.mfaRequiredForRoles) {
    const known = new Set(((await ctx.trx('roles').where({ tenant_id: ctx.tenantId }).select('key')) as Array<{ key: string }>).map((r) => r.key));
    const errors = body.securityPolicy.mfaRequiredForRoles
      .map((key, i) => ({ key, i }))
      .filter(({ key }) => !known.has(key))
      .map(({ i }) => ({ pointer: `/body/securityPolicy/mfaRequiredForRoles/${i}`, message: 'is not a role of this tenant' }));
    if (errors.length) throw Problem.unprocessable(errors);
  }
  const [after] = (await ctx.trx('tenants')
    .where({ id: ctx.tenantId })
    .update({
      name: body.name ?? before.name,
      time_zone: body.timeZone ?? before.time_zone,
      security_policy: JSON.stringify(policy),
      version: before.version + 1,
      updated_at: ctx.trx.fn.now(),
    })
    .returning('*')) as TenantRow[];
  await ctx.audit({ action: 'tenant.settings_updated', entityType: 'tenant', entityId: before.id, before: settingsToApi(before), after: settingsToApi(after!) });
  return { status: 200, body: settingsToApi(after!), headers: { ETag: etagOf(after!.version) } };
}

export const tenantOperations: OperationMap = {
  listTenants: { access: { permission: 'tenants:manage' }, handle: listTenants },
  createTenant: { access: { permission: 'tenants:manage' }, handle: createTenant },
  getTenant: { access: { permission: 'tenants:manage' }, handle: getTenant },
  updateTenantStatus: { access: { permission: 'tenants:manage' }, handle: updateTenantStatus },
  getTenantSettings: { access: { permission: 'tenant:read' }, handle: getTenantSettings },
  updateTenantSettings: { access: { permission: 'tenant:update' }, handle: updateTenantSettings },
};
