import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { repoRoot } from '../config';
import type { FieldError } from './problem';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';
export type Tenancy = 'tenant' | 'platform' | 'public' | 'system';

interface ParameterObject {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: Record<string, unknown>;
}

export interface ContractOperation {
  operationId: string;
  method: HttpMethod;
  /** OpenAPI path, e.g. /v1/children/{childId}. */
  path: string;
  /** express path, e.g. /v1/children/:childId. */
  expressPath: string;
  tenancy: Tenancy;
  parameters: ParameterObject[];
  hasBody: boolean;
  bodyRequired: boolean;
  requiresIfMatch: boolean;
  acceptsIdempotencyKey: boolean;
  /**
   * Whether success changes data (and so must be audited and run in a writing transaction): every
   * non-GET unless `x-hearth-writes: false`, and a GET marked `x-hearth-writes: true` (a download, which
   * is logged).
   */
  writes: boolean;
  validateParams: (input: {
    path: Record<string, unknown>;
    query: Record<string, unknown>;
    header: Record<string, unknown>;
  }) => FieldError[];
  validateBody: ((body: unknown) => FieldError[]) | null;
  /**
   * A `multipart/form-data` body: its one file part (the property whose `contentMediaType` is set), and
   * `validateBody` checks the other parts, as strings, once they have arrived.
   */
  multipart: { fileField: string } | null;
}

export interface Contract {
  document: Record<string, unknown>;
  operations: ContractOperation[];
  byId: Map<string, ContractOperation>;
}

const METHODS: HttpMethod[] = ['get', 'post', 'put', 'patch', 'delete'];

export function contractPath(): string {
  return path.join(repoRoot, 'openapi', 'hearth.yaml');
}

type Bundler = { bundleContract(dir?: string): Record<string, unknown> };

/**
 * The whole contract: `openapi/hearth.yaml` joined with each module's `openapi/modules/*.yaml`, by
 * the same script that `npm run generate` and the linter use (so all three read one document).
 * A single-file contract (a test's own) is read as it is.
 */
export function readContractDocument(file = contractPath()): Record<string, unknown> {
  if (file !== contractPath()) return YAML.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  // Resolved from the repository root at run time: the script is plain JS outside the compiled tree.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const bundler = require(path.join(repoRoot, 'openapi', 'bundle.js')) as Bundler;
  return bundler.bundleContract(path.dirname(file));
}

function resolveRef<T>(document: Record<string, unknown>, value: T): T {
  const ref = (value as { $ref?: string } | undefined)?.$ref;
  if (!ref) return value;
  const target = ref
    .replace(/^#\//, '')
    .split('/')
    .reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], document);
  return resolveRef(document, target as T);
}

