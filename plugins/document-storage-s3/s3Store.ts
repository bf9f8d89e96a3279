import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  paginateListObjectsV2,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { ObjectMissing, OBJECT_KEY, type DocumentStore } from '../../core/src/plugins/api';
import type { S3Target } from './target';

/**
 * Parts of a streamed put: S3's smallest, and two in flight at once, so a put holds about three parts
 * (the two being sent and the one filling) whatever the size of the document.
 */
const PART_BYTES = 5 * 1024 * 1024;
const PARTS_IN_FLIGHT = 2;
/** S3 refuses a presigned URL that lives longer than a week. */
const MAX_SIGNED_SECONDS = 7 * 24 * 3600;

/**
 * `attachment` with the name in RFC 5987's UTF-8 form, and an ASCII stand-in before it for clients
 * that predate RFC 6266. encodeURIComponent leaves ' ( ) * as they are; RFC 5987 does not allow them.
 */
export function attachmentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const encoded = encodeURIComponent(filename).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

function errorName(error: unknown): string | undefined {
  return error instanceof S3ServiceException ? error.name : (error as { name?: string } | null)?.name;
}

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}

function clientFor(target: S3Target): S3Client {
  return new S3Client({
    region: target.region,
    forcePathStyle: target.forcePathStyle,
    ...(target.endpoint
      ? {
          endpoint: target.endpoint,
          // Many S3-compatible services do not know the CRC checksums the SDK now sends by default
          // (some store the trailer inside the object): against them, only where S3 requires one.
          requestChecksumCalculation: 'WHEN_REQUIRED' as const,
          responseChecksumValidation: 'WHEN_REQUIRED' as const,
        }
      : {}),
  });
}

/** The store on a parsed target: objects in its bucket, under its prefix. */
export function openS3Store(target: S3Target): DocumentStore {
  const client = clientFor(target);
  const { bucket, prefix } = target;
  const keyOf = (key: string) => {
    if (!OBJECT_KEY.test(key)) throw new Error(`s3 store: "${key}" is not an object key`);
    return `${prefix}${key}`;
  };

  return {
    async put(key, body: Readable, info) {
      const upload = new Upload({
        client,
        params: { Bucket: bucket, Key: keyOf(key), Body: body, ContentType: info.contentType },
        partSize: PART_BYTES,
        queueSize: PARTS_IN_FLIGHT,
        // When the stream fails, Upload aborts the multipart upload, so no part is left to be billed
        // and no object appears; a body under one part is sent with a single PUT only once it ended.
        leavePartsOnError: false,
      });
      let streamError: unknown;
      const onError = (error: unknown) => (streamError ??= error);
      body.once('error', onError);
      try {
        await upload.done();
      } catch (error) {
        // A failure on S3's side leaves the body part read: whoever feeds it must see it end.
        if (!body.destroyed) body.destroy();
        // The caller tells a cut upload from a size past its limit by the error it put in the stream;
        // Upload would answer with the abort's own failure instead when the abort fails too.
        throw streamError ?? error;
      } finally {
        body.off('error', onError);
      }
    },

    async get(key) {
      try {
        const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: keyOf(key) }));
        return object.Body as Readable;
      } catch (error) {
        // Only a missing key: a missing bucket is the operator's fault and must not read as "no object".
        if (errorName(error) === 'NoSuchKey') throw new ObjectMissing(key);
        throw error;
      }
    },

    async head(key) {
      try {
        const object = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: keyOf(key) }));
        return { size: object.ContentLength ?? 0 };
      } catch (error) {
        // A HEAD answer has no body to say which thing is missing; 404 is the key's.
        if (statusOf(error) === 404 || errorName(error) === 'NotFound') return null;
        throw error;
      }
    },

    async delete(key) {
      // S3 answers 204 for a key that is not there, so a second delete succeeds like the first.
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: keyOf(key) }));
    },

    async *list(keyPrefix) {
      const pages = paginateListObjectsV2({ client }, { Bucket: bucket, Prefix: `${prefix}${keyPrefix}` });
      for await (const page of pages) {
        for (const object of page.Contents ?? []) {
          const key = object.Key?.slice(prefix.length);
          // Anything else in the bucket (another application's files under the same prefix) is not ours to sweep.
          if (key && OBJECT_KEY.test(key)) yield key;
        }
      }
    },

    async signedUrl(key, { expiresInSeconds, filename, contentType }) {
      if (!Number.isInteger(expiresInSeconds) || expiresInSeconds < 1 || expiresInSeconds > MAX_SIGNED_SECONDS)
        throw new Error(`s3 store: a signed URL lives 1 to ${MAX_SIGNED_SECONDS} seconds, not ${expiresInSeconds}`);
      const command = new GetObjectCommand({
        Bucket: bucket,
        Key: keyOf(key),
        ResponseContentDisposition: attachmentDisposition(filename),
        ResponseContentType: contentType,
      });
      return getSignedUrl(client, command, { expiresIn: expiresInSeconds });
    },
  };
}
