import type { Knex } from 'knex';
import { actorId, type OperationContext, type OperationMap, type OperationResult } from '../../http/operation';
import { assertIfMatch, etagOf } from '../../http/etag';
import { Problem } from '../../http/problem';
import { newId } from '../../ids';
import { addDays } from '../../dates';
import { iso } from '../../time';
import { tenantToday } from '../tenants/today';
import { isPeriodStart, periodFrom, type PayPeriod, type ScheduleShape } from './periods';
import type { ScheduleRow } from './rows';

export function shapeOf(row: ScheduleRow): ScheduleShape {
  return { frequency: row.frequency, timing: row.timing, anchorDate: row.anchor_date, paymentLagDays: row.payment_lag_days };
}

/** The last period any run (not cancelled) of the tenant covers, whatever its schedule. */
export async function lastRunPeriod(trx: Knex.Transaction, tenantId: string): Promise<{ periodStart: string; periodEnd: string } | null> {
  const row = (await trx('payment_runs').where({ tenant_id: tenantId }).whereNot('status', 'cancelled').orderBy('period_start', 'desc').first('period_start', 'period_end')) as { period_start: string; period_end: string } | undefined;
  return row ? { periodStart: row.period_start, periodEnd: row.period_end } : null;
}

/** The period the tenant's next run would cover on this schedule: the one after its last run, or, with none yet, the one containing today. */
export async function nextPeriod(trx: Knex.Transaction, tenantId: string, schedule: ScheduleRow, today: string): Promise<PayPeriod | null> {
  if (schedule.status !== 'active') return null;
  const shape = shapeOf(schedule);
  const last = await lastRunPeriod(trx, tenantId);
  if (last) return periodFrom(shape, addDays(last.periodEnd, 1));
  let start = today;
  for (let i = 0; i < 31 && !isPeriodStart(shape, start); i++) start = addDays(start, -1);
  return periodFrom(shape, start);
}

