#!/usr/bin/env node
/*
 * Builds the published package: dist/esm (ES modules) and dist/cjs (CommonJS), each with the
 * declarations of its own module format, compiled by tsc from src/ (see tsconfig.json and
 * tsconfig.cjs.json). Run by `npm run build` here and at the root, and by `prepack`.
 *
 * 1. The package's version must be the contract's `info.version` (openapi/hearth.yaml): the SDK is
 *    the contract's types, so `@hearth/sdk@X` speaks contract X. A difference stops the build.
 * 2. The inputs (sources, configs, this script, the TypeScript version) are hashed; when the hash
 *    is the one the last build wrote and its outputs are there, nothing is compiled, so the root
 *    build (and `npm start`) pays for the SDK only when its sources change.
 * 3. Otherwise dist/ is emptied and both formats are compiled from scratch, so a file removed
 *    from src/ never lingers in a tarball.
 * 4. One build of a checkout at a time: builds started together (two test files, `npm start` beside
 *    the tests) take turns, so none empties dist/ while another compiles into it or reads it, and
 *    the ones that wait find it built.
 */
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { withBuildLock } = require('./buildLock.cjs');

const sdkDir = path.join(__dirname, '..');
const distDir = path.join(sdkDir, 'dist');
const stampFile = path.join(distDir, '.inputs.sha256');
const contractFile = path.join(sdkDir, '..', 'openapi', 'hearth.yaml');
const CONFIGS = ['tsconfig.json', 'tsconfig.cjs.json'];
const OUTPUTS = ['esm/index.js', 'esm/index.d.ts', 'cjs/index.js', 'cjs/index.d.ts', 'cjs/package.json'];

/**
 * The contract's `info.version`: the `version:` line directly under the top-level `info:` key. Read
 * as a line rather than by parsing the YAML, which (the contract is long) would cost every
 * `npm start` a noticeable part of a second.
 */
function contractVersion() {
  const lines = fs.readFileSync(contractFile, 'utf8').split(/\r?\n/);
  const start = lines.findIndex((line) => /^info:\s*$/.test(line));
  const end = lines.findIndex((line, i) => i > start && /^[^\s#]/.test(line));
  const block = start < 0 ? [] : lines.slice(start + 1, end < 0 ? undefined : end);
  const indent = block.find((line) => line.trim() !== '')?.match(/^\s*/)?.[0] ?? '  ';
  for (const line of block) {
    const match = line.match(/^(\s*)version:\s*(?:"([^"]+)"|'([^']+)'|([^\s#'"]+))\s*(?:#.*)?$/);
    if (match && match[1] === indent) return match[2] ?? match[3] ?? match[4];
  }
  throw new Error(
    'openapi/hearth.yaml: no info.version found (a `version:` line directly under the top-level `info:`)',
  );
}

/** Throws unless the package's version is the contract's, naming both files and both versions. */
function checkVersion() {
  const contract = contractVersion();
  const { version } = JSON.parse(fs.readFileSync(path.join(sdkDir, 'package.json'), 'utf8'));
  if (version !== contract) {
    throw new Error(
      `@hearth/sdk is version ${version} (sdk/package.json) but the contract is ${contract} (openapi/hearth.yaml info.version). ` +
        `They are released together: run \`npm version ${contract} --no-git-tag-version -w sdk\` at the root.`,
    );
  }
  return version;
}

/** The sources the package is compiled from: every .ts under src/ except tests. */
function sourceFiles(dir = path.join(sdkDir, 'src')) {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) return sourceFiles(file);
      return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [file] : [];
    })
    .sort();
}

function inputsHash() {
  const hash = crypto.createHash('sha256');
  hash.update(`typescript ${require('typescript/package.json').version}\n`);
  for (const file of [
    ...sourceFiles(),
    ...CONFIGS.map((c) => path.join(sdkDir, c)),
    path.join(sdkDir, 'package.json'),
    __filename,
  ]) {
    hash.update(`${path.relative(sdkDir, file)}\n`);
    hash.update(fs.readFileSync(file));
  }
  return hash.digest('hex');
}

function upToDate(hash) {
  if (!fs.existsSync(stampFile) || fs.readFileSync(stampFile, 'utf8') !== hash) return false;
  return OUTPUTS.every((output) => fs.existsSync(path.join(distDir, output)));
}

/** Runs `tsc -p <config>`, resolving to its output when it fails and to null when it succeeds. */
function compile(config) {
  return new Promise((resolve) => {
    const tsc = spawn(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(sdkDir, config)], {
      cwd: sdkDir,
    });
    let output = '';
    tsc.stdout.on('data', (chunk) => (output += chunk));
    tsc.stderr.on('data', (chunk) => (output += chunk));
    tsc.on('close', (code) => resolve(code === 0 ? null : `tsc -p sdk/${config} failed:\n${output}`));
  });
}

async function main() {
  const version = checkVersion();
  await withBuildLock(
    `hearth-sdk-build-${crypto.createHash('sha256').update(sdkDir).digest('hex').slice(0, 16)}`,
    '@hearth/sdk',
    () => build(version),
  );
}

async function build(version) {
  const hash = inputsHash();
  if (upToDate(hash)) {
    process.stderr.write(`@hearth/sdk ${version}: up to date\n`);
    return;
  }
  const started = Date.now();
  fs.rmSync(distDir, { recursive: true, force: true });
  // One after the other, though they do not depend on each other: side by side they would save a
  // few seconds once, and take a core from whatever runs beside them (the test suite, on two cores).
  const failures = [];
  for (const config of CONFIGS) {
    const failure = await compile(config);
    if (failure !== null) failures.push(failure);
  }
  if (failures.length > 0) {
    // Leave no half-built dist/ behind that a later run or a pack could mistake for a good one.
    fs.rmSync(distDir, { recursive: true, force: true });
    throw new Error(failures.join('\n'));
  }
  // The package is "type": "module", so .js files are ES modules unless a nearer package.json says
  // otherwise: this one makes dist/cjs CommonJS for Node and its .d.ts CommonJS for TypeScript.
  fs.writeFileSync(path.join(distDir, 'cjs', 'package.json'), `${JSON.stringify({ type: 'commonjs' }, null, 2)}\n`);
  fs.writeFileSync(stampFile, hash);
  process.stderr.write(
    `@hearth/sdk ${version}: built dist/esm and dist/cjs in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
