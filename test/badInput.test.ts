import fs from 'node:fs';
import nodeHttp from 'node:http';
import path from 'node:path';
import type { ContractOperation } from '../core/src/http/contract';
import {
  assertMatchesContract,
  operation,
  pathFor,
  testContract,
  type CallOptions,
  type HttpResponse,
} from './support/contractClient';
import { makeChild, requestFor, unique, type OperationRequest } from './support/fixtures';
import { startWorld, type World } from './support/harness';
import { EXE } from './support/sampleFiles';

/**
 * Bad input never gets past the contract: for every operation, starting from the fixture's valid
 * request and breaking one thing at a time, the answer is the right 4xx problem document (declared
 * for that operation, naming the offending field) and the database is exactly as it was.
 */

const PROBLEM = 'https://hearth.dev/problems/';
const contract = testContract();
const routed = contract.operations.filter((o) => o.tenancy !== 'system');

type Schema = Record<string, unknown>;
const document = contract.document as { paths: Record<string, Record<string, { requestBody?: unknown }>> };

function resolve<T>(node: T): T {
  let current: unknown = node;
  while (current && typeof current === 'object' && typeof (current as { $ref?: unknown }).$ref === 'string') {
    current = ((current as { $ref: string }).$ref.replace(/^#\//, '').split('/') as string[]).reduce<unknown>(
      (n, k) => (n as Record<string, unknown>)[k],
      contract.document,
    );
  }
  return current as T;
}

function bodySchemaOf(op: ContractOperation): Schema | null {
  const requestBody = resolve(document.paths[op.path]![op.method]!.requestBody) as
    { content?: Record<string, { schema?: Schema }> } | undefined;
  const schema = requestBody?.content?.['application/json']?.schema;
  return schema ? resolve(schema) : null;
}

/** A multipart body's text parts (its schema without the file part), and the file part's name. */
function multipartOf(op: ContractOperation): { fields: Schema; fileField: string } | null {
  if (!op.multipart) return null;
  const requestBody = resolve(document.paths[op.path]![op.method]!.requestBody) as
    { content?: Record<string, { schema?: Schema }> } | undefined;
  const schema = resolve(requestBody!.content!['multipart/form-data']!.schema!);
  const { [op.multipart.fileField]: _file, ...properties } = (schema.properties ?? {}) as Record<string, unknown>;
  return { fields: { ...schema, properties }, fileField: op.multipart.fileField };
}

/** Every object the document store holds: a refused upload must leave none behind. */
function storedObjects(): number {
  const root = world.config.documents.target;
  let count = 0;
  const walk = (dir: string) => {
    for (const entry of fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }) : []) {
      if (entry.isDirectory()) walk(path.join(dir, entry.name));
      else count++;
    }
  };
  walk(root);
  return count;
}

/** The JSON types a schema accepts (the union over its branches). */
function typesAccepted(schema: unknown): Set<string> {
  const s = resolve(schema) as Schema;
  const out = new Set<string>();
  if (s.type) (Array.isArray(s.type) ? (s.type as string[]) : [s.type as string]).forEach((t) => out.add(t));
  for (const key of ['oneOf', 'anyOf', 'allOf'])
    for (const sub of (s[key] as unknown[] | undefined) ?? []) typesAccepted(sub).forEach((t) => out.add(t));
  for (const value of (s.enum as unknown[] | undefined) ?? [])
    out.add(value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value);
  return out;
}

/** A value of a JSON type the field does not accept: a number for text, text for anything else. */
function wrongValueFor(schema: unknown): unknown {
  const types = typesAccepted(schema);
  // A field that declares no type accepts anything; the test then fails, which is the point.
  if (types.size === 0) return 12345;
  if (!types.has('number') && !types.has('integer')) return 12345;
  if (!types.has('string')) return 'not the right type';
  if (!types.has('boolean')) return true;
  return [['nested']];
}

