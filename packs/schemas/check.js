#!/usr/bin/env node
/*
 * Validates pack folders against the schemas in this folder: `node packs/schemas/check.js packs/uk`.
 * The plugin host in core applies the same schemas at start-up; this is for authors of pack data.
 */
const fs = require('node:fs');
const path = require('node:path');
const Ajv2020 = require('ajv/dist/2020').default;
const addFormats = require('ajv-formats').default;

const here = __dirname;
const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats(ajv);
for (const file of fs.readdirSync(here).filter((f) => f.endsWith('.schema.json'))) {
  const schema = JSON.parse(fs.readFileSync(path.join(here, file), 'utf8'));
  ajv.addSchema(schema);
}
const SCHEMA_FOR = {
  terminology: 'terminology.schema.json',
  accounts: 'accounts.schema.json',
  lookups: 'lookup.schema.json',
  calendars: 'calendar.schema.json',
  forms: 'form.schema.json',
  workflows: 'workflow.schema.json',
  cycles: 'cycle.schema.json',
  rates: 'rates.schema.json',
  templates: 'template.schema.json',
  extracts: 'extract.schema.json',
  retention: 'retention.schema.json',
  notifications: 'notification.schema.json',
};

let failures = 0;
function check(file, schemaName) {
  let data;
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    failures++;
    console.log(`${file}: ${error.message}`);
    return null;
  }
  const validate = ajv.getSchema(`https://hearth.dev/schemas/${schemaName}`);
  if (!validate(data)) {
    failures++;
    for (const e of validate.errors.slice(0, 10))
      console.log(`${file} at ${e.instancePath || '/'}: ${e.message} ${JSON.stringify(e.params)}`);
  }
  return data;
}

for (const folder of process.argv.slice(2)) {
  const manifest = check(path.join(folder, 'pack.json'), 'manifest.schema.json');
  if (!manifest) continue;
  for (const [point, schemaName] of Object.entries(SCHEMA_FOR)) {
    const files = manifest[point] === undefined ? [] : [].concat(manifest[point]);
    for (const f of files) {
      const full = path.join(folder, f);
      if (!fs.existsSync(full)) {
        failures++;
        console.log(`${folder}/pack.json at /${point}: no file ${f}`);
        continue;
      }
      const data = check(full, schemaName);
      if (point === 'templates' && data && !fs.existsSync(path.join(folder, data.file))) {
        failures++;
        console.log(`${full} at /file: no file ${data.file}`);
      }
    }
  }
}
console.log(failures ? `${failures} file(s) failed` : 'all pack files valid');
process.exit(failures ? 1 : 0);
