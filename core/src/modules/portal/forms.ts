import { keysetPage } from '../../db/keyset';
import { assertIfMatch } from '../../http/etag';
import type { OperationResult, TenantContext, TenantScope } from '../../http/operation';
import { Problem } from '../../http/problem';
import { created, ok } from '../../http/results';
import { newId } from '../../ids';
import type { FormDefinition } from '../../packs/types';
import { iso } from '../../time';
import { tenantConfiguration } from '../configuration/tenantConfiguration';
import { formDataErrors, storeFormSubmission } from '../configuration/formSubmissions';
import { PortalFormDraft } from './documentModels';
import { completeTask, openTaskFor } from './tasks';
import { carerOf, portalSettings, requireFeature } from './settings';

interface CarerForm {
  form: FormDefinition;
  layer: string;
}

/** Every version in effect today of the forms the tenant lets carers complete (the portal's `carerForms`). */
async function effectiveCarerForms(ctx: Pick<TenantScope, 'trx' | 'tenantId' | 'services'>): Promise<CarerForm[]> {
  const config = await tenantConfiguration(ctx.trx, ctx.tenantId, ctx.services.packs);
  const keys = new Set(config.effective?.portal.carerForms.value ?? []);
  return (config.effective?.forms ?? [])
    .filter((item) => keys.has(item.value.key))
    .map((item) => ({ form: item.value, layer: item.layer }));
}

/** The forms carers may complete, each at its latest version in effect today. */
export async function carerForms(ctx: Pick<TenantScope, 'trx' | 'tenantId' | 'services'>): Promise<CarerForm[]> {
  const latest = new Map<string, CarerForm>();
  for (const item of await effectiveCarerForms(ctx)) {
    const seen = latest.get(item.form.key);
    if (!seen || seen.form.version < item.form.version) latest.set(item.form.key, item);
  }
  return [...latest.values()].sort((a, b) => a.form.key.localeCompare(b.form.key));
}

function draftToApi(d: PortalFormDraft) {
  return {
    id: d.id,
    formKey: d.formKey,
    formVersion: d.formVersion,
    taskId: d.householdTaskId,
    data: d.data,
    status: d.status,
    submissionId: d.submissionId,
    createdBy: d.createdBy,
    updatedBy: d.updatedBy,
    createdAt: iso(d.createdAt),
    updatedAt: iso(d.updatedAt),
    version: d.version,
  };
}

async function formsOn(ctx: TenantScope): Promise<void> {
  carerOf(ctx);
  requireFeature(await portalSettings(ctx), 'forms');
}

async function findDraft(ctx: TenantScope, id: string, lock = false): Promise<PortalFormDraft> {
  const carer = carerOf(ctx);
  const query = PortalFormDraft.query(ctx.trx).where({ tenant_id: ctx.tenantId, household_id: carer.householdId, id });
  if (lock) query.forUpdate();
  const draft = await query.first();
  if (!draft) throw Problem.notFound('The form draft');
  return draft;
}

async function listPortalForms(ctx: TenantContext<'listPortalForms'>): Promise<OperationResult> {
  await formsOn(ctx);
  const forms = await carerForms(ctx);
  return ok({
    data: forms.map(({ form }) => ({
      key: form.key,
      version: form.version,
      title: form.title,
      description: form.description ?? null,
      schema: form.schema,
    })),
  });
}

async function listPortalFormDrafts(ctx: TenantContext<'listPortalFormDrafts'>): Promise<OperationResult> {
  await formsOn(ctx);
  const carer = carerOf(ctx);
  const query = PortalFormDraft.query(ctx.trx).where({ tenant_id: ctx.tenantId, household_id: carer.householdId });
  const page = await keysetPage(
    query,
    ctx.query,
    [
      { column: 'updated_at', of: (r: PortalFormDraft) => r.updatedAt.toISOString() },
      { column: 'id', of: (r: PortalFormDraft) => r.id },
    ],
    draftToApi,
    'desc',
  );
  return ok({ data: page.data, nextCursor: page.nextCursor });
}

async function createPortalFormDraft(ctx: TenantContext<'createPortalFormDraft'>): Promise<OperationResult> {
  await formsOn(ctx);
  const carer = carerOf(ctx);
  const body = ctx.body;
  const form = (await carerForms(ctx)).find((f) => f.form.key === body.formKey);
  if (!form) throw Problem.unprocessable([{ pointer: '/body/formKey', message: 'is not a form carers may complete' }]);
  if (body.taskId) {
    const task = await openTaskFor(ctx, carer.householdId, body.taskId, 'form', '/body/taskId');
    if (task.formKey !== body.formKey)
      throw Problem.unprocessable([{ pointer: '/body/taskId', message: 'is a task for another form' }]);
  }
  const draft = await PortalFormDraft.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      id: newId(),
      householdId: carer.householdId,
      formKey: form.form.key,
      formVersion: form.form.version,
      householdTaskId: body.taskId ?? null,
      data: (body.data ?? {}) as Record<string, unknown>,
      createdBy: carer.id,
      updatedBy: carer.id,
    })
    .returning('*');
  await ctx.audit({
    action: 'form_draft.created',
    entityType: 'form_draft',
    entityId: draft.id,
    after: { formKey: draft.formKey, formVersion: draft.formVersion, taskId: draft.householdTaskId },
  });
  return created(draftToApi(draft), { location: `/v1/portal/form-drafts/${draft.id}`, version: draft.version });
}

