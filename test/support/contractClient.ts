import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { loadContract, type Contract, type ContractOperation } from '../../core/src/http/contract';

export interface HttpResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON where the response is JSON, else the text. */
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
  /** The body's bytes as they came (a downloaded file). */
  bytes: Buffer;
}

/** A multipart/form-data body: text parts, then the file part. */
export interface MultipartBody {
  fields?: Record<string, string>;
  file?: { field?: string; filename: string; bytes: Buffer | string; type?: string };
}

export interface RequestOptions {
  token?: string;
  apiKey?: string;
  body?: unknown;
  /** Sent as-is, with the content type given in headers (malformed JSON, other media types). */
  rawBody?: string | Buffer;
  multipart?: MultipartBody;
  headers?: Record<string, string>;
  query?: Record<string, string | number | boolean>;
}

let contract: Contract | null = null;
export function testContract(): Contract {
  contract ??= loadContract();
  return contract;
}

export async function http(
  baseUrl: string,
  method: string,
  path: string,
  options: RequestOptions = {},
): Promise<HttpResponse> {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.apiKey) headers['x-api-key'] = options.apiKey;
  let body: string | Buffer | FormData | undefined;
  if (options.rawBody !== undefined) body = options.rawBody;
  else if (options.multipart) body = formData(options.multipart);
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const url = new URL(path, baseUrl);
  for (const [k, v] of Object.entries(options.query ?? {})) url.searchParams.set(k, String(v));
  const response = await fetch(url, { method: method.toUpperCase(), headers, body });
  const bytes = Buffer.from(await response.arrayBuffer());
  const text = bytes.toString('utf8');
  const type = response.headers.get('content-type') ?? '';
  let parsed: unknown = text;
  if (type.includes('json') && text) parsed = JSON.parse(text);
  return { status: response.status, headers: response.headers, body: parsed, text, bytes };
}

export function formData(multipart: MultipartBody): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(multipart.fields ?? {})) form.append(name, value);
  if (multipart.file) {
    const { field = 'file', filename, bytes, type = 'application/octet-stream' } = multipart.file;
    form.append(field, new Blob([typeof bytes === 'string' ? Buffer.from(bytes) : bytes], { type }), filename);
  }
  return form;
}

/** What a suite that knows nothing of files sends to a multipart operation: its body as text parts, and a small text file. */
export function multipartFromBody(body: unknown): MultipartBody {
  const fields = Object.fromEntries(
    Object.entries((body ?? {}) as Record<string, unknown>).map(([k, v]) => [
      k,
      typeof v === 'string' ? v : JSON.stringify(v),
    ]),
  );
  return { fields, file: { filename: 'fixture.txt', bytes: 'A fixture document.\n', type: 'text/plain' } };
}

export function operation(operationId: string): ContractOperation {
  const op = testContract().byId.get(operationId);
  if (!op) throw new Error(`No operation ${operationId} in the contract`);
  return op;
}

export function pathFor(op: ContractOperation, params: Record<string, string> = {}): string {
  return op.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    if (params[name] === undefined) throw new Error(`${op.operationId} needs the path parameter ${name}`);
    return encodeURIComponent(params[name]);
  });
}

let ajvInstance: Ajv2020 | null = null;
/** One ajv for every response schema: compiling the components once is most of the cost. */
function sharedAjv(components: unknown): Ajv2020 {
  if (!ajvInstance) {
    ajvInstance = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajvInstance);
    ajvInstance.addSchema({ $id: 'hearth', components } as object);
  }
  return ajvInstance;
}

/** Validators for every declared response, so a test fails when the server answers outside the contract. */
const responseValidators = new Map<string, ValidateFunction | null>();
function responseValidator(
  op: ContractOperation,
  status: number,
  contentType: string,
): ValidateFunction | null | 'undeclared' {
  const document = testContract().document as {
    paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    components: unknown;
  };
  const responses = document.paths[op.path]![op.method]!.responses;
  const declared = (responses[String(status)] ?? responses.default) as
    { $ref?: string; content?: Record<string, { schema?: unknown }> } | undefined;
  if (!declared) return 'undeclared';
  const key = `${op.operationId} ${status} ${contentType}`;
  if (!responseValidators.has(key)) {
    let response = declared;
    if (response.$ref)
      response = response.$ref
        .replace(/^#\//, '')
        .split('/')
        .reduce<any>((n, k) => n[k], document); // eslint-disable-line @typescript-eslint/no-explicit-any
    const media = contentType.split(';')[0]!.trim();
    const schema = response.content?.[media]?.schema;
    if (!schema) {
      responseValidators.set(key, null);
    } else {
      const ajv = sharedAjv(document.components);
      const rewrite = (node: unknown): unknown => {
        if (Array.isArray(node)) return node.map(rewrite);
        if (node && typeof node === 'object') {
          return Object.fromEntries(
            Object.entries(node).map(([k, v]) => [
              k,
              k === '$ref' && typeof v === 'string' && v.startsWith('#/') ? `hearth${v}` : rewrite(v),
            ]),
          );
        }
        return node;
      };
      responseValidators.set(key, ajv.compile(rewrite(schema) as object));
    }
  }
  return responseValidators.get(key)!;
}

/** Checks a response against the contract: its status is declared, and a JSON body matches the schema. */
export function assertMatchesContract(op: ContractOperation, response: HttpResponse): void {
  const contentType = response.headers.get('content-type') ?? '';
  const validator = responseValidator(op, response.status, contentType);
  if (validator === 'undeclared')
    throw new Error(
      `${op.operationId} answered ${response.status}, which the contract does not declare: ${response.text.slice(0, 300)}`,
    );
  if (validator && contentType.includes('json') && !validator(response.body)) {
    throw new Error(
      `${op.operationId} ${response.status} does not match the contract: ${JSON.stringify(validator.errors)} in ${response.text.slice(0, 500)}`,
    );
  }
  if (response.status >= 400 && !contentType.startsWith('application/problem+json')) {
    throw new Error(`${op.operationId} ${response.status} is not a problem document (${contentType})`);
  }
}

export interface CallOptions extends RequestOptions {
  params?: Record<string, string>;
}

/** Calls an operation by its operationId, and checks the answer against the contract. */
export async function call(baseUrl: string, operationId: string, options: CallOptions = {}): Promise<HttpResponse> {
  const op = operation(operationId);
  const multipart =
    op.multipart && options.multipart === undefined && options.rawBody === undefined
      ? { multipart: multipartFromBody(options.body) }
      : {};
  const response = await http(baseUrl, op.method, pathFor(op, options.params), { ...options, ...multipart });
  assertMatchesContract(op, response);
  return response;
}
