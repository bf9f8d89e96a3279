import type { Knex } from 'knex';
import type { PartialModelObject } from 'objection';
import { findOne, type FindOptions, type FindScope } from '../../db/find';
import { patchVersioned } from '../../db/versioned';
import {
  actorId,
  defineOperations,
  type OperationResult,
  type TenantContext,
  type TenantScope,
} from '../../http/operation';
import { assertIfMatch } from '../../http/etag';
import { created, ok } from '../../http/results';
import { Problem } from '../../http/problem';
import { newId } from '../../ids';
import { addDays } from '../../dates';
import { iso } from '../../time';
import { tenantToday } from '../tenants/today';
import { PaymentsSetupError } from './errors';
import { PaymentRun, PaySchedule } from './models';
import { isPeriodStart, periodFrom, type PayPeriod, type ScheduleShape } from './periods';

export function shapeOf(row: PaySchedule): ScheduleShape {
  return {
    frequency: row.frequency,
    timing: row.timing,
    anchorDate: row.anchorDate,
    paymentLagDays: row.paymentLagDays,
  };
}

/** The last period any run (not cancelled) of the tenant covers, whatever its schedule. */
export async function lastRunPeriod(
  trx: Knex.Transaction,
  tenantId: string,
): Promise<{ periodStart: string; periodEnd: string } | null> {
  const row = await PaymentRun.query(trx)
    .where({ tenant_id: tenantId })
    .whereNot('status', 'cancelled')
    .orderBy('period_start', 'desc')
    .select('period_start', 'period_end')
    .first();
  return row ? { periodStart: row.periodStart, periodEnd: row.periodEnd } : null;
}

/** The period the tenant's next run would cover on this schedule: the one after its last run, or, with none yet, the one containing today. */
export async function nextPeriod(
  trx: Knex.Transaction,
  tenantId: string,
  schedule: PaySchedule,
  today: string,
): Promise<PayPeriod | null> {
  if (schedule.status !== 'active') return null;
  const shape = shapeOf(schedule);
  const last = await lastRunPeriod(trx, tenantId);
  if (last) return periodFrom(shape, addDays(last.periodEnd, 1));
  let start = today;
  for (let i = 0; i < 31 && !isPeriodStart(shape, start); i++) start = addDays(start, -1);
  return periodFrom(shape, start);
}

async function scheduleToApi(ctx: TenantScope, row: PaySchedule) {
  return {
    id: row.id,
    key: row.key,
    name: row.name,
    frequency: row.frequency,
    timing: row.timing,
    anchorDate: row.anchorDate,
    paymentLagDays: row.paymentLagDays,
    correctionLookbackDays: row.correctionLookbackDays,
    status: row.status,
    nextPeriod: await nextPeriod(ctx.trx, ctx.tenantId, row, await tenantToday(ctx)),
    version: row.version,
    createdBy: row.createdBy,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
  };
}

export function findSchedule(scope: FindScope, scheduleId: string, options: FindOptions = {}): Promise<PaySchedule> {
  return findOne<PaySchedule>(scope, PaySchedule, scheduleId, options);
}

/**
 * The active schedule, locked: runs are opened one at a time per tenant, so periods never overlap.
 * With none, a PaymentsSetupError (the tenant sets one up).
 */
export async function activeSchedule(trx: Knex.Transaction, tenantId: string): Promise<PaySchedule> {
  const row = await PaySchedule.query(trx).where({ tenant_id: tenantId, status: 'active' }).forUpdate().first();
  if (!row)
    throw new PaymentsSetupError('The tenant has no active pay schedule: set one up first (POST /v1/pay-schedules)');
  return row;
}

async function listPaySchedules(ctx: TenantContext<'listPaySchedules'>): Promise<OperationResult> {
  const rows = await PaySchedule.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId })
    .orderBy([{ column: 'created_at' }, { column: 'id' }]);
  const data = [];
  for (const row of rows) data.push(await scheduleToApi(ctx, row));
  return ok({ data });
}

