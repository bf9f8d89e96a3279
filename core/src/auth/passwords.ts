import crypto from 'node:crypto';
import os from 'node:os';
import { Worker } from 'node:worker_threads';

// OWASP's argon2id baseline: 19 MiB, 2 iterations, 1 lane. WebAssembly (hash-wasm) rather than a
// native addon, so a newcomer's `npm install` never needs a compiler or a matching prebuilt binary.
const PARAMS = { parallelism: 1, iterations: 2, memorySize: 19456, hashLength: 32 } as const;

/**
 * Hashing takes ~150 ms of CPU; on the main thread it would stall every other request meanwhile.
 * A small pool of worker threads does it instead. The worker's code is inline, so the same code
 * runs from source (tests) and from dist/ (npm start) with no file to find.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { argon2id, argon2Verify } = require(workerData.hashWasm);
parentPort.on('message', async ({ id, op, password, hash, salt, params }) => {
  try {
    const result = op === 'hash'
      ? await argon2id({ ...params, password, salt: Buffer.from(salt, 'base64'), outputType: 'encoded' })
      : await argon2Verify({ password, hash });
    parentPort.postMessage({ id, result });
  } catch (error) {
    parentPort.postMessage({ id, error: String(error && error.message || error) });
  }
});
`;

type Job = {
  id: number;
  op: 'hash' | 'verify';
  password: string;
  hash?: string;
  salt?: string;
  params?: typeof PARAMS;
};
type Pending = { resolve: (value: string | boolean) => void; reject: (error: Error) => void };

class HashPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private turn = 0;

  private worker(): Worker {
    const size = Math.max(1, Math.min(2, os.availableParallelism() - 1));
    if (this.workers.length < size) {
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { hashWasm: require.resolve('hash-wasm') } });
      // Idle workers must not keep a finished process (a test run, a script) alive.
      worker.unref();
      worker.on('message', ({ id, result, error }: { id: number; result?: string | boolean; error?: string }) => {
        const job = this.pending.get(id);
        this.pending.delete(id);
        if (this.pending.size === 0) for (const w of this.workers) w.unref();
        if (error !== undefined) job?.reject(new Error(error));
        else job?.resolve(result!);
      });
      worker.on('error', (error) => {
        for (const job of this.pending.values()) job.reject(error);
        this.pending.clear();
        this.workers.splice(this.workers.indexOf(worker), 1);
      });
      this.workers.push(worker);
      return worker;
    }
    return this.workers[this.turn++ % this.workers.length]!;
  }

  run(job: Omit<Job, 'id'>): Promise<string | boolean> {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const worker = this.worker();
      // Held while work is outstanding, so a script awaiting a hash is not ended under it.
      worker.ref();
      worker.postMessage({ ...job, id });
    });
  }
}

const pool = new HashPool();

export async function hashPassword(password: string): Promise<string> {
  return (await pool.run({
    op: 'hash',
    password,
    salt: crypto.randomBytes(16).toString('base64'),
    params: PARAMS,
  })) as string;
}

let dummyHash: Promise<string> | null = null;

/** Verifies against a real hash, or against a dummy one so an unknown email takes as long as a known one. */
export async function verifyPassword(hash: string | null, password: string): Promise<boolean> {
  if (!hash) {
    dummyHash ??= hashPassword('not-a-real-password-for-timing');
    await pool.run({ op: 'verify', password, hash: await dummyHash }).catch(() => false);
    return false;
  }
  return (await pool.run({ op: 'verify', password, hash }).catch(() => false)) as boolean;
}
