#!/usr/bin/env node
/*
 * The contract is `openapi/hearth.yaml` (info, shared components, the foundation's paths) plus one
 * file per domain module in `openapi/modules/`, each holding that module's tags, paths and
 * components. This joins them into the one OpenAPI document the router, the SDK generator and the
 * linter read; a path, tag or component named twice is an error naming both files.
 *
 *   node openapi/bundle.js <out.yaml>   writes the joined document
 */
const fs = require('node:fs');
const path = require('node:path');
const YAML = require('yaml');

const COMPONENT_KINDS = ['schemas', 'parameters', 'responses', 'headers'];

function bundleContract(dir = __dirname) {
  const rootFile = path.join(dir, 'hearth.yaml');
  const document = YAML.parse(fs.readFileSync(rootFile, 'utf8'));
  const owner = new Map();
  const claim = (key, file) => {
    if (owner.has(key)) throw new Error(`openapi: ${key} is declared in both ${owner.get(key)} and ${file}`);
    owner.set(key, file);
  };
  for (const p of Object.keys(document.paths ?? {})) claim(`paths ${p}`, 'hearth.yaml');
  for (const kind of COMPONENT_KINDS)
    for (const name of Object.keys(document.components?.[kind] ?? {}))
      claim(`components/${kind}/${name}`, 'hearth.yaml');
  for (const tag of document.tags ?? []) claim(`tag ${tag.name}`, 'hearth.yaml');

  const modulesDir = path.join(dir, 'modules');
  const files = fs.existsSync(modulesDir)
    ? fs
        .readdirSync(modulesDir)
        .filter((f) => f.endsWith('.yaml'))
        .sort()
    : [];
  for (const file of files) {
    const where = `modules/${file}`;
    const part = YAML.parse(fs.readFileSync(path.join(modulesDir, file), 'utf8')) ?? {};
    const unknown = Object.keys(part).filter((k) => !['tags', 'paths', 'components'].includes(k));
    if (unknown.length)
      throw new Error(`openapi: ${where} may hold only tags, paths and components, not ${unknown.join(', ')}`);
    for (const tag of part.tags ?? []) {
      claim(`tag ${tag.name}`, where);
      (document.tags ??= []).push(tag);
    }
    for (const [p, item] of Object.entries(part.paths ?? {})) {
      claim(`paths ${p}`, where);
      (document.paths ??= {})[p] = item;
    }
    for (const [kind, entries] of Object.entries(part.components ?? {})) {
      if (!COMPONENT_KINDS.includes(kind))
        throw new Error(
          `openapi: ${where} declares components/${kind}; modules may declare ${COMPONENT_KINDS.join(', ')}`,
        );
      for (const [name, value] of Object.entries(entries ?? {})) {
        claim(`components/${kind}/${name}`, where);
        ((document.components ??= {})[kind] ??= {})[name] = value;
      }
    }
  }
  return document;
}

module.exports = { bundleContract };

if (require.main === module) {
  const out = process.argv[2];
  if (!out) {
    process.stderr.write('usage: node openapi/bundle.js <out.yaml>\n');
    process.exit(2);
  }
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  fs.writeFileSync(out, YAML.stringify(bundleContract(), { lineWidth: 0 }));
}
