import type { PluginFactory } from '../../core/src/plugins/api';
import { smsHttpChannel } from './smsHttp';

const plugin: PluginFactory = () => ({
  id: 'notify-sms-http',
  register(points) {
    points.notificationChannels.register(smsHttpChannel);
  },
});

export default plugin;
