import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { AuditCheckpoint, AuditCheckpointSink, AuditCheckpointStore } from '../../core/src/plugins/api';

/**
 * One file per checkpoint: `<folder>/<tenant id>/<seq, 20 digits>.json`. A file is written whole
 * under a temporary name and then linked to its own name, which fails if that name exists, so a
 * reader never sees half a checkpoint and a checkpoint once written is never replaced; the newest
 * is the highest name. The folder is the operator's to keep: on other storage than the database's,
 * backed up, ideally write-once (the database's owner must not be able to reach it).
 */
const TENANT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CHECKPOINT_FILE = /^[0-9]{20}\.json$/;

function tenantFolder(root: string, tenantId: string): string {
  // The id names a folder: anything but a UUID could reach outside the root.
  if (!TENANT_ID.test(tenantId)) throw new Error(`audit checkpoint: "${tenantId}" is not a tenant id`);
  return path.join(root, tenantId);
}

async function fsyncPath(file: string, flags: string): Promise<void> {
  const handle = await fs.promises.open(file, flags);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function storeAt(root: string): AuditCheckpointStore {
  return {
    async write(checkpoint: AuditCheckpoint): Promise<void> {
      if (!Number.isSafeInteger(checkpoint.seq) || checkpoint.seq < 1)
        throw new Error(`audit checkpoint: seq ${String(checkpoint.seq)} is not a positive whole number`);
      const folder = tenantFolder(root, checkpoint.tenantId);
      await fs.promises.mkdir(folder, { recursive: true });
      const name = `${String(checkpoint.seq).padStart(20, '0')}.json`;
      const temporary = path.join(folder, `.${name}.${crypto.randomBytes(6).toString('hex')}.tmp`);
      await fs.promises.writeFile(temporary, `${JSON.stringify(checkpoint, null, 2)}\n`, { flag: 'wx' });
      try {
        await fsyncPath(temporary, 'r+');
        await fs.promises.link(temporary, path.join(folder, name));
      } catch (error) {
        // Another process checkpointed the same seq first: the chain at a seq has one hash, so its file stands.
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      } finally {
        await fs.promises.unlink(temporary);
      }
      // The new name must survive a crash too (a folder is synced through a read-only handle on Linux).
      await fsyncPath(folder, 'r').catch(() => undefined);
    },

    async latest(tenantId: string): Promise<AuditCheckpoint | null> {
      const folder = tenantFolder(root, tenantId);
      let names: string[];
      try {
        names = await fs.promises.readdir(folder);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw error;
      }
      const newest = names
        .filter((n) => CHECKPOINT_FILE.test(n))
        .sort()
        .pop();
      if (!newest) return null;
      const file = path.join(folder, newest);
      const text = await fs.promises.readFile(file, 'utf8');
      try {
        return JSON.parse(text) as AuditCheckpoint;
      } catch {
        throw new Error(`audit checkpoint file ${file} is not valid JSON`);
      }
    },
  };
}

export const fileCheckpointSink: AuditCheckpointSink = {
  key: 'files',
  open(target: string): AuditCheckpointStore {
    if (!path.isAbsolute(target))
      throw new Error(`the files checkpoint sink needs an absolute folder, got "${target}"`);
    fs.mkdirSync(target, { recursive: true });
    if (!fs.statSync(target).isDirectory())
      throw new Error(`the files checkpoint sink's target ${target} is not a folder`);
    try {
      fs.accessSync(target, fs.constants.W_OK);
    } catch {
      throw new Error(`the files checkpoint sink cannot write to ${target}`);
    }
    return storeAt(target);
  },
};
