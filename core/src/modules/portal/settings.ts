import type { CarerPrincipal, TenantScope } from '../../http/operation';
import { Problem } from '../../http/problem';
import { WorkingCalendar } from '../../packs/calendar';
import type { PortalChildField, PortalFeature } from '../../packs/types';
import { effectivePortal, overlaysInEffect } from '../configuration/effective';
import { tenantOverlays } from '../configuration/tenantConfiguration';
import { todayIn } from '../../time';

/** The words the portal shows, by term key; each pack's terminology gives its own (and tenants override). */
export const PORTAL_TERMS = [
  'carer',
  'carers',
  'carerHousehold',
  'supervisingWorker',
  'childsWorker',
  'placement',
  'respite',
  'remittance',
  'annualStatement',
  'dailyLog',
  'claim',
  'outOfHours',
] as const;

/** The carer portal as this tenant has it today. */
export interface PortalSettings {
  today: string;
  timeZone: string;
  currency: 'GBP' | 'USD';
  features: Record<PortalFeature, boolean>;
  childFields: PortalChildField[];
  outOfHoursPhone: string | null;
  terms: Record<string, string>;
  calendar: WorkingCalendar;
}

const NO_CALENDAR = { key: 'none', name: 'no calendar', source: 'none', weekend: [0, 6], holidays: [] };

/**
 * The tenant's effective portal settings (pack ⊕ overlays in effect today, in the tenant's time zone).
 * Only the portal's part and the terms it shows are worked out: every portal request reads this, and
 * the whole effective configuration (every form, workflow and rate table cloned) is not needed here.
 */
export async function portalSettings(ctx: Pick<TenantScope, 'trx' | 'tenantId' | 'services'>): Promise<PortalSettings> {
  const tenant = (await ctx.trx('tenants').where({ id: ctx.tenantId }).first('pack_id', 'time_zone', 'currency')) as {
    pack_id: string;
    time_zone: string;
    currency: 'GBP' | 'USD';
  };
  const today = todayIn(tenant.time_zone);
  const pack = ctx.services.packs.has(tenant.pack_id) ? ctx.services.packs.resolve(tenant.pack_id) : null;
  const active = pack ? overlaysInEffect(await tenantOverlays(ctx.trx, ctx.tenantId), today) : [];
  const portal = pack ? effectivePortal(pack, active) : null;
  const terms: Record<string, string> = {};
  for (const key of PORTAL_TERMS) {
    const term = pack?.points.terminology.get(key)?.value as string | undefined;
    if (term) terms[key] = term;
  }
  // A later overlay's wording wins, as in the effective configuration.
  for (const overlay of active)
    for (const [key, value] of Object.entries(overlay.changes.terminology ?? {}))
      if ((PORTAL_TERMS as readonly string[]).includes(key)) terms[key] = value;
  const on = (feature: PortalFeature) => portal?.features[feature].value === true;
  return {
    today,
    timeZone: tenant.time_zone,
    currency: tenant.currency,
    features: {
      claims: on('claims'),
      forms: on('forms'),
      logs: on('logs'),
      documents: on('documents'),
      money: on('money'),
    },
    childFields: portal?.childFields.value ?? [],
    outOfHoursPhone: portal?.outOfHoursPhone.value ?? null,
    terms,
    calendar: new WorkingCalendar(pack?.calendar ?? NO_CALENDAR),
  };
}

/** A feature the tenant has turned off answers 403 with its own problem type, naming the feature. */
export function requireFeature(settings: PortalSettings, feature: PortalFeature): void {
  if (!settings.features[feature])
    throw new Problem('portalFeatureOff', `The carer portal's ${feature} are turned off for this service`, {
      feature,
    });
}

/** The carer the router admitted (portal operations admit no one else). */
export function carerOf(ctx: Pick<TenantScope, 'principal'>): CarerPrincipal {
  if (ctx.principal.kind !== 'carer') throw new Problem('portalCarersOnly');
  return ctx.principal;
}
