import { findOne, type FindOptions, type FindScope } from '../../db/find';
import { keysetPage } from '../../db/keyset';
import { patchVersioned } from '../../db/versioned';
import { actorId, type OperationResult, type TenantContext, type TenantScope } from '../../http/operation';
import { created, ok } from '../../http/results';
import { Problem, type FieldError } from '../../http/problem';
import { newId } from '../../ids';
import { iso } from '../../time';
import { notifyPanelDateSet } from '../notifications/domainEvents';
import { PANEL_RECOMMENDATION } from './approval';
import { insertDecision } from './evidence';
import { CarerDecision, CarerPanel, CarerPanelAgendaItem } from './models';
import { activeUserIds, configFor, findHousehold } from './shared';

function itemToApi(r: CarerPanelAgendaItem, decision: CarerDecision | undefined) {
  const d = decision?.details as
    { recommendApproval?: boolean; termsRecommended?: unknown; vote?: unknown } | undefined;
  return {
    id: r.id,
    panelId: r.panelId,
    householdId: r.householdId,
    purpose: r.purpose,
    status: r.status,
    recommendation: decision
      ? {
          recommendApproval: Boolean(d?.recommendApproval),
          termsRecommended: d?.termsRecommended ?? null,
          reasons: decision.reasons ?? '',
          vote: d?.vote ?? null,
          decisionId: decision.id,
          recordedBy: decision.recordedBy,
        }
      : null,
    createdAt: iso(r.createdAt),
  };
}

/** Panels with their agendas, in three queries. */
async function present(ctx: TenantScope, panels: CarerPanel[]) {
  const ids = panels.map((p) => p.id);
  const items = ids.length
    ? await CarerPanelAgendaItem.query(ctx.trx)
        .where({ tenant_id: ctx.tenantId })
        .whereIn('panel_id', ids)
        .orderBy([{ column: 'created_at' }, { column: 'id' }])
    : [];
  const decisionIds = items.map((i) => i.decisionId).filter((x): x is string => x !== null);
  const decisionRows = decisionIds.length
    ? await CarerDecision.query(ctx.trx).where({ tenant_id: ctx.tenantId }).whereIn('id', decisionIds)
    : [];
  const decisions = new Map(decisionRows.map((d) => [d.id, d]));
  return panels.map((p) => ({
    id: p.id,
    panelDate: p.panelDate,
    name: p.name,
    chairId: p.chairId,
    memberIds: p.memberIds ?? [],
    status: p.status,
    agenda: items
      .filter((i) => i.panelId === p.id)
      .map((i) => itemToApi(i, i.decisionId ? decisions.get(i.decisionId) : undefined)),
    version: p.version,
    createdAt: iso(p.createdAt),
    updatedAt: iso(p.updatedAt),
  }));
}

export async function findPanel(ctx: FindScope, panelId: string, options: FindOptions = {}): Promise<CarerPanel> {
  return findOne<CarerPanel>(ctx, CarerPanel, panelId, options);
}

/** An item of the panel's agenda, by id: a 404 for one of another panel, as for one of another tenant. */
export async function findAgendaItem(
  ctx: FindScope,
  panel: CarerPanel,
  itemId: string,
  options: FindOptions = {},
): Promise<CarerPanelAgendaItem> {
  return findOne<CarerPanelAgendaItem>(ctx, CarerPanelAgendaItem, itemId, {
    ...options,
    narrow: (q) => q.where('panel_id', panel.id),
  });
}

export async function listCarerPanels(ctx: TenantContext<'listCarerPanels'>): Promise<OperationResult> {
  const q = ctx.query;
  const query = CarerPanel.query(ctx.trx).where({ tenant_id: ctx.tenantId });
  if (q.from) query.where('panel_date', '>=', q.from);
  if (q.status) query.where('status', q.status);
  const page = await keysetPage(
    query,
    q,
    [
      { column: 'panel_date', of: (r) => r.panelDate },
      { column: 'id', of: (r) => r.id },
    ],
    (r) => r,
  );
  return ok({ data: await present(ctx, page.data), nextCursor: page.nextCursor });
}

export async function scheduleCarerPanel(ctx: TenantContext<'scheduleCarerPanel'>): Promise<OperationResult> {
  const sent = ctx.body;
  const chairId = sent.chairId ?? actorId(ctx);
  if (!chairId)
    throw Problem.unprocessable([{ pointer: '/body/chairId', message: 'is required when the caller is not a person' }]);
  const members = (sent.memberIds ?? []).filter((m) => m !== chairId);
  const active = await activeUserIds(ctx, [chairId, ...members]);
  const errors: FieldError[] = [];
  if (!active.has(chairId)) errors.push({ pointer: '/body/chairId', message: 'is not an active user of this tenant' });
  (sent.memberIds ?? []).forEach((m, i) => {
    if (!active.has(m))
      errors.push({ pointer: `/body/memberIds/${i}`, message: 'is not an active user of this tenant' });
  });
  if (errors.length) throw Problem.unprocessable(errors);
  const row = await CarerPanel.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      id: newId(),
      panelDate: sent.panelDate,
      name: sent.name ?? null,
      chairId,
      memberIds: members,
    })
    .returning('*');
  const [body] = await present(ctx, [row]);
  await ctx.audit({ action: 'carer_panel.scheduled', entityType: 'carer_panel', entityId: row.id, after: body });
  return created(body, { location: `/v1/carer-panels/${row.id}`, version: row.version });
}

