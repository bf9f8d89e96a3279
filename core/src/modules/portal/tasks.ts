import type { Knex } from 'knex';
import { keysetPage } from '../../db/keyset';
import { actorId, type OperationResult, type TenantContext, type TenantScope } from '../../http/operation';
import { Problem, type FieldError } from '../../http/problem';
import { created, ok } from '../../http/results';
import { newId } from '../../ids';
import { iso } from '../../time';
import { CarerHousehold } from '../carers/models';
import { Document } from '../documents/models';
import { Task } from '../tasks/models';
import { HouseholdTask } from './documentModels';
import { carerOf } from './settings';
import { carerForms } from './forms';

export function householdTaskToApi(t: HouseholdTask) {
  return {
    id: t.id,
    householdId: t.householdId,
    kind: t.kind,
    title: t.title,
    instructions: t.instructions,
    documentId: t.documentId,
    formKey: t.formKey,
    dueDate: t.dueDate,
    status: t.status,
    completedBy: t.completedBy,
    completedAt: t.completedAt ? iso(t.completedAt) : null,
    formSubmissionId: t.formSubmissionId,
    completionDocumentId: t.completionDocumentId,
    createdAt: iso(t.createdAt),
  };
}

const NEWEST_FIRST = [
  { column: 'created_at', of: (r: HouseholdTask) => r.createdAt.toISOString() },
  { column: 'id', of: (r: HouseholdTask) => r.id },
];

/**
 * An open task of the household of the given kind, locked, for the write that completes it; one of
 * another kind, done already, or not the household's is refused at `pointer`.
 */
export async function openTaskFor(
  ctx: TenantScope,
  householdId: string,
  taskId: string,
  kind: HouseholdTask['kind'],
  pointer: string,
): Promise<HouseholdTask> {
  const task = await HouseholdTask.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, household_id: householdId, id: taskId })
    .forUpdate()
    .first();
  if (!task || task.kind !== kind || task.status !== 'open')
    throw Problem.unprocessable([{ pointer, message: `is not an open ${kind} task of your household` }]);
  return task;
}

/** Marks the task done by the carer, with what completed it. The caller audits the request's one event. */
export async function completeTask(
  trx: Knex.Transaction,
  task: HouseholdTask,
  by: string,
  what: { formSubmissionId?: string; completionDocumentId?: string } = {},
): Promise<HouseholdTask> {
  const [done] = await HouseholdTask.query(trx)
    .where({ tenant_id: task.tenantId, id: task.id })
    .patch({
      status: 'done',
      completedBy: by,
      completedAt: trx.fn.now() as unknown as Date,
      updatedAt: trx.fn.now() as unknown as Date,
      version: task.version + 1,
      ...what,
    })
    .returning('*');
  return done!;
}

async function householdOf(ctx: TenantScope, householdId: string): Promise<CarerHousehold> {
  const household = await CarerHousehold.query(ctx.trx).where({ tenant_id: ctx.tenantId, id: householdId }).first();
  if (!household) throw Problem.notFound('The carer household');
  return household;
}

async function createHouseholdTask(ctx: TenantContext<'createHouseholdTask'>): Promise<OperationResult> {
  const household = await householdOf(ctx, ctx.params.householdId);
  const body = ctx.body;
  const errors: FieldError[] = [];
  if (body.kind === 'acknowledge') {
    if (!body.documentId) errors.push({ pointer: '/body/documentId', message: 'is required for an acknowledge task' });
    else {
      const document = await Document.query(ctx.trx)
        .where({
          tenant_id: ctx.tenantId,
          id: body.documentId,
          household_id: household.id,
          sensitivity: 'shared_with_household',
          status: 'active',
        })
        .select('id')
        .first();
      if (!document)
        errors.push({ pointer: '/body/documentId', message: 'is not a document shared with this household' });
    }
  } else if (body.documentId) errors.push({ pointer: '/body/documentId', message: 'is only for an acknowledge task' });
  if (body.kind === 'form') {
    if (!body.formKey) errors.push({ pointer: '/body/formKey', message: 'is required for a form task' });
    else if (!(await carerForms(ctx)).some((f) => f.form.key === body.formKey))
      errors.push({ pointer: '/body/formKey', message: 'is not a form carers may complete' });
  } else if (body.formKey) errors.push({ pointer: '/body/formKey', message: 'is only for a form task' });
  if (errors.length) throw Problem.unprocessable(errors);
  const task = await HouseholdTask.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      id: newId(),
      householdId: household.id,
      kind: body.kind,
      title: body.title,
      instructions: body.instructions ?? null,
      documentId: body.documentId ?? null,
      formKey: body.formKey ?? null,
      dueDate: body.dueDate ?? null,
      createdBy: actorId(ctx),
    })
    .returning('*');
  const view = householdTaskToApi(task);
  // Named by the household in the path, as a record added under it is; the task is in `after`.
  await ctx.audit({
    action: 'household_task.created',
    entityType: 'carer_household',
    entityId: household.id,
    after: view,
  });
  return created(view, { location: `/v1/carer-households/${household.id}/household-tasks` });
}

