import { currentTotp } from '../../core/src/auth/totp';
import { ownerRows, TEST_PASSWORD, type World } from './harness';
import {
  makeApiKey,
  makeChild,
  makeLookupValue,
  makeRole,
  makeSession,
  makeUser,
  ok,
  unique,
  uniqueChild,
  type Fixture,
  type FixtureContext,
  type OperationRequest,
} from './fixtureKit';
import { caseRecordFixtures, seedCaseRecords } from './fixtures/caseRecords';
import { carerFixtures, seedCarers } from './fixtures/carers';
import { claimFixtures, seedClaims } from './fixtures/claims';
import { evidenceFixtures, seedEvidence } from './fixtures/evidence';
import { invoiceFixtures, seedInvoices } from './fixtures/invoices';
import { documentFixtures, seedDocuments } from './fixtures/documents';
import { ledgerFixtures, seedLedger } from './fixtures/ledger';
import { paymentFixtures, seedPayments } from './fixtures/payments';
import { placementFixtures, seedPlacements } from './fixtures/placements';
import { retentionFixtures, seedRetention } from './fixtures/retention';
import { seedTasks, taskFixtures } from './fixtures/tasks';
import { seedWebhooks, webhookFixtures } from './fixtures/webhooks';
import { notificationFixtures, seedNotifications } from './fixtures/notifications';
import { latestOutboundToken } from './outbound';
import { portalFixtures, seedPortal } from './fixtures/portal';
import { portalMoneyFixtures, seedPortalMoney } from './fixtures/portalMoney';
import { portalDocumentFixtures, seedPortalDocuments } from './fixtures/portalDocuments';

export * from './fixtureKit';

/**
 * For every operation in the contract, how to make one request that succeeds: the fixture creates
 * what the request needs in the given tenant (through the API, as that tenant's admin unless it says
 * otherwise) and returns the request. The cross-cutting suites (isolation, audit, bad input) read the
 * contract's operation list and fail when an operation has no fixture, so a new route cannot
 * escape them. Each domain module keeps its fixtures in `fixtures/<module>.ts`.
 */

async function tenantVersion(world: World, tenantId: string): Promise<number> {
  const rows = await ownerRows<{ version: number }>(world.db, tenantId, 'SELECT version FROM tenants WHERE id = ?', [
    tenantId,
  ]);
  return rows[0]!.version;
}

async function userVersion(world: World, tenantId: string, userId: string): Promise<number> {
  const rows = await ownerRows<{ version: number }>(
    world.db,
    tenantId,
    'SELECT version FROM users WHERE tenant_id = ? AND id = ?',
    [tenantId, userId],
  );
  return rows[0]!.version;
}

