import type { PluginFactory } from '../../core/src/plugins/api';
import { s3Storage } from './s3Store';

const plugin: PluginFactory = () => ({
  id: 'document-storage-s3',
  register(points) {
    points.documentStorage.register(s3Storage);
  },
});

export default plugin;