async function listHouseholdTasks(ctx: TenantContext<'listHouseholdTasks'>): Promise<OperationResult> {
  const household = await householdOf(ctx, ctx.params.householdId);
  const query = HouseholdTask.query(ctx.trx).where({ tenant_id: ctx.tenantId, household_id: household.id });
  const page = await keysetPage(query, ctx.query, NEWEST_FIRST, householdTaskToApi, 'desc');
  return ok({ data: page.data, nextCursor: page.nextCursor });
}

async function listPortalTasks(ctx: TenantContext<'listPortalTasks'>): Promise<OperationResult> {
  const carer = carerOf(ctx);
  const query = HouseholdTask.query(ctx.trx).where({ tenant_id: ctx.tenantId, household_id: carer.householdId });
  if (ctx.query.status) query.where('status', ctx.query.status);
  const page = await keysetPage(query, ctx.query, NEWEST_FIRST, householdTaskToApi, 'desc');
  return ok({ data: page.data, nextCursor: page.nextCursor });
}

async function acknowledgePortalTask(ctx: TenantContext<'acknowledgePortalTask'>): Promise<OperationResult> {
  const carer = carerOf(ctx);
  const task = await HouseholdTask.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, household_id: carer.householdId, id: ctx.params.taskId })
    .forUpdate()
    .first();
  if (!task) throw Problem.notFound('The task');
  if (task.kind !== 'acknowledge')
    throw new Problem(
      'conflict',
      task.kind === 'form' ? 'A form task is done by submitting its form' : 'An upload task is done by uploading',
    );
  if (task.status === 'done') return { ...ok(householdTaskToApi(task)), noWrite: true };
  const done = await completeTask(ctx.trx, task, carer.id);
  const view = householdTaskToApi(done);
  await ctx.audit({
    action: 'household_task.acknowledged',
    entityType: 'household_task',
    entityId: task.id,
    before: householdTaskToApi(task),
    after: view,
  });
  return ok(view);
}

/** The cycles' tasks the role lets the household see (migration 0038's policy on `tasks`): read only. */
async function listPortalCycleTasks(ctx: TenantContext<'listPortalCycleTasks'>): Promise<OperationResult> {
  carerOf(ctx);
  const query = Task.query(ctx.trx).where({ tenant_id: ctx.tenantId, status: 'open', shared_with_household: true });
  const page = await keysetPage(
    query,
    ctx.query,
    [
      { column: 'due_date', of: (r: Task) => r.dueDate },
      { column: 'id', of: (r: Task) => r.id },
    ],
    (r) => ({
      id: r.id,
      cycleKey: r.cycleKey,
      stepName: r.stepName,
      subjectType: r.subjectType,
      subjectId: r.subjectId,
      dueDate: r.dueDate,
      status: r.status,
    }),
  );
  return ok({ data: page.data, nextCursor: page.nextCursor });
}

export const householdTaskOperations = {
  createHouseholdTask: { access: { permission: 'tasks:manage' }, handle: createHouseholdTask },
  listHouseholdTasks: { access: { permission: 'tasks:read' }, handle: listHouseholdTasks },
  listPortalTasks: { access: { carer: true }, handle: listPortalTasks },
  acknowledgePortalTask: { access: { carer: true }, handle: acknowledgePortalTask },
  listPortalCycleTasks: { access: { carer: true }, handle: listPortalCycleTasks },
} as const;
