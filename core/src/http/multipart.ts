import type { Request } from 'express';
import type { Readable } from 'node:stream';
import busboy from 'busboy';
import { Problem } from './problem';

/** What the file part's receiver is told of it; the name is the sender's, kept for display only. */
export interface FilePart {
  filename: string;
  /** The part's own header: never trusted for the type. */
  declaredType: string;
}

export interface MultipartLimits {
  /** The most bytes the file part may have; past it the part is cut and the upload refused (413). */
  maxFileBytes: number;
  /** The most non-file parts, and the most bytes of each. */
  maxFields?: number;
  maxFieldBytes?: number;
}

/** Thrown into the file's stream when it passes the limit, so whatever reads it stops and cleans up. */
export function tooLarge(maxFileBytes: number, fileField: string): Problem {
  return new Problem('payloadTooLarge', `The file is larger than this service's limit of ${maxFileBytes} bytes`, {
    errors: [{ pointer: `/body/${fileField}`, message: `is larger than ${maxFileBytes} bytes` }],
    limitBytes: maxFileBytes,
  });
}

/**
 * Reads a multipart/form-data request as it arrives: the text parts into an object, and the one file
 * part (named `fileField`) handed to `receive` as a stream the moment it starts, so the file is never
 * held whole. Resolves once the whole request has been read and `receive` has finished; rejects with a
 * Problem naming what is wrong (a second file, an unknown file part, a cut request, a file past the
 * limit). Whatever `receive` kept is its caller's to discard when this rejects: `received` says what.
 */
export function readMultipart<T>(
  req: Request,
  fileField: string,
  limits: MultipartLimits,
  receive: (file: Readable, part: FilePart) => Promise<T>,
): { done: Promise<{ fields: Record<string, string>; file: T | undefined }>; received: () => Promise<T | undefined> } {
  let receiving: Promise<T> | undefined;
  const done = new Promise<{ fields: Record<string, string>; file: T | undefined }>((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: req.headers,
        // Browsers and fetch send a file's name as raw UTF-8 bytes; busboy would read them as Latin-1.
        defParamCharset: 'utf8',
        limits: {
          files: 1,
          fileSize: limits.maxFileBytes,
          fields: limits.maxFields ?? 20,
          fieldSize: limits.maxFieldBytes ?? 10 * 1024,
          parts: (limits.maxFields ?? 20) + 1,
        },
      });
    } catch (error) {
      reject(new Problem('unsupportedMediaType', `Send the body as multipart/form-data: ${(error as Error).message}`));
      return;
    }
    const fields: Record<string, string> = {};
    let failed: Problem | null = null;
    let fileStream: Readable | undefined;
    const fail = (problem: Problem) => {
      if (failed) return;
      failed = problem;
      // The receiver stops and removes what it had written; the rest of the request is not read into it.
      if (fileStream && !fileStream.readableEnded) fileStream.destroy(problem);
      req.unpipe(parser);
      // Read the rest and drop it, so the client sees the answer rather than a reset mid-send.
      req.resume();
      reject(problem);
    };
    parser.on('field', (name, value, info) => {
      if (info.valueTruncated)
        return fail(
          Problem.validation([
            { pointer: `/body/${name}`, message: `is longer than ${limits.maxFieldBytes ?? 10 * 1024} bytes` },
          ]),
        );
      if (name in fields) return fail(Problem.validation([{ pointer: `/body/${name}`, message: 'is sent twice' }]));
      fields[name] = value;
    });
    parser.on('file', (name, stream, info) => {
      if (name !== fileField || receiving) {
        stream.resume();
        return fail(
          Problem.validation([
            {
              pointer: `/body/${name}`,
              message: receiving
                ? 'is a second file; send one'
                : `is not a file part (send the file as "${fileField}")`,
            },
          ]),
        );
      }
      fileStream = stream;
      stream.on('limit', () => stream.destroy(tooLarge(limits.maxFileBytes, fileField)));
      receiving = receive(stream, { filename: info.filename ?? '', declaredType: info.mimeType });
      // The receiver's own failure (a refused type, the store) is the request's.
      receiving.catch((error: unknown) => fail(error instanceof Problem ? error : (error as Problem)));
    });
    parser.on('partsLimit', () => fail(Problem.validation([{ pointer: '/body', message: 'has too many parts' }])));
    parser.on('filesLimit', () =>
      fail(Problem.validation([{ pointer: `/body/${fileField}`, message: 'is a second file; send one' }])),
    );
    parser.on('fieldsLimit', () => fail(Problem.validation([{ pointer: '/body', message: 'has too many fields' }])));
    parser.on('error', (error: Error) =>
      fail(
        new Problem('uploadIncomplete', `The multipart body could not be read to its end: ${error.message}`, {
          errors: [{ pointer: `/body/${fileField}`, message: 'was cut short' }],
        }),
      ),
    );
    parser.on('close', () => {
      if (failed) return;
      if (!receiving) return resolve({ fields, file: undefined });
      receiving.then(
        (file) => (failed ? undefined : resolve({ fields, file })),
        () => undefined,
      );
    });
    req.on('aborted', () =>
      fail(new Problem('uploadIncomplete', 'The client closed the connection before the upload ended')),
    );
    req.pipe(parser);
  });
  return { done, received: async () => (receiving ? receiving.catch(() => undefined) : undefined) };
}