const foundationFixtures: Record<string, Fixture> = {
  // Auth (public)
  login: async ({ tenant }) => ({
    as: 'none',
    body: { tenant: tenant.slug, email: tenant.adminEmail, password: TEST_PASSWORD },
    expect: 200,
  }),
  refreshToken: async (ctx) => ({
    as: 'none',
    body: { refreshToken: (await makeSession(ctx)).refreshToken },
    expect: 200,
  }),
  logout: async (ctx) => ({ as: 'none', body: { refreshToken: (await makeSession(ctx)).refreshToken }, expect: 204 }),
  requestPasswordReset: async (ctx) => ({
    as: 'none',
    body: { tenant: ctx.tenant.slug, email: (await makeUser(ctx)).email },
    expect: 202,
  }),
  confirmPasswordReset: async (ctx) => {
    const user = await makeUser(ctx);
    await ok(
      await ctx.world.call('requestPasswordReset', { body: { tenant: ctx.tenant.slug, email: user.email } }),
      202,
      'requestPasswordReset',
    );
    return {
      as: 'none',
      body: {
        token: await latestOutboundToken(ctx.world, ctx.tenant.id, user.email),
        newPassword: 'a brand new password 1',
      },
      expect: 204,
    };
  },
  // Auth (the caller's own account)
  getCurrentPrincipal: async () => ({ expect: 200 }),
  changePassword: async (ctx) => {
    const session = await makeSession(ctx);
    return {
      as: 'custom',
      token: session.accessToken,
      body: { currentPassword: TEST_PASSWORD, newPassword: 'another long password 2' },
      expect: 204,
    };
  },
  startTotpEnrolment: async (ctx) => ({ as: 'custom', token: (await makeSession(ctx)).accessToken, expect: 201 }),
  confirmTotpEnrolment: async (ctx) => {
    const session = await makeSession(ctx);
    const setup = await ok(
      await ctx.world.call('startTotpEnrolment', { token: session.accessToken }),
      201,
      'startTotpEnrolment',
    );
    return { as: 'custom', token: session.accessToken, body: { code: currentTotp(setup.body.secret) }, expect: 204 };
  },
  // Platform administration: the platform admin acting on this (service) tenant
  listTenants: async ({ world }) => ({ as: 'custom', token: world.platform.adminToken, expect: 200 }),
  createTenant: async ({ world }) => {
    const slug = unique('t-').toLowerCase();
    return {
      as: 'custom',
      token: world.platform.adminToken,
      body: {
        name: 'Fixture tenant',
        slug,
        packId: 'uk',
        currency: 'GBP',
        timeZone: 'Europe/London',
        firstAdmin: { email: `admin@${slug}.test`, displayName: 'Admin' },
      },
      expect: 201,
    };
  },
  getTenant: async ({ world, tenant }) => ({
    as: 'custom',
    token: world.platform.adminToken,
    params: { tenantId: tenant.id },
    expect: 200,
  }),
  updateTenantStatus: async ({ world, tenant }) => ({
    as: 'custom',
    token: world.platform.adminToken,
    params: { tenantId: tenant.id },
    // Reactivating an active tenant is a real write (the version moves) that leaves the tenant usable.
    body: { status: 'active' },
    headers: { 'if-match': `"${await tenantVersion(world, tenant.id)}"` },
    expect: 200,
  }),
  // Tenant settings
  getTenantSettings: async () => ({ expect: 200 }),
  updateTenantSettings: async ({ world, tenant }) => ({
    body: { name: `Tenant ${tenant.slug}` },
    headers: { 'if-match': `"${await tenantVersion(world, tenant.id)}"` },
    expect: 200,
  }),
  // Users
  listUsers: async () => ({ expect: 200 }),
  createUser: async ({ tenant }) => ({
    body: { email: `${unique('new')}@${tenant.slug}.test`, displayName: 'New User', roles: ['caseworker'] },
    expect: 201,
  }),
  getUser: async (ctx) => ({ params: { userId: (await makeUser(ctx)).id }, expect: 200 }),
  updateUser: async (ctx) => {
    const user = await makeUser(ctx);
    return {
      params: { userId: user.id },
      body: { displayName: 'Renamed' },
      headers: { 'if-match': `"${await userVersion(ctx.world, ctx.tenant.id, user.id)}"` },
      expect: 200,
    };
  },
  unlockUser: async (ctx) => ({ params: { userId: (await makeUser(ctx)).id }, expect: 200 }),
  // Roles
  listPermissions: async () => ({ expect: 200 }),
  listRoles: async () => ({ expect: 200 }),
  createRole: async () => ({
    body: { key: unique('role_'), name: 'A role', permissions: ['children:read'] },
    expect: 201,
  }),
  getRole: async (ctx) => ({ params: { roleId: (await makeRole(ctx)).id }, expect: 200 }),
  updateRole: async (ctx) => ({
    params: { roleId: (await makeRole(ctx)).id },
    body: { name: 'Renamed role' },
    headers: { 'if-match': '"1"' },
    expect: 200,
  }),
  // API keys
  listApiKeys: async () => ({ expect: 200 }),
  createApiKey: async () => ({ body: { name: unique('key '), permissions: ['children:read'] }, expect: 201 }),
  getApiKey: async (ctx) => ({ params: { apiKeyId: (await makeApiKey(ctx)).id }, expect: 200 }),
  revokeApiKey: async (ctx) => ({ params: { apiKeyId: (await makeApiKey(ctx)).id }, expect: 200 }),
  // Lookups
  listLookupLists: async () => ({ expect: 200 }),
  getLookupList: async () => ({ params: { listKey: 'ethnicity' }, expect: 200 }),
  addLookupValue: async () => ({
    params: { listKey: 'ethnicity' },
    body: { code: unique('NEW'), label: 'New value' },
    expect: 201,
  }),
  updateLookupValue: async (ctx) => {
    const value = await makeLookupValue(ctx);
    return {
      params: { listKey: 'ethnicity', code: value.code },
      body: { label: 'Relabelled' },
      headers: { 'if-match': `"${value.version}"` },
      expect: 200,
    };
  },
  // Audit
  listAuditEvents: async () => ({ expect: 200 }),
  exportAuditEvents: async () => ({ expect: 200 }),
  verifyAuditChain: async () => ({ expect: 200 }),
  // The head always moved since the last checkpoint: the event recording a checkpoint follows the head it signs.
  createAuditCheckpoint: async () => ({ expect: 201 }),
  // Children
  listChildren: async () => ({ expect: 200 }),
  createChild: async () => ({ body: uniqueChild(), expect: 201 }),
  getChild: async (ctx) => ({ params: { childId: (await makeChild(ctx)).id }, expect: 200 }),
  updateChild: async (ctx) => {
    const child = await makeChild(ctx);
    return {
      params: { childId: child.id },
      body: { preferredName: 'Fixy' },
      headers: { 'if-match': `"${child.version}"` },
      expect: 200,
    };
  },
  deleteChild: async (ctx) => {
    const child = await makeChild(ctx);
    return { params: { childId: child.id }, headers: { 'if-match': `"${child.version}"` }, expect: 200 };
  },
  restoreChild: async (ctx) => {
    const child = await makeChild(ctx);
    await ok(
      await ctx.world.call('deleteChild', {
        token: ctx.tenant.adminToken,
        params: { childId: child.id },
        headers: { 'if-match': `"${child.version}"` },
      }),
      200,
      'deleteChild',
    );
    return { params: { childId: child.id }, expect: 200 };
  },
  mergeChild: async (ctx) => ({
    params: { childId: (await makeChild(ctx)).id },
    body: { intoChildId: (await makeChild(ctx)).id },
    expect: 200,
  }),
  getChildRestriction: async (ctx) => ({ params: { childId: (await makeChild(ctx)).id }, expect: 200 }),
  setChildRestriction: async (ctx) => {
    const child = await makeChild(ctx);
    return {
      params: { childId: child.id },
      body: { restricted: true, allowedUserIds: [ctx.tenant.adminId] },
      headers: { 'if-match': `"${child.version}"` },
      expect: 200,
    };
  },
  // Configuration (tenant A is on the UK pack; tenant B on the USA baseline)
  listPacks: async () => ({ expect: 200 }),
  getEffectiveConfiguration: async () => ({ query: { asOf: '2025-06-01' }, expect: 200 }),
  getFormSchema: async () => ({ params: { formKey: 'carer-annual-review', formVersion: '1' }, expect: 200 }),
  listOverlays: async () => ({ expect: 200 }),
  createOverlay: async () => ({
    body: {
      effectiveFrom: '2030-04-06',
      description: 'Fixture: renames the carer',
      changes: { terminology: { carer: 'foster parent' } },
    },
    expect: 201,
  }),
  getOverlay: async (ctx) => {
    const r = await ok(
      await ctx.world.call('createOverlay', {
        token: ctx.tenant.adminToken,
        body: {
          effectiveFrom: '2030-04-06',
          description: 'Fixture overlay',
          changes: { terminology: { carer: 'foster parent' } },
        },
      }),
      201,
      'createOverlay',
    );
    return { params: { overlayId: r.body.id }, expect: 200 };
  },
  // About a child: the restricted-record matrix then holds a form on a hidden child's record to the fence.
  submitForm: async (ctx) => ({
    body: {
      formKey: 'carer-annual-review',
      formVersion: 1,
      subjectType: 'child',
      subjectId: (await makeChild(ctx)).id,
      data: validAnnualReview,
    },
    expect: 201,
  }),
  getFormSubmission: async (ctx) => {
    const subjectId = (await makeChild(ctx)).id;
    const r = await ok(
      await ctx.world.call('submitForm', {
        token: ctx.tenant.adminToken,
        body: {
          formKey: 'carer-annual-review',
          formVersion: 1,
          subjectType: 'child',
          subjectId,
          data: validAnnualReview,
        },
      }),
      201,
      'submitForm',
    );
    return { params: { submissionId: r.body.id }, expect: 200 };
  },
  evaluateRate: async () => ({
    body: {
      childDateOfBirth: '2015-03-01',
      placementStart: '2025-06-01',
      placementEnd: null,
      periodStart: '2025-06-01',
      periodEnd: '2025-06-07',
      region: 'london',
      placementType: 'U4',
    },
    expect: 200,
  }),
  exportConfiguration: async () => ({ expect: 200 }),
  importConfiguration: async () => ({
    body: {
      format: 'hearth.configuration',
      formatVersion: 1,
      packId: 'uk',
      overlays: [
        {
          effectiveFrom: '2032-01-01',
          description: 'Imported',
          changes: { terminology: { carer: 'foster carer (imported)' } },
        },
      ],
    },
    expect: 201,
  }),
  computeCycleDueDates: async () => ({
    params: { cycleKey: 'child-review' },
    body: { triggerDate: '2026-03-23', until: '2027-06-30' },
    expect: 200,
  }),
};

