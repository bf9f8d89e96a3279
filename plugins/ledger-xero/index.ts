import type { PluginFactory } from '../../core/src/plugins/api';
import { xeroFormat } from './xero';

const plugin: PluginFactory = () => ({
  id: 'ledger-xero',
  register(points) {
    points.ledgerExports.register(xeroFormat);
  },
});

export default plugin;
