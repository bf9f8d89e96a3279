import { keysetPage } from '../../db/keyset';
import type { OperationResult, TenantContext, TenantScope } from '../../http/operation';
import { created, ok } from '../../http/results';
import { Problem } from '../../http/problem';
import { newId } from '../../ids';
import { iso } from '../../time';
import { userPrincipal } from '../auth/credentials';
import { findChild } from '../children/visibility';
import { Placement } from '../placements/models';
import { User } from '../users/models';
import { auditChildAccess } from './access';
import { DailyLog } from './models';
import { heldOn } from './placements';
import { carerOf, portalSettings, requireFeature } from './settings';

type LogView = ReturnType<typeof logToApi>;

function logToApi(r: DailyLog, authorName: string, correctedBy: string[]) {
  return {
    id: r.id,
    householdId: r.householdId,
    childId: r.childId,
    placementId: r.placementId,
    authorId: r.authorId,
    authorName,
    occurredOn: r.occurredOn,
    title: r.title,
    body: r.body,
    correctsLogId: r.correctsLogId,
    correctedBy,
    seenBy: r.seenBy,
    seenAt: r.seenAt ? iso(r.seenAt) : null,
    createdAt: iso(r.createdAt),
  };
}

/** The logs as the API shows them: each with its author's name and the later logs that correct it. */
async function present(ctx: TenantScope, rows: DailyLog[]): Promise<LogView[]> {
  if (!rows.length) return [];
  const [authors, corrections] = await Promise.all([
    User.query(ctx.trx)
      .where('tenant_id', ctx.tenantId)
      .whereIn('id', [...new Set(rows.map((r) => r.authorId))])
      .select('id', 'display_name'),
    DailyLog.query(ctx.trx)
      .where('tenant_id', ctx.tenantId)
      .whereIn(
        'corrects_log_id',
        rows.map((r) => r.id),
      )
      .orderBy(['created_at', 'id'])
      .select('id', 'corrects_log_id'),
  ]);
  const names = new Map(authors.map((a) => [a.id, a.displayName]));
  const correctedBy = new Map<string, string[]>();
  for (const c of corrections) correctedBy.set(c.correctsLogId!, [...(correctedBy.get(c.correctsLogId!) ?? []), c.id]);
  return rows.map((r) => logToApi(r, names.get(r.authorId) ?? '', correctedBy.get(r.id) ?? []));
}

const NEWEST_FIRST = [
  { column: 'occurred_on', of: (r: DailyLog) => r.occurredOn },
  { column: 'created_at', of: (r: DailyLog) => r.createdAt.toISOString() },
  { column: 'id', of: (r: DailyLog) => r.id },
];

async function listPortalDailyLogs(ctx: TenantContext<'listPortalDailyLogs'>): Promise<OperationResult> {
  const carer = carerOf(ctx);
  requireFeature(await portalSettings(ctx), 'logs');
  const query = DailyLog.query(ctx.trx).where({ tenant_id: ctx.tenantId, household_id: carer.householdId });
  if (ctx.query.childId) query.where('child_id', ctx.query.childId);
  const page = await keysetPage(query, ctx.query, NEWEST_FIRST, (r) => r, 'desc');
  await auditChildAccess(
    ctx,
    { type: 'carer_household', id: carer.householdId },
    page.rows.map((r) => ({ childId: r.childId, group: 'daily_logs' })),
  );
  return {
    ...ok({ data: await present(ctx, page.rows), nextCursor: page.nextCursor }),
  };
}

async function getPortalDailyLog(ctx: TenantContext<'getPortalDailyLog'>): Promise<OperationResult> {
  const carer = carerOf(ctx);
  requireFeature(await portalSettings(ctx), 'logs');
  const row = await DailyLog.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, household_id: carer.householdId, id: ctx.params.logId })
    .first();
  if (!row) throw Problem.notFound('The daily log');
  await auditChildAccess(ctx, { type: 'daily_log', id: row.id }, [{ childId: row.childId, group: 'daily_logs' }]);
  return ok((await present(ctx, [row]))[0]);
}

/**
 * A carer writes about a child while the child is with the household: the day must be one of the
 * household's days with the child (a respite carer's dates) and not in the future.
 */
