import type { OperationContext, OperationResult } from '../../http/operation';
import { etagOf } from '../../http/etag';
import { decodeCursor, toPage } from '../../http/pagination';
import { Problem, type FieldError } from '../../http/problem';
import { newId } from '../../ids';
import { iso } from '../../time';
import { PANEL_RECOMMENDATION } from './approval';
import { insertDecision } from './evidence';
import { activeUserIds, actorId, configFor, findHousehold, type DecisionRow } from './shared';

interface PanelRow { id: string; panel_date: string; name: string | null; chair_id: string; member_ids: string[]; status: string; version: number; created_at: Date; updated_at: Date }
interface ItemRow { id: string; panel_id: string; household_id: string; purpose: string | null; status: string; decision_id: string | null; created_at: Date }

function itemToApi(r: ItemRow, decision: DecisionRow | undefined) {
  const d = decision?.details as { recommendApproval?: boolean; termsRecommended?: unknown; vote?: unknown } | undefined;
  return {
    id: r.id, panelId: r.panel_id, householdId: r.household_id, purpose: r.purpose, status: r.status,
    recommendation: decision ? { recommendApproval: Boolean(d?.recommendApproval), termsRecommended: d?.termsRecommended ?? null, reasons: decision.reasons ?? '', vote: d?.vote ?? null, decisionId: decision.id, recordedBy: decision.recorded_by } : null,
    createdAt: iso(r.created_at),
  };
}

/** Panels with their agendas, in three queries. */
async function present(ctx: OperationContext, panels: PanelRow[]) {
  const ids = panels.map((p) => p.id);
  const items = ids.length ? ((await ctx.trx('carer_panel_agenda_items').where({ tenant_id: ctx.tenantId }).whereIn('panel_id', ids).orderBy([{ column: 'created_at' }, { column: 'id' }])) as ItemRow[]) : [];
  const decisionIds = items.map((i) => i.decision_id).filter((x): x is string => x !== null);
  const decisions = new Map(decisionIds.length ? ((await ctx.trx('carer_decisions').where({ tenant_id: ctx.tenantId }).whereIn('id', decisionIds)) as DecisionRow[]).map((d) => [d.id, d]) : []);
  return panels.map((p) => ({
    id: p.id, panelDate: p.panel_date, name: p.name, chairId: p.chair_id, memberIds: p.member_ids ?? [], status: p.status,
    agenda: items.filter((i) => i.panel_id === p.id).map((i) => itemToApi(i, i.decision_id ? decisions.get(i.decision_id) : undefined)),
    version: p.version, createdAt: iso(p.created_at), updatedAt: iso(p.updated_at),
  }));
}

async function findPanel(ctx: OperationContext, lock = false): Promise<PanelRow> {
  const query = ctx.trx('carer_panels').where({ tenant_id: ctx.tenantId, id: ctx.params.panelId }).first();
  if (lock) query.forUpdate();
  const row = (await query) as PanelRow | undefined;
  if (!row) throw Problem.notFound('The panel');
  return row;
}

export async function listCarerPanels(ctx: OperationContext): Promise<OperationResult> {
  const q = ctx.query as { limit: number; cursor?: string; from?: string; status?: string };
  const after = decodeCursor(q.cursor, 2);
  const query = ctx.trx('carer_panels').where({ tenant_id: ctx.tenantId }).orderBy([{ column: 'panel_date' }, { column: 'id' }]).limit(q.limit + 1);
  if (after) query.whereRaw('(panel_date, id) > (?::date, ?::uuid)', [after[0]!, after[1]!]);
  if (q.from) query.where('panel_date', '>=', q.from);
  if (q.status) query.where('status', q.status);
  const rows = (await query) as PanelRow[];
  const page = toPage(rows, q.limit, (r) => [r.panel_date, r.id], (r) => r);
  return { status: 200, body: { data: await present(ctx, page.data), nextCursor: page.nextCursor } };
}

export async function scheduleCarerPanel(ctx: OperationContext): Promise<OperationResult> {
  const sent = ctx.body as { panelDate: string; name?: string; chairId?: string; memberIds?: string[] };
  const chairId = sent.chairId ?? actorId(ctx);
  if (!chairId) throw Problem.unprocessable([{ pointer: '/body/chairId', message: 'is required when the caller is not a person' }]);
  const input = { ...sent, chairId };
  const members = (input.memberIds ?? []).filter((m) => m !== input.chairId);
  const active = await activeUserIds(ctx, [input.chairId, ...members]);
  const errors: FieldError[] = [];
  if (!active.has(input.chairId)) errors.push({ pointer: '/body/chairId', message: 'is not an active user of this tenant' });
  (input.memberIds ?? []).forEach((m, i) => { if (!active.has(m)) errors.push({ pointer: `/body/memberIds/${i}`, message: 'is not an active user of this tenant' }); });
  if (errors.length) throw Problem.unprocessable(errors);
  const [row] = (await ctx.trx('carer_panels').insert({ tenant_id: ctx.tenantId, id: newId(), panel_date: input.panelDate, name: input.name ?? null, chair_id: input.chairId, member_ids: members }).returning('*')) as PanelRow[];
  const [body] = await present(ctx, [row!]);
  await ctx.audit({ action: 'carer_panel.scheduled', entityType: 'carer_panel', entityId: row!.id, after: body });
  return { status: 201, body, headers: { ETag: etagOf(row!.version), Location: `/v1/carer-panels/${row!.id}` } };
}

