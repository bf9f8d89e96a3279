import type { PluginFactory } from '../../core/src/plugins/api';
import { smtpChannel } from './smtp';

const plugin: PluginFactory = () => ({
  id: 'notify-smtp',
  register(points) {
    points.notificationChannels.register(smtpChannel);
  },
});

export default plugin;
