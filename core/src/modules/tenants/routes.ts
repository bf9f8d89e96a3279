import { patchVersioned } from '../../db/versioned';
import type { Knex } from 'knex';
import { notFound, type FindOptions } from '../../db/find';
import { defineOperations, type OperationResult, type TenantContext, type TenantScope } from '../../http/operation';
import { assertIfMatch } from '../../http/etag';
import { keysetPage } from '../../db/keyset';
import { created, ok } from '../../http/results';
import { Problem } from '../../http/problem';
import { iso } from '../../time';
import { Role } from '../roles/models';
import { Tenant } from './models';
import { isValidTimeZone, provisionTenant } from './provision';

function tenantToApi(row: Tenant) {
  return {
    id: row.id,
    name: row.name,
    slug: row.slug,
    packId: row.packId,
    currency: row.currency,
    timeZone: row.timeZone,
    status: row.status,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
  };
}

/** A tenant's own view of itself: what the platform sees, less lifecycle fields, plus its security policy. */
function settingsToApi(row: Tenant) {
  const { status: _status, createdAt: _createdAt, ...settings } = tenantToApi(row);
  return { ...settings, securityPolicy: row.securityPolicy };
}

/**
 * A service tenant, as platform operations see it, or not found: the platform tenant administers
 * itself through /v1/tenant. (Tenants have no tenant_id to scope by, so this is not on findOne.)
 */
export async function findServiceTenant(
  trx: Knex.Transaction,
  tenantId: string,
  options: Pick<FindOptions, 'lock'> = {},
): Promise<Tenant> {
  const query = Tenant.query(trx).where({ id: tenantId, kind: 'service' }).first();
  if (options.lock) query.forUpdate();
  const row = await query;
  if (!row) throw notFound(Tenant.noun);
  return row;
}

/** The caller's own tenant (the transaction's). */
async function ownTenant(ctx: TenantScope, options: Pick<FindOptions, 'lock'> = {}): Promise<Tenant> {
  const query = Tenant.query(ctx.trx).where({ id: ctx.tenantId }).first();
  if (options.lock) query.forUpdate();
  return (await query)!;
}

async function listTenants(ctx: TenantContext<'listTenants'>): Promise<OperationResult> {
  const query = Tenant.query(ctx.trx).where({ kind: 'service' });
  const page = await keysetPage(query, ctx.query, [{ column: 'id', of: (r) => r.id }], tenantToApi);
  return ok({ data: page.data, nextCursor: page.nextCursor });
}

async function createTenant(ctx: TenantContext<'createTenant'>): Promise<OperationResult> {
  const body = ctx.body;
  const pack = ctx.services.packs.get(body.packId);
  if (pack && pack.manifest.currency !== body.currency) {
    throw Problem.unprocessable([
      { pointer: '/body/currency', message: `pack "${body.packId}" pays in ${pack.manifest.currency}` },
    ]);
  }
  const platformTenantId = ctx.tenantId;
  const { tenant, adminUserId } = await provisionTenant(ctx.trx, ctx.services.packs, { ...body, kind: 'service' });
  // The event belongs to the platform's chain: it is the platform administrator's act.
  await ctx.enterTenant(platformTenantId);
  const after = { ...tenantToApi(tenant), firstAdminUserId: adminUserId, firstAdminEmail: body.firstAdmin.email };
  await ctx.audit({ action: 'tenant.created', entityType: 'tenant', entityId: tenant.id, after });
  return created(tenantToApi(tenant), { location: `/v1/platform/tenants/${tenant.id}`, version: tenant.version });
}

async function getTenant(ctx: TenantContext<'getTenant'>): Promise<OperationResult> {
  const row = await findServiceTenant(ctx.trx, ctx.params.tenantId);
  return ok(tenantToApi(row), row.version);
}

async function updateTenantStatus(ctx: TenantContext<'updateTenantStatus'>): Promise<OperationResult> {
  const { status } = ctx.body;
  const before = await findServiceTenant(ctx.trx, ctx.params.tenantId, { lock: true });
  assertIfMatch(ctx.ifMatch, before.version);
  const after = await patchVersioned<Tenant>(ctx.trx, Tenant, before, { status }, { id: before.id });
  const action = status === 'suspended' ? 'tenant.suspended' : 'tenant.reactivated';
  await ctx.audit({
    action,
    entityType: 'tenant',
    entityId: before.id,
    before: tenantToApi(before),
    after: tenantToApi(after),
  });
  return ok(tenantToApi(after), after.version);
}

async function getTenantSettings(ctx: TenantContext<'getTenantSettings'>): Promise<OperationResult> {
  const row = await ownTenant(ctx);
  return ok(settingsToApi(row), row.version);
}

async function updateTenantSettings(ctx: TenantContext<'updateTenantSettings'>): Promise<OperationResult> {
  const body = ctx.body;
  const before = await ownTenant(ctx, { lock: true });
  assertIfMatch(ctx.ifMatch, before.version);
  if (body.timeZone !== undefined && !isValidTimeZone(body.timeZone)) {
    throw Problem.unprocessable([{ pointer: '/body/timeZone', message: 'is not an IANA time zone' }]);
  }
  const policy = { ...before.securityPolicy, ...(body.securityPolicy ?? {}) };
  if (body.securityPolicy?.mfaRequiredForRoles) {
    const known = new Set(
      (await Role.query(ctx.trx).where({ tenant_id: ctx.tenantId }).select('key')).map((r) => r.key),
    );
    const errors = body.securityPolicy.mfaRequiredForRoles
      .map((key, i) => ({ key, i }))
      .filter(({ key }) => !known.has(key))
      .map(({ i }) => ({
        pointer: `/body/securityPolicy/mfaRequiredForRoles/${i}`,
        message: 'is not a role of this tenant',
      }));
    if (errors.length) throw Problem.unprocessable(errors);
  }
  const after = await patchVersioned<Tenant>(
    ctx.trx,
    Tenant,
    before,
    {
      name: body.name ?? before.name,
      timeZone: body.timeZone ?? before.timeZone,
      securityPolicy: policy,
    },
    { id: before.id },
  );
  await ctx.audit({
    action: 'tenant.settings_updated',
    entityType: 'tenant',
    entityId: before.id,
    before: settingsToApi(before),
    after: settingsToApi(after),
  });
  return ok(settingsToApi(after), after.version);
}

export const tenantOperations = defineOperations({
  listTenants: { access: { permission: 'tenants:manage' }, handle: listTenants },
  createTenant: { access: { permission: 'tenants:manage' }, handle: createTenant },
  getTenant: { access: { permission: 'tenants:manage' }, handle: getTenant },
  updateTenantStatus: { access: { permission: 'tenants:manage' }, handle: updateTenantStatus },
  getTenantSettings: { access: { permission: 'tenant:read' }, handle: getTenantSettings },
  updateTenantSettings: { access: { permission: 'tenant:update' }, handle: updateTenantSettings },
});