export async function getCarerPanel(ctx: OperationContext): Promise<OperationResult> {
  const row = await findPanel(ctx);
  const [body] = await present(ctx, [row]);
  return { status: 200, body, headers: { ETag: etagOf(row.version) } };
}

export async function addCarerPanelAgendaItem(ctx: OperationContext): Promise<OperationResult> {
  const input = ctx.body as { householdId: string; purpose?: string };
  const panel = await findPanel(ctx, true);
  if (panel.status !== 'scheduled') throw new Problem('conflict', `The panel is ${panel.status}; only a scheduled panel takes new agenda items`);
  const household = await ctx.trx('carer_households').where({ tenant_id: ctx.tenantId, id: input.householdId }).first('id');
  if (!household) throw Problem.unprocessable([{ pointer: '/body/householdId', message: 'is not a carer household of this tenant' }]);
  const listed = await ctx.trx('carer_panel_agenda_items').where({ tenant_id: ctx.tenantId, panel_id: panel.id, household_id: input.householdId }).first('id');
  if (listed) throw new Problem('conflict', 'The household is already on this panel\'s agenda');
  const [row] = (await ctx.trx('carer_panel_agenda_items').insert({ tenant_id: ctx.tenantId, id: newId(), panel_id: panel.id, household_id: input.householdId, purpose: input.purpose ?? null }).returning('*')) as ItemRow[];
  const body = itemToApi(row!, undefined);
  await ctx.audit({ action: 'carer_panel.agenda_item_added', entityType: 'carer_panel', entityId: panel.id, after: { agendaItem: body } });
  return { status: 201, body, headers: { Location: `/v1/carer-panels/${panel.id}/agenda/${body.id}` } };
}

export async function recordCarerPanelRecommendation(ctx: OperationContext): Promise<OperationResult> {
  const input = ctx.body as { recommendApproval: boolean; termsRecommended?: { maxChildren: number; ageMin: number; ageMax: number; placementKinds: string[]; notes?: string }; reasons: string; vote?: { inFavour: number; against: number; abstained: number }; decidedOn?: string };
  const panel = await findPanel(ctx, true);
  const item = (await ctx.trx('carer_panel_agenda_items').where({ tenant_id: ctx.tenantId, panel_id: panel.id, id: ctx.params.itemId }).forUpdate().first()) as ItemRow | undefined;
  if (!item) throw Problem.notFound('The agenda item');
  const me = actorId(ctx);
  if (!me || (me !== panel.chair_id && !(panel.member_ids ?? []).includes(me))) throw new Problem('forbidden', "Only the panel's chair or members record its recommendation");
  if (panel.status === 'cancelled') throw new Problem('conflict', 'The panel was cancelled');
  if (item.status === 'recommended') throw new Problem('conflict', 'The recommendation on this item is already recorded');
  const errors: FieldError[] = [];
  const decidedOn = input.decidedOn ?? panel.panel_date;
  const { today } = await configFor(ctx);
  if (decidedOn > today) errors.push({ pointer: input.decidedOn ? '/body/decidedOn' : '/path/panelId', message: input.decidedOn ? 'is in the future' : 'the panel has not yet sat (its date is in the future)' });
  if (input.termsRecommended && input.termsRecommended.ageMax < input.termsRecommended.ageMin) errors.push({ pointer: '/body/termsRecommended/ageMax', message: 'is below ageMin' });
  if (input.termsRecommended && !input.recommendApproval) errors.push({ pointer: '/body/termsRecommended', message: 'goes with a recommendation to approve' });
  if (errors.length) throw Problem.unprocessable(errors);
  await findHousehold(ctx, { lock: true, id: item.household_id });
  const decision = await insertDecision(ctx, item.household_id, {
    key: PANEL_RECOMMENDATION, outcome: input.recommendApproval ? 'recommend_approval' : 'recommend_not_approve', decidedOn, reasons: input.reasons,
    facts: { panelRecommendsApproval: input.recommendApproval },
  }, { panelId: panel.id, details: { recommendApproval: input.recommendApproval, termsRecommended: input.termsRecommended ?? null, vote: input.vote ?? null, agendaItemId: item.id } });
  const [after] = (await ctx.trx('carer_panel_agenda_items').where({ tenant_id: ctx.tenantId, id: item.id }).update({ status: 'recommended', decision_id: decision.id, version: ctx.trx.raw('version + 1'), updated_at: ctx.trx.fn.now() }).returning('*')) as ItemRow[];
  if (panel.status === 'scheduled') await ctx.trx('carer_panels').where({ tenant_id: ctx.tenantId, id: panel.id }).update({ status: 'held', version: panel.version + 1, updated_at: ctx.trx.fn.now() });
  const body = itemToApi(after!, decision);
  await ctx.audit({ action: 'carer_panel.recommendation_recorded', entityType: 'carer_panel_agenda_item', entityId: item.id, before: itemToApi(item, undefined), after: body });
  return { status: 201, body };
}
