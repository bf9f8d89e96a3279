import type { OperationResult, TenantContext, TenantScope } from '../../http/operation';
import { ok } from '../../http/results';
import { Problem } from '../../http/problem';
import type { PortalChildField } from '../../packs/types';
import { CarerHousehold } from '../carers/models';
import { Child } from '../children/models';
import { ContactSession, Placement, PlacementVisit } from '../placements/models';
import { Task } from '../tasks/models';
import { auditChildAccess } from './access';
import { staffContact } from './contacts';
import { CHANGE_REQUEST_CYCLE } from './household';
import { carerOf, portalSettings } from './settings';

/** Placements a carer sees: agreed ones (the database role's policy shows no other household's, and no proposal). */
const SHOWN_STATUSES = ['approved', 'active', 'ended'] as const;

/** The days a placement is the household's: a respite stay ends at its planned end. */
export function placementWindow(p: Placement): { from: string; to: string | null } {
  return { from: p.startDate, to: p.endDate ?? (p.respiteOf ? p.plannedEndDate : null) };
}

/** Whether the household holds the placement on `day` (an approved placement not started yet does not). */
export function heldOn(p: Placement, day: string): boolean {
  if (p.status === 'approved') return false;
  const { from, to } = placementWindow(p);
  return from <= day && (to === null || to >= day);
}

function childName(child: Child | undefined): string {
  if (!child) return '';
  return child.preferredName || child.givenName;
}

function summary(p: Placement, child: Child | undefined, today: string) {
  return {
    id: p.id,
    childId: p.childId,
    childName: childName(child),
    kind: p.kind,
    placementType: p.placementType,
    status: p.status as (typeof SHOWN_STATUSES)[number],
    startDate: p.startDate,
    plannedEndDate: p.plannedEndDate,
    endDate: p.endDate,
    respite: p.respiteOf !== null,
    current: heldOn(p, today),
  };
}

async function householdPlacements(ctx: TenantScope, householdId: string): Promise<Placement[]> {
  return Placement.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, household_id: householdId })
    .whereIn('status', [...SHOWN_STATUSES])
    .orderBy([
      { column: 'start_date', order: 'desc' },
      { column: 'id', order: 'desc' },
    ]);
}

async function childrenById(ctx: TenantScope, ids: string[]): Promise<Map<string, Child>> {
  if (!ids.length) return new Map();
  const rows = await Child.query(ctx.trx)
    .where('tenant_id', ctx.tenantId)
    .whereIn('id', [...new Set(ids)]);
  return new Map(rows.map((c) => [c.id, c]));
}

async function listPortalPlacements(ctx: TenantContext<'listPortalPlacements'>): Promise<OperationResult> {
  const carer = carerOf(ctx);
  const settings = await portalSettings(ctx);
  let rows = await householdPlacements(ctx, carer.householdId);
  if (ctx.query.current !== undefined) rows = rows.filter((p) => heldOn(p, settings.today) === ctx.query.current);
  const children = await childrenById(
    ctx,
    rows.map((p) => p.childId),
  );
  await auditChildAccess(
    ctx,
    { type: 'carer_household', id: carer.householdId },
    rows.map((p) => ({ childId: p.childId, group: 'name' })),
  );
  return {
    ...ok({ data: rows.map((p) => summary(p, children.get(p.childId), settings.today)) }),
  };
}

/** The fields the tenant shares, and nothing else, from the child's row. */
function sharedProfile(child: Child, fields: readonly PortalChildField[]): Record<string, unknown> {
  const all: Record<PortalChildField, unknown> = {
    givenName: child.givenName,
    familyName: child.familyName,
    preferredName: child.preferredName,
    dateOfBirth: child.dateOfBirth,
    sex: child.sex,
    gender: child.gender,
    ethnicity: child.ethnicity,
    language: child.language,
    interpreterNeeded: child.interpreterNeeded,
    religion: child.religion,
    disabilities: child.disabilities ?? [],
  };
  return Object.fromEntries(fields.map((f) => [f, all[f]]));
}

interface ScheduleItem {
  kind: 'visit' | 'contact_session' | 'review' | 'respite';
  date: string;
  endDate: string | null;
  title: string;
  status: string;
}

