import { etagOf } from './etag';
import type { OperationResult } from './operation';

/**
 * The answers handlers give, written once: a resource read or changed carries its ETag (its
 * version), a created one its Location too.
 */
export function ok(body: unknown, version?: number): OperationResult {
  return version === undefined ? { status: 200, body } : { status: 200, body, headers: { ETag: etagOf(version) } };
}

export function created(body: unknown, location: string, version?: number): OperationResult {
  return {
    status: 201,
    body,
    headers: { Location: location, ...(version === undefined ? {} : { ETag: etagOf(version) }) },
  };
}

/** Accepted for work that goes on after the answer (a job): where to follow it. */
export function accepted(body: unknown, location?: string): OperationResult {
  return location === undefined ? { status: 202, body } : { status: 202, body, headers: { Location: location } };
}

export function noContent(): OperationResult {
  return { status: 204 };
}
