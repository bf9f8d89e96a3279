import FileType from 'file-type';
import { Problem } from '../../http/problem';

/** How much of the start of a file its type is judged from: enough for an Office file's first entries. */
export const SNIFF_BYTES = 64 * 1024;

/**
 * The types a fostering service keeps: PDF, photographs and scans, Office and OpenDocument files,
 * rich and plain text. Everything else (executables, archives, HTML, SVG, legacy binary Office files,
 * whose container is also an installer's) is refused.
 */
const ALLOWED = new Map<string, string>([
  ['application/pdf', 'pdf'],
  ['image/png', 'png'],
  ['image/jpeg', 'jpg'],
  ['image/gif', 'gif'],
  ['image/webp', 'webp'],
  ['image/tiff', 'tif'],
  ['image/heic', 'heic'],
  ['image/heif', 'heif'],
  ['application/vnd.openxmlformats-officedocument.wordprocessingml.document', 'docx'],
  ['application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', 'xlsx'],
  ['application/vnd.openxmlformats-officedocument.presentationml.presentation', 'pptx'],
  ['application/vnd.oasis.opendocument.text', 'odt'],
  ['application/vnd.oasis.opendocument.spreadsheet', 'ods'],
  ['application/vnd.oasis.opendocument.presentation', 'odp'],
  ['application/rtf', 'rtf'],
  ['text/plain', 'txt'],
]);

export const ALLOWED_TYPES: readonly string[] = [...ALLOWED.keys()];

/** The file extension a type is served with, where a download's name lacks one. */
export function extensionOf(mediaType: string): string {
  return ALLOWED.get(mediaType) ?? 'bin';
}

/**
 * UTF-8 text: decodes (a character cut at the end of a sample aside), holds no NUL, and hardly any
 * other control characters. What file-type cannot name and is not text is refused.
 */
function isText(sample: Buffer, whole: boolean): boolean {
  if (sample.length === 0 || sample.includes(0)) return false;
  let end = sample.length;
  if (!whole) {
    // Step back over a multi-byte character the sample cut in two.
    let back = 0;
    while (back < 3 && end - back - 1 >= 0 && (sample[end - back - 1]! & 0xc0) === 0x80) back++;
    if (end - back - 1 >= 0 && sample[end - back - 1]! >= 0xc0) end = end - back - 1;
  }
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(sample.subarray(0, end));
  } catch {
    return false;
  }
  let controls = 0;
  for (let i = 0; i < end; i++) {
    const b = sample[i]!;
    if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c) controls++;
  }
  return controls <= end / 100;
}

/**
 * The type of a file from its first bytes (never its name or the part's header), or a Problem naming
 * the field: 415 for a type off the list, 422 for an empty file.
 */
export async function detectType(sample: Buffer, whole: boolean, fileField = 'file'): Promise<string> {
  if (sample.length === 0)
    throw Problem.unprocessable([{ pointer: `/body/${fileField}`, message: 'is empty' }], 'The file is empty');
  const found = await FileType.fromBuffer(sample);
  const mediaType = found ? found.mime : isText(sample, whole) ? 'text/plain' : null;
  if (mediaType && ALLOWED.has(mediaType)) return mediaType;
  const what = mediaType ? `is ${mediaType}` : 'is of a type that could not be recognised';
  throw new Problem('fileTypeNotAllowed', `The file ${what}; this service keeps ${ALLOWED_TYPES.join(', ')}`, {
    errors: [{ pointer: `/body/${fileField}`, message: `${what}, which is not allowed` }],
    ...(mediaType ? { detectedType: mediaType } : {}),
    allowedTypes: ALLOWED_TYPES,
  });
}
