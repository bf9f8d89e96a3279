import { keysetPage } from '../../db/keyset';
import { defineOperations, type OperationResult, type TenantContext } from '../../http/operation';
import { Problem } from '../../http/problem';
import { accepted, ok } from '../../http/results';
import { EvidencePack } from './evidencePackModel';
import {
  evidencePacksVisible,
  evidencePackToApi,
  findEvidencePack,
  rebuildEvidencePack,
  requestEvidencePack,
} from './evidencePacks';

async function createEvidencePack(ctx: TenantContext<'createEvidencePack'>): Promise<OperationResult> {
  const pack = await requestEvidencePack(ctx, ctx.body);
  return accepted(evidencePackToApi(pack), { location: `/v1/evidence-packs/${pack.id}`, version: pack.version });
}

async function rebuild(ctx: TenantContext<'rebuildEvidencePack'>): Promise<OperationResult> {
  const original = await findEvidencePack(ctx, ctx.params.evidencePackId);
  const pack = await rebuildEvidencePack(ctx, original);
  return accepted(evidencePackToApi(pack), { location: `/v1/evidence-packs/${pack.id}`, version: pack.version });
}

async function getEvidencePack(ctx: TenantContext<'getEvidencePack'>): Promise<OperationResult> {
  const pack = await findEvidencePack(ctx, ctx.params.evidencePackId);
  return ok(evidencePackToApi(pack), pack.version);
}

async function listEvidencePacks(ctx: TenantContext<'listEvidencePacks'>): Promise<OperationResult> {
  const q = ctx.query;
  if (q.subjectId && !q.subjectType)
    throw Problem.validation([{ pointer: '/query/subjectType', message: 'is required with subjectId' }]);
  const query = EvidencePack.query(ctx.trx).alias('p').where('p.tenant_id', ctx.tenantId);
  evidencePacksVisible(ctx, 'p')(query as never);
  if (q.subjectType) query.where('p.subject_type', q.subjectType);
  if (q.subjectId) query.where('p.subject_id', q.subjectId);
  const page = await keysetPage(query, q, [{ column: 'p.id', of: (r) => r.id }], (r) => r);
  return ok({ data: page.data.map(evidencePackToApi), nextCursor: page.nextCursor });
}

// A pack is confidential and holds every document of its record: reading one needs what reading them all would.
export const evidencePackOperations = defineOperations({
  listEvidencePacks: { access: { permission: 'documents:read_confidential' }, handle: listEvidencePacks },
  createEvidencePack: { access: { permission: 'documents:read_confidential' }, handle: createEvidencePack },
  getEvidencePack: { access: { permission: 'documents:read_confidential' }, handle: getEvidencePack },
  rebuildEvidencePack: { access: { permission: 'documents:read_confidential' }, handle: rebuild },
});