/**
 * What each domain module adds to a tenant so that every one of its tables holds a row and its lists
 * are not empty: test/isolation.test.ts seeds both tenants with these.
 */
export const moduleSeeds: Array<(ctx: FixtureContext) => Promise<void>> = [
  seedCaseRecords,
  seedCarers,
  seedPlacements,
  seedTasks,
  seedClaims,
  seedLedger,
  seedPayments,
  seedInvoices,
  seedDocuments,
  seedWebhooks,
  seedEvidence,
  seedRetention,
  seedNotifications,
  seedPortal,
  seedPortalMoney,
  seedPortalDocuments,
];

/** Every module's fixtures; an operation with two is a mistake the merge refuses. */
export const fixtures: Record<string, Fixture> = {};
for (const part of [
  foundationFixtures,
  caseRecordFixtures,
  carerFixtures,
  placementFixtures,
  taskFixtures,
  ledgerFixtures,
  claimFixtures,
  paymentFixtures,
  invoiceFixtures,
  documentFixtures,
  webhookFixtures,
  evidenceFixtures,
  retentionFixtures,
  notificationFixtures,
  portalFixtures,
  portalMoneyFixtures,
  portalDocumentFixtures,
]) {
  for (const [operationId, fixture] of Object.entries(part)) {
    if (fixtures[operationId]) throw new Error(`Two fixtures for ${operationId}`);
    fixtures[operationId] = fixture;
  }
}

/** A carer annual review that the UK pack's form accepts (packs/uk/forms/carer-annual-review.v1.json). */
export const validAnnualReview = {
  reviewDate: '2026-05-01',
  periodFrom: '2025-05-01',
  periodTo: '2026-04-30',
  reviewNumber: 2,
  reviewer: { name: 'Sam Reviewer' },
  carerViews: 'We have enjoyed the year.',
  supervisingWorkerReport: 'Placements were stable; training is up to date.',
  recommendation: { continueApproval: true, termsChanged: false, referToPanel: false, reasons: 'Meets the standards.' },
};

/** Builds an operation's request for a tenant and fills in the tenant admin's token where the fixture did not choose. */
export async function requestFor(operationId: string, ctx: FixtureContext): Promise<OperationRequest> {
  const fixture = fixtures[operationId];
  if (!fixture)
    throw new Error(`No fixture for ${operationId}: add one to test/support/fixtures.ts or fixtures/<module>.ts`);
  const request = await fixture(ctx);
  if ((request.as ?? 'admin') === 'admin') request.token = ctx.tenant.adminToken;
  return request;
}
