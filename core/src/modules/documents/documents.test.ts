import crypto from 'node:crypto';
import fs from 'node:fs';
import nodeHttp from 'node:http';
import path from 'node:path';
import { ZipFile } from 'yazl';
import { ownerRows, startWorld, type World } from '../../../../test/support/harness';
import { makeChild } from '../../../../test/support/fixtureKit';
import type { MultipartBody } from '../../../../test/support/contractClient';
import { EXE, PDF, PNG } from '../../../../test/support/sampleFiles';
import { daysFromToday, makeHousehold } from '../../../../test/support/fixtures/carers';
import { enqueue } from '../../jobs/queue';
import { runDueJobs } from '../../jobs/worker';
import { jobHandlers } from '../../jobs/handlers';
import { DOCUMENT_EXPIRY_JOB, documentExpiryKey } from './expiry';

let world: World;
let caseworker: { id: string; token: string };
beforeAll(async () => {
  world = await startWorld();
  caseworker = await world.addUser(world.a, ['caseworker']);
});
afterAll(async () => {
  await world?.close();
});

async function docx(): Promise<Buffer> {
  const zip = new ZipFile();
  zip.addBuffer(
    Buffer.from('<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'),
    '[Content_Types].xml',
  );
  zip.addBuffer(Buffer.from('<w:document/>'), 'word/document.xml');
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const sha256 = (bytes: Buffer) => crypto.createHash('sha256').update(bytes).digest('hex');

/** Every object the filesystem store holds (temporary files included). */
function storedObjects(): string[] {
  const root = world.config.documents.target;
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }) : []) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else found.push(path.relative(root, full));
    }
  };
  walk(root);
  return found;
}

async function documentRows(): Promise<number> {
  const rows = await ownerRows<{ n: number }>(world.db, world.a.id, 'SELECT count(*)::int AS n FROM documents');
  return rows[0]!.n;
}

function upload(multipart: MultipartBody, token = world.a.adminToken) {
  return world.call('uploadDocument', { token, multipart });
}

async function uploadPdf(subjectId: string, extra: Record<string, string> = {}, token = world.a.adminToken) {
  const r = await upload(
    {
      fields: { subjectType: 'child', subjectId, category: 'care_plan', title: 'Care plan', ...extra },
      file: { filename: 'care plan.pdf', bytes: PDF, type: 'application/pdf' },
    },
    token,
  );
  expect(r.status).toBe(201);
  return r.body;
}

