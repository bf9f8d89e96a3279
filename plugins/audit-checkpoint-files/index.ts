import type { PluginFactory } from '../../core/src/plugins/api';
import { fileCheckpointSink } from './fileSink';

const plugin: PluginFactory = () => ({
  id: 'audit-checkpoint-files',
  register(points) {
    points.auditCheckpointSinks.register(fileCheckpointSink);
  },
});

export default plugin;
