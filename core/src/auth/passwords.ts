import crypto from 'node:crypto';
import { argon2id, argon2Verify } from 'hash-wasm';

// OWASP's argon2id baseline: 19 MiB, 2 iterations, 1 lane. WebAssembly rather than a native addon,
// so a newcomer's `npm install` never needs a compiler or a matching prebuilt binary.
const PARAMS = { parallelism: 1, iterations: 2, memorySize: 19456, hashLength: 32 } as const;

export function hashPassword(password: string): Promise<string> {
  return argon2id({ ...PARAMS, password, salt: crypto.randomBytes(16), outputType: 'encoded' });
}

let dummyHash: Promise<string> | null = null;

/** Verifies against a real hash, or against a dummy one so an unknown email takes as long as a known one. */
export async function verifyPassword(hash: string | null, password: string): Promise<boolean> {
  if (!hash) {
    dummyHash ??= hashPassword('not-a-real-password-for-timing');
    await argon2Verify({ password, hash: await dummyHash }).catch(() => false);
    return false;
  }
  return argon2Verify({ password, hash }).catch(() => false);
}
