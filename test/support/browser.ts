import fs from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/**
 * Headless Chromium for the tests of what a browser shows: Debian's `chromium` (`.ci/run` installs
 * it), driven by playwright-core, which downloads no browser of its own. Where none is installed,
 * `chromiumMissing` says why, and the tests that need it skip with that reason printed.
 */
export const CHROMIUM = process.env.HEARTH_CHROMIUM ?? '/usr/bin/chromium';

export const chromiumMissing: string | null = fs.existsSync(CHROMIUM)
  ? null
  : `no Chromium at ${CHROMIUM} (install Debian's chromium, or set HEARTH_CHROMIUM)`;

/** The flags this machine's sandbox needs: no network beyond loopback, so nothing in the background. */
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
}
