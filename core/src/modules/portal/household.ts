import { addDays } from '../../dates';
import { keysetPage } from '../../db/keyset';
import type { OperationResult, TenantContext, TenantScope } from '../../http/operation';
import { created, ok } from '../../http/results';
import { newId } from '../../ids';
import { iso } from '../../time';
import { CarerApprovalTerms, CarerCheck, CarerHousehold, CarerHouseholdMember } from '../carers/models';
import { Task } from '../tasks/models';
import { HouseholdChangeRequest } from './models';
import { carerOf, portalSettings } from './settings';
import { staffContact } from './contacts';

/** Checks expiring within this many days are listed as expiring (as the compliance view counts them). */
const EXPIRING_WITHIN_DAYS = 90;
/** The cycle key of the tasks change requests make; no pack cycle has it, so recalculation never touches them. */
export const CHANGE_REQUEST_CYCLE = 'portal-change-request';
/** Working days staff have to act on a change request. */
const CHANGE_REQUEST_WORKING_DAYS = 5;

function checkToPortal(r: CarerCheck) {
  return {
    id: r.id,
    checkType: r.checkType,
    memberId: r.memberId,
    status: r.status,
    completedOn: r.completedOn,
    expiresOn: r.expiresOn,
  };
}

/**
 * The household as its carer sees it. Every query here runs as the portal's database role, so the
 * rows are the household's own whatever the code asks; the code asks for them by id all the same.
 */
async function getPortalHousehold(ctx: TenantContext<'getPortalHousehold'>): Promise<OperationResult> {
  const carer = carerOf(ctx);
  const settings = await portalSettings(ctx);
  const scoped = { tenant_id: ctx.tenantId, household_id: carer.householdId };
  const [household, members, terms, checks, review] = await Promise.all([
    CarerHousehold.query(ctx.trx).where({ tenant_id: ctx.tenantId, id: carer.householdId }).first(),
    CarerHouseholdMember.query(ctx.trx).where(scoped).orderBy(['role', 'name', 'id']),
    CarerApprovalTerms.query(ctx.trx)
      .where(scoped)
      .where('effective_from', '<=', settings.today)
      .orderBy([
        { column: 'effective_from', order: 'desc' },
        { column: 'created_at', order: 'desc' },
      ])
      .first(),
    CarerCheck.query(ctx.trx).where(scoped).orderBy(['check_type', 'id']),
    // The next review or annual update the pack's cycles share with the household (never an unannounced visit).
    Task.query(ctx.trx)
      .where({
        tenant_id: ctx.tenantId,
        subject_type: 'carer_household',
        subject_id: carer.householdId,
        status: 'open',
      })
      .where('shared_with_household', true)
      .whereNot('cycle_key', CHANGE_REQUEST_CYCLE)
      .orderBy(['due_date', 'id'])
      .first(),
  ]);
  // The principal's re-read found the household a moment ago in this transaction.
  const h = household!;
  const horizon = addDays(settings.today, EXPIRING_WITHIN_DAYS);
  return ok({
    id: h.id,
    name: h.name,
    address: h.address,
    postcode: h.postcode,
    status: h.status,
    approval: {
      state: h.approvalState,
      approvedOn: h.approvedOn,
      approvalEndedOn: h.approvalEndedOn,
      terms: terms
        ? {
            effectiveFrom: terms.effectiveFrom,
            maxChildren: terms.maxChildren,
            ageMin: terms.ageMin,
            ageMax: terms.ageMax,
            placementKinds: terms.placementKinds,
            carerLevel: terms.carerLevel,
          }
        : null,
    },
    members: members.map((m) => ({
      id: m.id,
      name: m.name,
      role: m.role,
      relationship: m.relationship,
      leftOn: m.leftOn,
    })),
    supervisingWorker: await staffContact(ctx, h.supervisingWorkerId),
    nextReviewDate: review?.dueDate ?? null,
    checks: checks.map(checkToPortal),
    expiring: checks.filter((c) => c.expiresOn !== null && c.expiresOn <= horizon).map(checkToPortal),
  });
}

