import { Problem } from './problem';

/** ETags are the row's version: strong, opaque to clients, and cheap to compare under a row lock. */
export function etagOf(version: number): string {
  return `"${version}"`;
}

/** Refuses a write whose If-Match names anything but the version read under lock now. */
export function assertIfMatch(ifMatch: string | undefined, version: number): void {
  if (ifMatch === undefined) throw new Problem('preconditionRequired', 'Send If-Match with the ETag you read');
  const tags = ifMatch.split(',').map((t) => t.trim().replace(/^W\//, ''));
  if (!tags.includes(etagOf(version))) {
    throw new Problem(
      'preconditionFailed',
      `The resource is at ETag ${etagOf(version)}; read it again before changing it`,
      { currentETag: etagOf(version) },
    );
  }
}
