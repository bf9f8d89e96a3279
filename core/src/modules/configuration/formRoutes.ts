import type { Knex } from 'knex';
import {
  actorId,
  defineOperations,
  type OperationResult,
  type TenantContext,
  type TenantScope,
} from '../../http/operation';
import { Problem, type FieldError } from '../../http/problem';
import { created, ok } from '../../http/results';
import type { FormDefinition } from '../../packs/types';
import { todayIn } from '../../time';
import { effectiveConfiguration } from './effective';
import {
  findFormSubmission,
  formDataErrors,
  storeFormSubmission,
  submissionToApi,
  type FormSubjectType,
} from './formSubmissions';
import { tenantPack } from './tenantPack';
import { childVisible, placementVisible } from '../children/visibility';

/** A version of one of the tenant's forms as the effective configuration has it today, or not found. */
async function effectiveForm(
  ctx: TenantScope,
  key: string,
  version: number,
): Promise<{ form: FormDefinition; layer: string }> {
  const { pack, timeZone, overlays } = await tenantPack(ctx);
  const config = effectiveConfiguration(pack, overlays, todayIn(timeZone));
  const item = config.forms.find((f) => f.key === `${key}@${version}`);
  if (!item) throw Problem.notFound(`Version ${version} of the form "${key}"`);
  return { form: item.value, layer: item.layer };
}

async function getFormSchema(ctx: TenantContext<'getFormSchema'>): Promise<OperationResult> {
  const { form, layer } = await effectiveForm(ctx, ctx.params.formKey, Number(ctx.params.formVersion));
  const description = form.description ? { description: form.description } : {};
  return ok({ key: form.key, version: form.version, title: form.title, ...description, layer, schema: form.schema });
}

/**
 * Where each kind of subject lives, to check one exists in the tenant; a deleted child is not one,
 * and neither is a restricted child (or its placement) hidden from the caller: to them it does not exist.
 * Read here, not through each module, because all this asks is whether the row is there.
 */
const SUBJECT_TABLES: Record<
  FormSubjectType,
  { table: string; live?: string; fence?: (ctx: TenantScope) => Knex.Raw }
> = {
  child: { table: 'children', live: 'deleted_at', fence: (ctx) => childVisible(ctx, 'children.id') },
  user: { table: 'users' },
  carer_household: { table: 'carer_households' },
  placement: { table: 'placements', fence: (ctx) => placementVisible(ctx, 'placements.id') },
};

async function subjectExists(ctx: TenantScope, subjectType: FormSubjectType, subjectId: string): Promise<boolean> {
  const where = SUBJECT_TABLES[subjectType];
  const query = ctx.trx(where.table).where({ tenant_id: ctx.tenantId, id: subjectId }).first('id');
  if (where.live) query.whereNull(where.live);
  if (where.fence) query.where(where.fence(ctx));
  return Boolean(await query);
}

async function submitForm(ctx: TenantContext<'submitForm'>): Promise<OperationResult> {
  const body = ctx.body;
  const { form, layer } = await effectiveForm(ctx, body.formKey, body.formVersion);
  const errors: FieldError[] = [];
  if (!(await subjectExists(ctx, body.subjectType, body.subjectId))) {
    errors.push({ pointer: '/body/subjectId', message: `is not a ${body.subjectType} of this tenant` });
  }
  errors.push(...formDataErrors(form.schema, body.data));
  if (errors.length) throw Problem.unprocessable(errors);
  const row = await storeFormSubmission(ctx.trx, ctx.tenantId, {
    formKey: form.key,
    formVersion: form.version,
    layer,
    subjectType: body.subjectType,
    subjectId: body.subjectId,
    data: body.data,
    submittedBy: actorId(ctx),
  });
  const submission = submissionToApi(row);
  const { formKey, formVersion, subjectType, subjectId } = submission;
  const after = { formKey, formVersion, subjectType, subjectId };
  await ctx.audit({ action: 'form.submitted', entityType: 'form_submission', entityId: submission.id, after });
  return created(submission, { location: `/v1/form-submissions/${submission.id}` });
}

async function getFormSubmission(ctx: TenantContext<'getFormSubmission'>): Promise<OperationResult> {
  return ok(submissionToApi(await findFormSubmission(ctx, ctx.params.submissionId)));
}

export const formOperations = defineOperations({
  getFormSchema: { access: { permission: 'configuration:read' }, handle: getFormSchema },
  submitForm: { access: { permission: 'forms:submit' }, handle: submitForm },
  getFormSubmission: { access: { permission: 'forms:read' }, handle: getFormSubmission },
});
