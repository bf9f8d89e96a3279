import type { CarerPrincipal, TenantScope } from '../../http/operation';
import { Problem } from '../../http/problem';
import { WorkingCalendar } from '../../packs/calendar';
import type { PortalChildField, PortalFeature } from '../../packs/types';
import { tenantConfiguration } from '../configuration/tenantConfiguration';

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

/** The tenant's effective portal settings (pack ⊕ overlays in effect today, in the tenant's time zone). */
export async function portalSettings(ctx: Pick<TenantScope, 'trx' | 'tenantId' | 'services'>): Promise<PortalSettings> {
  const config = await tenantConfiguration(ctx.trx, ctx.tenantId, ctx.services.packs);
  const effective = config.effective;
  const features = Object.fromEntries(
    Object.entries(effective?.portal.features ?? {}).map(([f, v]) => [f, v.value]),
  ) as Record<PortalFeature, boolean>;
  const terms: Record<string, string> = {};
  for (const key of PORTAL_TERMS) {
    const term = effective?.terminology[key];
    if (term) terms[key] = term.value;
  }
  return {
    today: config.today,
    timeZone: config.timeZone,
    currency: config.currency,
    features: {
      claims: features.claims === true,
      forms: features.forms === true,
      logs: features.logs === true,
      documents: features.documents === true,
      money: features.money === true,
    },
    childFields: effective?.portal.childFields.value ?? [],
    outOfHoursPhone: effective?.portal.outOfHoursPhone.value ?? null,
    terms,
    calendar: new WorkingCalendar(config.pack?.calendar ?? NO_CALENDAR),
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
