import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import v8 from 'node:v8';
import vm from 'node:vm';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { loadPlugins } from '../../plugins/host';
import { ObjectMissing, objectKey, tenantPrefix, type DocumentStore } from './storage';
import { startS3, type S3Server } from '../../../../test/support/s3';

const MB = 1024 * 1024;

// Memory is read after a full collection, so what is measured is what the store holds, not garbage
// that has not been collected yet. gc is not exposed to the test runner's processes; this exposes it.
v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;

/**
 * `size` bytes, made as they are read, from 17 chunks of 64 KiB taken in turn: the test allocates
 * nothing per chunk, so memory growth is the store's, and since no 5 MiB part is a whole number of
 * cycles, parts put out of order change the hash. `failAt` destroys the stream with an error once that
 * many bytes are out; `every` calls its function each time that many more bytes are asked for.
 * `digest()` is the SHA-256 of what was read.
 */
const CHUNK = 64 * 1024;
const CYCLE = Array.from({ length: 17 }, () => crypto.randomBytes(CHUNK));

function generated(size: number, options: { failAt?: number; every?: { bytes: number; call(): void } } = {}) {
  const hash = crypto.createHash('sha256');
  const failure = new Error('the upload was cut');
  let sent = 0;
  let index = 0;
  const stream = new Readable({
    read() {
      if (options.every && sent > 0 && sent % options.every.bytes < CHUNK) options.every.call();
      if (options.failAt !== undefined && sent >= options.failAt) {
        this.destroy(failure);
        return;
      }
      if (sent >= size) {
        this.push(null);
        return;
      }
      const whole = CYCLE[index++ % CYCLE.length]!;
      const chunk = size - sent < whole.length ? whole.subarray(0, size - sent) : whole;
      sent += chunk.length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return { stream, failure, digest: () => hash.copy().digest('hex') };
}

async function digestOf(stream: Readable): Promise<{ digest: string; size: number }> {
  const hash = crypto.createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { digest: hash.digest('hex'), size };
}

async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function keysUnder(store: DocumentStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of store.list(prefix)) keys.push(key);
  return keys.sort();
}

const newTenant = () => crypto.randomUUID();
const newKey = (tenantId: string) => objectKey(tenantId, crypto.randomUUID());

interface Opened {
  store: DocumentStore;
  close(): Promise<void>;
  s3?: S3Server;
}

/** Each store as start-up gets it: by its key from the plugin registries, opened on its target. */
const subjects: { name: string; open(): Promise<Opened> }[] = [
  {
    name: 'filesystem',
    async open() {
      const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-store-'));
      const store = (await loadPlugins()).documentStorage.get('filesystem')!.open(folder);
      return { store, close: async () => fs.rmSync(folder, { recursive: true, force: true }) };
    },
  },
  {
    name: 's3',
    async open() {
      const s3 = await startS3({ prefix: 'hearth/documents' });
      const store = (await loadPlugins()).documentStorage.get('s3')!.open(s3.target);
      return { store, close: () => s3.close(), s3 };
    },
  },
];

describe.each(subjects)('the $name document store', (subject) => {
  let opened: Opened;
  let store: DocumentStore;
  beforeAll(async () => {
    opened = await subject.open();
    store = opened.store;
  });
  afterAll(async () => {
    await opened?.close();
  });

  // First, so the process's resident size has not yet been raised by the other tests' objects.
  it('holds a 50 MB put to far less memory than the object', async () => {
    const key = newKey(newTenant());
    // Warm up first: the client's first request loads modules and opens connections, which is not the put's.
    await store.put(newKey(newTenant()), generated(1024).stream, { contentType: 'application/octet-stream' });
    const size = 50 * MB;
    const read = () => {
      collectGarbage();
      const { rss, arrayBuffers } = process.memoryUsage();
      return { rss, arrayBuffers };
    };
    const base = read();
    const peak = { ...base };
    const sample = () => {
      const now = read();
      peak.rss = Math.max(peak.rss, now.rss);
      peak.arrayBuffers = Math.max(peak.arrayBuffers, now.arrayBuffers);
    };
    // Sampled as the store asks for each further 5 MB, so a store that kept what it read shows it by the end.
    const body = generated(size, { every: { bytes: 5 * MB, call: sample } });
    await store.put(key, body.stream, { contentType: 'application/octet-stream' });
    sample();
    const growthMB = {
      rss: Math.round(((peak.rss - base.rss) / MB) * 10) / 10,
      arrayBuffers: Math.round(((peak.arrayBuffers - base.arrayBuffers) / MB) * 10) / 10,
    };
    if (process.env.HEARTH_TEST_PRINT_MEMORY)
      process.stdout.write(`${subject.name}: peak growth while putting 50 MB: ${JSON.stringify(growthMB)} MB\n`);
    expect(growthMB.rss).toBeLessThan(30);
    expect(growthMB.arrayBuffers).toBeLessThan(30);
    expect(await store.head(key)).toEqual({ size });
    expect(await digestOf(await store.get(key))).toEqual({ digest: body.digest(), size });
    await store.delete(key);
  });

  it('gives back exactly the bytes put, for an empty, a small and a multipart-sized object', async () => {
    const tenant = newTenant();
    for (const size of [0, 13, 5 * MB + 12345]) {
      const key = newKey(tenant);
      const body = generated(size);
      await store.put(key, body.stream, { contentType: 'application/octet-stream' });
      expect(await store.head(key)).toEqual({ size });
      expect(await digestOf(await store.get(key))).toEqual({ digest: body.digest(), size });
    }
    const small = newKey(tenant);
    await store.put(small, Readable.from([Buffer.from('Care plan, '), Buffer.from('version 2 ✓')]), {
      contentType: 'text/plain',
    });
    expect((await bytesOf(await store.get(small))).toString('utf8')).toBe('Care plan, version 2 ✓');
  });

  it.each([
    ['within the first part', 100 * 1024],
    ['after a whole part has gone', 7 * MB],
  ])('rejects a put whose stream fails %s with that error, and leaves no object', async (_when, failAt) => {
    const tenant = newTenant();
    const key = newKey(tenant);
    const body = generated(20 * MB, { failAt });
    await expect(store.put(key, body.stream, { contentType: 'application/pdf' })).rejects.toBe(body.failure);
    expect(await store.head(key)).toBeNull();
    await expect(store.get(key)).rejects.toBeInstanceOf(ObjectMissing);
    expect(await keysUnder(store, tenantPrefix(tenant))).toEqual([]);
  });

  it('rejects get of a missing object with ObjectMissing naming the key, and heads it as null', async () => {
    const key = newKey(newTenant());
    const missing = await store.get(key).then(
      () => null,
      (error: unknown) => error,
    );
    expect(missing).toBeInstanceOf(ObjectMissing);
    expect((missing as ObjectMissing).key).toBe(key);
    expect(await store.head(key)).toBeNull();
  });

  it('deletes, and deleting again (or what never was) succeeds', async () => {
    const key = newKey(newTenant());
    await store.put(key, Readable.from([Buffer.from('to go')]), { contentType: 'text/plain' });
    await store.delete(key);
    await store.delete(key);
    await store.delete(newKey(newTenant()));
    expect(await store.head(key)).toBeNull();
    await expect(store.get(key)).rejects.toBeInstanceOf(ObjectMissing);
  });

  it("lists by a tenant's prefix only that tenant's keys, past one page of a listing", async () => {
    const [a, b] = [newTenant(), newTenant()];
    // S3 answers a listing 1000 keys at a time: 1001 of A's make the store read a second page.
    const aKeys = Array.from({ length: 1001 }, () => newKey(a));
    const bKeys = [newKey(b), newKey(b)];
    const all = [...aKeys, ...bKeys];
    for (let i = 0; i < all.length; i += 25)
      await Promise.all(
        all
          .slice(i, i + 25)
          .map((key) => store.put(key, Readable.from([Buffer.from(key)]), { contentType: 'text/plain' })),
      );
    expect(await keysUnder(store, tenantPrefix(a))).toEqual([...aKeys].sort());
    expect(await keysUnder(store, tenantPrefix(b))).toEqual([...bKeys].sort());
    expect(await keysUnder(store, tenantPrefix(newTenant()))).toEqual([]);
  });

  it('refuses a key core did not make, before touching anything', async () => {
    const tenant = newTenant();
    const bad = [
      '../../etc/passwd',
      `tenants/${tenant}/objects/../../other`,
      `tenants/${tenant}/objects/not-a-uuid`,
      `tenants/${tenant}/${crypto.randomUUID()}`,
      `/${newKey(tenant)}`,
      `${newKey(tenant)}/more`,
    ];
    for (const key of bad) {
      const body = generated(10);
      await expect(store.put(key, body.stream, { contentType: 'text/plain' })).rejects.toThrow(/is not an object key/);
      await expect(store.get(key)).rejects.toThrow(/is not an object key/);
      await expect(store.head(key)).rejects.toThrow(/is not an object key/);
      await expect(store.delete(key)).rejects.toThrow(/is not an object key/);
      body.stream.destroy();
    }
    expect(await keysUnder(store, tenantPrefix(tenant))).toEqual([]);
  });

  if (subject.name === 'filesystem')
    it('offers no signed URL: its objects are reached only through Hearth', () => {
      expect(store.signedUrl).toBeUndefined();
    });

  if (subject.name === 's3') {
    it("keeps its objects under the target's prefix in the bucket", async () => {
      const key = newKey(newTenant());
      await store.put(key, Readable.from([Buffer.from('where?')]), { contentType: 'text/plain' });
      const client = new S3Client({ region: 'us-east-1', endpoint: opened.s3!.endpoint, forcePathStyle: true });
      const keysUnder = async (prefix: string) =>
        (
          (await client.send(new ListObjectsV2Command({ Bucket: opened.s3!.bucket, Prefix: prefix }))).Contents ?? []
        ).map((o) => o.Key);
      try {
        expect(await keysUnder(`hearth/documents/${key}`)).toEqual([`hearth/documents/${key}`]);
        expect(await keysUnder('tenants/')).toEqual([]);
      } finally {
        client.destroy();
      }
    });

    it('signs a URL that downloads the object as an attachment with its name and type, until it expires', async () => {
      const key = newKey(newTenant());
      const body = generated(200 * 1024);
      await store.put(key, body.stream, { contentType: 'application/octet-stream' });
      const filename = "Zoë's care plan (draft) – 2026.pdf";
      const url = await store.signedUrl!(key, { expiresInSeconds: 3, filename, contentType: 'application/pdf' });
      // Signed at X-Amz-Date (whole seconds, so up to one of the three has gone already), lapsing X-Amz-Expires later.
      const signed = new URL(url).searchParams;
      expect(signed.get('X-Amz-Expires')).toBe('3');
      const stamp = signed
        .get('X-Amz-Date')!
        .replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z');
      const lapses = Date.parse(stamp) + 3000;

      const fetched = await fetch(url);
      expect(fetched.status).toBe(200);
      expect(fetched.headers.get('content-type')).toBe('application/pdf');
      expect(fetched.headers.get('content-disposition')).toBe(
        `attachment; filename="Zo_'s care plan (draft) _ 2026.pdf"; filename*=UTF-8''Zo%C3%AB%27s%20care%20plan%20%28draft%29%20%E2%80%93%202026.pdf`,
      );
      const bytes = Buffer.from(await fetched.arrayBuffer());
      expect(crypto.createHash('sha256').update(bytes).digest('hex')).toBe(body.digest());

      await new Promise((resolve) => setTimeout(resolve, Math.max(0, lapses - Date.now()) + 1000));
      const expired = await fetch(url);
      expect(expired.status).toBe(403);
      expect(await expired.text()).toMatch(/expired/i);
    });

    it('refuses to sign for longer than S3 allows, or for no time', async () => {
      const key = newKey(newTenant());
      for (const expiresInSeconds of [0, 1.5, 7 * 24 * 3600 + 1])
        await expect(
          store.signedUrl!(key, { expiresInSeconds, filename: 'a.pdf', contentType: 'application/pdf' }),
        ).rejects.toThrow(/signed URL lives 1 to 604800 seconds/);
    });
  }
});