async function getPortalFormDraft(ctx: TenantContext<'getPortalFormDraft'>): Promise<OperationResult> {
  await formsOn(ctx);
  const draft = await findDraft(ctx, ctx.params.draftId);
  return ok(draftToApi(draft), draft.version);
}

async function savePortalFormDraft(ctx: TenantContext<'savePortalFormDraft'>): Promise<OperationResult> {
  await formsOn(ctx);
  const carer = carerOf(ctx);
  const draft = await findDraft(ctx, ctx.params.draftId, true);
  if (draft.status !== 'draft') throw new Problem('conflict', 'The form was submitted; it is no longer a draft');
  assertIfMatch(ctx.ifMatch, draft.version);
  const [saved] = await PortalFormDraft.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, id: draft.id })
    .patch({
      data: ctx.body.data as Record<string, unknown>,
      updatedBy: carer.id,
      updatedAt: ctx.trx.fn.now() as unknown as Date,
      version: draft.version + 1,
    })
    .returning('*');
  // The data itself stays out of the audit trail's summary: it is the form's, kept in the draft.
  await ctx.audit({
    action: 'form_draft.saved',
    entityType: 'form_draft',
    entityId: draft.id,
    after: { formKey: draft.formKey, version: saved!.version },
  });
  return ok(draftToApi(saved!), saved!.version);
}

/**
 * Checked against the version the draft was started on, as a staff submission is against the
 * version it names, and stored as a submission about the household; its form task, if any, is done.
 */
async function submitPortalFormDraft(ctx: TenantContext<'submitPortalFormDraft'>): Promise<OperationResult> {
  await formsOn(ctx);
  const carer = carerOf(ctx);
  const draft = await findDraft(ctx, ctx.params.draftId, true);
  if (draft.status !== 'draft') throw new Problem('conflict', 'The form was submitted already');
  const form = (await effectiveCarerForms(ctx)).find(
    (f) => f.form.key === draft.formKey && f.form.version === draft.formVersion,
  );
  if (!form)
    throw new Problem(
      'conflict',
      `Version ${draft.formVersion} of the form "${draft.formKey}" is no longer one carers may complete`,
    );
  const errors = formDataErrors(form.form.schema, draft.data);
  if (errors.length) throw Problem.unprocessable(errors);
  const task = draft.householdTaskId
    ? await openTaskFor(ctx, carer.householdId, draft.householdTaskId, 'form', '/body/taskId').catch(() => null)
    : null;
  const submission = await storeFormSubmission(ctx.trx, ctx.tenantId, {
    formKey: form.form.key,
    formVersion: form.form.version,
    layer: form.layer,
    subjectType: 'carer_household',
    subjectId: carer.householdId,
    data: draft.data,
    submittedBy: carer.id,
  });
  const [submitted] = await PortalFormDraft.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, id: draft.id })
    .patch({
      status: 'submitted',
      submissionId: submission.id,
      updatedBy: carer.id,
      updatedAt: ctx.trx.fn.now() as unknown as Date,
      version: draft.version + 1,
    })
    .returning('*');
  // A task done by another draft meanwhile stays as it was; this submission is kept all the same.
  if (task) await completeTask(ctx.trx, task, carer.id, { formSubmissionId: submission.id });
  await ctx.audit({
    action: 'form.submitted',
    entityType: 'form_draft',
    entityId: draft.id,
    after: {
      submissionId: submission.id,
      formKey: submission.formKey,
      formVersion: submission.formVersion,
      subjectType: submission.subjectType,
      subjectId: submission.subjectId,
      taskId: task?.id ?? null,
    },
  });
  return created(draftToApi(submitted!), { location: `/v1/portal/form-drafts/${draft.id}` });
}

export const portalFormOperations = {
  listPortalForms: { access: { carer: true }, handle: listPortalForms },
  listPortalFormDrafts: { access: { carer: true }, handle: listPortalFormDrafts },
  createPortalFormDraft: { access: { carer: true }, handle: createPortalFormDraft },
  getPortalFormDraft: { access: { carer: true }, handle: getPortalFormDraft },
  savePortalFormDraft: { access: { carer: true }, handle: savePortalFormDraft },
  submitPortalFormDraft: { access: { carer: true }, handle: submitPortalFormDraft },
} as const;
