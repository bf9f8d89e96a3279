import type { DocumentStorage, PluginFactory } from '../../core/src/plugins/api';
import { parseS3Target } from './target';

/** The extension point documentStorage's `s3`: objects in a bucket, under the target's prefix. */
const s3Storage: DocumentStorage = {
  key: 's3',
  open(target) {
    const parsed = parseS3Target(target);
    // The AWS SDK takes about half a second to load: only a server that keeps its documents in S3 pays it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { openS3Store } = require('./s3Store') as typeof import('./s3Store');
    return openS3Store(parsed);
  },
};

const plugin: PluginFactory = () => ({
  id: 'document-storage-s3',
  register(points) {
    points.documentStorage.register(s3Storage);
  },
});

export default plugin;
