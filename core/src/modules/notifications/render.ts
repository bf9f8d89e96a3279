import Handlebars from 'handlebars';
import type { ResolvedPack } from '../../packs/registry';
import type { NotificationMedium } from './catalogue';
import { OVERRIDE_KEY, type EmbeddedOverride, type TemplateParts } from './templates';

const handlebars = Handlebars.create();
const compiled = new Map<string, Handlebars.TemplateDelegate>();

/** Compiled once per pack, event, version and part; text parts are not HTML-escaped, the html part is. */
function template(cacheKey: string | null, source: string, html: boolean): Handlebars.TemplateDelegate {
  if (cacheKey === null) return handlebars.compile(source, { noEscape: !html, strict: false });
  let found = compiled.get(cacheKey);
  if (!found) {
    found = handlebars.compile(source, { noEscape: !html, strict: false });
    compiled.set(cacheKey, found);
  }
  return found;
}

export interface RenderedMessage {
  subject: string | null;
  text: string;
  html: string | null;
  /** `<pack>:<event>@<version>`: which wording the message was rendered from. */
  templateVersion: string;
}

export class NoTemplate extends Error {}

/**
 * The wording for an event on a channel, rendered with the data the outbox kept: the tenant's own
 * where the outbox embedded it (the override in effect when the event happened), else the pack's.
 */
export function renderMessage(
  pack: ResolvedPack,
  event: string,
  medium: NotificationMedium,
  data: Record<string, unknown>,
): RenderedMessage {
  const { [OVERRIDE_KEY]: embedded, ...rest } = data as Record<string, unknown> & {
    [OVERRIDE_KEY]?: EmbeddedOverride;
  };
  if (embedded)
    return renderParts(embedded, `tenant:${event}@${embedded.version}`, `tenant:${embedded.id}:${medium}`, rest);
  const item = pack.points.notifications.get(event);
  const parts = item?.value.channels[medium] as TemplateParts | undefined;
  if (!item || !parts) throw new NoTemplate(`pack ${pack.manifest.id} has no ${medium} template for ${event}`);
  const version = `${item.layer}:${event}@${item.value.version}`;
  return renderParts(parts, version, `${version}:${medium}`, rest);
}

/** Renders wording with data; `cacheKey` names stored wording exactly (its compiled form is kept), null a draft. */
export function renderParts(
  parts: TemplateParts,
  templateVersion: string,
  cacheKey: string | null,
  data: Record<string, unknown>,
): RenderedMessage {
  const render = (part: 'subject' | 'text' | 'html') => {
    const source = parts[part];
    return source === undefined || source === null
      ? null
      : template(cacheKey === null ? null : `${cacheKey}:${part}`, source, part === 'html')(data);
  };
  return {
    subject: render('subject')?.replace(/\s+/g, ' ').trim() ?? null,
    text: render('text')!,
    html: render('html'),
    templateVersion,
  };
}

/** The channels the pack has wording for, for an event. */
export function templatedMedia(pack: ResolvedPack, event: string): NotificationMedium[] {
  const channels = pack.points.notifications.get(event)?.value.channels ?? {};
  return (Object.keys(channels) as NotificationMedium[]).sort();
}