async function createPaySchedule(ctx: TenantContext<'createPaySchedule'>): Promise<OperationResult> {
  const body = ctx.body;
  // The tenant row is locked so two schedules cannot both become active.
  await ctx.trx('tenants').where({ id: ctx.tenantId }).forUpdate().first('id');
  const active = await PaySchedule.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, status: 'active' })
    .select('key')
    .first();
  if (active)
    throw new Problem('conflict', `The schedule "${active.key}" is active: retire it before setting up another`);
  if (await PaySchedule.query(ctx.trx).where({ tenant_id: ctx.tenantId, key: body.key }).select('id').first()) {
    throw Problem.unprocessable([{ pointer: '/body/key', message: 'is the key of another schedule of this tenant' }]);
  }
  if (body.frequency === 'monthly' && Number(body.anchorDate.slice(8, 10)) > 28) {
    throw Problem.unprocessable([
      { pointer: '/body/anchorDate', message: 'a monthly schedule starts on day 1 to 28, so every month has the day' },
    ]);
  }
  // A schedule that follows another carries on from the day after its last period.
  const last = await lastRunPeriod(ctx.trx, ctx.tenantId);
  if (
    last &&
    !isPeriodStart(
      { frequency: body.frequency, timing: body.timing, anchorDate: body.anchorDate, paymentLagDays: 0 },
      addDays(last.periodEnd, 1),
    )
  ) {
    throw Problem.unprocessable([
      {
        pointer: '/body/anchorDate',
        message: `the tenant's last run ends on ${last.periodEnd}, so a period of the new schedule must start on ${addDays(last.periodEnd, 1)}`,
      },
    ]);
  }
  const row = await PaySchedule.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      id: newId(),
      key: body.key,
      name: body.name,
      frequency: body.frequency,
      timing: body.timing,
      anchorDate: body.anchorDate,
      paymentLagDays: body.paymentLagDays ?? 0,
      correctionLookbackDays: body.correctionLookbackDays ?? 366,
      status: 'active',
      createdBy: actorId(ctx),
      updatedBy: actorId(ctx),
    })
    .returning('*');
  const schedule = await scheduleToApi(ctx, row);
  await ctx.audit({ action: 'pay_schedule.created', entityType: 'pay_schedule', entityId: row.id, after: schedule });
  return created(schedule, { location: `/v1/pay-schedules/${row.id}`, version: row.version });
}

async function getPaySchedule(ctx: TenantContext<'getPaySchedule'>): Promise<OperationResult> {
  const row = await findSchedule(ctx, ctx.params.scheduleId);
  return ok(await scheduleToApi(ctx, row), row.version);
}

async function updatePaySchedule(ctx: TenantContext<'updatePaySchedule'>): Promise<OperationResult> {
  const body = ctx.body;
  const before = await findSchedule(ctx, ctx.params.scheduleId, { lock: true });
  assertIfMatch(ctx.ifMatch, before.version);
  if (body.status === 'retired') {
    if (before.status === 'retired') throw new Problem('conflict', 'The schedule is already retired');
    const open = await PaymentRun.query(ctx.trx)
      .where({ tenant_id: ctx.tenantId, schedule_id: before.id })
      .whereNotIn('status', ['finalised', 'exported', 'cancelled'])
      .select('reference')
      .first();
    if (open)
      throw new Problem(
        'conflict',
        `The run ${open.reference} of this schedule is still open: finalise or cancel it before retiring the schedule`,
      );
  }
  const changes: PartialModelObject<PaySchedule> = { updatedBy: actorId(ctx) };
  if (body.name !== undefined) changes.name = body.name;
  if (body.paymentLagDays !== undefined) changes.paymentLagDays = body.paymentLagDays;
  if (body.correctionLookbackDays !== undefined) changes.correctionLookbackDays = body.correctionLookbackDays;
  if (body.status !== undefined) changes.status = body.status;
  const row = await patchVersioned(ctx.trx, PaySchedule, before, changes);
  const after = await scheduleToApi(ctx, row);
  await ctx.audit({
    action: 'pay_schedule.updated',
    entityType: 'pay_schedule',
    entityId: before.id,
    before: await scheduleToApi(ctx, before),
    after,
  });
  return ok(after, row.version);
}

export const scheduleOperations = defineOperations({
  listPaySchedules: { access: { permission: 'payments:read' }, handle: listPaySchedules },
  createPaySchedule: { access: { permission: 'payments:manage' }, handle: createPaySchedule },
  getPaySchedule: { access: { permission: 'payments:read' }, handle: getPaySchedule },
  updatePaySchedule: { access: { permission: 'payments:manage' }, handle: updatePaySchedule },
});
