/**
 * What a front end does with the SDK: log in, list children with a filter a page at a time, create
 * one, change it with If-Match, and show a validation problem's field errors next to the fields.
 *
 *   npx tsc -p examples/tsconfig.json && node dist/examples/examples/frontend-children.js
 *
 * Against `npm start` (http://127.0.0.1:3000, demo tenants); HEARTH_URL, HEARTH_TENANT,
 * HEARTH_EMAIL and HEARTH_PASSWORD point it elsewhere.
 */
import { randomUUID } from 'node:crypto';
// In an app: import { ... } from '@hearth/sdk';
import { createHearthClient, HearthProblem, ifMatch, unwrap, type Schema } from '../sdk/src';
import { hearthUrl, runExample } from './cli';

/** What a screen would render; the type is the contract's, never a hand-written copy. */
function describeChild(child: Schema<'Child'>): string {
  const name = child.preferredName
    ? `${child.givenName} "${child.preferredName}" ${child.familyName}`
    : `${child.givenName} ${child.familyName}`;
  return `${name}, born ${child.dateOfBirth}, ${child.status} (version ${child.version})`;
}

async function main(): Promise<void> {
  const client = createHearthClient({ baseUrl: hearthUrl });
  await client.login({
    tenant: process.env.HEARTH_TENANT ?? 'demo-uk',
    email: process.env.HEARTH_EMAIL ?? 'admin@demo-uk.example',
    password: process.env.HEARTH_PASSWORD ?? 'hearth-demo-password',
  });
  console.log(`Logged in to ${hearthUrl}`);

  // Create three siblings. The Idempotency-Key makes a retried submit (double click, flaky network)
  // create one record, not two.
  const siblings = ['Maya', 'Noah', 'Olive'].map((givenName, i) => ({
    givenName,
    familyName: 'Example',
    dateOfBirth: `201${4 + i}-06-30`,
    sex: i === 1 ? 'male' : 'female',
    ethnicity: 'WBRI',
  }));
  const created: { child: Schema<'Child'>; response: Response }[] = [];
  for (const body of siblings) {
    const result = await client.POST('/v1/children', { params: { header: { 'Idempotency-Key': randomUUID() } }, body });
    if (!result.data) throw HearthProblem.from(result.error, result.response);
    console.log(`Created ${describeChild(result.data)} at ${result.response.headers.get('Location')}`);
    created.push({ child: result.data, response: result.response });
  }
  const maya = created[0]!;

  // List with a filter (name contains "Example", status referred), following nextCursor to the last
  // page; pages of two, to show the paging.
  let cursor: string | undefined;
  let pageNumber = 0;
  do {
    const page = await unwrap(
      client.GET('/v1/children', {
        params: { query: { q: 'Example', status: 'referred', limit: 2, ...(cursor ? { cursor } : {}) } },
      }),
    );
    pageNumber += 1;
    console.log(
      `Page ${pageNumber}: ${page.data.length} referred children named Example${page.nextCursor ? ' (more to come)' : ''}`,
    );
    for (const child of page.data) console.log(`  ${describeChild(child)}`);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);

  // Update: send back the ETag that came with the record. Someone else's change in between answers
  // 412 instead of being silently overwritten; the screen then reloads the record.
  const updated = await client.PATCH('/v1/children/{childId}', {
    params: { path: { childId: maya.child.id }, header: ifMatch(maya.response) },
    body: { preferredName: 'May', status: 'in_care' },
  });
  if (!updated.data) throw HearthProblem.from(updated.error, updated.response);
  console.log(`Updated: ${describeChild(updated.data)}, ETag now ${updated.response.headers.get('ETag')}`);

  const stale = await client.PATCH('/v1/children/{childId}', {
    params: { path: { childId: maya.child.id }, header: ifMatch(maya.response) },
    body: { preferredName: 'Lost update' },
  });
  console.log(`Updating again with the old ETag: ${stale.response.status} ${stale.error?.title}`);

  // A form submitted with mistakes: every offending field comes back at once, as a JSON pointer.
  const invalid = await client.POST('/v1/children', {
    body: { givenName: 'Zed', familyName: 'Example', dateOfBirth: '2999-01-01', sex: 'not-a-code' },
  });
  if (invalid.error) {
    console.log(`Validation problem (${invalid.error.status} ${invalid.error.type}):`);
    for (const field of invalid.error.errors ?? [])
      console.log(`  ${field.pointer.replace(/^\/body\//, '')}: ${field.message}`);
  }

  await client.logout();
  console.log('Logged out');
}

runExample(main);
