import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ConfigError, documentSettingsFromEnv, loadConfig } from '../core/src/config';
import { openDatabase } from '../core/src/db/database';
import { documentStore } from '../core/src/modules/documents/openStore';
import { objectKey } from '../core/src/modules/documents/storage';
import { startServer } from '../core/src/server';
import { parseS3Target } from '../plugins/document-storage-s3/target';
import { startWorld, type World } from './support/harness';
import { startS3, type S3Server } from './support/s3';

describe('a server with HEARTH_DOCUMENT_STORAGE=s3', () => {
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
  }, 120_000);
  afterAll(async () => {
    await world?.close();
    await s3?.close();
  });

  it('starts, answers, and keeps the documents it is given in the bucket the target names', async () => {
    expect((await world.http('GET', '/readyz')).status).toBe(200);
    const key = objectKey(world.a.id, crypto.randomUUID());
    const store = documentStore(world.server.services);
    await store.put(key, Readable.from([Buffer.from('placement agreement')]), { contentType: 'text/plain' });

    // Read behind the server's back, straight from the service: the object is in the bucket, under the prefix.
    const client = new S3Client({ region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true });
    try {
      const object = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: `hearth/${key}` }));
      expect(await object.Body!.transformToString()).toBe('placement agreement');
      expect(object.ContentType).toBe('text/plain');
    } finally {
      client.destroy();
    }
  });
});

describe('a document store that cannot be opened stops start-up, naming the setting', () => {
  // Each start reads the packs and the contract before it reaches the store: slow on a busy machine.
  // startServer opens its database before the store and does not close it when the store refuses:
  // handed one, it opens none, and the test closes this one, so nothing outlives the test.
  const starting = async (env: NodeJS.ProcessEnv) => {
    const db = openDatabase({ url: undefined, embeddedDataDir: null });
    // PGlite finishes loading after it is opened; closed before that, it would go on loading past the test.
    await db.raw('SELECT 1');
    try {
      const config = loadConfig(
        { NODE_ENV: 'test', ...env },
        { databaseUrl: undefined, embeddedDataDir: null, port: 0, seedDemoTenants: false, logLevel: 'silent' },
      );
      const server = await startServer(config, { db });
      await server.close();
      throw new Error('the server started');
    } finally {
      await db.destroy();
    }
  };

  it('an unknown store names HEARTH_DOCUMENT_STORAGE and the stores there are', async () => {
    const refused = starting({ HEARTH_DOCUMENT_STORAGE: 'azure-blob', HEARTH_DOCUMENT_STORAGE_TARGET: 'container' });
    await expect(refused).rejects.toThrow(ConfigError);
    await expect(refused).rejects.toThrow(
      'HEARTH_DOCUMENT_STORAGE is "azure-blob", which no plugin registered (registered: filesystem, s3)',
    );
  }, 120_000);

  it('a bad s3 URL names HEARTH_DOCUMENT_STORAGE_TARGET and what is wrong with it', async () => {
    const refused = starting({
      HEARTH_DOCUMENT_STORAGE: 's3',
      HEARTH_DOCUMENT_STORAGE_TARGET: 's3://hearth-docs?region=eu-west-2&forcePathstyle=true',
    });
    await expect(refused).rejects.toThrow(ConfigError);
    await expect(refused).rejects.toThrow(
      /^HEARTH_DOCUMENT_STORAGE_TARGET for "s3": "forcePathstyle" is not an option \(region, endpoint, forcePathStyle\); the s3 store's target is s3:\/\/<bucket>/,
    );
  }, 120_000);

  it('s3 without a target names HEARTH_DOCUMENT_STORAGE_TARGET', () => {
    expect(() => loadConfig({ NODE_ENV: 'test', HEARTH_DOCUMENT_STORAGE: 's3' })).toThrow(
      'HEARTH_DOCUMENT_STORAGE_TARGET is required for the "s3" document store',
    );
  });
});

describe("the s3 store's target URL", () => {
  it('takes a bucket, an optional prefix and the options, with us-east-1 and virtual-hosted addressing by default', () => {
    expect(parseS3Target('s3://hearth-docs')).toEqual({
      bucket: 'hearth-docs',
      prefix: '',
      region: 'us-east-1',
      forcePathStyle: false,
    });
    expect(
      parseS3Target(
        's3://hearth.docs/prod/documents/?region=eu-west-2&endpoint=https://minio.internal:9000&forcePathStyle=true',
      ),
    ).toEqual({
      bucket: 'hearth.docs',
      prefix: 'prod/documents/',
      region: 'eu-west-2',
      endpoint: 'https://minio.internal:9000',
      forcePathStyle: true,
    });
  });

  it.each([
    ['hearth-docs', /it is not a URL/],
    ['https://hearth-docs.s3.amazonaws.com', /its scheme is "https", not s3/],
    ['s3://', /it names no bucket/],
    ['s3://Hearth_Docs', /the bucket "Hearth_Docs" is not a valid bucket name/],
    ['s3://hd', /the bucket "hd" is not a valid bucket name/],
    ['s3://hearth..docs', /the bucket "hearth..docs" is not a valid bucket name/],
    ['s3://10.0.0.1', /the bucket "10.0.0.1" is not a valid bucket name/],
    ['s3://AKIA:secret@hearth-docs', /it carries credentials; the s3 store takes them from the AWS SDK/],
    ['s3://hearth-docs:9000', /it has a port after the bucket; an S3-compatible service goes in endpoint=/],
    ['s3://hearth-docs/a//b', /the prefix "a\/\/b" has a segment ""/],
    ['s3://hearth-docs/a b', /the prefix "a%20b" has a segment "a%20b"/],
    ['s3://hearth-docs?region=EU-West-2', /region "EU-West-2" is not a region name/],
    ['s3://hearth-docs?region=eu-west-2&region=us-east-1', /"region" is given twice/],
    ['s3://hearth-docs?endpoint=minio:9000', /endpoint "minio:9000" is not an http or https URL/],
    ['s3://hearth-docs?endpoint=http://minio:9000/bucket', /has more than a scheme, host and port/],
    ['s3://hearth-docs?forcePathStyle=yes', /forcePathStyle is "yes", not true or false/],
    ['s3://hearth-docs#x', /it has a #fragment/],
  ])('refuses %s', (target, message) => {
    expect(() => parseS3Target(target)).toThrow(message);
  });

  it('never repeats what came before an @', () => {
    const error = (() => {
      try {
        parseS3Target('s3://AKIAEXAMPLE:wJalrXUtnFEMI@hearth-docs');
      } catch (caught) {
        return caught as Error;
      }
      throw new Error('accepted');
    })();
    expect(error.message).not.toMatch(/AKIAEXAMPLE|wJalrXUtnFEMI/);
  });
});