describe('uploading', () => {
  test('a PDF is stored with its detected type and SHA-256, and downloads as it was, logged and audited', async () => {
    const child = await makeChild({ world, tenant: world.a });
    const doc = await uploadPdf(child.id);
    expect(doc).toMatchObject({
      subjectType: 'child',
      subjectId: child.id,
      childId: child.id,
      category: 'care_plan',
      sensitivity: 'staff',
      status: 'active',
      currentVersion: { number: 1, mediaType: 'application/pdf', sizeBytes: PDF.length, sha256: sha256(PDF) },
    });
    expect(doc.currentVersion.scanStatus).toBe('not_scanned');
    // The key is the tenant's prefix and a fresh id, never the file's name.
    const [stored] = await ownerRows<{ object_key: string }>(
      world.db,
      world.a.id,
      'SELECT object_key FROM document_versions WHERE document_id = ?',
      [doc.id],
    );
    expect(stored!.object_key).toMatch(new RegExp(`^tenants/${world.a.id}/objects/[0-9a-f-]{36}$`));

    const got = await world.call('downloadDocument', { token: world.a.adminToken, params: { documentId: doc.id } });
    expect(got.status).toBe(200);
    expect(got.bytes.equals(PDF)).toBe(true);
    expect(got.headers.get('content-type')).toBe('application/pdf');
    expect(got.headers.get('cache-control')).toBe('no-store');
    expect(got.headers.get('content-disposition')).toBe(
      `attachment; filename="care plan.pdf"; filename*=UTF-8''care%20plan.pdf`,
    );
    expect(got.headers.get('repr-digest')).toBe(`sha-256=:${Buffer.from(sha256(PDF), 'hex').toString('base64')}:`);

    const log = await world.call('listDocumentDownloads', {
      token: world.a.adminToken,
      params: { documentId: doc.id },
    });
    expect(log.status).toBe(200);
    expect(log.body.data).toEqual([
      expect.objectContaining({ versionNumber: 1, actorType: 'user', actorId: world.a.adminId, via: 'stream' }),
    ]);
    const audit = await ownerRows<{ action: string }>(
      world.db,
      world.a.id,
      `SELECT action FROM audit_events WHERE entity_type = 'document' AND entity_id = ? ORDER BY seq`,
      [doc.id],
    );
    expect(audit.map((a) => a.action)).toEqual(['document.uploaded', 'document.downloaded']);
  });

  test('the type comes from the bytes: an executable named .pdf is refused, a PNG named .txt is a PNG', async () => {
    const child = await makeChild({ world, tenant: world.a });
    const before = { objects: storedObjects().length, rows: await documentRows() };
    const refused = await upload({
      fields: { subjectType: 'child', subjectId: child.id, category: 'care_plan', title: 'Not a plan' },
      file: { filename: 'plan.pdf', bytes: EXE, type: 'application/pdf' },
    });
    expect(refused.status).toBe(415);
    expect(refused.body.type).toBe('https://hearth.dev/problems/file-type-not-allowed');
    expect(refused.body.errors[0].pointer).toBe('/body/file');
    expect(refused.body.detectedType).toBe('application/x-msdownload');
    expect({ objects: storedObjects().length, rows: await documentRows() }).toEqual(before);

    const png = await upload({
      fields: { subjectType: 'child', subjectId: child.id, category: 'photograph', title: 'Photo' },
      file: { filename: 'notes.txt', bytes: PNG, type: 'text/plain' },
    });
    expect(png.status).toBe(201);
    expect(png.body.currentVersion.mediaType).toBe('image/png');
  });

  test('Office documents and plain text are kept; unrecognised binary is not', async () => {
    const child = await makeChild({ world, tenant: world.a });
    const word = await upload({
      fields: { subjectType: 'child', subjectId: child.id, category: 'correspondence', title: 'Letter' },
      file: { filename: 'letter', bytes: await docx() },
    });
    expect(word.status).toBe(201);
    expect(word.body.currentVersion.mediaType).toBe(
      'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
    );
    const text = await upload({
      fields: { subjectType: 'child', subjectId: child.id, category: 'correspondence', title: 'Note' },
      file: { filename: 'note', bytes: 'Café visit went well — see diary.\n' },
    });
    expect(text.status).toBe(201);
    expect(text.body.currentVersion.mediaType).toBe('text/plain');
    const download = await world.call('downloadDocument', {
      token: world.a.adminToken,
      params: { documentId: text.body.id },
    });
    expect(download.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(download.headers.get('content-disposition')).toContain('filename="note.txt"');
    const noise = await upload({
      fields: { subjectType: 'child', subjectId: child.id, category: 'other', title: 'Noise' },
      file: { filename: 'noise.bin', bytes: crypto.randomBytes(5000) },
    });
    expect(noise.status).toBe(415);
    const empty = await upload({
      fields: { subjectType: 'child', subjectId: child.id, category: 'other', title: 'Empty' },
      file: { filename: 'empty.txt', bytes: Buffer.alloc(0) },
    });
    expect(empty.status).toBe(422);
    expect(empty.body.errors[0]).toMatchObject({ pointer: '/body/file', message: 'is empty' });
  });

  test('bad uploads name the problem and leave no object and no row', async () => {
    const child = await makeChild({ world, tenant: world.a });
    const before = { objects: storedObjects().length, rows: await documentRows() };
    const fields = { subjectType: 'child', subjectId: child.id, category: 'care_plan', title: 'Plan' };

    const noFile = await upload({ fields });
    expect(noFile.status).toBe(400);
    expect(noFile.body.errors).toEqual([expect.objectContaining({ pointer: '/body/file', message: 'is required' })]);

    const noCategory = await upload({
      fields: { subjectType: 'child', subjectId: child.id, title: 'Plan' },
      file: { filename: 'plan.pdf', bytes: PDF },
    });
    expect(noCategory.status).toBe(400);
    expect(noCategory.body.errors).toEqual([expect.objectContaining({ pointer: '/body/category' })]);

    const unknownCategory = await upload({
      fields: { ...fields, category: 'no_such_category' },
      file: { filename: 'plan.pdf', bytes: PDF },
    });
    expect(unknownCategory.status).toBe(422);
    expect(unknownCategory.body.errors[0].pointer).toBe('/body/category');

    const otherTenantsChild = await makeChild({ world, tenant: world.b });
    const elsewhere = await upload({
      fields: { ...fields, subjectId: otherTenantsChild.id },
      file: { filename: 'plan.pdf', bytes: PDF },
    });
    expect(elsewhere.status).toBe(422);
    expect(elsewhere.body.errors[0].pointer).toBe('/body/subjectId');

    const twoFiles = new FormData();
    for (const [k, v] of Object.entries(fields)) twoFiles.append(k, v);
    twoFiles.append('file', new Blob([PDF]), 'a.pdf');
    twoFiles.append('file', new Blob([PDF]), 'b.pdf');
    const two = await fetch(`${world.url}/v1/documents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${world.a.adminToken}` },
      body: twoFiles,
    });
    expect(two.status).toBe(400);

    const json = await world.http('POST', '/v1/documents', { token: world.a.adminToken, body: fields });
    expect(json.status).toBe(415);

    expect({ objects: storedObjects().length, rows: await documentRows() }).toEqual(before);
  });

  test("a file past the tenant's limit is cut off as it arrives: 413, no object, no row", async () => {
    const settings = await world.call('getDocumentSettings', { token: world.a.adminToken });
    expect(settings.body).toMatchObject({ storage: 'filesystem', processMaxUploadBytes: 25 * 1024 * 1024 });
    const above = await world.call('updateDocumentSettings', {
      token: world.a.adminToken,
      headers: { 'if-match': settings.headers.get('etag')! },
      body: { maxUploadBytes: 26 * 1024 * 1024 },
    });
    expect(above.status).toBe(422);
    const set = await world.call('updateDocumentSettings', {
      token: world.a.adminToken,
      headers: { 'if-match': settings.headers.get('etag')! },
      body: { maxUploadBytes: 64 * 1024 },
    });
    expect(set.status).toBe(200);
    expect(set.body.maxUploadBytes).toBe(64 * 1024);
    try {
      const child = await makeChild({ world, tenant: world.a });
      const before = { objects: storedObjects().length, rows: await documentRows() };
      const big = await upload({
        fields: { subjectType: 'child', subjectId: child.id, category: 'other', title: 'Big' },
        file: { filename: 'big.txt', bytes: 'x'.repeat(200 * 1024) },
      });
      expect(big.status).toBe(413);
      expect(big.body.errors[0].pointer).toBe('/body/file');
      expect(big.body.limitBytes).toBe(64 * 1024);
      expect({ objects: storedObjects().length, rows: await documentRows() }).toEqual(before);
      // Tenant B keeps the deployment's limit.
      const b = await world.call('getDocumentSettings', { token: world.b.adminToken });
      expect(b.body.maxUploadBytes).toBe(25 * 1024 * 1024);
    } finally {
      await world.call('updateDocumentSettings', {
        token: world.a.adminToken,
        headers: { 'if-match': set.headers.get('etag')! },
        body: { maxUploadBytes: 25 * 1024 * 1024 },
      });
    }
  });

  test('an upload cut short is 400 and leaves nothing behind', async () => {
    const child = await makeChild({ world, tenant: world.a });
    const before = { objects: storedObjects().length, rows: await documentRows() };
    const boundary = 'hearthboundary';
    const head = [
      ['subjectType', 'child'],
      ['subjectId', child.id],
      ['category', 'care_plan'],
      ['title', 'Cut'],
    ]
      .map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`)
      .join('');
    // The file part starts and the body ends without its closing boundary.
    const body = Buffer.concat([
      Buffer.from(
        `${head}--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="cut.pdf"\r\nContent-Type: application/pdf\r\n\r\n`,
      ),
      PDF,
      Buffer.from('more bytes that never finish'),
    ]);
    const status = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = nodeHttp.request(
        `${world.url}/v1/documents`,
        {
          method: 'POST',
          headers: {
            authorization: `Bearer ${world.a.adminToken}`,
            'content-type': `multipart/form-data; boundary=${boundary}`,
            'content-length': body.length,
          },
        },
        (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode!, body: text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(status.status).toBe(400);
    expect(JSON.parse(status.body).type).toBe('https://hearth.dev/problems/upload-incomplete');
    expect({ objects: storedObjects().length, rows: await documentRows() }).toEqual(before);
  });

  test('uploading needs documents:upload, checked before a byte is stored', async () => {
    const child = await makeChild({ world, tenant: world.a });
    const reader = await world.addUser(world.a, ['panel_member']);
    const before = storedObjects().length;
    const r = await upload(
      {
        fields: { subjectType: 'child', subjectId: child.id, category: 'care_plan', title: 'Plan' },
        file: { filename: 'plan.pdf', bytes: PDF },
      },
      reader.token,
    );
    expect(r.status).toBe(403);
    expect(storedObjects().length).toBe(before);
  });
});

describe('versions', () => {
  test('a new upload is version n+1 and current; earlier versions stay readable', async () => {
    const child = await makeChild({ world, tenant: world.a });
    const doc = await uploadPdf(child.id, { expiresOn: '2027-01-01' });
    const second = await world.call('uploadDocumentVersion', {
      token: world.a.adminToken,
      params: { documentId: doc.id },
      multipart: { fields: { expiresOn: '2028-01-01' }, file: { filename: 'plan v2.png', bytes: PNG } },
    });
    expect(second.status).toBe(201);
    expect(second.body.currentVersion).toMatchObject({ number: 2, mediaType: 'image/png' });
    expect(second.body.expiresOn).toBe('2028-01-01');
    expect(second.body.version).toBe(doc.version + 1);

    const versions = await world.call('listDocumentVersions', {
      token: world.a.adminToken,
      params: { documentId: doc.id },
    });
    expect(versions.body.data.map((v: { number: number }) => v.number)).toEqual([2, 1]);
    const first = await world.call('downloadDocumentVersion', {
      token: world.a.adminToken,
      params: { documentId: doc.id, versionNumber: '1' },
    });
    expect(first.bytes.equals(PDF)).toBe(true);
    const current = await world.call('downloadDocument', {
      token: world.a.adminToken,
      params: { documentId: doc.id },
    });
    expect(current.bytes.equals(PNG)).toBe(true);
    const missing = await world.call('downloadDocumentVersion', {
      token: world.a.adminToken,
      params: { documentId: doc.id, versionNumber: '3' },
    });
    expect(missing.status).toBe(404);
  });

  test('changing a document needs If-Match and names a bad category', async () => {
    const child = await makeChild({ world, tenant: world.a });
    const doc = await uploadPdf(child.id);
    const stale = await world.call('updateDocument', {
      token: world.a.adminToken,
      params: { documentId: doc.id },
      headers: { 'if-match': '"999"' },
      body: { title: 'Renamed' },
    });
    expect(stale.status).toBe(412);
    const bad = await world.call('updateDocument', {
      token: world.a.adminToken,
      params: { documentId: doc.id },
      headers: { 'if-match': `"${doc.version}"` },
      body: { category: 'nope' },
    });
    expect(bad.status).toBe(422);
    const changed = await world.call('updateDocument', {
      token: world.a.adminToken,
      params: { documentId: doc.id },
      headers: { 'if-match': `"${doc.version}"` },
      body: { title: 'Care plan (final)', sensitivity: 'confidential', expiresOn: null },
    });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ title: 'Care plan (final)', sensitivity: 'confidential', version: 2 });
  });
});

describe('access', () => {
  test("a restricted child's documents exist only for the users named on it", async () => {
    const child = await makeChild({ world, tenant: world.a });
    const doc = await uploadPdf(child.id);
    const restriction = await world.call('getChildRestriction', {
      token: world.a.adminToken,
      params: { childId: child.id },
    });
    const set = await world.call('setChildRestriction', {
      token: world.a.adminToken,
      params: { childId: child.id },
      headers: { 'if-match': restriction.headers.get('etag')! },
      body: { restricted: true, allowedUserIds: [world.a.adminId] },
    });
    expect(set.status).toBe(200);
    const asCaseworker = { token: caseworker.token, params: { documentId: doc.id } };
    expect((await world.call('getDocument', asCaseworker)).status).toBe(404);
    expect((await world.call('downloadDocument', asCaseworker)).status).toBe(404);
    const list = await world.call('listDocuments', {
      token: caseworker.token,
      query: { subjectType: 'child', subjectId: child.id },
    });
    expect(list.body.data).toEqual([]);
    const attach = await upload(
      {
        fields: { subjectType: 'child', subjectId: child.id, category: 'care_plan', title: 'Plan' },
        file: { filename: 'plan.pdf', bytes: PDF },
      },
      caseworker.token,
    );
    expect(attach.status).toBe(422);
    // The named user still sees it.
    expect(
      (await world.call('getDocument', { token: world.a.adminToken, params: { documentId: doc.id } })).status,
    ).toBe(200);
  });

  test('confidential documents need documents:read_confidential; another tenant sees nothing', async () => {
    const child = await makeChild({ world, tenant: world.a });
    const doc = await uploadPdf(child.id, { sensitivity: 'confidential' });
    expect((await world.call('getDocument', { token: caseworker.token, params: { documentId: doc.id } })).status).toBe(
      404,
    );
    expect(
      (await world.call('getDocument', { token: world.b.adminToken, params: { documentId: doc.id } })).status,
    ).toBe(404);
    expect(
      (await world.call('getDocument', { token: world.a.adminToken, params: { documentId: doc.id } })).status,
    ).toBe(200);
    const listed = await world.call('listDocuments', { token: world.b.adminToken });
    expect(listed.body.data.map((d: { id: string }) => d.id)).not.toContain(doc.id);
  });

  test('the filesystem store cannot sign a URL: 409, and nothing is logged', async () => {
    const child = await makeChild({ world, tenant: world.a });
    const doc = await uploadPdf(child.id);
    const link = await world.call('createDocumentDownloadLink', {
      token: world.a.adminToken,
      params: { documentId: doc.id, versionNumber: '1' },
    });
    expect(link.status).toBe(409);
    const log = await world.call('listDocumentDownloads', {
      token: world.a.adminToken,
      params: { documentId: doc.id },
    });
    expect(log.body.data).toEqual([]);
    const withoutAudit = await world.call('listDocumentDownloads', {
      token: caseworker.token,
      params: { documentId: doc.id },
    });
    expect(withoutAudit.status).toBe(403);
  });
});

describe('expiry', () => {
  test('an expired evidence document keeps its household from being compliant until a renewed version replaces it', async () => {
    const household = await makeHousehold({ world, tenant: world.a });
    const compliance = async () =>
      (
        await world.call('getCarerHouseholdCompliance', {
          token: world.a.adminToken,
          params: { householdId: household.id },
        })
      ).body;
    expect((await compliance()).expiredDocuments).toEqual([]);
    const insurance = await upload({
      fields: {
        subjectType: 'household',
        subjectId: household.id,
        category: 'insurance',
        title: 'Home insurance',
        expiresOn: daysFromToday(-1),
      },
      file: { filename: 'insurance.pdf', bytes: PDF },
    });
    expect(insurance.status).toBe(201);
    expect(insurance.body.householdId).toBe(household.id);
    const expired = await compliance();
    expect(expired.compliant).toBe(false);
    expect(expired.expiredDocuments).toEqual([
      {
        documentId: insurance.body.id,
        category: 'insurance',
        subjectType: 'household',
        subjectId: household.id,
        expiresOn: daysFromToday(-1),
      },
    ]);
    const renewed = await world.call('uploadDocumentVersion', {
      token: world.a.adminToken,
      params: { documentId: insurance.body.id },
      multipart: { fields: { expiresOn: daysFromToday(365) }, file: { filename: 'insurance 2.pdf', bytes: PDF } },
    });
    expect(renewed.status).toBe(201);
    expect((await compliance()).expiredDocuments).toEqual([]);
  });
});

describe('expiry reminders', () => {
  async function runExpiry(date: string) {
    await enqueue(world.db, {
      tenantId: world.a.id,
      kind: DOCUMENT_EXPIRY_JOB,
      uniqueKey: documentExpiryKey(date),
      payload: { date },
    });
    await runDueJobs(world.db, { handlers: jobHandlers(), services: world.server.services });
  }
  const tasksFor = (documentId: string) =>
    ownerRows<{ step_key: string; due_date: string; subject_type: string; subject_id: string; owner_id: string }>(
      world.db,
      world.a.id,
      `SELECT step_key, to_char(due_date, 'YYYY-MM-DD') AS due_date, subject_type, subject_id, owner_id FROM tasks
        WHERE cycle_key = 'document-expiry' AND counted_from->>'documentId' = ? ORDER BY occurrence`,
      [documentId],
    );

  test('a task 60 days before a document expires and another at 30, for whoever owns its record, once each', async () => {
    const household = await makeHousehold({ world, tenant: world.a });
    const expiresOn = '2027-03-31';
    const doc = await upload({
      fields: {
        subjectType: 'household',
        subjectId: household.id,
        category: 'dbs_certificate',
        title: 'DBS',
        expiresOn,
      },
      file: { filename: 'dbs.pdf', bytes: PDF },
    });
    expect(doc.status).toBe(201);
    await runExpiry('2027-01-29'); // 61 days before: nothing yet
    expect(await tasksFor(doc.body.id)).toEqual([]);
    await runExpiry('2027-01-30'); // 60 days before
    await runExpiry('2027-01-31');
    expect(await tasksFor(doc.body.id)).toEqual([
      {
        step_key: 'renew-60',
        due_date: expiresOn,
        subject_type: 'carer_household',
        subject_id: household.id,
        owner_id: world.a.adminId,
      },
    ]);
    await runExpiry('2027-03-01'); // 30 days before
    expect((await tasksFor(doc.body.id)).map((t) => t.step_key)).toEqual(['renew-60', 'renew-30']);
    const audited = await ownerRows(
      world.db,
      world.a.id,
      `SELECT 1 FROM audit_events WHERE action = 'task.created' AND after->>'documentId' = ?`,
      [doc.body.id],
    );
    expect(audited).toHaveLength(2);
  });
});
