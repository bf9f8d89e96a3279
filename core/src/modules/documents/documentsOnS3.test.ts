import crypto from 'node:crypto';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { documentSettingsFromEnv } from '../../config';
import { jobHandlers } from '../../jobs/handlers';
import { runDueJobs } from '../../jobs/worker';
import { failCommitOfDocumentTitled } from '../../../../test/support/failAtCommit';
import { ownerRows, startWorld, type World } from '../../../../test/support/harness';
import { makeChild } from '../../../../test/support/fixtureKit';
import { startS3, type S3Server } from '../../../../test/support/s3';
import { EXE, PDF } from '../../../../test/support/sampleFiles';

/** The documents API over the wire to an S3-protocol service: uploads, versions, downloads, signed links, refusals. */
let s3: S3Server;
let world: World;
beforeAll(async () => {
  s3 = await startS3({ prefix: 'hearth' });
  world = await startWorld({
    documents: documentSettingsFromEnv({
      NODE_ENV: 'test',
      HEARTH_DOCUMENT_STORAGE: 's3',
      HEARTH_DOCUMENT_STORAGE_TARGET: s3.target,
    }),
  });
}, 180_000);
afterAll(async () => {
  await world?.close();
  await s3?.close();
});

async function bucketKeys(): Promise<string[]> {
  const client = new S3Client({ region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true });
  try {
    const listed = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket }));
    return (listed.Contents ?? []).map((o) => o.Key!).sort();
  } finally {
    client.destroy();
  }
}

test('an upload lands in the bucket under the tenant prefix; versions and downloads come back byte for byte', async () => {
  const child = await makeChild({ world, tenant: world.a });
  const first = await world.call('uploadDocument', {
    token: world.a.adminToken,
    multipart: {
      fields: { subjectType: 'child', subjectId: child.id, category: 'care_plan', title: 'Care plan' },
      file: { filename: 'plan.pdf', bytes: PDF },
    },
  });
  expect(first.status).toBe(201);
  expect(first.body.currentVersion.sha256).toBe(crypto.createHash('sha256').update(PDF).digest('hex'));
  const keys = await bucketKeys();
  expect(keys).toHaveLength(1);
  expect(keys[0]).toMatch(new RegExp(`^hearth/tenants/${world.a.id}/objects/[0-9a-f-]{36}$`));

  const second = await world.call('uploadDocumentVersion', {
    token: world.a.adminToken,
    params: { documentId: first.body.id },
    multipart: { file: { filename: 'plan.txt', bytes: 'The plan, typed out.\n' } },
  });
  expect(second.status).toBe(201);
  const v1 = await world.call('downloadDocumentVersion', {
    token: world.a.adminToken,
    params: { documentId: first.body.id, versionNumber: '1' },
  });
  expect(v1.bytes.equals(PDF)).toBe(true);
  const current = await world.call('downloadDocument', {
    token: world.a.adminToken,
    params: { documentId: first.body.id },
  });
  expect(current.text).toBe('The plan, typed out.\n');
});

test('a signed link downloads the version straight from the store, and is logged as a download', async () => {
  const child = await makeChild({ world, tenant: world.a });
  const doc = await world.call('uploadDocument', {
    token: world.a.adminToken,
    multipart: {
      fields: { subjectType: 'child', subjectId: child.id, category: 'care_plan', title: 'Plan' },
      file: { filename: 'Care plan – June.pdf', bytes: PDF },
    },
  });
  const link = await world.call('createDocumentDownloadLink', {
    token: world.a.adminToken,
    params: { documentId: doc.body.id, versionNumber: '1' },
  });
  expect(link.status).toBe(201);
  const fetched = await fetch(link.body.url);
  expect(fetched.status).toBe(200);
  expect(Buffer.from(await fetched.arrayBuffer()).equals(PDF)).toBe(true);
  expect(fetched.headers.get('content-disposition')).toContain("filename*=UTF-8''Care%20plan%20%E2%80%93%20June.pdf");
  const log = await world.call('listDocumentDownloads', {
    token: world.a.adminToken,
    params: { documentId: doc.body.id },
  });
  expect(log.body.data).toEqual([expect.objectContaining({ via: 'signed_url', versionNumber: 1 })]);
  const audited = await ownerRows<{ action: string; after: { via: string } }>(
    world.db,
    world.a.id,
    `SELECT action, after FROM audit_events WHERE entity_type = 'document' AND entity_id = ? ORDER BY seq`,
    [doc.body.id],
  );
  expect(audited.map((a) => [a.action, a.after.via ?? null])).toEqual([
    ['document.uploaded', null],
    ['document.downloaded', 'signed_url'],
  ]);
});

test('a refused upload leaves nothing in the bucket', async () => {
  const child = await makeChild({ world, tenant: world.a });
  const before = await bucketKeys();
  const refused = await world.call('uploadDocument', {
    token: world.a.adminToken,
    multipart: {
      fields: { subjectType: 'child', subjectId: child.id, category: 'care_plan', title: 'Plan' },
      file: { filename: 'plan.pdf', bytes: EXE },
    },
  });
  expect(refused.status).toBe(415);
  const noCategory = await world.call('uploadDocument', {
    token: world.a.adminToken,
    multipart: {
      fields: { subjectType: 'child', subjectId: child.id, category: 'nope', title: 'Plan' },
      file: { filename: 'plan.pdf', bytes: PDF },
    },
  });
  expect(noCategory.status).toBe(422);
  expect(await bucketKeys()).toEqual(before);
});

test("an evidence pack's ZIP whose document fails to commit leaves the bucket; the retry keeps one", async () => {
  const child = await makeChild({ world, tenant: world.a });
  const uploaded = await world.call('uploadDocument', {
    token: world.a.adminToken,
    multipart: {
      fields: { subjectType: 'child', subjectId: child.id, category: 'care_plan', title: 'Plan' },
      file: { filename: 'plan.pdf', bytes: PDF },
    },
  });
  expect(uploaded.status).toBe(201);
  const runJobs = () =>
    runDueJobs(world.db, { handlers: jobHandlers(), services: world.server.services, lockMs: 60_000 });
  await runJobs();
  const before = await bucketKeys();
  const period = { from: '2022-01-01', to: '2033-12-31' };
  const release = await failCommitOfDocumentTitled(world.db, `Evidence pack ${period.from} to ${period.to}`);
  let packId: string;
  try {
    const asked = await world.call('createEvidencePack', {
      token: world.a.adminToken,
      body: { subjectType: 'child', subjectId: child.id, ...period },
    });
    expect(asked.status).toBe(202);
    packId = asked.body.id;
    await runJobs();
  } finally {
    await release();
  }
  expect(await bucketKeys()).toEqual(before);
  await ownerRows(world.db, world.a.id, `UPDATE jobs SET run_after = now() WHERE payload->>'packId' = ?`, [packId]);
  await runJobs();
  const pack = await world.call('getEvidencePack', { token: world.a.adminToken, params: { evidencePackId: packId } });
  expect(pack.body.status).toBe('ready');
  expect(await bucketKeys()).toHaveLength(before.length + 1);
});