/** A schema with its `$ref`s followed and its `allOf` parts merged into one. */
function flatten(schema: unknown): Schema {
  const s = resolve(schema) as Schema;
  if (!Array.isArray(s.allOf)) return s;
  const merged: Schema = { ...s, properties: { ...((s.properties as Schema | undefined) ?? {}) } };
  for (const part of s.allOf as unknown[]) {
    const p = flatten(part);
    merged.type ??= p.type;
    Object.assign(merged.properties as Schema, p.properties ?? {});
  }
  return merged;
}

/**
 * The branch of a `oneOf` that a value is meant for: the one its discriminator names, else the one
 * that is not `null` (a nullable field written as `oneOf: [{ $ref }, { type: 'null' }]`).
 */
function branchFor(schema: Schema, value: unknown): Schema {
  const mapping = schema.discriminator as { propertyName: string; mapping?: Record<string, string> } | undefined;
  if (mapping?.mapping && value && typeof value === 'object') {
    const ref = mapping.mapping[String((value as Record<string, unknown>)[mapping.propertyName])];
    if (ref) return flatten({ $ref: ref });
  }
  const branches = ((schema.oneOf ?? schema.anyOf) as unknown[]).map(flatten).filter((b) => b.type !== 'null');
  return branches.length === 1 ? branches[0]! : schema;
}

/** Escapes one JSON-pointer segment (RFC 6901). */
const segment = (key: string | number) => String(key).replace(/~/g, '~0').replace(/\//g, '~1');

interface OverLong {
  /** The JSON pointer of the field, as the problem document names it (e.g. /body/name). */
  pointer: string;
  path: Array<string | number>;
  maxLength: number;
}

/**
 * Every string field a request body can carry that has a `maxLength`, found by walking the contract's
 * schema beside a valid body: the body's own fields and every optional one beside them, the members
 * of nested objects the body holds, the first item of its lists, and the values of its maps. A field
 * added to the contract joins the cases below by itself.
 */
function boundedStrings(schema: unknown, value: unknown, path: Array<string | number> = []): OverLong[] {
  let s = flatten(schema);
  if (s.oneOf || s.anyOf) {
    const branch = branchFor(s, value);
    if (branch !== s)
      s = {
        ...branch,
        properties: {
          ...((s.properties as Schema | undefined) ?? {}),
          ...((branch.properties as Schema | undefined) ?? {}),
        },
      };
  }
  const types = typesAccepted(s);
  const found: OverLong[] = [];
  if (types.has('string') && typeof s.maxLength === 'number')
    found.push({ pointer: `/body${path.map((k) => `/${segment(k)}`).join('')}`, path, maxLength: s.maxLength });
  const here = value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  if (s.properties && (path.length === 0 || here)) {
    for (const [key, sub] of Object.entries(s.properties as Schema))
      found.push(...boundedStrings(sub, here?.[key], [...path, key]));
  }
  if (here && s.additionalProperties && typeof s.additionalProperties === 'object') {
    const key = Object.keys(here).find((k) => !(s.properties as Schema | undefined)?.[k]);
    if (key !== undefined) found.push(...boundedStrings(s.additionalProperties, here[key], [...path, key]));
  }
  if (types.has('array') && s.items) {
    const first = Array.isArray(value) ? value[0] : undefined;
    const items = flatten(s.items);
    // A list of text gets a one-item list; a list of objects is walked where the body has one.
    if (first !== undefined || typesAccepted(items).has('string'))
      found.push(...boundedStrings(items, first, [...path, 0]));
  }
  return found;
}

/** The valid body with the string at `path` made one character longer than its bound. */
function withOverLong(body: unknown, { path, maxLength }: OverLong): unknown {
  const copy = structuredClone(body ?? {}) as Record<string | number, unknown>;
  let node: Record<string | number, unknown> = copy;
  path.forEach((key, i) => {
    if (i === path.length - 1) node[key] = 'x'.repeat(maxLength + 1);
    else {
      node[key] ??= typeof path[i + 1] === 'number' ? [] : {};
      node = node[key] as Record<string | number, unknown>;
    }
  });
  return copy;
}

let world: World;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world?.close();
});

