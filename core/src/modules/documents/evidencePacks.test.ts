import crypto from 'node:crypto';
import yauzl from 'yauzl';
import { jobHandlers } from '../../jobs/handlers';
import { runDueJobs } from '../../jobs/worker';
import { documentStore } from './openStore';
import { failCommitOfDocumentTitled, storedKeys } from '../../../../test/support/failAtCommit';
import { ownerRows, startWorld, type World } from '../../../../test/support/harness';
import { makePlacement } from '../../../../test/support/fixtures/placements';

let world: World;
let caseworker: { id: string; token: string };
beforeAll(async () => {
  world = await startWorld();
  caseworker = await world.addUser(world.a, ['caseworker']);
}, 120_000);
afterAll(async () => {
  await world?.close();
});

const sha256 = (bytes: Buffer) => crypto.createHash('sha256').update(bytes).digest('hex');
const PDF = (n: number) =>
  Buffer.from(
    `%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n% ${n}\ntrailer<</Root 1 0 R>>\n%%EOF\n`,
  );

async function upload(subjectType: string, subjectId: string, n: number, token = world.a.adminToken) {
  const r = await world.call('uploadDocument', {
    token,
    multipart: {
      fields: { subjectType, subjectId, category: 'care_plan', title: `Plan ${n}` },
      file: { filename: `plan ${n}.pdf`, bytes: PDF(n) },
    },
  });
  expect(r.status).toBe(201);
  return r.body as { id: string };
}

const runJobs = () =>
  runDueJobs(world.db, { handlers: jobHandlers(), services: world.server.services, lockMs: 60_000 });

/** Every entry of a ZIP, in its order, with its bytes and date. */
function unzip(bytes: Buffer): Promise<Array<{ path: string; bytes: Buffer; mtime: Date }>> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(bytes, { lazyEntries: true }, (error, zip) => {
      if (error || !zip) return reject(error);
      const entries: Array<{ path: string; bytes: Buffer; mtime: Date }> = [];
      zip.on('entry', (entry: yauzl.Entry) => {
        zip.openReadStream(entry, (err, stream) => {
          if (err || !stream) return reject(err);
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            entries.push({ path: entry.fileName, bytes: Buffer.concat(chunks), mtime: entry.getLastModDate() });
            zip.readEntry();
          });
        });
      });
      zip.on('end', () => resolve(entries));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

async function built(packId: string, token = world.a.adminToken) {
  await runJobs();
  const got = await world.call('getEvidencePack', { token, params: { evidencePackId: packId } });
  expect(got.status).toBe(200);
  return got.body;
}

async function packBytes(documentId: string): Promise<Buffer> {
  const r = await world.call('downloadDocument', { token: world.a.adminToken, params: { documentId } });
  expect(r.status).toBe(200);
  return r.bytes;
}

const period = { from: '2020-01-01', to: '2035-12-31' };

