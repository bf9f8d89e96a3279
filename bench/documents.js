/*
 * Documents under load, with the server in a process of its own (bench/processes/hearth.js) and this
 * process as the client. What it measures, each against its target:
 *
 * 1. One 20 MB upload, then its download: how much the server process's resident memory grows above
 *    its level before (sampled from /proc/<pid>/status every 10 ms, and /metrics'
 *    process_resident_memory_bytes before and after), against the file's size and against twice a
 *    stream buffer (64 KiB, the highWaterMark of the file streams the bytes pass through).
 * 2. 100 uploads of 1 MB at once: errors (target 0), wall time and the server's peak growth.
 * 3. An evidence pack of 500 documents of 100 KB built by the job: its time and the server's peak
 *    growth against the pack's size (flat means a small fraction of it).
 *
 * Runs on DATABASE_URL, else the PostgreSQL server on 127.0.0.1:5432 (a database it creates and
 * drops), else PGlite. Needs a build: `npm run bench` builds first; `node bench/run.js documents.js`.
 */
/* global FormData */
const crypto = require('node:crypto');
const { Blob } = require('node:buffer');
const { setTimeout: sleep } = require('node:timers/promises');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { benchDatabase, benchServerConfig, startProcess } = require('./support');
const dist = (p) => require(`../dist/core/src/${p}`);

const { runMigrations } = dist('db/migrate');
const { bootstrapTenant } = dist('demo/seed');
const { loadPacks } = dist('packs/registry');

const MB = 1024 * 1024;
const STREAM_BUFFER = 64 * 1024;
const PACK_DOCUMENTS = Number(process.env.BENCH_PACK_DOCUMENTS ?? 500);

function rssOf(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) * 1024;
}

/** Samples the process's RSS every 10 ms while `work` runs; resolves with the work's result and the peak. */
async function peakDuring(pid, work) {
  let peak = rssOf(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssOf(pid));
    } catch {
      /* the process ended */
    }
  }, 10);
  try {
    const result = await work();
    peak = Math.max(peak, rssOf(pid));
    return { result, peak };
  } finally {
    clearInterval(timer);
  }
}

async function metricsRss(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^process_resident_memory_bytes (\d+)/m.exec(text)?.[1] ?? NaN);
}

/** A settled level: the process idle, collected as it would be, read twice 200 ms apart. */
async function settledRss(pid) {
  await sleep(500);
  const a = rssOf(pid);
  await sleep(200);
  return Math.max(a, rssOf(pid));
}

/** A PDF's header and trailer around `size` bytes of filler: typed as a PDF from its bytes. */
function pdfOf(size, seed) {
  const head = Buffer.from(`%PDF-1.4\n% ${seed}\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n`);
  const tail = Buffer.from('\ntrailer<</Root 1 0 R>>\n%%EOF\n');
  const filler = Buffer.alloc(Math.max(0, size - head.length - tail.length), 0x20);
  crypto.randomFillSync(filler, 0, Math.min(filler.length, 4096));
  return Buffer.concat([head, filler, tail]);
}

async function upload(url, auth, subjectId, bytes, name) {
  const form = new FormData();
  form.append('subjectType', 'child');
  form.append('subjectId', subjectId);
  form.append('category', 'care_plan');
  form.append('title', name);
  form.append('file', new Blob([bytes], { type: 'application/pdf' }), `${name}.pdf`);
  const response = await fetch(`${url}/v1/documents`, { method: 'POST', headers: auth, body: form });
  const body = await response.json();
  if (response.status !== 201) throw new Error(`upload ${name}: ${response.status} ${JSON.stringify(body)}`);
  return body;
}

/** Reads a download to its end without keeping it, hashing as it goes. */
async function download(url, auth, documentId) {
  const response = await fetch(`${url}/v1/documents/${documentId}/content`, { headers: auth });
  if (response.status !== 200) throw new Error(`download: ${response.status}`);
  const hash = crypto.createHash('sha256');
  let size = 0;
  for await (const chunk of response.body) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { size, sha256: hash.digest('hex') };
}

