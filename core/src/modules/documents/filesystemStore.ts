import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import crypto from 'node:crypto';
import type { Readable } from 'node:stream';
import { ObjectMissing, OBJECT_KEY, type DocumentStorage, type DocumentStore } from './storage';

/**
 * The embedded default: objects as files under a folder (by default the data directory's
 * `documents/`). A write goes to a temporary name beside the object and is renamed into place once
 * flushed, so a reader never sees half an object and a cut upload leaves only its temporary file,
 * which is removed.
 */
export const filesystemStorage: DocumentStorage = {
  key: 'filesystem',
  open(target: string): DocumentStore {
    const root = path.resolve(target);
    fs.mkdirSync(root, { recursive: true, mode: 0o700 });
    const fileOf = (key: string) => {
      if (!OBJECT_KEY.test(key)) throw new Error(`filesystem store: "${key}" is not an object key`);
      return path.join(root, ...key.split('/'));
    };
    return {
      async put(key, body: Readable) {
        const file = fileOf(key);
        await fs.promises.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
        const partial = `${file}.${crypto.randomBytes(6).toString('hex')}.partial`;
        try {
          const out = fs.createWriteStream(partial, { flags: 'wx', mode: 0o600 });
          await pipeline(body, out);
          const handle = await fs.promises.open(partial, 'r');
          try {
            await handle.sync();
          } finally {
            await handle.close();
          }
          await fs.promises.rename(partial, file);
        } catch (error) {
          await fs.promises.rm(partial, { force: true });
          throw error;
        }
      },
      async get(key) {
        const file = fileOf(key);
        const handle = await fs.promises.open(file, 'r').catch((error: NodeJS.ErrnoException) => {
          throw error.code === 'ENOENT' ? new ObjectMissing(key) : error;
        });
        return handle.createReadStream();
      },
      async head(key) {
        const stat = await fs.promises.stat(fileOf(key)).catch((error: NodeJS.ErrnoException) => {
          if (error.code === 'ENOENT') return null;
          throw error;
        });
        return stat ? { size: stat.size } : null;
      },
      async delete(key) {
        await fs.promises.rm(fileOf(key), { force: true });
      },
      async *list(prefix) {
        const base = path.join(root, ...prefix.split('/').filter(Boolean));
        const walk = async function* (dir: string): AsyncIterable<string> {
          const entries = await fs.promises.readdir(dir, { withFileTypes: true }).catch(() => []);
          for (const entry of entries) {
            const full = path.join(dir, entry.name);
            if (entry.isDirectory()) yield* walk(full);
            else if (!entry.name.endsWith('.partial')) yield path.relative(root, full).split(path.sep).join('/');
          }
        };
        yield* walk(base);
      },
    };
  },
};