describe('evidence packs', () => {
  test("a child's pack: its documents, decisions and audit events in a ZIP with a manifest; a rebuild from the snapshot gives the same", async () => {
    const placement = await makePlacement({ world, tenant: world.a });
    const docs = [];
    for (let n = 1; n <= 3; n++) docs.push(await upload('child', placement.childId, n));
    const asked = await world.call('createEvidencePack', {
      token: world.a.adminToken,
      body: { subjectType: 'child', subjectId: placement.childId, ...period },
    });
    expect(asked.status).toBe(202);
    expect(asked.body).toMatchObject({ status: 'queued', documentId: null, snapshot: { documents: 3 } });

    // After the snapshot: a new version and a new document, neither in the pack.
    await world.call('uploadDocumentVersion', {
      token: world.a.adminToken,
      params: { documentId: docs[0]!.id },
      multipart: { fields: {}, file: { filename: 'plan 9.pdf', bytes: PDF(9) } },
    });
    await upload('child', placement.childId, 4);

    const pack = await built(asked.body.id);
    expect(pack).toMatchObject({ status: 'ready', progress: { done: 6, total: 6 } });
    const stored = await world.call('getDocument', {
      token: world.a.adminToken,
      params: { documentId: pack.documentId },
    });
    expect(stored.body).toMatchObject({
      category: 'evidence_pack',
      sensitivity: 'confidential',
      subjectType: 'child',
      subjectId: placement.childId,
      currentVersion: { mediaType: 'application/zip', source: 'generated' },
    });
    const zip = await packBytes(pack.documentId);
    expect(sha256(zip)).toBe(stored.body.currentVersion.sha256);
    const entries = await unzip(zip);
    const paths = entries.map((e) => e.path);
    // The documents in path order, then what Hearth wrote, the manifest last.
    const documentPaths = paths.filter((p) => p.startsWith('documents/'));
    expect(paths).toEqual([...documentPaths.sort(), 'decisions.json', 'audit-events.jsonl', 'manifest.json']);
    for (const e of entries) expect(e.mtime.getTime()).toBeGreaterThan(0);
    const manifest = JSON.parse(entries.find((e) => e.path === 'manifest.json')!.bytes.toString());
    expect(sha256(entries.find((e) => e.path === 'manifest.json')!.bytes)).toBe(pack.manifestSha256);
    expect(manifest.files.map((f: { path: string }) => f.path)).toEqual([...paths.slice(0, -1)].sort());
    for (const file of manifest.files) {
      const entry = entries.find((e) => e.path === file.path)!;
      expect(sha256(entry.bytes)).toBe(file.sha256);
      expect(entry.bytes.length).toBe(file.size);
    }
    const documents = entries.filter((e) => e.path.startsWith('documents/'));
    expect(documents.map((e) => sha256(e.bytes)).sort()).toEqual([1, 2, 3].map((n) => sha256(PDF(n))).sort());
    const decisions = JSON.parse(entries.find((e) => e.path === 'decisions.json')!.bytes.toString());
    expect(Array.isArray(decisions.placementSteps)).toBe(true);
    const events = entries
      .find((e) => e.path === 'audit-events.jsonl')!
      .bytes.toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { seq: number; entity_type: string; action: string });
    expect(events.every((e) => e.seq <= pack.snapshot.auditSeq)).toBe(true);
    expect(events.filter((e) => e.entity_type === 'document').length).toBe(3);
    expect(events.some((e) => e.entity_type === 'child')).toBe(true);

    // Rebuilt from the same snapshot, after all that changed: the same manifest, the same bytes.
    const again = await world.call('rebuildEvidencePack', {
      token: world.a.adminToken,
      params: { evidencePackId: pack.id },
    });
    expect(again.status).toBe(202);
    expect(again.body.rebuildOf).toBe(pack.id);
    const rebuilt = await built(again.body.id);
    expect(rebuilt.status).toBe('ready');
    expect(rebuilt.manifestSha256).toBe(pack.manifestSha256);
    expect(sha256(await packBytes(rebuilt.documentId))).toBe(sha256(zip));

    const audit = await ownerRows<{ action: string }>(
      world.db,
      world.a.id,
      `SELECT action FROM audit_events WHERE tenant_id = ? AND entity_type = 'evidence_pack' AND entity_id = ? ORDER BY seq`,
      [world.a.id, pack.id],
    );
    // The rebuild is told on the pack it rebuilt; the rebuilt pack's own build on its own trail.
    expect(audit.map((a) => a.action)).toEqual([
      'evidence_pack.requested',
      'evidence_pack.built',
      'evidence_pack.rebuild_requested',
    ]);
  });

  test("a restricted child's documents are never in a household's pack built by whoever cannot see the child", async () => {
    const placement = await makePlacement({ world, tenant: world.a });
    const visible = await upload('household', placement.householdId, 11);
    const hiddenDoc = await upload('placement', placement.id, 12);
    const restriction = await world.call('getChildRestriction', {
      token: world.a.adminToken,
      params: { childId: placement.childId },
    });
    const set = await world.call('setChildRestriction', {
      token: world.a.adminToken,
      params: { childId: placement.childId },
      headers: { 'if-match': restriction.headers.get('etag')! },
      body: { restricted: true, allowedUserIds: [world.a.adminId] },
    });
    expect(set.status).toBe(200);
    const supervisor = await world.addUser(world.a, ['supervisor']);
    const ask = async (token: string) =>
      world.call('createEvidencePack', {
        token,
        body: { subjectType: 'household', subjectId: placement.householdId, ...period },
      });
    const bySupervisor = await ask(supervisor.token);
    expect(bySupervisor.status).toBe(202);
    const theirs = await built(bySupervisor.body.id, supervisor.token);
    const theirEntries = await unzip(await packBytes(theirs.documentId));
    const theirPaths = theirEntries.map((e) => e.path).join('\n');
    expect(theirPaths).toContain(visible.id);
    const decisions = JSON.parse(theirEntries.find((e) => e.path === 'decisions.json')!.bytes.toString());
    expect(decisions.approvalSteps.length).toBeGreaterThan(0);
    expect(theirPaths).not.toContain(hiddenDoc.id);
    expect(theirEntries.find((e) => e.path === 'audit-events.jsonl')!.bytes.toString()).not.toContain(hiddenDoc.id);
    // The admin, named on the child, gets both.
    const byAdmin = await ask(world.a.adminToken);
    const ours = await built(byAdmin.body.id);
    expect((await unzip(await packBytes(ours.documentId))).map((e) => e.path).join('\n')).toContain(hiddenDoc.id);
    // The child's own pack, and the pack row, do not exist for the supervisor.
    const childPack = await world.call('createEvidencePack', {
      token: supervisor.token,
      body: { subjectType: 'child', subjectId: placement.childId, ...period },
    });
    expect(childPack.status).toBe(422);
    const adminChildPack = await world.call('createEvidencePack', {
      token: world.a.adminToken,
      body: { subjectType: 'child', subjectId: placement.childId, ...period },
    });
    expect(
      (
        await world.call('getEvidencePack', {
          token: supervisor.token,
          params: { evidencePackId: adminChildPack.body.id },
        })
      ).status,
    ).toBe(404);
  });

  test('a pack needs audit:read and a period that runs forward; another tenant sees none', async () => {
    const placement = await makePlacement({ world, tenant: world.a });
    const body = { subjectType: 'household', subjectId: placement.householdId, ...period };
    expect((await world.call('createEvidencePack', { token: caseworker.token, body })).status).toBe(403);
    const backwards = await world.call('createEvidencePack', {
      token: world.a.adminToken,
      body: { ...body, from: '2030-01-01', to: '2029-01-01' },
    });
    expect(backwards.status).toBe(422);
    const made = await world.call('createEvidencePack', { token: world.a.adminToken, body });
    expect(
      (await world.call('getEvidencePack', { token: world.b.adminToken, params: { evidencePackId: made.body.id } }))
        .status,
    ).toBe(404);
    const listed = await world.call('listEvidencePacks', {
      token: world.a.adminToken,
      query: { subjectType: 'household', subjectId: placement.householdId },
    });
    expect(listed.body.data.map((p: { id: string }) => p.id)).toContain(made.body.id);
    expect(new Set(listed.body.data.map((p: { subjectId: string }) => p.subjectId))).toEqual(
      new Set([placement.householdId]),
    );
    const elsewhere = await world.call('listEvidencePacks', { token: world.b.adminToken });
    expect(elsewhere.body.data).toEqual([]);
  });
  test('a pack whose rows fail to commit leaves no ZIP in the store; the retry keeps one', async () => {
    const placement = await makePlacement({ world, tenant: world.a });
    await upload('child', placement.childId, 1);
    // Packs the tests before asked for are built first, so each object here is this pack's.
    await runJobs();
    const store = documentStore(world.server.services);
    const before = await storedKeys(store, world.a.id);
    const narrow = { from: '2021-03-01', to: '2034-03-31' };
    const release = await failCommitOfDocumentTitled(world.db, `Evidence pack ${narrow.from} to ${narrow.to}`);
    let packId: string;
    try {
      const asked = await world.call('createEvidencePack', {
        token: world.a.adminToken,
        body: { subjectType: 'child', subjectId: placement.childId, ...narrow },
      });
      expect(asked.status).toBe(202);
      packId = asked.body.id;
      await runJobs();
    } finally {
      await release();
    }
    // The ZIP was stored whole, then its document's COMMIT was refused: the attempt failed and took the ZIP with it.
    const [job] = await ownerRows<{ status: string; attempts: number; error: string }>(
      world.db,
      world.a.id,
      `SELECT status, attempts, error FROM jobs WHERE kind = 'evidence-pack-build' AND payload->>'packId' = ?`,
      [packId],
    );
    expect(job).toMatchObject({ status: 'queued', attempts: 1 });
    expect(job!.error).toContain('refuses this COMMIT');
    expect(await storedKeys(store, world.a.id)).toEqual(before);

    await ownerRows(world.db, world.a.id, `UPDATE jobs SET run_after = now() WHERE payload->>'packId' = ?`, [packId]);
    const pack = await built(packId);
    expect(pack.status).toBe('ready');
    const after = await storedKeys(store, world.a.id);
    expect(after.size).toBe(before.size + 1);
  });
});