/** One 20 MB upload and its download, with the server's RSS growth above its settled level. */
async function bigFile(url, pid, auth, childId, label) {
  const big = pdfOf(20 * MB, `big ${label}`);
  const before = await settledRss(pid);
  const beforeMetrics = await metricsRss(url);
  const up = await peakDuring(pid, () => upload(url, auth, childId, big, 'big'));
  const down = await peakDuring(pid, () => download(url, auth, up.result.id));
  const afterMetrics = await metricsRss(url);
  if (down.result.sha256 !== crypto.createHash('sha256').update(big).digest('hex'))
    throw new Error('the 20 MB download differs from the upload');
  const upGrowth = up.peak - before;
  const downGrowth = down.peak - before;
  const bound = 2 * STREAM_BUFFER;
  const verdict = (g) => `${g < bound ? 'within' : 'OVER'} 2 stream buffers (${mb(bound)})`;
  console.log(`\n20 MB upload and download, server ${label} (RSS sampled every 10 ms)`);
  console.log(`  RSS before          ${mb(before)} (/metrics ${mb(beforeMetrics)}; after both ${mb(afterMetrics)})`);
  console.log(
    `  upload   peak +${mb(upGrowth)} = ${((100 * upGrowth) / big.length).toFixed(1)}% of the file; ${verdict(upGrowth)}`,
  );
  console.log(
    `  download peak +${mb(downGrowth)} = ${((100 * downGrowth) / big.length).toFixed(1)}% of the file; ${verdict(downGrowth)}`,
  );
}

const mb = (bytes) => `${(bytes / MB).toFixed(1)} MB`;

