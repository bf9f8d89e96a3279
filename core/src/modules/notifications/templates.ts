import Handlebars from 'handlebars';
import type { Knex } from 'knex';
import { TenantModel } from '../../db/baseModel';
import type { FieldError } from '../../http/problem';
import type { ResolvedPack } from '../../packs/registry';
import { iso } from '../../time';
import type { NotificationMedium } from './catalogue';

/**
 * A tenant's wording for one event on one channel, in place of the pack's from `effectiveFrom`.
 * Append-only: a change is the next version, so a message's `templateVersion` always names wording
 * that still exists.
 */
export class NotificationTemplateOverride extends TenantModel {
  static override tableName = 'notification_template_overrides';
  static override idColumn = ['tenant_id', 'id'];
  static noun = 'template override';

  id!: string;
  event!: string;
  channel!: NotificationMedium;
  version!: number;
  effectiveFrom!: string;
  subject!: string | null;
  text!: string;
  html!: string | null;
  description!: string;
  createdBy!: string | null;
  createdAt!: Date;
}

export interface TemplateParts {
  subject?: string | null;
  text: string;
  html?: string | null;
}

/**
 * What the outbox keeps in a message's data when the tenant's wording applies, so the delivery job
 * renders it without reading the table again: the wording in effect when the event happened.
 */
export const OVERRIDE_KEY = '_tenantTemplate';

export interface EmbeddedOverride extends TemplateParts {
  id: string;
  version: number;
}

export function overrideToApi(row: NotificationTemplateOverride) {
  return {
    id: row.id,
    event: row.event,
    channel: row.channel,
    version: row.version,
    effectiveFrom: String(row.effectiveFrom),
    subject: row.subject,
    text: row.text,
    html: row.html,
    description: row.description,
    createdBy: row.createdBy,
    createdAt: iso(row.createdAt),
  };
}

/**
 * The tenant's override of each channel of an event in effect on `asOf` (the latest version dated by
 * then); `today` is the tenant's today, worked out in the same query.
 */
export async function overridesInEffect(
  trx: Knex.Transaction,
  tenantId: string,
  event: string,
  asOf: string | 'today',
): Promise<Map<NotificationMedium, NotificationTemplateOverride>> {
  const query = NotificationTemplateOverride.query(trx).where({ tenant_id: tenantId, event }).orderBy('version');
  if (asOf === 'today')
    query.whereRaw(`effective_from <= (SELECT (now() AT TIME ZONE time_zone)::date FROM tenants WHERE id = ?)`, [
      tenantId,
    ]);
  else query.where('effective_from', '<=', asOf);
  const rows = await query;
  return new Map(rows.map((r) => [r.channel, r]));
}

/** The pack's wording for an event on a channel, or undefined. */
export function packParts(pack: ResolvedPack, event: string, medium: NotificationMedium): TemplateParts | undefined {
  return pack.points.notifications.get(event)?.value.channels[medium] as TemplateParts | undefined;
}

/** The data a pack's template for the event is rendered with in previews: its `sampleData`. */
export function sampleDataOf(pack: ResolvedPack, event: string): Record<string, unknown> {
  return structuredClone((pack.points.notifications.get(event)?.value.sampleData ?? {}) as Record<string, unknown>);
}

type Node = hbs.AST.Node & Record<string, unknown>;

/** Every variable path a template reads (`terms.carer`, `link`), helpers' names left out. */
function pathsOf(program: hbs.AST.Program): Array<{ path: string; line: number }> {
  const found: Array<{ path: string; line: number }> = [];
  const visit = (node: unknown, isHelperName = false): void => {
    if (!node || typeof node !== 'object') return;
    const n = node as Node;
    if (n.type === 'PathExpression') {
      const p = n as unknown as hbs.AST.PathExpression;
      if (!isHelperName && !p.data && p.original !== 'this' && p.original !== '.')
        found.push({ path: p.parts.join('.'), line: p.loc?.start.line ?? 1 });
      return;
    }
    if (n.type === 'MustacheStatement' || n.type === 'BlockStatement' || n.type === 'SubExpression') {
      const s = n as unknown as hbs.AST.MustacheStatement;
      const helper = s.params.length > 0 || n.type === 'BlockStatement' || !!s.hash?.pairs.length;
      visit(s.path, helper);
      s.params.forEach((p) => visit(p));
      s.hash?.pairs.forEach((pair) => visit(pair.value));
      visit((n as unknown as hbs.AST.BlockStatement).program);
      visit((n as unknown as hbs.AST.BlockStatement).inverse);
      return;
    }
    if (n.type === 'Program') (n as unknown as hbs.AST.Program).body.forEach((b) => visit(b));
  };
  visit(program);
  return found;
}

/**
 * Checks wording before it is stored or previewed: each part compiles, and every variable it reads is
 * one the event renders with (its sample data, the service, the recipient, a term of the tenant's
 * pack). A variable that does not exist renders as nothing, silently, so it is refused here.
 */
export function checkTemplateParts(
  pack: ResolvedPack,
  event: string,
  medium: NotificationMedium,
  parts: TemplateParts,
  pointerBase = '/body',
): FieldError[] {
  const errors: FieldError[] = [];
  const sample = sampleDataOf(pack, event);
  const known = (path: string): boolean => {
    const [head, ...rest] = path.split('.');
    if (head === 'terms') return rest.length === 1 && pack.points.terminology.has(rest[0]!);
    if (head === 'service') return rest.length === 1 && rest[0] === 'name';
    if (head === 'recipient') return rest.length === 1 && rest[0] === 'name';
    if (head === 'link' || head === 'reference') return rest.length === 0;
    let node: unknown = sample;
    for (const part of [head!, ...rest]) {
      if (!node || typeof node !== 'object' || !Object.prototype.hasOwnProperty.call(node, part)) return false;
      node = (node as Record<string, unknown>)[part];
    }
    return true;
  };
  if (medium !== 'sms' && !parts.subject)
    errors.push({ pointer: `${pointerBase}/subject`, message: `is required for ${medium}` });
  if (medium === 'sms' && parts.subject)
    errors.push({ pointer: `${pointerBase}/subject`, message: 'an SMS has no subject' });
  if (medium !== 'email' && parts.html)
    errors.push({ pointer: `${pointerBase}/html`, message: 'only an email has an HTML part' });
  for (const part of ['subject', 'text', 'html'] as const) {
    const source = parts[part];
    if (!source) continue;
    let program: hbs.AST.Program;
    try {
      program = Handlebars.parse(source);
      Handlebars.precompile(source);
    } catch (error) {
      errors.push({
        pointer: `${pointerBase}/${part}`,
        message: `does not compile: ${(error as Error).message.split('\n')[0]}`,
      });
      continue;
    }
    const unknown = [...new Set(pathsOf(program).map((p) => p.path))].filter((p) => !known(p));
    if (unknown.length)
      errors.push({
        pointer: `${pointerBase}/${part}`,
        message: `uses ${unknown.map((u) => `{{${u}}}`).join(', ')}, which ${event} does not render with`,
      });
  }
  return errors;
}
