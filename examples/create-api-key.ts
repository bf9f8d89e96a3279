/**
 * Makes an API key for integrator-pull.ts: logs in as the demo UK admin and prints a key that may
 * read children and the audit trail. The secret is shown once; the server keeps only its hash.
 *
 *   npx tsc -p examples/tsconfig.json && node dist/examples/examples/create-api-key.js
 */
// In an app: import { ... } from '@hearth/sdk';
import { createHearthClient, unwrap } from '../sdk/src';
import { hearthUrl, runExample } from './cli';

async function main(): Promise<void> {
  const client = createHearthClient({ baseUrl: hearthUrl });
  await client.login({
    tenant: process.env.HEARTH_TENANT ?? 'demo-uk',
    email: process.env.HEARTH_EMAIL ?? 'admin@demo-uk.example',
    password: process.env.HEARTH_PASSWORD ?? 'hearth-demo-password',
  });
  const key = await unwrap(
    client.POST('/v1/api-keys', {
      body: { name: `Example integration ${new Date().toISOString()}`, permissions: ['children:read', 'audit:read'] },
    }),
  );
  await client.logout();
  console.error(`API key ${key.id} (${key.prefix}...) may: ${key.permissions.join(', ')}`);
  // Only the secret on stdout, so `export HEARTH_API_KEY=$(node .../create-api-key.js)` works.
  console.log(key.secret);
}

runExample(main);