// ---------------------------------------------------------------------------------------------

/**
 * A fingerprint of the whole database as the owner (a superuser: it sees every tenant): each
 * table's row count and a hash of every row's content, plus the newest audit sequence number.
 * Row counts alone would miss an UPDATE that a bad request slipped through.
 */
let fingerprintSql: string | null = null;
async function databaseFingerprint(): Promise<Record<string, string>> {
  if (!fingerprintSql) {
    const tables = (
      (await world.db.raw(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`,
      )) as { rows: Array<{ table_name: string }> }
    ).rows.map((t) => t.table_name);
    if (!tables.includes('audit_events') || !tables.includes('children'))
      throw new Error(`unexpected table list: ${tables.join(', ')}`);
    const parts = tables.map(
      (t) =>
        `SELECT '${t}' AS name, count(*)::text || ':' || md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS print FROM "${t}" x`,
    );
    parts.push(`SELECT 'audit_events.max_seq' AS name, coalesce(max(seq)::text, '') AS print FROM audit_events`);
    fingerprintSql = parts.join(' UNION ALL ');
  }
  const rows = ((await world.db.raw(fingerprintSql)) as { rows: Array<{ name: string; print: string }> }).rows;
  return Object.fromEntries(rows.map((r) => [r.name, r.print]));
}

/**
 * The fingerprint after the last check, while nothing else has written since: then it is also the
 * "before" of the next check, which halves the cost. Anything in this file that writes (fixtures,
 * the sanity test) clears it.
 */
let lastFingerprint: Record<string, string> | null = null;

/** Sends a bad request and requires that no row anywhere changed. */
async function withoutWrites(send: () => Promise<HttpResponse>): Promise<HttpResponse> {
  const before = lastFingerprint ?? (await databaseFingerprint());
  lastFingerprint = null;
  const response = await send();
  const after = await databaseFingerprint();
  lastFingerprint = after;
  expect(after).toEqual(before);
  return response;
}

/**
 * The answer is a declared problem document of the given kind; where a pointer is given, `errors`
 * names it, and names nothing outside it (one thing was broken, so one thing is reported).
 */
function expectProblem(response: HttpResponse, status: number, kind: string, pointer?: string): void {
  const errors = (response.body?.errors ?? []) as Array<{ pointer: string }>;
  const within = (p: string) => p === pointer || p.startsWith(`${pointer}/`);
  expect({
    status: response.status,
    contentType: (response.headers.get('content-type') ?? '').split(';')[0],
    type: response.body?.type,
    ...(pointer
      ? {
          names: errors.some((e) => e.pointer === pointer),
          stray: errors.map((e) => e.pointer).filter((p) => !within(p)),
        }
      : {}),
    text:
      response.status === status && response.body?.type === PROBLEM + kind ? undefined : response.text.slice(0, 400),
  }).toEqual({
    status,
    contentType: 'application/problem+json',
    type: PROBLEM + kind,
    ...(pointer ? { names: true, stray: [] } : {}),
    text: undefined,
  });
}

/**
 * A request through node:http, for bodies fetch will not send (it refuses a body on GET). The
 * answer still goes through the same contract check as world.call.
 */
function rawCall(
  op: ContractOperation,
  options: { params?: Record<string, string>; token?: string; headers?: Record<string, string>; body: string },
): Promise<HttpResponse> {
  return new Promise((resolvePromise, reject) => {
    const url = new URL(pathFor(op, options.params), world.url);
    const headers: Record<string, string | number> = {
      ...(options.headers ?? {}),
      'content-length': Buffer.byteLength(options.body),
    };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    const req = nodeHttp.request(url, { method: op.method.toUpperCase(), headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const bytes = Buffer.concat(chunks);
        const text = bytes.toString('utf8');
        const responseHeaders = new Headers();
        for (const [k, v] of Object.entries(res.headers))
          if (v !== undefined) responseHeaders.set(k, Array.isArray(v) ? v.join(', ') : v);
        const type = responseHeaders.get('content-type') ?? '';
        const response: HttpResponse = {
          status: res.statusCode ?? 0,
          headers: responseHeaders,
          text,
          bytes,
          body: type.includes('json') && text ? JSON.parse(text) : text,
        };
        try {
          assertMatchesContract(op, response);
          resolvePromise(response);
        } catch (error) {
          reject(error);
        }
      });
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * Where a request can carry text without a bound, found by walking every parameter and body schema
 * of the contract (whole, not only the fixtures' part of it): a string with neither maxLength, enum
 * nor const, a list without maxItems, a number without minimum and maximum.
 */
function unboundedInputs(): string[] {
  const found = new Set<string>();
  const walk = (node: unknown, where: string, seen: Set<unknown>): void => {
    if (!node || typeof node !== 'object' || seen.has(node)) return;
    const s = resolve(node) as Schema;
    if (seen.has(s)) return;
    const inner = new Set(seen).add(node).add(s);
    const types = Array.isArray(s.type) ? (s.type as string[]) : s.type ? [s.type as string] : [];
    if (types.includes('string') && s.maxLength === undefined && s.enum === undefined && s.const === undefined)
      found.add(`${where}: text without maxLength`);
    if (types.includes('array') && s.maxItems === undefined) found.add(`${where}: list without maxItems`);
    const ranged = (s.minimum ?? s.exclusiveMinimum) !== undefined && (s.maximum ?? s.exclusiveMaximum) !== undefined;
    if ((types.includes('integer') || types.includes('number')) && s.const === undefined && !ranged)
      found.add(`${where}: number without minimum and maximum`);
    for (const [key, sub] of Object.entries((s.properties as Schema | undefined) ?? {}))
      walk(sub, `${where}/${key}`, inner);
    if (s.items) walk(s.items, `${where}/0`, inner);
    if (s.additionalProperties && typeof s.additionalProperties === 'object')
      walk(s.additionalProperties, `${where}/*`, inner);
    for (const key of ['oneOf', 'anyOf', 'allOf'])
      for (const sub of (s[key] as unknown[] | undefined) ?? []) walk(sub, where, inner);
  };
  for (const op of routed) {
    for (const p of op.parameters) walk(p.schema, `${op.operationId} ${p.in} ${p.name}`, new Set());
    walk(bodySchemaOf(op), `${op.operationId} /body`, new Set());
    walk(multipartOf(op)?.fields, `${op.operationId} /body`, new Set());
  }
  return [...found];
}

it('bounds everything a request can carry: text by maxLength, lists by maxItems, numbers by a range', () => {
  expect(unboundedInputs()).toEqual([]);
});

it('checks every routed operation, and the fingerprint notices a write', async () => {
  expect(routed.length).toBeGreaterThanOrEqual(40);
  // Without this, "nothing written" could pass because the fingerprint sees nothing.
  lastFingerprint = null;
  const before = await databaseFingerprint();
  await makeChild({ world, tenant: world.a });
  expect(await databaseFingerprint()).not.toEqual(before);
});

describe.each(routed.map((o) => [o.operationId]))('%s', (operationId) => {
  const op = operation(operationId);
  const bodySchema = bodySchemaOf(op);
  const fields = Object.keys((bodySchema?.properties as Schema | undefined) ?? {});
  const pathParams = op.parameters.filter((p) => p.in === 'path').map((p) => p.name);
  const hasLimit = op.parameters.some((p) => p.in === 'query' && p.name === 'limit');

  // One valid request per operation; each case breaks one thing in it. Bad requests change
  // nothing, so the same fixture serves every case.
  let base: OperationRequest;
  beforeAll(async () => {
    lastFingerprint = null;
    base = await requestFor(operationId, { world, tenant: world.a });
  });

  /** The valid request, with a different body sent as-is under the given media type. */
  const withRawBody = (rawBody: string, contentType = 'application/json'): CallOptions => ({
    token: base.token,
    params: base.params,
    query: base.query,
    headers: { ...(base.headers ?? {}), 'content-type': contentType },
    rawBody,
  });
  const withBody = (body: unknown): CallOptions => ({
    token: base.token,
    params: base.params,
    query: base.query,
    headers: base.headers,
    body,
  });

  const multipart = multipartOf(op);
  if (multipart) {
    /** A multipart request from the fixture's text parts, changed, with the given file (or none). */
    const upload = (
      fields: Record<string, string>,
      file: { filename: string; bytes: Buffer | string } | null = { filename: 'ok.txt', bytes: 'Fine.\n' },
    ): CallOptions => ({
      token: base.token,
      params: base.params,
      headers: base.headers,
      multipart: { fields, ...(file ? { file: { field: multipart.fileField, ...file } } : {}) },
    });
    const baseFields = () =>
      Object.fromEntries(Object.entries((base.body ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
    /** Sends a bad upload and requires that no row changed and no object was left in the store. */
    const withoutTrace = async (send: () => Promise<HttpResponse>) => {
      const objects = storedObjects();
      const response = await withoutWrites(send);
      expect(storedObjects()).toBe(objects);
      return response;
    };

    it('refuses a JSON body: 415, the file goes as multipart/form-data', async () => {
      expectProblem(
        await withoutTrace(() => world.call(operationId, withRawBody(JSON.stringify(base.body ?? {})))),
        415,
        'unsupported-media-type',
      );
    });

    it('refuses an upload without its file part: 400 naming it', async () => {
      expectProblem(
        await withoutTrace(() => world.call(operationId, upload(baseFields(), null))),
        400,
        'validation',
        `/body/${multipart.fileField}`,
      );
    });

    it('refuses an unknown text part: 400 naming it', async () => {
      expectProblem(
        await withoutTrace(() => world.call(operationId, upload({ ...baseFields(), unexpectedField: 'x' }))),
        400,
        'validation',
        '/body/unexpectedField',
      );
    });

    it('refuses every text part one character over its maxLength: 400 naming it', async () => {
      const faults: Array<{ pointer: string; status: number }> = [];
      for (const overLong of boundedStrings(multipart.fields, base.body)) {
        const field = overLong.pointer.replace(/^\/body\//, '');
        const response = await withoutTrace(() =>
          world.call(operationId, upload({ ...baseFields(), [field]: 'x'.repeat(overLong.maxLength + 1) })),
        );
        const errors = (response.body?.errors ?? []) as Array<{ pointer: string; code?: string }>;
        if (response.status !== 400 || !errors.some((e) => e.pointer === overLong.pointer))
          faults.push({ pointer: overLong.pointer, status: response.status });
      }
      expect(faults).toEqual([]);
    });

    it('refuses a file of a type off the allow-list, whatever its name: 415 naming the file part', async () => {
      expectProblem(
        await withoutTrace(() => world.call(operationId, upload(baseFields(), { filename: 'letter.pdf', bytes: EXE }))),
        415,
        'file-type-not-allowed',
        `/body/${multipart.fileField}`,
      );
    });

    it("refuses a file over the tenant's limit: 413 naming the file part", async () => {
      const limit = (await world.call('getDocumentSettings', { token: world.a.adminToken })).body
        .maxUploadBytes as number;
      expectProblem(
        await withoutTrace(() =>
          world.call(operationId, upload(baseFields(), { filename: 'big.txt', bytes: Buffer.alloc(limit + 1, 'x') })),
        ),
        413,
        'payload-too-large',
        `/body/${multipart.fileField}`,
      );
    });

    it('refuses a body cut short: 400 upload-incomplete', async () => {
      const boundary = 'badinputboundary';
      const parts = Object.entries(baseFields())
        .map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`)
        .join('');
      const body = `${parts}--${boundary}\r\nContent-Disposition: form-data; name="${multipart.fileField}"; filename="cut.txt"\r\n\r\nThe file and the body end here`;
      const response = await withoutTrace(() =>
        rawCall(op, {
          params: base.params,
          token: base.token,
          headers: { ...(base.headers ?? {}), 'content-type': `multipart/form-data; boundary=${boundary}` },
          body,
        }),
      );
      expectProblem(response, 400, 'upload-incomplete');
    });
  } else if (op.hasBody) {
    it('refuses malformed JSON: 400 malformed-json', async () => {
      expectProblem(await withoutWrites(() => world.call(operationId, withRawBody('{"a":'))), 400, 'malformed-json');
    });

    it('knows the body’s fields (so the wrong-type cases below run)', () => {
      expect(fields.length).toBeGreaterThan(0);
      // Every field the fixture sends is one the wrong-type cases cover.
      expect(Object.keys((base.body ?? {}) as object).filter((f) => !fields.includes(f))).toEqual([]);
    });

    if (fields.length) {
      it.each(fields.map((f) => [f, f]))('refuses a wrong type for %s: 400 naming /body/%s', async (field) => {
        const body = {
          ...((base.body ?? {}) as object),
          [field]: wrongValueFor((bodySchema!.properties as Schema)[field]),
        };
        expectProblem(
          await withoutWrites(() => world.call(operationId, withBody(body))),
          400,
          'validation',
          `/body/${field}`,
        );
      });
    }

    it('refuses every string field one character over its maxLength: 400 naming the field', async () => {
      const cases = boundedStrings(bodySchema, base.body);
      // Every operation whose body has text has a bound on it to try (the walk cannot come up empty).
      const textField = (field: unknown) => {
        const f = flatten(field);
        return typeof (f.oneOf || f.anyOf ? branchFor(f, undefined) : f).maxLength === 'number';
      };
      if (Object.values((bodySchema?.properties as Schema | undefined) ?? {}).some(textField))
        expect(cases.length).toBeGreaterThan(0);
      const faults: Array<{ pointer: string; status: number; errors: unknown }> = [];
      for (const overLong of cases) {
        const response = await withoutWrites(() =>
          world.call(operationId, withBody(withOverLong(base.body, overLong))),
        );
        const errors = (response.body?.errors ?? []) as Array<{ pointer: string; code?: string }>;
        const named = errors.some((e) => e.pointer === overLong.pointer && e.code === 'maxLength');
        const stray = errors.filter(
          (e) => e.pointer !== overLong.pointer && !e.pointer.startsWith(`${overLong.pointer}/`),
        );
        if (response.status !== 400 || response.body?.type !== `${PROBLEM}validation` || !named || stray.length)
          faults.push({ pointer: overLong.pointer, status: response.status, errors });
      }
      expect(faults).toEqual([]);
    });

    it('refuses an unknown field: 400 naming it', async () => {
      const body = { ...((base.body ?? {}) as object), unexpectedField: 'x' };
      expectProblem(
        await withoutWrites(() => world.call(operationId, withBody(body))),
        400,
        'validation',
        '/body/unexpectedField',
      );
    });

    it('refuses a body over the size limit: 413 payload-too-large', async () => {
      const body = { ...((base.body ?? {}) as object), padding: 'x'.repeat(world.config.bodyLimitBytes + 1024) };
      expectProblem(await withoutWrites(() => world.call(operationId, withBody(body))), 413, 'payload-too-large');
    });

    it('refuses a body that is not JSON by media type (text/plain): 415', async () => {
      expectProblem(
        await withoutWrites(() => world.call(operationId, withRawBody(JSON.stringify(base.body ?? {}), 'text/plain'))),
        415,
        'unsupported-media-type',
      );
    });

    it.each([
      ['a JSON array', () => JSON.stringify([base.body ?? {}])],
      ['JSON null', () => 'null'],
      ['a JSON string', () => '"text"'],
    ])('refuses %s as the body: 400 naming /body', async (_what, raw) => {
      expectProblem(await withoutWrites(() => world.call(operationId, withRawBody(raw()))), 400, 'validation', '/body');
    });
  } else {
    it('refuses a body on an operation that takes none: 400 naming /body', async () => {
      const response = await withoutWrites(() =>
        rawCall(op, {
          params: base.params,
          token: base.token,
          headers: { ...(base.headers ?? {}), 'content-type': 'application/json' },
          body: '{"unexpected":true}',
        }),
      );
      expectProblem(response, 400, 'validation', '/body');
    });
  }

  if (pathParams.length) {
    it.each(pathParams.map((p) => [p, p]))(
      'refuses a malformed path parameter %s: 400 naming /path/%s',
      async (name) => {
        const schema = resolve(op.parameters.find((p) => p.in === 'path' && p.name === name)!.schema ?? {}) as Schema;
        // 'not-a-uuid' would be a valid lookup code, so keys and codes get a value no pattern allows.
        const bad = schema.format === 'uuid' ? 'not-a-uuid' : 'not a valid key!';
        const params = { ...(base.params ?? {}), [name]: bad };
        expectProblem(
          await withoutWrites(() => world.call(operationId, { ...withBody(base.body), params })),
          400,
          'validation',
          `/path/${name}`,
        );
      },
    );
  }

  it('refuses an unknown query parameter: 400 naming /query/unexpectedParam', async () => {
    // Every operation refuses unknown query parameters, not only the lists: a typo must not be ignored.
    const query = { ...(base.query ?? {}), unexpectedParam: '1' };
    expectProblem(
      await withoutWrites(() => world.call(operationId, { ...withBody(base.body), query })),
      400,
      'validation',
      '/query/unexpectedParam',
    );
  });

  if (hasLimit) {
    it.each([['abc'], ['0'], ['100000'], ['1.5']])('refuses limit=%s: 400 naming /query/limit', async (limit) => {
      const query = { ...(base.query ?? {}), limit };
      expectProblem(
        await withoutWrites(() => world.call(operationId, { ...withBody(base.body), query })),
        400,
        'validation',
        '/query/limit',
      );
    });
  }

  if (op.acceptsIdempotencyKey) {
    it('refuses a malformed Idempotency-Key: 400 naming /header/idempotency-key', async () => {
      const headers = { ...(base.headers ?? {}), 'idempotency-key': 'short' };
      expectProblem(
        await withoutWrites(() => world.call(operationId, { ...withBody(base.body), headers })),
        400,
        'validation',
        '/header/idempotency-key',
      );
    });
  }
});

describe('bounds that fit what the API itself hands out', () => {
  it('takes back the cursor of a page that ends on a name at its longest', async () => {
    lastFingerprint = null;
    // Commissioners are listed by name, so the cursor holds the last name on the page: 200
    // characters, here of two bytes each, escaped into JSON and then into base64url.
    const names = [unique('a').padEnd(200, 'é'), unique('b').padEnd(200, 'é')];
    for (const name of names) {
      const created = await world.call('createCommissioner', {
        token: world.a.adminToken,
        body: { name, kind: 'local_authority' },
      });
      expect(created.status).toBe(201);
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 500; page++) {
      const response = await world.call('listCommissioners', {
        token: world.a.adminToken,
        query: { limit: 1, ...(cursor ? { cursor } : {}) },
      });
      expect({ status: response.status, text: response.status === 200 ? '' : response.text.slice(0, 300) }).toEqual({
        status: 200,
        text: '',
      });
      seen.push(...(response.body.data as Array<{ name: string }>).map((c) => c.name));
      cursor = response.body.nextCursor ?? undefined;
      if (!cursor) break;
    }
    expect(names.filter((n) => !seen.includes(n))).toEqual([]);
  });
});
