#!/usr/bin/env node
/*
 * `npm run build` and the build step of `npm start`: the contract bundled, the SDK's types generated
 * from it, core, migrations and plugins compiled by tsc into dist/, and the SDK package built.
 *
 * It compiles only when something it compiles from has changed: the inputs (the sources, the
 * contract, the compiler configs, this script, the TypeScript version) are hashed, and when the hash
 * is the one the last successful build wrote beside its outputs, nothing runs. A second `npm start`
 * therefore pays a fraction of a second, not the ~20 s of a full tsc build. Contents are hashed
 * rather than modification times compared, because a clone, a checkout or a copy sets every time
 * afresh while the contents say whether anything changed.
 *
 *   node core/scripts/build.cjs            build if the inputs changed
 *   node core/scripts/build.cjs --force    build whatever the stamp says
 */
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { withBuildLock } = require('../../sdk/scripts/buildLock.cjs');

const root = path.join(__dirname, '..', '..');
const dist = path.join(root, 'dist');
const stampFile = path.join(dist, '.inputs.sha256');
const OUTPUTS = ['core/src/main.js', 'contract/openapi.yaml', 'migrations/index.js'];

/** Where the inputs are: folders walked for files with these endings, and single files. */
const INPUT_DIRS = [
  ['core/src', ['.ts']],
  ['sdk/src', ['.ts']],
  ['migrations', ['.ts']],
  ['plugins', ['.ts', '.json']],
  ['openapi', ['.yaml', '.js']],
];
const INPUT_FILES = [
  'package.json',
  'tsconfig.json',
  'tsconfig.build.json',
  'sdk/package.json',
  'sdk/tsconfig.json',
  'sdk/tsconfig.cjs.json',
  'sdk/scripts/build.cjs',
  'core/scripts/build.cjs',
];
// Written by the build itself from the contract, which is hashed: hashing it too would make every
// build that regenerates it look like a change.
const GENERATED = new Set(['sdk/src/schema.ts']);

function walk(dir, endings) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory())
      return entry.name === 'node_modules' || entry.name.startsWith('.') ? [] : walk(file, endings);
    return endings.some((e) => entry.name.endsWith(e)) && !entry.name.endsWith('.test.ts') ? [file] : [];
  });
}

function inputFiles() {
  const files = INPUT_DIRS.flatMap(([dir, endings]) => walk(path.join(root, dir), endings));
  for (const file of INPUT_FILES) files.push(path.join(root, file));
  return files
    .map((file) => path.relative(root, file).split(path.sep).join('/'))
    .filter((file) => !GENERATED.has(file))
    .sort();
}

function inputsHash() {
  const hash = crypto.createHash('sha256');
  hash.update(`node ${process.versions.node.split('.')[0]} typescript ${require('typescript/package.json').version}\n`);
  for (const file of inputFiles()) {
    hash.update(`${file}\n`);
    hash.update(fs.readFileSync(path.join(root, file)));
  }
  return hash.digest('hex');
}

function upToDate(hash) {
  if (!fs.existsSync(stampFile) || fs.readFileSync(stampFile, 'utf8') !== hash) return false;
  return OUTPUTS.every((output) => fs.existsSync(path.join(dist, output)));
}

/** Runs one step, its output passed through; rejects naming the step when it fails. */
function step(label, command, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${label} failed (exit ${code})`))));
  });
}

async function build(force) {
  const hash = inputsHash();
  if (!force && upToDate(hash)) {
    process.stderr.write('Hearth: dist/ is built from the current sources; nothing to compile\n');
    return;
  }
  const started = Date.now();
  // A failed build must not leave a stamp that vouches for what is in dist/.
  fs.rmSync(stampFile, { force: true });
  const node = process.execPath;
  await step('bundling the contract', node, [
    path.join(root, 'openapi', 'bundle.js'),
    path.join(dist, 'contract', 'openapi.yaml'),
  ]);
  await step('generating the SDK types', node, [
    path.join(path.dirname(require.resolve('openapi-typescript/package.json')), 'bin', 'cli.js'),
    path.join(dist, 'contract', 'openapi.yaml'),
    '-o',
    path.join(root, 'sdk', 'src', 'schema.ts'),
  ]);
  await step('tsc -p tsconfig.build.json', node, [
    require.resolve('typescript/bin/tsc'),
    '-p',
    path.join(root, 'tsconfig.build.json'),
  ]);
  await step('building @hearth/sdk', node, [path.join(root, 'sdk', 'scripts', 'build.cjs')]);
  fs.writeFileSync(stampFile, hash);
  process.stderr.write(`Hearth: built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

async function main() {
  const force = process.argv.includes('--force');
  const name = `hearth-build-${crypto.createHash('sha256').update(root).digest('hex').slice(0, 16)}`;
  await withBuildLock(name, 'Hearth', () => build(force));
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