/**
 * What is coming and what has been, for one placement: visits held, contact sessions, the reviews
 * and visits the pack's cycles share with the household, and a respite stay's dates. Only what falls
 * within the household's days with the child (a respite carer's dates; a past placement's dates).
 */
async function scheduleOf(ctx: TenantScope, p: Placement, current: boolean): Promise<ScheduleItem[]> {
  const window = placementWindow(p);
  const within = (day: string) => day >= window.from && (window.to === null || day <= window.to);
  const [visits, sessions, tasks] = await Promise.all([
    PlacementVisit.query(ctx.trx).where({ tenant_id: ctx.tenantId, placement_id: p.id }).orderBy(['visit_date', 'id']),
    ContactSession.query(ctx.trx)
      .where({ tenant_id: ctx.tenantId, placement_id: p.id })
      .orderBy(['scheduled_start', 'id']),
    // Reviews and visits due: only while the household has the child, and only those the pack shares.
    current
      ? Task.query(ctx.trx)
          .where({ tenant_id: ctx.tenantId, status: 'open', shared_with_household: true })
          .whereNot('cycle_key', CHANGE_REQUEST_CYCLE)
          .where((w) =>
            w
              .where({ subject_type: 'placement', subject_id: p.respiteOf ?? p.id })
              .orWhere({ subject_type: 'child', subject_id: p.childId }),
          )
          .orderBy(['due_date', 'id'])
      : Promise.resolve([] as Task[]),
  ]);
  const items: ScheduleItem[] = [
    ...visits.map((v) => ({
      kind: 'visit' as const,
      date: v.visitDate,
      endDate: null,
      title: `${v.kind.replace(/_/g, ' ')} visit`,
      status: 'held',
    })),
    ...sessions.map((s) => ({
      kind: 'contact_session' as const,
      date: s.scheduledStart.toISOString().slice(0, 10),
      endDate: null,
      title: `Contact with ${s.relationship ?? 'family'}`,
      status: s.status,
    })),
    ...tasks.map((t) => ({
      kind: 'review' as const,
      date: t.dueDate,
      endDate: null,
      title: t.stepName ?? t.cycleKey.replace(/-/g, ' '),
      status: 'due',
    })),
  ].filter((item) => within(item.date));
  if (p.respiteOf)
    items.push({ kind: 'respite', date: p.startDate, endDate: window.to, title: 'Respite stay', status: p.status });
  return items.sort((a, b) => a.date.localeCompare(b.date) || a.kind.localeCompare(b.kind));
}

async function getPortalPlacement(ctx: TenantContext<'getPortalPlacement'>): Promise<OperationResult> {
  const carer = carerOf(ctx);
  const settings = await portalSettings(ctx);
  const p = await Placement.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, id: ctx.params.placementId, household_id: carer.householdId })
    .whereIn('status', [...SHOWN_STATUSES])
    .first();
  if (!p) throw Problem.notFound('The placement');
  const current = heldOn(p, settings.today);
  const [child, household] = await Promise.all([
    Child.query(ctx.trx).where({ tenant_id: ctx.tenantId, id: p.childId }).first(),
    CarerHousehold.query(ctx.trx).where({ tenant_id: ctx.tenantId, id: carer.householdId }).first(),
  ]);
  const fields = current && child ? settings.childFields : [];
  const [childsWorker, supervisingWorker, schedule] = await Promise.all([
    current && child ? staffContact(ctx, child.allocatedWorkerId) : Promise.resolve(null),
    staffContact(ctx, household?.supervisingWorkerId ?? null),
    scheduleOf(ctx, p, current),
  ]);
  await auditChildAccess(ctx, { type: 'placement', id: p.id }, [
    { childId: p.childId, group: current ? 'profile' : 'name', fields, placementId: p.id },
  ]);
  return ok({
    ...summary(p, child, settings.today),
    child: current && child ? sharedProfile(child, fields) : null,
    contacts: { childsWorker, supervisingWorker, outOfHoursPhone: settings.outOfHoursPhone },
    schedule,
  });
}

export const placementOperations = {
  listPortalPlacements: { access: { carer: true }, handle: listPortalPlacements },
  getPortalPlacement: { access: { carer: true }, handle: getPortalPlacement },
} as const;
