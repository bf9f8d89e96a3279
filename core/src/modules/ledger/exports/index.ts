import { genericFormat } from './generic';
import { quickbooksFormat } from './quickbooks';
import { LedgerExportRegistry } from './registry';
import { xeroFormat } from './xero';

/** The ledger's export formats. A plugin adds one with `ledgerExports.register(format, 'its name')`. */
export const ledgerExports = new LedgerExportRegistry();
ledgerExports.register(genericFormat, 'core/src/modules/ledger/exports/generic.ts');
ledgerExports.register(xeroFormat, 'core/src/modules/ledger/exports/xero.ts');
ledgerExports.register(quickbooksFormat, 'core/src/modules/ledger/exports/quickbooks.ts');