async function main() {
  const store = await benchDatabase('hearth_bench_documents');
  const documentsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-bench-documents-'));
  process.env.HEARTH_DOCUMENT_STORAGE_TARGET = documentsDir;
  const { db } = benchServerConfig(store.url);
  let server;
  let collected = null;
  try {
    await runMigrations(db);
    const password = 'bench password 12345';
    const { tenant } = await bootstrapTenant(db, loadPacks(), {
      kind: 'service',
      name: 'Documents',
      slug: 'documents',
      packId: 'uk',
      currency: 'GBP',
      timeZone: 'Europe/London',
      firstAdmin: { email: 'admin@documents.example', displayName: 'Documents admin', password },
    });
    await db.destroy();
    server = await startProcess('hearth.js', {
      BENCH_DATABASE_URL: store.url ?? '',
      HEARTH_DOCUMENT_STORAGE_TARGET: documentsDir,
      HEARTH_DOCUMENT_MAX_BYTES: String(64 * MB),
      // The pack is built by the collected server below, so its memory is the pack's live memory.
      HEARTH_JOBS: '0',
    });
    const { url, pid } = server;
    const login = await fetch(`${url}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: 'documents', email: 'admin@documents.example', password }),
    });
    const { accessToken } = await login.json();
    const auth = { authorization: `Bearer ${accessToken}` };
    const childResponse = await fetch(`${url}/v1/children`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ givenName: 'Bench', familyName: 'Child', dateOfBirth: '2015-01-01', sex: 'female' }),
    });
    const child = await childResponse.json();
    if (childResponse.status !== 201) throw new Error(`createChild: ${JSON.stringify(child)}`);
    console.log(`tenant ${tenant.id}, server pid ${pid}, store ${store.url ? 'PostgreSQL' : 'PGlite'}`);

    // Warm-up: every path once at 1 MB, so what follows measures the bytes, not the first use of the code.
    for (let i = 0; i < 3; i++) {
      const warm = await upload(url, auth, child.id, pdfOf(MB, `warm${i}`), `warm-${i}`);
      await download(url, auth, warm.id);
    }

    // 1. 20 MB up and down: on this server, then on one whose collector runs every 20 ms.
    await bigFile(url, pid, auth, child.id, 'as configured');
    collected = await startProcess(
      'hearthCollected.js',
      {
        BENCH_DATABASE_URL: store.url ?? '',
        HEARTH_DOCUMENT_STORAGE_TARGET: documentsDir,
        HEARTH_DOCUMENT_MAX_BYTES: String(64 * MB),
        HEARTH_JOBS: '1',
      },
      ['--expose-gc'],
    );
    for (let i = 0; i < 3; i++) {
      const warm = await upload(collected.url, auth, child.id, pdfOf(MB, `cwarm${i}`), `cwarm-${i}`);
      await download(collected.url, auth, warm.id);
    }
    await bigFile(collected.url, collected.pid, auth, child.id, 'collector every 20 ms');

    // 2. 100 uploads of 1 MB at once.
    const small = Array.from({ length: 100 }, (_, i) => pdfOf(MB, `c${i}`));
    const concurrentBefore = await settledRss(pid);
    const started = Date.now();
    const burst = await peakDuring(pid, () =>
      Promise.allSettled(small.map((bytes, i) => upload(url, auth, child.id, bytes, `concurrent-${i}`))),
    );
    const failed = burst.result.filter((r) => r.status === 'rejected');
    console.log('\n100 concurrent uploads of 1 MB');
    console.log(`  errors ${failed.length} (target 0)${failed.length ? `: ${failed[0].reason.message}` : ''}`);
    console.log(
      `  wall ${((Date.now() - started) / 1000).toFixed(1)} s; server peak +${mb(burst.peak - concurrentBefore)}`,
    );

    // 3. An evidence pack of 500 documents, on a child of its own.
    const packChildResponse = await fetch(`${url}/v1/children`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ givenName: 'Pack', familyName: 'Child', dateOfBirth: '2014-01-01', sex: 'male' }),
    });
    const packChild = await packChildResponse.json();
    const docBytes = 100 * 1024;
    for (let i = 0; i < PACK_DOCUMENTS; i += 10)
      await Promise.all(
        Array.from({ length: Math.min(10, PACK_DOCUMENTS - i) }, (_, j) =>
          upload(url, auth, packChild.id, pdfOf(docBytes, `p${i + j}`), `pack-${i + j}`),
        ),
      );
    // Built by the collected server's job worker; asked for and watched through it too.
    const packBefore = await settledRss(collected.pid);
    const packStarted = Date.now();
    const built = await peakDuring(collected.pid, async () => {
      const asked = await fetch(`${collected.url}/v1/evidence-packs`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ subjectType: 'child', subjectId: packChild.id, from: '2020-01-01', to: '2035-12-31' }),
      });
      let pack = await asked.json();
      if (asked.status !== 202) throw new Error(`createEvidencePack: ${JSON.stringify(pack)}`);
      while (pack.status === 'queued' || pack.status === 'building') {
        await sleep(250);
        pack = await (await fetch(`${collected.url}/v1/evidence-packs/${pack.id}`, { headers: auth })).json();
      }
      return pack;
    });
    const pack = built.result;
    if (pack.status !== 'ready') throw new Error(`the pack ${pack.status}: ${pack.error}`);
    const zip = await (await fetch(`${url}/v1/documents/${pack.documentId}`, { headers: auth })).json();
    const packSize = zip.currentVersion.sizeBytes;
    console.log(
      `\nEvidence pack of ${pack.snapshot.documents} documents of ${docBytes / 1024} KB (server with the collector every 20 ms)`,
    );
    console.log(
      `  built in ${((Date.now() - packStarted) / 1000).toFixed(1)} s (queued, claimed by the worker's poll, streamed)`,
    );
    console.log(
      `  ZIP ${mb(packSize)}; server peak +${mb(built.peak - packBefore)} = ${((100 * (built.peak - packBefore)) / packSize).toFixed(1)}% of the pack`,
    );
    console.log('\nCommand: npm run build && node bench/run.js documents.js');
  } finally {
    await collected?.stop();
    await server?.stop();
    await store.drop();
    fs.rmSync(documentsDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