function toFieldErrors(location: string, errors: ErrorObject[] | null | undefined): FieldError[] {
  return (errors ?? []).map((error) => {
    let pointer = `/${location}${error.instancePath}`;
    let message = error.message ?? 'is invalid';
    if (error.keyword === 'enum') {
      // Say what would have been accepted, not only that this was not.
      message = `must be one of: ${(error.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
    } else if (error.keyword === 'const') {
      message = `must be ${JSON.stringify((error.params as { allowedValue: unknown }).allowedValue)}`;
    } else if (error.keyword === 'required') {
      pointer += `/${(error.params as { missingProperty: string }).missingProperty}`;
      message = 'is required';
    } else if (error.keyword === 'additionalProperties') {
      pointer += `/${(error.params as { additionalProperty: string }).additionalProperty}`;
      message = 'is not a known field';
    }
    return { pointer, message, code: error.keyword };
  });
}

const escapePointer = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * Every string (value or object key) holding the NUL character: JSON and the contract allow it,
 * PostgreSQL's text and jsonb do not, so it is refused here, by field, before anything is written.
 */
export function nulCharacterErrors(pointer: string, value: unknown): FieldError[] {
  if (typeof value === 'string')
    return value.includes('\u0000')
      ? [{ pointer, message: 'must not contain the NUL character (U+0000)', code: 'nul' }]
      : [];
  if (Array.isArray(value)) return value.flatMap((item, i) => nulCharacterErrors(`${pointer}/${i}`, item));
  if (value && typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>).flatMap(([key, item]) => [
      ...(key.includes('\u0000')
        ? [
            {
              pointer: `${pointer}/${escapePointer(key)}`,
              message: 'is a key that must not contain the NUL character (U+0000)',
              code: 'nul',
            },
          ]
        : []),
      ...nulCharacterErrors(`${pointer}/${escapePointer(key)}`, item),
    ]);
  }
  return [];
}

/** Drops the errors of oneOf branches that failed only because another branch was meant. */
function dedupe(errors: FieldError[]): FieldError[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const key = `${e.pointer}|${e.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** A multipart body's schema split into its one file part and the schema of its other (string) parts. */
function multipartFields(
  document: Record<string, unknown>,
  schema: unknown,
): { fileField: string; fields: Record<string, unknown> } {
  const resolved = resolveRef(document, schema) as {
    properties?: Record<string, { contentMediaType?: string; format?: string }>;
    required?: string[];
  };
  const files = Object.entries(resolved.properties ?? {}).filter(
    ([, p]) => p.contentMediaType !== undefined || p.format === 'binary',
  );
  if (files.length !== 1) throw new Error('A multipart/form-data body must have exactly one file part');
  const fileField = files[0]![0];
  const { [fileField]: _file, ...properties } = resolved.properties ?? {};
  return {
    fileField,
    fields: { ...resolved, properties, required: (resolved.required ?? []).filter((r) => r !== fileField) },
  };
}

/**
 * Loads the OpenAPI document and compiles, once, an ajv validator for every operation's
 * parameters and body. The document is the source of truth: the router mounts exactly its operations.
 */
export function loadContract(file = contractPath()): Contract {
  const document = readContractDocument(file);
  const ajv = new Ajv2020({ allErrors: true, strict: false, coerceTypes: false, useDefaults: true });
  addFormats(ajv);
  ajv.addSchema({ $id: 'hearth', components: (document as { components: unknown }).components } as object);

  const rewriteRefs = (schema: unknown): unknown => {
    if (Array.isArray(schema)) return schema.map(rewriteRefs);
    if (schema && typeof schema === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(schema)) {
        out[key] =
          key === '$ref' && typeof value === 'string' && value.startsWith('#/') ? `hearth${value}` : rewriteRefs(value);
      }
      return out;
    }
    return schema;
  };

  // Query and header values arrive as strings; a separate coercing instance turns "10" into 10 for them.
  const coercing = new Ajv2020({ allErrors: true, strict: false, coerceTypes: true, useDefaults: true });
  addFormats(coercing);
  coercing.addSchema({ $id: 'hearth', components: (document as { components: unknown }).components } as object);

  /**
   * A body that is a `oneOf` chosen by a `discriminator` reports the faults of the shared part and
   * of the one branch its discriminator names, not of every branch: a case note with a bad field is
   * not also told that it lacks an immunisation's vaccine, and no "must match exactly one" points
   * at the whole body.
   */
  const bodyValidator = (schema: unknown): ((body: unknown) => FieldError[]) => {
    const whole = ajv.compile(rewriteRefs(schema) as object);
    const all = (): FieldError[] => dedupe(toFieldErrors('body', whole.errors));
    const resolved = resolveRef(document, schema) as
      { oneOf?: unknown[]; discriminator?: { propertyName: string; mapping?: Record<string, string> } } | undefined;
    const mapping = resolved?.discriminator?.mapping;
    if (!resolved?.oneOf || !mapping) return (body) => (whole(body) ? [] : all());
    const { oneOf: _branches, discriminator, ...shared } = resolved;
    const base = ajv.compile(rewriteRefs(shared) as object);
    const branches = new Map(
      Object.entries(mapping).map(([tag, ref]) => [tag, ajv.compile(rewriteRefs({ $ref: ref }) as object)]),
    );
    return (body) => {
      if (whole(body)) return [];
      const tag =
        body && typeof body === 'object' ? (body as Record<string, unknown>)[discriminator!.propertyName] : undefined;
      const branch = typeof tag === 'string' ? branches.get(tag) : undefined;
      const errors = base(body) ? [] : toFieldErrors('body', base.errors);
      if (branch && !branch(body)) errors.push(...toFieldErrors('body', branch.errors));
      return errors.length ? dedupe(errors) : all();
    };
  };

  const operations: ContractOperation[] = [];
  const paths = (document.paths ?? {}) as Record<string, Record<string, unknown>>;
  for (const [apiPath, pathItem] of Object.entries(paths)) {
    const shared = ((pathItem.parameters as ParameterObject[] | undefined) ?? []).map((p) => resolveRef(document, p));
    for (const method of METHODS) {
      const op = pathItem[method] as Record<string, unknown> | undefined;
      if (!op) continue;
      const own = ((op.parameters as ParameterObject[] | undefined) ?? []).map((p) => resolveRef(document, p));
      const parameters = [...shared.filter((s) => !own.some((o) => o.name === s.name && o.in === s.in)), ...own];

      const paramSchema: Record<string, unknown> = { type: 'object', properties: {}, required: [] };
      for (const location of ['path', 'query', 'header'] as const) {
        const props: Record<string, unknown> = {};
        const required: string[] = [];
        for (const p of parameters.filter((x) => x.in === location)) {
          const name = location === 'header' ? p.name.toLowerCase() : p.name;
          props[name] = rewriteRefs(p.schema ?? {});
          if (p.required) required.push(name);
        }
        (paramSchema.properties as Record<string, unknown>)[location] = {
          type: 'object',
          properties: props,
          required,
          // Unknown query parameters are refused so a typo in a filter cannot silently widen a list.
          ...(location === 'query' ? { additionalProperties: false } : {}),
        };
      }
      const validateParamsFn: ValidateFunction = coercing.compile(paramSchema);

      const requestBody = resolveRef(document, op.requestBody as Record<string, unknown> | undefined);
      const content = requestBody?.content as Record<string, { schema?: unknown }> | undefined;
      const bodySchema = content?.['application/json']?.schema;
      const multipartSchema = content?.['multipart/form-data']?.schema;
      const multipart = multipartSchema ? multipartFields(document, multipartSchema) : null;
      const validateBodyFn = bodySchema
        ? bodyValidator(bodySchema)
        : multipart
          ? bodyValidator(multipart.fields)
          : null;

      operations.push({
        operationId: op.operationId as string,
        method,
        path: apiPath,
        expressPath: apiPath.replace(/\{([^}]+)\}/g, ':$1'),
        tenancy: (op['x-hearth-tenancy'] as Tenancy | undefined) ?? 'tenant',
        parameters,
        hasBody: Boolean(bodySchema || multipart),
        bodyRequired: Boolean(requestBody?.required),
        requiresIfMatch: parameters.some((p) => p.in === 'header' && p.name.toLowerCase() === 'if-match' && p.required),
        acceptsIdempotencyKey: parameters.some((p) => p.in === 'header' && p.name.toLowerCase() === 'idempotency-key'),
        writes: typeof op['x-hearth-writes'] === 'boolean' ? op['x-hearth-writes'] : method !== 'get',
        validateParams: (input) => {
          const nul = [...nulCharacterErrors('/path', input.path), ...nulCharacterErrors('/query', input.query)];
          if (validateParamsFn(input)) return nul;
          // A missing required If-Match is its own problem (428), reported by the router.
          return dedupe([
            ...toFieldErrors('', validateParamsFn.errors).map((e) => ({
              ...e,
              pointer: e.pointer.replace(/^\/\//, '/'),
            })),
            ...nul,
          ]);
        },
        validateBody: validateBodyFn ? (body) => [...validateBodyFn(body), ...nulCharacterErrors('/body', body)] : null,
        multipart: multipart ? { fileField: multipart.fileField } : null,
      });
    }
  }
  return { document, operations, byId: new Map(operations.map((o) => [o.operationId, o])) };
}
