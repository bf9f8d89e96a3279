import type { Knex } from 'knex';
import type { PackRegistry } from '../../../packs/registry';
import { RateBook, RateConfigurationError } from '../../../rates/engine';
import { rateOverlays } from '../../configuration/effective';
import { tenantConfiguration, type TenantConfiguration } from '../../configuration/tenantConfiguration';
import type { Rates } from './pricing';

/**
 * The tenant's rates as a run prices them: the pack's tables and rules with every overlay (each from
 * its effective date, so past periods are priced as the overlays say they should have been).
 */
export async function tenantRateBook(
  trx: Knex.Transaction,
  tenantId: string,
  packs: PackRegistry,
  asOf?: string,
): Promise<{ config: TenantConfiguration; book: RateBook }> {
  const config = await tenantConfiguration(trx, tenantId, packs, asOf);
  if (!config.pack)
    throw new RateConfigurationError(`The tenant's pack "${config.packId}" is not loaded on this platform`);
  return { config, book: new RateBook(config.pack, rateOverlays(config.overlays)) };
}

/** The same, for a calculation: a tenant whose configuration sets no rates still pays claims and adjustments. */
export async function tenantRates(
  trx: Knex.Transaction,
  tenantId: string,
  packs: PackRegistry,
  asOf?: string,
): Promise<{ config: TenantConfiguration; rates: Rates }> {
  try {
    const { config, book } = await tenantRateBook(trx, tenantId, packs, asOf);
    return { config, rates: { book } };
  } catch (error) {
    if (!(error instanceof RateConfigurationError)) throw error;
    return { config: await tenantConfiguration(trx, tenantId, packs, asOf), rates: { error: error.message } };
  }
}
