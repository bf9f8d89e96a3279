/** Where the s3 store keeps objects, as HEARTH_DOCUMENT_STORAGE_TARGET names it. */
export interface S3Target {
  bucket: string;
  /** Prepended to every key: '' or segments ending in '/' (`hearth/documents/`). */
  prefix: string;
  region: string;
  /** An S3-compatible service's origin (`http://127.0.0.1:9000`); absent for AWS itself. */
  endpoint?: string;
  forcePathStyle: boolean;
}

export const TARGET_SHAPE =
  's3://<bucket>[/<prefix>]?region=<region>&endpoint=<http(s)://host:port>&forcePathStyle=true';

const OPTIONS = new Set(['region', 'endpoint', 'forcePathStyle']);
// S3's rules for a general purpose bucket's name; dots are allowed but not two together, and an IP address is not a name.
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const IP_ADDRESS = /^\d+\.\d+\.\d+\.\d+$/;
// Segments S3 documents as safe in any key, so a prefix means the same to every client and console.
const PREFIX_SEGMENT = /^[A-Za-z0-9._-]+$/;
// AWS's regions and the names S3-compatible services use (`auto`, `fr-par`, `garage`).
const REGION = /^[a-z0-9][a-z0-9-]{0,62}$/;

/**
 * Reads the target URL, or throws naming the part that is wrong. The URL itself is not repeated:
 * whatever an operator put after `@` (a key pasted by mistake) must not reach a log.
 */
export function parseS3Target(target: string): S3Target {
  const fail = (what: string): never => {
    throw new Error(`${what}; the s3 store's target is ${TARGET_SHAPE}`);
  };
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return fail('it is not a URL');
  }
  if (url.protocol !== 's3:') fail(`its scheme is "${url.protocol.replace(/:$/, '')}", not s3`);
  if (url.username || url.password)
    fail(
      'it carries credentials; the s3 store takes them from the AWS SDK (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)',
    );
  if (url.port) fail('it has a port after the bucket; an S3-compatible service goes in endpoint=');
  if (url.hash) fail('it has a #fragment');
  const bucket = url.hostname;
  if (!bucket) fail('it names no bucket (s3://<bucket>)');
  if (!BUCKET.test(bucket) || bucket.includes('..') || IP_ADDRESS.test(bucket))
    fail(
      `the bucket "${bucket}" is not a valid bucket name (3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit)`,
    );

  let prefix = '';
  const path = url.pathname.replace(/^\//, '').replace(/\/$/, '');
  if (path) {
    const segments = path.split('/');
    for (const segment of segments)
      if (!PREFIX_SEGMENT.test(segment) || segment === '.' || segment === '..')
        fail(`the prefix "${path}" has a segment "${segment}" that is not letters, digits, ".", "_" or "-"`);
    prefix = `${segments.join('/')}/`;
  }

  const seen = new Set<string>();
  for (const name of url.searchParams.keys()) {
    if (!OPTIONS.has(name)) fail(`"${name}" is not an option (region, endpoint, forcePathStyle)`);
    if (seen.has(name)) fail(`"${name}" is given twice`);
    seen.add(name);
  }

  const region = url.searchParams.get('region') ?? 'us-east-1';
  if (!REGION.test(region)) fail(`region "${region}" is not a region name (lower-case letters, digits and "-")`);

  let endpoint: string | undefined;
  const endpointText = url.searchParams.get('endpoint');
  if (endpointText !== null) {
    let parsed: URL;
    try {
      parsed = new URL(endpointText);
    } catch {
      return fail(`endpoint "${endpointText}" is not a URL`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
      fail(`endpoint "${endpointText}" is not an http or https URL`);
    if (parsed.username || parsed.password) fail('endpoint carries credentials');
    if (parsed.pathname !== '/' || parsed.search || parsed.hash)
      fail(`endpoint "${endpointText}" has more than a scheme, host and port`);
    endpoint = parsed.origin;
  }

  const pathStyle = url.searchParams.get('forcePathStyle');
  if (pathStyle !== null && pathStyle !== 'true' && pathStyle !== 'false')
    fail(`forcePathStyle is "${pathStyle}", not true or false`);

  return { bucket, prefix, region, ...(endpoint ? { endpoint } : {}), forcePathStyle: pathStyle === 'true' };
}
