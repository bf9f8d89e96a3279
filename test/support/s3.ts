import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface S3Server {
  /** The service's origin, `http://127.0.0.1:<port>`. */
  endpoint: string;
  /** A bucket made for this server alone. */
  bucket: string;
  /** HEARTH_DOCUMENT_STORAGE_TARGET for the s3 store on this bucket (path-style, as a local service needs). */
  target: string;
  close(): Promise<void>;
}

// s3rver's own account; the s3 store finds it through the AWS SDK's default chain, as it would real keys.
const CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' } as const;
let running = 0;
let before: Partial<Record<keyof typeof CREDENTIALS, string>> = {};

/**
 * An S3-compatible service (s3rver, in a child process: see s3rverProcess.js) on a loopback port of
 * its own, keeping its objects in a temporary folder, with one fresh bucket. `prefix` goes into the
 * target (s3://bucket/prefix).
 */
export async function startS3(options: { prefix?: string } = {}): Promise<S3Server> {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-s3-'));
  const bucket = `hearth-test-${crypto.randomBytes(6).toString('hex')}`;
  const child = spawn(
    process.execPath,
    ['--openssl-legacy-provider', path.join(__dirname, 's3rverProcess.js'), directory, bucket],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      let out = '';
      let err = '';
      child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const line = out.split('\n')[0];
        if (out.includes('\n') && line) resolve((JSON.parse(line) as { port: number }).port);
      });
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`s3rver exited (${code}) before it listened: ${err}`)));
    });
  } catch (error) {
    fs.rmSync(directory, { recursive: true, force: true });
    throw error;
  }
  if (running++ === 0) {
    before = {
      AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY,
    };
    Object.assign(process.env, CREDENTIALS);
  }
  const endpoint = `http://127.0.0.1:${port}`;
  const where = options.prefix ? `${bucket}/${options.prefix}` : bucket;
  let closed = false;
  return {
    endpoint,
    bucket,
    target: `s3://${where}?region=us-east-1&endpoint=${encodeURIComponent(endpoint)}&forcePathStyle=true`,
    close: async () => {
      if (closed) return;
      closed = true;
      child.stdin.end();
      await exited;
      fs.rmSync(directory, { recursive: true, force: true });
      if (--running === 0)
        for (const [name, value] of Object.entries(before)) {
          if (value === undefined) delete process.env[name];
          else process.env[name] = value;
        }
    },
  };
}