export async function getCarerPanel(ctx: TenantContext<'getCarerPanel'>): Promise<OperationResult> {
  const row = await findPanel(ctx, ctx.params.panelId);
  const [body] = await present(ctx, [row]);
  return ok(body, row.version);
}

export async function addCarerPanelAgendaItem(ctx: TenantContext<'addCarerPanelAgendaItem'>): Promise<OperationResult> {
  const input = ctx.body;
  const panel = await findPanel(ctx, ctx.params.panelId, { lock: true });
  if (panel.status !== 'scheduled')
    throw new Problem('conflict', `The panel is ${panel.status}; only a scheduled panel takes new agenda items`);
  await findHousehold(ctx, input.householdId, { pointer: '/body/householdId' });
  const listed = await CarerPanelAgendaItem.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, panel_id: panel.id, household_id: input.householdId })
    .select('id')
    .first();
  if (listed) throw new Problem('conflict', "The household is already on this panel's agenda");
  const row = await CarerPanelAgendaItem.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      id: newId(),
      panelId: panel.id,
      householdId: input.householdId,
      purpose: input.purpose ?? null,
    })
    .returning('*');
  const body = itemToApi(row, undefined);
  // Being on the agenda is what gives the household its panel date.
  await notifyPanelDateSet(ctx, {
    id: row.id,
    householdId: row.householdId,
    panelId: panel.id,
    panelDate: panel.panelDate,
  });
  await ctx.audit({
    action: 'carer_panel.agenda_item_added',
    entityType: 'carer_panel',
    entityId: panel.id,
    after: { agendaItem: body },
  });
  return created(body, { location: `/v1/carer-panels/${panel.id}/agenda/${body.id}` });
}

type RecommendationInput = TenantContext<'recordCarerPanelRecommendation'>['body'];

/** Rules the schema cannot say: a panel that has sat, terms in order and only with a recommendation to approve. */
function recommendationErrors(input: RecommendationInput, decided: { on: string; today: string }): FieldError[] {
  const errors: FieldError[] = [];
  if (decided.on > decided.today) {
    errors.push(
      input.decidedOn
        ? { pointer: '/body/decidedOn', message: 'is in the future' }
        : { pointer: '/path/panelId', message: 'the panel has not yet sat (its date is in the future)' },
    );
  }
  if (input.termsRecommended && input.termsRecommended.ageMax < input.termsRecommended.ageMin) {
    errors.push({ pointer: '/body/termsRecommended/ageMax', message: 'is below ageMin' });
  }
  if (input.termsRecommended && !input.recommendApproval)
    errors.push({ pointer: '/body/termsRecommended', message: 'goes with a recommendation to approve' });
  return errors;
}

export async function recordCarerPanelRecommendation(
  ctx: TenantContext<'recordCarerPanelRecommendation'>,
): Promise<OperationResult> {
  const input = ctx.body;
  const panel = await findPanel(ctx, ctx.params.panelId, { lock: true });
  const item = await findAgendaItem(ctx, panel, ctx.params.itemId, { lock: true });
  const me = actorId(ctx);
  if (!me || (me !== panel.chairId && !(panel.memberIds ?? []).includes(me))) {
    throw new Problem('forbidden', "Only the panel's chair or members record its recommendation");
  }
  if (panel.status === 'cancelled') throw new Problem('conflict', 'The panel was cancelled');
  if (item.status === 'recommended')
    throw new Problem('conflict', 'The recommendation on this item is already recorded');
  const decidedOn = input.decidedOn ?? panel.panelDate;
  const { today } = await configFor(ctx);
  const errors = recommendationErrors(input, { on: decidedOn, today });
  if (errors.length) throw Problem.unprocessable(errors);
  await findHousehold(ctx, item.householdId, { lock: true });
  const decision = await insertDecision(ctx, {
    householdId: item.householdId,
    decision: {
      key: PANEL_RECOMMENDATION,
      outcome: input.recommendApproval ? 'recommend_approval' : 'recommend_not_approve',
      decidedOn,
      reasons: input.reasons,
      facts: { panelRecommendsApproval: input.recommendApproval },
    },
    panelId: panel.id,
    details: {
      recommendApproval: input.recommendApproval,
      termsRecommended: input.termsRecommended ?? null,
      vote: input.vote ?? null,
      agendaItemId: item.id,
    },
  });
  const after = await patchVersioned(ctx.trx, CarerPanelAgendaItem, item, {
    status: 'recommended',
    decisionId: decision.id,
  });
  if (panel.status === 'scheduled') await patchVersioned(ctx.trx, CarerPanel, panel, { status: 'held' });
  const body = itemToApi(after, decision);
  const event = {
    action: 'carer_panel.recommendation_recorded',
    entityType: 'carer_panel_agenda_item',
    entityId: item.id,
  };
  await ctx.audit({ ...event, before: itemToApi(item, undefined), after: body });
  // The contract declares no headers for this answer.
  return created(body);
}
