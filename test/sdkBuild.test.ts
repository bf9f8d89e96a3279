import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../core/src/config';
import { run } from './support/processes';

/**
 * sdk/scripts/build.cjs when several builds of one checkout start together, as test files do (the
 * SDK package test packs it, the browser example's test builds it) on a clean clone: they take
 * turns, so one compiles and the others find it built, and none empties dist/ under another.
 * Run on a copy of the SDK's layout holding a one-line source, so a build takes a second or two;
 * the copy lives under the repository's dist/ so that the script finds TypeScript as it does in sdk/.
 */

const { version } = JSON.parse(fs.readFileSync(path.join(repoRoot, 'sdk', 'package.json'), 'utf8')) as {
  version: string;
};

let copy: string;

beforeAll(() => {
  fs.mkdirSync(path.join(repoRoot, 'dist'), { recursive: true });
  copy = fs.mkdtempSync(path.join(repoRoot, 'dist', 'sdk-build-'));
  const sdk = path.join(copy, 'sdk');
  fs.mkdirSync(path.join(sdk, 'scripts'), { recursive: true });
  fs.mkdirSync(path.join(sdk, 'src'));
  fs.mkdirSync(path.join(copy, 'openapi'));
  for (const file of [
    'package.json',
    'tsconfig.json',
    'tsconfig.cjs.json',
    path.join('scripts', 'build.cjs'),
    path.join('scripts', 'buildLock.cjs'),
  ])
    fs.copyFileSync(path.join(repoRoot, 'sdk', file), path.join(sdk, file));
  fs.copyFileSync(path.join(repoRoot, 'openapi', 'hearth.yaml'), path.join(copy, 'openapi', 'hearth.yaml'));
  fs.writeFileSync(path.join(sdk, 'src', 'index.ts'), 'export const built = true;\n');
});

afterAll(() => {
  if (copy) fs.rmSync(copy, { recursive: true, force: true });
});

it('compiles once when three builds start together, and each ends with the package whole', async () => {
  const script = path.join(copy, 'sdk', 'scripts', 'build.cjs');
  const builds = await Promise.all(
    [1, 2, 3].map(async () => {
      const ran = await run(process.execPath, [script], { cwd: path.join(copy, 'sdk') });
      // What a reader finds the moment this build returns (npm pack, Vite).
      const whole = [
        'esm/index.js',
        'esm/index.d.ts',
        'cjs/index.js',
        'cjs/index.d.ts',
        'cjs/package.json',
        '.inputs.sha256',
      ].every((f) => fs.existsSync(path.join(copy, 'sdk', 'dist', f)));
      return { code: ran.code, said: ran.stderr.replace(/ in [\d.]+ s/, '').trim(), whole };
    }),
  );
  expect(builds.map((b) => b.said).sort()).toEqual([
    `@hearth/sdk ${version}: built dist/esm and dist/cjs`,
    `@hearth/sdk ${version}: up to date`,
    `@hearth/sdk ${version}: up to date`,
  ]);
  expect(builds.every((b) => b.code === 0 && b.whole)).toBe(true);
}, 120_000);
