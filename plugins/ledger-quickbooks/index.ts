import type { PluginFactory } from '../../core/src/plugins/api';
import { quickbooksFormat } from './quickbooks';

const plugin: PluginFactory = () => ({
  id: 'ledger-quickbooks',
  register(points) {
    points.ledgerExports.register(quickbooksFormat);
  },
});

export default plugin;
