import { etagOf } from './etag';
import type { OperationResult } from './operation';

/**
 * The answers handlers give, written once: a resource read, changed or created carries its ETag (its
 * version), a created one its Location where the contract gives it one, accepted work where to follow it.
 */
export interface Where {
  location?: string;
  version?: number;
}

function answer(status: number, body: unknown, { location, version }: Where): OperationResult {
  const headers: Record<string, string> = {};
  if (location !== undefined) headers.Location = location;
  if (version !== undefined) headers.ETag = etagOf(version);
  return Object.keys(headers).length ? { status, body, headers } : { status, body };
}

export function ok(body: unknown, version?: number): OperationResult {
  return answer(200, body, { version });
}

export function created(body: unknown, where: Where = {}): OperationResult {
  return answer(201, body, where);
}

/** Accepted for work that goes on after the answer (a job). */
export function accepted(body: unknown, where: Where = {}): OperationResult {
  return answer(202, body, where);
}

export function noContent(): OperationResult {
  return { status: 204 };
}
