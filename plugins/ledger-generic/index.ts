import type { PluginFactory } from '../../core/src/plugins/api';
import { genericFormat } from './generic';

const plugin: PluginFactory = () => ({
  id: 'ledger-generic',
  register(points) {
    points.ledgerExports.register(genericFormat);
  },
});

export default plugin;