function changeRequestToApi(r: HouseholdChangeRequest, status: string) {
  return {
    id: r.id,
    field: r.field,
    proposedValue: r.proposedValue,
    note: r.note,
    status,
    taskId: r.taskId,
    requestedBy: r.requestedBy,
    requestedAt: iso(r.createdAt),
  };
}

async function taskStatuses(ctx: TenantScope, taskIds: string[]): Promise<Map<string, string>> {
  if (!taskIds.length) return new Map();
  const tasks = await Task.query(ctx.trx)
    .where('tenant_id', ctx.tenantId)
    .whereIn('id', taskIds)
    .select('id', 'status');
  return new Map(tasks.map((t) => [t.id, t.status]));
}

async function listPortalChangeRequests(ctx: TenantContext<'listPortalChangeRequests'>): Promise<OperationResult> {
  const carer = carerOf(ctx);
  const query = HouseholdChangeRequest.query(ctx.trx).where({
    tenant_id: ctx.tenantId,
    household_id: carer.householdId,
  });
  const page = await keysetPage(
    query,
    ctx.query,
    [
      { column: 'created_at', of: (r) => r.createdAt.toISOString() },
      { column: 'id', of: (r) => r.id },
    ],
    (r) => r,
    'desc',
  );
  const statuses = await taskStatuses(
    ctx,
    page.rows.map((r) => r.taskId),
  );
  return ok({
    data: page.rows.map((r) => changeRequestToApi(r, statuses.get(r.taskId) ?? 'open')),
    nextCursor: page.nextCursor,
  });
}

/**
 * A carer's change never goes into the record: it becomes a task for the supervising worker, due in
 * five working days, which the household sees move to done or cancelled.
 */
async function requestHouseholdChange(ctx: TenantContext<'requestHouseholdChange'>): Promise<OperationResult> {
  const carer = carerOf(ctx);
  const settings = await portalSettings(ctx);
  const household = (await CarerHousehold.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, id: carer.householdId })
    .first())!;
  const last = (await Task.query(ctx.trx)
    .where({
      tenant_id: ctx.tenantId,
      subject_type: 'carer_household',
      subject_id: carer.householdId,
      cycle_key: CHANGE_REQUEST_CYCLE,
    })
    .max('occurrence as n')
    .first()) as unknown as { n: number | null } | undefined;
  const id = newId();
  const dueDate = settings.calendar.addWorkingDays(settings.today, CHANGE_REQUEST_WORKING_DAYS);
  const task = await Task.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      id: newId(),
      cycleKey: CHANGE_REQUEST_CYCLE,
      stepKey: 'review',
      stepName: `The household asks to change: ${ctx.body.field}`,
      occurrence: Number(last?.n ?? 0) + 1,
      subjectType: 'carer_household',
      subjectId: carer.householdId,
      dueDate,
      ownerId: household.supervisingWorkerId,
      ownerSource: 'subject',
      status: 'open',
      sharedWithHousehold: true,
      countedFrom: { basis: 'trigger', date: settings.today, changeRequestId: id } as Task['countedFrom'],
    })
    .returning('*');
  const row = await HouseholdChangeRequest.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      id,
      householdId: carer.householdId,
      requestedBy: carer.id,
      field: ctx.body.field,
      proposedValue: ctx.body.proposedValue,
      note: ctx.body.note ?? null,
      taskId: task.id,
    })
    .returning('*');
  // One event for the request and the task it made (the task is what staff act on).
  await ctx.audit({
    action: 'carer_household.change_requested',
    entityType: 'household_change_request',
    entityId: id,
    after: { householdId: carer.householdId, field: row.field, taskId: task.id, dueDate, ownerId: task.ownerId },
  });
  return created(changeRequestToApi(row, task.status), { location: `/v1/portal/household/change-requests` });
}

export const householdOperations = {
  getPortalHousehold: { access: { carer: true }, handle: getPortalHousehold },
  listPortalChangeRequests: { access: { carer: true }, handle: listPortalChangeRequests },
  requestHouseholdChange: { access: { carer: true }, handle: requestHouseholdChange },
} as const;
