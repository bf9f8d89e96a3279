import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../core/src/config';
import { checkOperationsMatchContract } from '../core/src/http/router';
import { allOperations } from '../core/src/modules';
import YAML from 'yaml';
import { readContractDocument } from '../core/src/http/contract';
import { DEFAULTED_QUERY_PARAMETERS } from '../core/src/http/operation';
import { testContract } from './support/contractClient';

/** The joined contract (hearth.yaml with openapi/modules/*), written where the tools can read it. */
function bundledContractFile(): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-contract-')), 'hearth.yaml');
  fs.writeFileSync(file, YAML.stringify(readContractDocument(), { lineWidth: 0 }));
  return file;
}

const contract = testContract();
const document = contract.document as {
  paths: Record<string, Record<string, { responses: Record<string, unknown>; security?: unknown[] }>>;
};
const routed = contract.operations.filter((o) => o.tenancy !== 'system');
const responsesOf = (op: (typeof routed)[number]) => document.paths[op.path]![op.method]!.responses;

describe('the contract', () => {
  it('passes redocly lint with no errors', () => {
    const result = spawnSync(
      process.execPath,
      [
        require.resolve('@redocly/cli/bin/cli.js'),
        'lint',
        bundledContractFile(),
        '--format=stylish',
        '--config',
        path.join(repoRoot, 'redocly.yaml'),
      ],
      { cwd: repoRoot, encoding: 'utf8' },
    );
    expect({ status: result.status, output: result.status === 0 ? '' : result.stdout + result.stderr }).toEqual({
      status: 0,
      output: '',
    });
  });

  it('has exactly one handler per routed operation', () => {
    expect(() => checkOperationsMatchContract(contract, allOperations())).not.toThrow();
  });

  it('declares for every operation how it is scoped, and the errors the router can give', () => {
    const faults: string[] = [];
    for (const op of routed) {
      const responses = responsesOf(op);
      if (!['tenant', 'platform', 'public'].includes(op.tenancy)) faults.push(`${op.operationId}: x-hearth-tenancy`);
      if (!responses['400']) faults.push(`${op.operationId}: 400`);
      if (op.tenancy !== 'public' && !responses['401']) faults.push(`${op.operationId}: 401`);
      if (op.tenancy !== 'public' && !responses['403']) faults.push(`${op.operationId}: 403`);
      if (op.parameters.some((p) => p.in === 'path') && !responses['404']) faults.push(`${op.operationId}: 404`);
      if (op.hasBody && !(responses['413'] && responses['415'])) faults.push(`${op.operationId}: 413/415`);
      if (
        ['patch', 'put', 'delete'].includes(op.method) &&
        !(op.requiresIfMatch && responses['412'] && responses['428'])
      )
        faults.push(`${op.operationId}: If-Match, 412, 428`);
    }
    expect(faults).toEqual([]);
  });
});

describe('the SDK', () => {
  it('is generated from the current contract (npm run generate leaves it unchanged)', () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-sdk-')), 'schema.ts');
    const result = spawnSync(
      process.execPath,
      [path.join(repoRoot, 'node_modules', 'openapi-typescript', 'bin', 'cli.js'), bundledContractFile(), '-o', out],
      { cwd: repoRoot, encoding: 'utf8' },
    );
    expect(result.status).toBe(0);
    const committed = fs.readFileSync(path.join(repoRoot, 'sdk', 'src', 'schema.ts'), 'utf8');
    expect(fs.readFileSync(out, 'utf8') === committed).toBe(true);
  });
});

describe('the handlers’ types', () => {
  it('count as always present only query parameters the contract gives a default wherever they appear', () => {
    const document = readContractDocument() as {
      paths: Record<string, Record<string, { parameters?: unknown[] }>>;
      components: Record<string, Record<string, unknown>>;
    };
    const resolve = (node: unknown): Record<string, unknown> => {
      let current = node as Record<string, unknown>;
      while (typeof current?.$ref === 'string')
        current = (current.$ref as string)
          .slice(2)
          .split('/')
          .reduce<unknown>((at, key) => (at as Record<string, unknown>)[key], document) as Record<string, unknown>;
      return current;
    };
    const withDefault = new Set<string>();
    const without = new Set<string>();
    for (const item of Object.values(document.paths)) {
      for (const operation of Object.values(item)) {
        for (const parameter of [
          ...((item as { parameters?: unknown[] }).parameters ?? []),
          ...(operation.parameters ?? []),
        ].map(resolve)) {
          if (parameter.in !== 'query') continue;
          (resolve(parameter.schema).default !== undefined ? withDefault : without).add(parameter.name as string);
        }
      }
    }
    // Each listed name has a default somewhere and none where it appears without one (typed present, it
    // would be absent there). A name defaulted only in some operations stays optional in every handler.
    expect(DEFAULTED_QUERY_PARAMETERS.filter((name) => !withDefault.has(name) || without.has(name))).toEqual([]);
    expect([...withDefault].filter((name) => !without.has(name)).sort()).toEqual(
      [...DEFAULTED_QUERY_PARAMETERS].sort(),
    );
  });
});