async function createPortalDailyLog(ctx: TenantContext<'createPortalDailyLog'>): Promise<OperationResult> {
  const carer = carerOf(ctx);
  const settings = await portalSettings(ctx);
  requireFeature(settings, 'logs');
  const body = ctx.body;
  if (body.occurredOn > settings.today)
    throw Problem.unprocessable([{ pointer: '/body/occurredOn', message: 'is in the future' }]);
  const placements = await Placement.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, household_id: carer.householdId, child_id: body.childId })
    .whereIn('status', ['active', 'ended'])
    .orderBy([{ column: 'start_date', order: 'desc' }]);
  if (!placements.length)
    throw Problem.unprocessable([{ pointer: '/body/childId', message: 'is not a child placed with your household' }]);
  const placement = placements.find((p) => heldOn(p, body.occurredOn));
  if (!placement)
    throw Problem.unprocessable([
      { pointer: '/body/occurredOn', message: 'is not a day the child was placed with your household' },
    ]);
  if (body.correctsLogId) {
    const first = await DailyLog.query(ctx.trx)
      .where({ tenant_id: ctx.tenantId, household_id: carer.householdId, id: body.correctsLogId })
      .first();
    if (!first)
      throw Problem.unprocessable([{ pointer: '/body/correctsLogId', message: "is not one of your household's logs" }]);
    if (first.childId !== body.childId)
      throw Problem.unprocessable([{ pointer: '/body/correctsLogId', message: 'is a log about another child' }]);
  }
  const row = await DailyLog.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      id: newId(),
      householdId: carer.householdId,
      childId: body.childId,
      placementId: placement.id,
      authorId: carer.id,
      occurredOn: body.occurredOn,
      title: body.title,
      body: body.body,
      correctsLogId: body.correctsLogId ?? null,
    })
    .returning('*');
  await ctx.audit({
    action: 'daily_log.created',
    entityType: 'daily_log',
    entityId: row.id,
    after: {
      childId: row.childId,
      placementId: row.placementId,
      householdId: row.householdId,
      occurredOn: row.occurredOn,
      correctsLogId: row.correctsLogId,
    },
  });
  return created((await present(ctx, [row]))[0], { location: `/v1/portal/daily-logs/${row.id}` });
}

/** Staff read a child's logs as they may read the child (a restricted child's are fenced with it). */
async function listChildDailyLogs(ctx: TenantContext<'listChildDailyLogs'>): Promise<OperationResult> {
  const child = await findChild(ctx, ctx.params.childId);
  const query = DailyLog.query(ctx.trx).where({ tenant_id: ctx.tenantId, child_id: child.id });
  if (ctx.query.unseen) query.whereNull('seen_at');
  const page = await keysetPage(query, ctx.query, NEWEST_FIRST, (r) => r, 'desc');
  return ok({ data: await present(ctx, page.rows), nextCursor: page.nextCursor });
}

async function markDailyLogSeen(ctx: TenantContext<'markDailyLogSeen'>): Promise<OperationResult> {
  // Who saw it is a person, never an API key.
  const person = userPrincipal(ctx);
  const child = await findChild(ctx, ctx.params.childId);
  const row = await DailyLog.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, child_id: child.id, id: ctx.params.logId })
    .forUpdate()
    .first();
  if (!row) throw Problem.notFound('The daily log');
  if (row.seenAt) return { ...ok((await present(ctx, [row]))[0]), noWrite: true };
  const seen = await DailyLog.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, id: row.id })
    .patch({ seenBy: person.id, seenAt: new Date() })
    .returning('*')
    .first();
  await ctx.audit({
    action: 'daily_log.seen',
    entityType: 'daily_log',
    entityId: row.id,
    after: { childId: row.childId, seenBy: person.id },
  });
  return ok((await present(ctx, [seen as unknown as DailyLog]))[0]);
}

export const dailyLogOperations = {
  listPortalDailyLogs: { access: { carer: true }, handle: listPortalDailyLogs },
  getPortalDailyLog: { access: { carer: true }, handle: getPortalDailyLog },
  createPortalDailyLog: { access: { carer: true }, handle: createPortalDailyLog },
  listChildDailyLogs: { access: { permission: 'children:read' }, handle: listChildDailyLogs },
  markDailyLogSeen: { access: { permission: 'children:update' }, handle: markDailyLogSeen },
} as const;
