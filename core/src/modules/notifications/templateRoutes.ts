import { actorId, type OperationResult, type TenantContext, type TenantScope } from '../../http/operation';
import { Problem } from '../../http/problem';
import { ok, created } from '../../http/results';
import { newId } from '../../ids';
import type { ResolvedPack } from '../../packs/registry';
import { tenantConfiguration } from '../configuration/tenantConfiguration';
import { NOTIFICATION_EVENTS, type NotificationEvent, type NotificationMedium } from './catalogue';
import { renderParts } from './render';
import {
  checkTemplateParts,
  NotificationTemplateOverride,
  overridesInEffect,
  overrideToApi,
  packParts,
  sampleDataOf,
  type TemplateParts,
} from './templates';

interface Wording {
  event: NotificationEvent;
  channel: NotificationMedium;
  layer: string;
  version: number;
  effectiveFrom: string | null;
  subject: string | null;
  text: string;
  html: string | null;
}

async function configOf(ctx: TenantScope) {
  const config = await tenantConfiguration(ctx.trx, ctx.tenantId, ctx.services.packs);
  if (!config.pack || !config.effective)
    throw new Problem('conflict', `The tenant's pack "${config.packId}" is not loaded on this platform`);
  return { ...config, pack: config.pack, effective: config.effective };
}

/** The pack's wording for the event and channel, or a 404 naming what the pack lacks. */
function packWording(pack: ResolvedPack, event: NotificationEvent, channel: NotificationMedium) {
  const parts = packParts(pack, event, channel);
  const item = pack.points.notifications.get(event);
  if (!parts || !item) throw Problem.notFound(`The ${channel} wording of ${event} in the tenant's pack`);
  return { parts, layer: `pack:${item.layer}`, version: item.value.version };
}

function effectiveWording(
  pack: ResolvedPack,
  event: NotificationEvent,
  channel: NotificationMedium,
  override: NotificationTemplateOverride | undefined,
): Wording {
  if (override)
    return {
      event,
      channel,
      layer: 'tenant',
      version: override.version,
      effectiveFrom: String(override.effectiveFrom),
      subject: override.subject,
      text: override.text,
      html: override.html,
    };
  const { parts, layer, version } = packWording(pack, event, channel);
  return {
    event,
    channel,
    layer,
    version,
    effectiveFrom: null,
    subject: parts.subject ?? null,
    text: parts.text,
    html: parts.html ?? null,
  };
}

async function listNotificationTemplates(ctx: TenantContext<'listNotificationTemplates'>): Promise<OperationResult> {
  const { pack, today } = await configOf(ctx);
  const rows = await NotificationTemplateOverride.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId })
    .where('effective_from', '<=', today)
    .orderBy('version');
  const inEffect = new Map(rows.map((r) => [`${r.event}:${r.channel}`, r]));
  const data: Wording[] = [];
  for (const event of Object.keys(NOTIFICATION_EVENTS) as NotificationEvent[]) {
    const channels = Object.keys(pack.points.notifications.get(event)?.value.channels ?? {}).sort();
    for (const channel of channels as NotificationMedium[])
      data.push(effectiveWording(pack, event, channel, inEffect.get(`${event}:${channel}`)));
  }
  return ok({ data });
}

async function getNotificationTemplate(ctx: TenantContext<'getNotificationTemplate'>): Promise<OperationResult> {
  const { event, channel } = ctx.params;
  const { pack, today } = await configOf(ctx);
  const { parts } = packWording(pack, event, channel);
  const overrides = await NotificationTemplateOverride.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, event, channel })
    .orderBy('version', 'desc');
  const current = (await overridesInEffect(ctx.trx, ctx.tenantId, event, today)).get(channel);
  return ok({
    event,
    channel,
    pack: { subject: parts.subject ?? null, text: parts.text, html: parts.html ?? null },
    effective: effectiveWording(pack, event, channel, current),
    overrides: overrides.map(overrideToApi),
  });
}

async function overrideNotificationTemplate(
  ctx: TenantContext<'overrideNotificationTemplate'>,
): Promise<OperationResult> {
  const { event, channel } = ctx.params;
  const body = ctx.body;
  const { pack } = await configOf(ctx);
  packWording(pack, event, channel);
  const parts: TemplateParts = { subject: body.subject ?? null, text: body.text, html: body.html ?? null };
  const errors = checkTemplateParts(pack, event, channel, parts);
  if (errors.length) throw Problem.unprocessable(errors);
  // The tenant row lock hands out versions one at a time, as configuration overlays do.
  await ctx.trx('tenants').where({ id: ctx.tenantId }).forUpdate().first('id');
  const last = (await NotificationTemplateOverride.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, event, channel })
    .max('version as version')
    .first()) as unknown as { version: number | null } | undefined;
  const row = await NotificationTemplateOverride.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      id: newId(),
      event,
      channel,
      version: Number(last?.version ?? 0) + 1,
      effectiveFrom: body.effectiveFrom,
      subject: parts.subject ?? null,
      text: parts.text,
      html: parts.html ?? null,
      description: body.description,
      createdBy: actorId(ctx),
    })
    .returning('*');
  const after = overrideToApi(row);
  await ctx.audit({
    action: 'notification_template.overridden',
    entityType: 'notification_template',
    entityId: row.id,
    after,
  });
  // Each override is a new version, never a change to one: created, where the template is read.
  return created(after, { location: `/v1/notifications/templates/${ctx.params.event}/${ctx.params.channel}` });
}

async function previewNotificationTemplate(
  ctx: TenantContext<'previewNotificationTemplate'>,
): Promise<OperationResult> {
  const { event, channel } = ctx.params;
  const config = await configOf(ctx);
  const { pack } = config;
  packWording(pack, event, channel);
  const tenant = (await ctx.trx('tenants').where({ id: ctx.tenantId }).first('name')) as { name: string };
  const terms = Object.fromEntries(Object.entries(config.effective.terminology).map(([k, v]) => [k, v.value]));
  const data = { ...sampleDataOf(pack, event), service: { name: tenant.name }, terms };
  // Without a body (or with an empty one) the wording in effect is previewed.
  const draft = ctx.body as { subject?: string; text?: string; html?: string } | undefined;
  if (draft?.text !== undefined) {
    const parts: TemplateParts = { subject: draft.subject ?? null, text: draft.text, html: draft.html ?? null };
    const errors = checkTemplateParts(pack, event, channel, parts);
    if (errors.length) throw Problem.unprocessable(errors);
    return ok(renderParts(parts, 'draft', null, data));
  }
  const current = (await overridesInEffect(ctx.trx, ctx.tenantId, event, config.today)).get(channel);
  const wording = effectiveWording(pack, event, channel, current);
  const version = current
    ? `tenant:${event}@${current.version}`
    : `${wording.layer.slice(5)}:${event}@${wording.version}`;
  return ok(renderParts(wording, version, null, data));
}

export const templateOperations = {
  listNotificationTemplates: {
    access: { permission: 'notifications:read' },
    handle: listNotificationTemplates,
  },
  getNotificationTemplate: { access: { permission: 'notifications:read' }, handle: getNotificationTemplate },
  overrideNotificationTemplate: {
    access: { permission: 'notifications:manage' },
    handle: overrideNotificationTemplate,
  },
  previewNotificationTemplate: {
    access: { permission: 'notifications:read' },
    handle: previewNotificationTemplate,
  },
} as const;