async function scheduleToApi(ctx: OperationContext, row: ScheduleRow) {
  return {
    id: row.id,
    key: row.key,
    name: row.name,
    frequency: row.frequency,
    timing: row.timing,
    anchorDate: row.anchor_date,
    paymentLagDays: row.payment_lag_days,
    correctionLookbackDays: row.correction_lookback_days,
    status: row.status,
    nextPeriod: await nextPeriod(ctx.trx, ctx.tenantId!, row, await tenantToday(ctx)),
    version: row.version,
    createdBy: row.created_by,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

async function findSchedule(ctx: OperationContext, lock = false): Promise<ScheduleRow> {
  const query = ctx.trx('pay_schedules').where({ tenant_id: ctx.tenantId, id: ctx.params.scheduleId }).first();
  if (lock) query.forUpdate();
  const row = (await query) as ScheduleRow | undefined;
  if (!row) throw Problem.notFound('The pay schedule');
  return row;
}

/** The active schedule, locked: runs are opened one at a time per tenant, so periods never overlap. */
export async function activeSchedule(trx: Knex.Transaction, tenantId: string): Promise<ScheduleRow> {
  const row = (await trx('pay_schedules').where({ tenant_id: tenantId, status: 'active' }).forUpdate().first()) as ScheduleRow | undefined;
  if (!row) throw new Problem('unprocessable', 'The tenant has no active pay schedule: set one up first (POST /v1/pay-schedules)');
  return row;
}

async function listPaySchedules(ctx: OperationContext): Promise<OperationResult> {
  const rows = (await ctx.trx('pay_schedules').where({ tenant_id: ctx.tenantId }).orderBy([{ column: 'created_at' }, { column: 'id' }])) as ScheduleRow[];
  const data = [];
  for (const row of rows) data.push(await scheduleToApi(ctx, row));
  return { status: 200, body: { data } };
}

async function createPaySchedule(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as { key: string; name: string; frequency: ScheduleRow['frequency']; timing: ScheduleRow['timing']; anchorDate: string; paymentLagDays?: number; correctionLookbackDays?: number };
  // The tenant row is locked so two schedules cannot both become active.
  await ctx.trx('tenants').where({ id: ctx.tenantId }).forUpdate().first('id');
  const active = (await ctx.trx('pay_schedules').where({ tenant_id: ctx.tenantId, status: 'active' }).first('key')) as { key: string } | undefined;
  if (active) throw new Problem('conflict', `The schedule "${active.key}" is active: retire it before setting up another`);
  if (await ctx.trx('pay_schedules').where({ tenant_id: ctx.tenantId, key: body.key }).first('id')) throw Problem.unprocessable([{ pointer: '/body/key', message: 'is the key of another schedule of this tenant' }]);
  if (body.frequency === 'monthly' && Number(body.anchorDate.slice(8, 10)) > 28) throw Problem.unprocessable([{ pointer: '/body/anchorDate', message: 'a monthly schedule starts on day 1 to 28, so every month has the day' }]);
  // A schedule that follows another carries on from the day after its last period.
  const last = await lastRunPeriod(ctx.trx, ctx.tenantId!);
  if (last && !isPeriodStart({ frequency: body.frequency, timing: body.timing, anchorDate: body.anchorDate, paymentLagDays: 0 }, addDays(last.periodEnd, 1))) {
    throw Problem.unprocessable([{ pointer: '/body/anchorDate', message: `the tenant's last run ends on ${last.periodEnd}, so a period of the new schedule must start on ${addDays(last.periodEnd, 1)}` }]);
  }
  const [row] = (await ctx.trx('pay_schedules')
    .insert({
      tenant_id: ctx.tenantId, id: newId(), key: body.key, name: body.name, frequency: body.frequency, timing: body.timing, anchor_date: body.anchorDate,
      payment_lag_days: body.paymentLagDays ?? 0, correction_lookback_days: body.correctionLookbackDays ?? 366, status: 'active', created_by: actorId(ctx), updated_by: actorId(ctx),
    })
    .returning('*')) as ScheduleRow[];
  const schedule = await scheduleToApi(ctx, row!);
  await ctx.audit({ action: 'pay_schedule.created', entityType: 'pay_schedule', entityId: row!.id, after: schedule });
  return { status: 201, body: schedule, headers: { ETag: etagOf(row!.version), Location: `/v1/pay-schedules/${row!.id}` } };
}

async function getPaySchedule(ctx: OperationContext): Promise<OperationResult> {
  const row = await findSchedule(ctx);
  return { status: 200, body: await scheduleToApi(ctx, row), headers: { ETag: etagOf(row.version) } };
}

async function updatePaySchedule(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as { name?: string; paymentLagDays?: number; correctionLookbackDays?: number; status?: 'retired' };
  const before = await findSchedule(ctx, true);
  assertIfMatch(ctx.ifMatch, before.version);
  if (body.status === 'retired') {
    if (before.status === 'retired') throw new Problem('conflict', 'The schedule is already retired');
    const open = (await ctx.trx('payment_runs').where({ tenant_id: ctx.tenantId, schedule_id: before.id }).whereNotIn('status', ['finalised', 'exported', 'cancelled']).first('reference')) as { reference: string } | undefined;
    if (open) throw new Problem('conflict', `The run ${open.reference} of this schedule is still open: finalise or cancel it before retiring the schedule`);
  }
  const changes: Record<string, unknown> = { version: before.version + 1, updated_at: ctx.trx.fn.now(), updated_by: actorId(ctx) };
  if (body.name !== undefined) changes.name = body.name;
  if (body.paymentLagDays !== undefined) changes.payment_lag_days = body.paymentLagDays;
  if (body.correctionLookbackDays !== undefined) changes.correction_lookback_days = body.correctionLookbackDays;
  if (body.status !== undefined) changes.status = body.status;
  const [row] = (await ctx.trx('pay_schedules').where({ tenant_id: ctx.tenantId, id: before.id }).update(changes).returning('*')) as ScheduleRow[];
  const after = await scheduleToApi(ctx, row!);
  await ctx.audit({ action: 'pay_schedule.updated', entityType: 'pay_schedule', entityId: before.id, before: await scheduleToApi(ctx, before), after });
  return { status: 200, body: after, headers: { ETag: etagOf(row!.version) } };
}

export const scheduleOperations: OperationMap = {
  listPaySchedules: { access: { permission: 'payments:read' }, handle: listPaySchedules },
  createPaySchedule: { access: { permission: 'payments:manage' }, handle: createPaySchedule },
  getPaySchedule: { access: { permission: 'payments:read' }, handle: getPaySchedule },
  updatePaySchedule: { access: { permission: 'payments:manage' }, handle: updatePaySchedule },
};
