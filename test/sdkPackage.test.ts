import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '../core/src/config';
import { startWorld, TEST_PASSWORD, type World } from './support/harness';

/**
 * @hearth/sdk as an agency gets it: `npm pack` (whose prepack builds it), the tarball installed
 * into a scratch project outside the repository, a typed call compiled there with plain `tsc`
 * under the strictest flags and run with `node` as an ES module and as CommonJS, and a front end's
 * module bundled for the browser with esbuild and run with only a browser's globals. Every call
 * goes to a real Hearth started here. Nothing is skipped: without the registry or npm's cache the
 * install fails, and so does this test.
 */

const sdkDir = path.join(repoRoot, 'sdk');
const installedVersion = (name: string): string =>
  (
    JSON.parse(fs.readFileSync(path.join(repoRoot, 'node_modules', name, 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end without blocking the event loop (the server under test shares it). */
function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A run that must succeed: its output, or a failure that shows what it printed. */
async function succeed(
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<string> {
  const ran = await run(command, args, options);
  if (ran.code !== 0)
    throw new Error(
      `${command} ${args.join(' ')} (in ${options.cwd}) exited ${ran.code}:\n${ran.stdout}\n${ran.stderr}`,
    );
  return ran.stdout;
}

// The consumer's sources. Lines marked `// fails:` must each be a compile error, and no other line may be.

/** The same journey as an ES module and as CommonJS; only the import and the resolver differ. */
const journey = (family: string) => `
function need(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(\`\${name} is not set\`);
  return value;
}

async function main(): Promise<void> {
  // A value that may be missing, passed to an optional option: legal under exactOptionalPropertyTypes.
  const client = createHearthClient({ baseUrl: need('HEARTH_URL'), apiKey: process.env['HEARTH_API_KEY'] });
  await client.login({ tenant: need('HEARTH_TENANT'), email: need('HEARTH_EMAIL'), password: need('HEARTH_PASSWORD') });
  const body = { givenName: 'Packed', familyName: '${family}', dateOfBirth: '2016-05-06', sex: 'female', ethnicity: 'WBRI' };
  const created = await unwrap(client.POST('/v1/children', { body }));
  const child: Schema<'Child'> = await unwrap(client.GET('/v1/children/{childId}', { params: { path: { childId: created.id } } }));
  const refused: unknown = await unwrap(client.POST('/v1/children', { body: { ...body, dateOfBirth: '06/05/2016' } })).catch((error: unknown) => error);
  if (!(refused instanceof HearthProblem)) throw new Error(\`expected a HearthProblem, got \${String(refused)}\`);
  const problem = { status: refused.status, type: refused.type, pointers: refused.errors.map((e) => e.pointer) };
  console.log(JSON.stringify({ sdk: resolved, child: { id: child.id, familyName: child.familyName, status: child.status }, problem }));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
`;

const consumerFiles: Record<string, string> = {
  'package.json': JSON.stringify({ name: 'hearth-sdk-consumer', version: '0.0.0', private: true }, null, 2),
  // What an agency on current TypeScript compiles with, and stricter: a fault inside the SDK's
  // declarations fails here (skipLibCheck off).
  'tsconfig.json': JSON.stringify(
    {
      compilerOptions: {
        target: 'ES2022',
        module: 'nodenext',
        moduleResolution: 'nodenext',
        lib: ['ES2022'],
        types: ['node'],
        strict: true,
        exactOptionalPropertyTypes: true,
        noUncheckedIndexedAccess: true,
        noPropertyAccessFromIndexSignature: true,
        verbatimModuleSyntax: true,
        isolatedModules: true,
        skipLibCheck: false,
        outDir: 'out',
        rootDir: '.',
      },
      include: ['*.mts', '*.cts'],
    },
    null,
    2,
  ),
  'call.mts': `import { createHearthClient, HearthProblem, unwrap, type Schema } from '@hearth/sdk';
const resolved = import.meta.resolve('@hearth/sdk');
${journey('Esm')}`,
  'call.cts': `import sdk = require('@hearth/sdk');
import type { Schema } from '@hearth/sdk';
const { createHearthClient, HearthProblem, unwrap } = sdk;
const resolved = require.resolve('@hearth/sdk');
${journey('Cjs')}`,
  'wrong.mts': `import { createHearthClient, type Schema } from '@hearth/sdk';

const client = createHearthClient({ baseUrl: 'http://127.0.0.1:9' });

export async function wrong(child: Schema<'Child'>): Promise<void> {
  await client.GET('/v1/childrn', {}); // fails: no such path
  await client.POST('/v1/children', { body: { givenName: 'Only' } }); // fails: a new child needs a family name, a date of birth and a sex
  await client.GET('/v1/children', { params: { query: { limit: 'ten' } } }); // fails: limit is a number
  console.log(child.name); // fails: a Child has no name
  createHearthClient({ baseUrl: 'http://127.0.0.1:9', apiKey: 42 }); // fails: an API key is a string
}
`,
  'wrong.cts': `import sdk = require('@hearth/sdk');

const client = sdk.createHearthClient({ baseUrl: 'http://127.0.0.1:9' });

function wrong(): void {
  void client.PATCH('/v1/children/{childId}', { params: { path: { childId: 'x' } }, body: { givenName: 'x' } }); // fails: an update needs If-Match
}

export = wrong;
`,
  // A front end's module: bundled for the browser, it may use nothing of Node's.
  'browser.mts': `import { createHearthClient, ifMatch, unwrap, type Schema } from '@hearth/sdk';

export async function journey(baseUrl: string, login: { tenant: string; email: string; password: string }): Promise<Schema<'Child'>> {
  const client = createHearthClient({ baseUrl });
  await client.login(login);
  const created = await client.POST('/v1/children', { body: { givenName: 'Packed', familyName: 'Browser', dateOfBirth: '2016-05-06', sex: 'female', ethnicity: 'WBRI' } });
  if (!created.data) throw new Error(\`create failed: \${created.response.status}\`);
  return unwrap(client.PATCH('/v1/children/{childId}', { params: { path: { childId: created.data.id }, header: ifMatch(created.response) }, body: { preferredName: 'Bundled' } }));
}
`,
  // Runs the bundle as a browser's <script> would, in a realm holding only what a browser has:
  // no process, require, module or Buffer. The fetch family is Node's (undici), as a browser has its own.
  'run-bundle.cjs': `const fs = require('node:fs');
const vm = require('node:vm');
const browser = vm.createContext({ fetch, Request, Response, Headers, URL, URLSearchParams, AbortController, AbortSignal, FormData, Blob, TextEncoder, TextDecoder, console, setTimeout, clearTimeout, queueMicrotask });
vm.runInContext(fs.readFileSync('bundle/browser.js', 'utf8'), browser, { filename: 'bundle/browser.js' });
const globals = vm.runInContext('[typeof process, typeof require, typeof module, typeof Buffer]', browser);
browser.HearthJourney.journey(process.env.HEARTH_URL, { tenant: process.env.HEARTH_TENANT, email: process.env.HEARTH_EMAIL, password: process.env.HEARTH_PASSWORD })
  .then((child) => console.log(JSON.stringify({ globals, child: { id: child.id, familyName: child.familyName, preferredName: child.preferredName, version: child.version } })))
  .catch((error) => { console.error(error); process.exit(1); });
`,
};

/** The file and line of every line marked `// fails:` in the consumer's sources. */
const markedFailures = Object.entries(consumerFiles)
  .flatMap(([file, text]) =>
    text.split('\n').flatMap((line, i) => (line.includes('// fails:') ? [`${file}:${i + 1}`] : [])),
  )
  .sort();

interface PackedFile {
  path: string;
}

let world: World;
let scratch: string;
let packed: { filename: string; version: string; files: PackedFile[] };
let compiled: Ran;

beforeAll(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-sdk-consumer-'));
  const packDir = path.join(scratch, 'pack');
  const project = path.join(scratch, 'project');
  fs.mkdirSync(packDir);
  fs.mkdirSync(project);
  for (const [file, text] of Object.entries(consumerFiles)) fs.writeFileSync(path.join(project, file), text);

  const install = (async () => {
    // prepack builds dist/ (or finds it up to date); its messages go to stderr, so stdout is npm's JSON.
    const output = await succeed('npm', ['pack', '--json', '--pack-destination', packDir], { cwd: sdkDir });
    packed = (JSON.parse(output) as (typeof packed)[])[0]!;
    // The consumer's own TypeScript and Node types, at the versions this repository is checked with.
    await succeed(
      'npm',
      [
        'install',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        path.join(packDir, packed.filename),
        `typescript@${installedVersion('typescript')}`,
        `@types/node@${installedVersion('@types/node')}`,
      ],
      { cwd: project },
    );
    compiled = await run(
      process.execPath,
      [path.join(project, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.', '--pretty', 'false'],
      { cwd: project },
    );
  })();
  [world] = await Promise.all([startWorld(), install]);
  // About 40 s on an idle machine when the SDK must be built first; the margin is for a loaded one.
}, 300_000);

afterAll(async () => {
  await world?.close();
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

const project = () => path.join(scratch, 'project');
const serverEnv = (): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  HEARTH_URL: world.url,
  HEARTH_TENANT: world.a.slug,
  HEARTH_EMAIL: world.a.adminEmail,
  HEARTH_PASSWORD: TEST_PASSWORD,
});

/** The child as the server holds it, read behind the SDK's back. */
async function childOnServer(id: string): Promise<unknown> {
  const read = await world.http('GET', `/v1/children/${id}`, { token: world.a.adminToken });
  expect(read.status).toBe(200);
  return read.body;
}

describe('the @hearth/sdk tarball', () => {
  it('holds the built ES module and CommonJS output with their declarations, and no tests or TypeScript sources', () => {
    const files = packed.files.map((f) => f.path).sort();
    expect(files.filter((f) => /\.test\.|(?<!\.d)\.ts$|^src\/|^scripts\//.test(f))).toEqual([]);
    for (const format of ['esm', 'cjs']) {
      for (const module of ['index', 'client', 'schema'])
        expect(files).toEqual(expect.arrayContaining([`dist/${format}/${module}.js`, `dist/${format}/${module}.d.ts`]));
    }
    expect(files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'dist/cjs/package.json']));
    expect(
      files.every(
        (f) => ['package.json', 'README.md'].includes(f) || f.startsWith('dist/esm/') || f.startsWith('dist/cjs/'),
      ),
    ).toBe(true);
  });

  it('is versioned as the contract is, and the build refuses a version that differs', async () => {
    const contract = parse(fs.readFileSync(path.join(repoRoot, 'openapi', 'hearth.yaml'), 'utf8')) as {
      info: { version: string };
    };
    expect(packed.version).toBe(contract.info.version);

    // The build script in a copy of the layout it expects, with the package a version ahead.
    const copy = fs.mkdtempSync(path.join(scratch, 'version-'));
    fs.mkdirSync(path.join(copy, 'sdk', 'scripts'), { recursive: true });
    fs.mkdirSync(path.join(copy, 'openapi'));
    fs.copyFileSync(path.join(sdkDir, 'scripts', 'build.cjs'), path.join(copy, 'sdk', 'scripts', 'build.cjs'));
    fs.copyFileSync(path.join(sdkDir, 'scripts', 'buildLock.cjs'), path.join(copy, 'sdk', 'scripts', 'buildLock.cjs'));
    fs.copyFileSync(path.join(repoRoot, 'openapi', 'hearth.yaml'), path.join(copy, 'openapi', 'hearth.yaml'));
    fs.writeFileSync(
      path.join(copy, 'sdk', 'package.json'),
      JSON.stringify({ name: '@hearth/sdk', version: '99.0.0' }),
    );
    const refused = await run(process.execPath, [path.join(copy, 'sdk', 'scripts', 'build.cjs')], {
      cwd: path.join(copy, 'sdk'),
    });
    expect({ code: refused.code, stderr: refused.stderr }).toEqual({
      code: 1,
      stderr: expect.stringContaining(
        `@hearth/sdk is version 99.0.0 (sdk/package.json) but the contract is ${contract.info.version}`,
      ),
    });
    expect(fs.existsSync(path.join(copy, 'sdk', 'dist'))).toBe(false);
  });

  it('installs with exports that point at files it holds, and no private flag', () => {
    const manifest = JSON.parse(
      fs.readFileSync(path.join(project(), 'node_modules', '@hearth', 'sdk', 'package.json'), 'utf8'),
    ) as Record<string, unknown>;
    expect(manifest['private']).toBeUndefined();
    const targets = JSON.stringify(manifest['exports']).match(/"\.\/dist\/[^"]+"/g) ?? [];
    expect(targets).toHaveLength(4);
    for (const target of [
      ...targets.map((t) => JSON.parse(t) as string),
      manifest['main'],
      manifest['module'],
      manifest['types'],
    ]) {
      expect(fs.existsSync(path.join(project(), 'node_modules', '@hearth', 'sdk', String(target)))).toBe(true);
    }
  });

  it('type-checks a consumer under plain tsc (nodenext, strict, skipLibCheck off): errors exactly on the lines that must fail', () => {
    const errors = [
      ...new Set([...compiled.stdout.matchAll(/^([^\s(]+)\((\d+),\d+\): error TS\d+/gm)].map((m) => `${m[1]}:${m[2]}`)),
    ].sort();
    // tsc exits 2 for errors it still emitted output for; every error must be a marked line, and every marked line an error.
    expect({ errors, stderr: compiled.stderr }).toEqual({ errors: markedFailures, stderr: '' });
    expect(markedFailures).toHaveLength(6);
    expect(compiled.code).toBe(2);
  });

  it('runs the compiled call as an ES module against a running Hearth', async () => {
    const out = JSON.parse(await succeed(process.execPath, ['out/call.mjs'], { cwd: project(), env: serverEnv() })) as {
      sdk: string;
      child: { id: string };
    };
    expect(out).toMatchObject({
      sdk: expect.stringMatching(/node_modules\/@hearth\/sdk\/dist\/esm\/index\.js$/),
      child: { familyName: 'Esm', status: 'referred' },
      problem: { status: 400, type: 'https://hearth.dev/problems/validation', pointers: ['/body/dateOfBirth'] },
    });
    expect(await childOnServer(out.child.id)).toMatchObject({ id: out.child.id, familyName: 'Esm' });
  });

  it('runs the compiled call as CommonJS against a running Hearth', async () => {
    const out = JSON.parse(await succeed(process.execPath, ['out/call.cjs'], { cwd: project(), env: serverEnv() })) as {
      sdk: string;
      child: { id: string };
    };
    expect(out).toMatchObject({
      sdk: expect.stringMatching(/node_modules\/@hearth\/sdk\/dist\/cjs\/index\.js$/),
      child: { familyName: 'Cjs', status: 'referred' },
      problem: { status: 400, type: 'https://hearth.dev/problems/validation', pointers: ['/body/dateOfBirth'] },
    });
    expect(await childOnServer(out.child.id)).toMatchObject({ id: out.child.id, familyName: 'Cjs' });
  });

  it('bundles for the browser with esbuild, and the bundle runs with only a browser’s globals', async () => {
    const esbuild = path.join(repoRoot, 'node_modules', 'esbuild-wasm', 'bin', 'esbuild');
    await succeed(
      process.execPath,
      [
        esbuild,
        'browser.mts',
        '--bundle',
        '--platform=browser',
        '--format=iife',
        '--global-name=HearthJourney',
        '--target=es2022',
        '--outfile=bundle/browser.js',
        '--metafile=bundle/meta.json',
        '--log-level=warning',
      ],
      { cwd: project() },
    );
    const meta = JSON.parse(fs.readFileSync(path.join(project(), 'bundle', 'meta.json'), 'utf8')) as {
      inputs: Record<string, unknown>;
      outputs: Record<string, { imports: unknown[] }>;
    };
    // The ES module build and openapi-fetch went in whole; nothing is left for a runtime to resolve.
    expect(Object.keys(meta.inputs)).toEqual(
      expect.arrayContaining([
        'node_modules/@hearth/sdk/dist/esm/index.js',
        'node_modules/@hearth/sdk/dist/esm/client.js',
        'node_modules/openapi-fetch/dist/index.mjs',
      ]),
    );
    expect(Object.keys(meta.inputs).filter((input) => input.includes('/dist/cjs/'))).toEqual([]);
    expect(meta.outputs['bundle/browser.js']?.imports).toEqual([]);

    const out = JSON.parse(
      await succeed(process.execPath, ['run-bundle.cjs'], { cwd: project(), env: serverEnv() }),
    ) as { globals: string[]; child: { id: string } };
    expect(out).toMatchObject({
      globals: ['undefined', 'undefined', 'undefined', 'undefined'],
      child: { familyName: 'Browser', preferredName: 'Bundled', version: 2 },
    });
    expect(await childOnServer(out.child.id)).toMatchObject({ id: out.child.id, preferredName: 'Bundled' });
  });
});
