import type { Browser } from 'playwright-core';
import { chromiumMissing, launchChromium } from './support/browser';
import { startWorld, type World } from './support/harness';

/**
 * The API docs a newcomer opens first, driven in a real browser: Swagger UI at /docs, served on
 * whatever host and port Hearth listens on, must "Authorize" with a bearer token and "Try it out"
 * against the server it was loaded from (the Content-Security-Policy allows only that origin).
 * Skipped, saying why, only where no Chromium is installed.
 */
if (chromiumMissing) process.stdout.write(`test/swagger.test.ts skipped: ${chromiumMissing}\n`);

let world: World;
let browser: Browser;

beforeAll(async () => {
  if (chromiumMissing) return;
  world = await startWorld();
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await world?.close();
});

(chromiumMissing ? it.skip : it)(
  'authorizes with a bearer token and executes a request from /docs, on the port Hearth happens to listen on',
  async () => {
    const page = await browser.newPage();
    const refused: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy|Refused to connect/i.test(message.text())) refused.push(message.text());
    });
    // The test server listens on a random port of 127.0.0.1: not the contract's, nor the README's 3000.
    expect(new URL(world.url).port).not.toBe('3000');
    // The Auth view, and a deep link that opens the operation.
    await page.goto(`${world.url}/docs/?urls.primaryName=Auth#/Auth/getCurrentPrincipal`);
    await page
      .getByRole('button', { name: /Authorize/ })
      .first()
      .click();
    // The bearer scheme's form of the two the contract declares (bearer token, API key).
    const bearer = page.locator('.modal-ux form').filter({ has: page.locator('#auth-bearer-value') });
    await bearer.locator('#auth-bearer-value').fill(world.a.adminToken);
    await bearer.getByRole('button', { name: 'Apply credentials' }).click();
    await page.locator('.modal-ux').getByRole('button', { name: 'Close' }).first().click();

    const operation = page.locator('#operations-Auth-getCurrentPrincipal');
    await operation.locator('.opblock-body').waitFor({ timeout: 60_000 });
    await operation.getByRole('button', { name: 'Try it out' }).click();
    await operation.getByRole('button', { name: 'Execute' }).click();
    const status = operation.locator('.live-responses-table .response .response-col_status').first();
    await status.waitFor({ timeout: 20_000 });
    const body = await operation.locator('.live-responses-table .response-col_description pre').first().innerText();
    expect({ status: (await status.innerText()).trim(), refused }).toEqual({ status: '200', refused: [] });
    expect(body).toContain(world.a.adminEmail);
    // The request went to the origin the page came from.
    const curl = await operation.locator('.curl-command').innerText();
    expect(curl).toContain(`${world.url}/v1/auth/me`);
  },
  90_000,
);
