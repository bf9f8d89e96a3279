/**
 * An integrator's nightly pull with an API key: every child, page by page, then the audit trail as
 * CSV streamed to a file. The key needs `children:read` and `audit:read` (create-api-key.ts makes one).
 *
 *   npx tsc -p examples/tsconfig.json
 *   HEARTH_API_KEY=hk_... node dist/examples/examples/integrator-pull.js [out.csv]
 *
 * HEARTH_URL points it at another server; HEARTH_SINCE (an ISO instant) exports only later events,
 * as an incremental pull would.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
// In an app: import { ... } from '@hearth/sdk';
import { createHearthClient, HearthProblem, unwrap, type HearthClient, type Schema } from '../sdk/src';
import { hearthUrl, runExample } from './cli';

/** Every child of the key's tenant, one page at a time, so memory stays flat however many there are. */
async function* allChildren(client: HearthClient): AsyncGenerator<Schema<'Child'>> {
  let cursor: string | undefined;
  do {
    const page = await unwrap(
      client.GET('/v1/children', { params: { query: { limit: 200, ...(cursor ? { cursor } : {}) } } }),
    );
    yield* page.data;
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
}

async function main(): Promise<void> {
  const apiKey = process.env.HEARTH_API_KEY;
  if (!apiKey) {
    console.error('Set HEARTH_API_KEY (node dist/examples/examples/create-api-key.js prints one for the demo tenant).');
    process.exit(2);
  }
  const client = createHearthClient({ baseUrl: hearthUrl, apiKey });

  const me = await unwrap(client.GET('/v1/auth/me'));
  console.log(`Pulling for tenant ${me.tenantSlug} as API key ${me.id} (${me.permissions.join(', ')})`);

  const byStatus = new Map<string, number>();
  let total = 0;
  for await (const child of allChildren(client)) {
    total += 1;
    byStatus.set(child.status, (byStatus.get(child.status) ?? 0) + 1);
  }
  console.log(`${total} children: ${[...byStatus].map(([status, n]) => `${n} ${status}`).join(', ') || 'none'}`);

  // The export streams (oldest first), so write it as it arrives instead of holding it in memory.
  const out = process.argv[2] ?? path.join(os.tmpdir(), 'hearth-audit-events.csv');
  const since = process.env.HEARTH_SINCE;
  const exported = await client.GET('/v1/audit-events/export', {
    params: { query: since ? { from: since } : {} },
    parseAs: 'stream',
  });
  if (!exported.response.ok || !exported.data) throw HearthProblem.from(exported.error, exported.response);
  await pipeline(Readable.fromWeb(exported.data), fs.createWriteStream(out));
  console.log(`Audit events${since ? ` since ${since}` : ''}: ${fs.statSync(out).size} bytes of CSV written to ${out}`);
}

runExample(main);
