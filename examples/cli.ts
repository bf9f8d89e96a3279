/**
 * What the examples share: where Hearth is, and how a run that fails ends. A failure an example can
 * expect (nothing answering, an answer that is a problem) is said in a line or two and exits 1; only
 * a fault in the example itself shows its stack, as that is what someone fixing it needs.
 */
// In an app: import { HearthProblem } from '@hearth/sdk';
import { HearthProblem } from '../sdk/src';

/** Where Hearth answers: HEARTH_URL, else where `npm start` listens. */
export const hearthUrl = process.env.HEARTH_URL || 'http://127.0.0.1:3000';

/** Network failures that mean nothing is there to answer (as opposed to a broken answer). */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'ECONNRESET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);

/** The system error code behind Node's `fetch failed` (undici puts it on `cause`, or on each of an AggregateError's errors). */
function networkCode(error: unknown): string | null {
  if (!(error instanceof TypeError) || error.message !== 'fetch failed') return null;
  const cause: unknown = error.cause;
  const codes = [cause, ...(cause instanceof AggregateError ? cause.errors : [])].map((e) =>
    e instanceof Error && 'code' in e && typeof e.code === 'string' ? e.code : null,
  );
  return codes.find((code) => code !== null) ?? (cause instanceof Error ? cause.message : 'no answer');
}

/** What to print for a failed run. */
export function explain(error: unknown): string {
  if (error instanceof HearthProblem) {
    const fields = error.errors.map((field) => `\n  ${field.pointer}: ${field.message}`).join('');
    const detail = error.detail && error.detail !== error.title ? `: ${error.detail}` : '';
    return `Hearth answered ${error.status} ${error.title}${detail} (${error.type})${fields}`;
  }
  const code = networkCode(error);
  if (code !== null) {
    const why = UNREACHABLE.has(code) ? code : `${code}; is HEARTH_URL right?`;
    return `Nothing answered at ${hearthUrl} (${why}). Start Hearth with \`npm start\` in the repository, or set HEARTH_URL to where it runs.`;
  }
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

function isWebAddress(text: string): boolean {
  try {
    return ['http:', 'https:'].includes(new URL(text).protocol);
  } catch {
    return false;
  }
}

/** Runs an example's main, and on failure says why and exits 1 (2 for a HEARTH_URL that is no web address). */
export function runExample(main: () => Promise<void>): void {
  if (!isWebAddress(hearthUrl)) {
    console.error(
      `HEARTH_URL must be an http or https address, such as http://127.0.0.1:3000, not ${JSON.stringify(hearthUrl)}`,
    );
    process.exit(2);
  }
  main().catch((error: unknown) => {
    console.error(explain(error));
    process.exit(1);
  });
}
