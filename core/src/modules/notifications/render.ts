import Handlebars from 'handlebars';
import type { ResolvedPack } from '../../packs/registry';
import type { NotificationMedium } from './catalogue';

const handlebars = Handlebars.create();
const compiled = new Map<string, Handlebars.TemplateDelegate>();

/** Compiled once per pack, event, version and part; text parts are not HTML-escaped, the html part is. */
function template(cacheKey: string, source: string, html: boolean): Handlebars.TemplateDelegate {
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

/** The tenant's pack's template for an event on a channel, rendered with the data the outbox kept. */
export function renderMessage(
  pack: ResolvedPack,
  event: string,
  medium: NotificationMedium,
  data: Record<string, unknown>,
): RenderedMessage {
  const item = pack.points.notifications.get(event);
  const parts = item?.value.channels[medium] as { subject?: string; text: string; html?: string } | undefined;
  if (!item || !parts) throw new NoTemplate(`pack ${pack.manifest.id} has no ${medium} template for ${event}`);
  const version = `${item.layer}:${event}@${item.value.version}`;
  const render = (part: 'subject' | 'text' | 'html') => {
    const source = parts[part];
    return source === undefined ? null : template(`${version}:${medium}:${part}`, source, part === 'html')(data);
  };
  return {
    subject: render('subject')?.replace(/\s+/g, ' ').trim() ?? null,
    text: render('text')!,
    html: render('html'),
    templateVersion: version,
  };
}

/** The channels the pack has wording for, for an event. */
export function templatedMedia(pack: ResolvedPack, event: string): NotificationMedium[] {
  const channels = pack.points.notifications.get(event)?.value.channels ?? {};
  return (Object.keys(channels) as NotificationMedium[]).sort();
}
