import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { loadConfig, repoRoot } from '../core/src/config';
import { DEMO_PASSWORD, DEMO_TENANTS } from '../core/src/demo/seed';
import type { StaffPart } from '../core/src/demo/demoService';
import { startServer, type RunningServer } from '../core/src/server';
import { createHearthClient, unwrap, type HearthClient, type Schema } from '../sdk/src';
import { chromiumMissing, launchChromium } from './support/browser';
import { freshDatabase, type TestDatabase } from './support/databases';
import { succeed } from './support/processes';
import { serveStatic, type StaticSite } from './support/staticSite';

/**
 * The browser example (examples/browser) as an agency would ship it: @hearth/sdk built as its
 * package, the app type-checked against the package's declarations and built by Vite with the API's
 * address, served from an origin of its own, and driven in headless Chromium against a Hearth with
 * the demo tenants that lists that origin in its CORS origins. What the pages show is checked against
 * what the API answers to the same people. Skipped, saying why, only where no Chromium is installed.
 *
 * The build runs once per run of this file: the SDK (a few seconds when its sources changed, else a
 * hash check), the app's type check (about 5 s) and Vite (about 2 s), beside the demo seed; the
 * whole file took 34 s on PostgreSQL (on PGlite, and on a loaded machine, longer).
 */
if (chromiumMissing) process.stdout.write(`test/exampleApp.test.ts skipped: ${chromiumMissing}\n`);

const appDir = path.join(repoRoot, 'examples', 'browser');
const node = process.execPath;

let database: TestDatabase;
let server: RunningServer;
let site: StaticSite;
let browser: Browser;
let outDir: string;

/** Builds the app as its `build` script does (SDK, type check, Vite), with the API's address fixed in it. */
async function buildApp(hearthUrl: () => Promise<string>): Promise<string> {
  const timings: string[] = [];
  const timed = async <T>(label: string, work: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    const result = await work();
    timings.push(`${label} ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return result;
  };
  await timed('SDK package', () =>
    succeed(node, [path.join(repoRoot, 'sdk', 'scripts', 'build.cjs')], { cwd: appDir }),
  );
  await timed('type check', () =>
    succeed(node, [require.resolve('typescript/bin/tsc'), '-p', appDir], { cwd: appDir }),
  );
  const url = await hearthUrl();
  // Vite's programmatic API, in a process of its own (Vite is ES modules only, and its work stays off
  // the event loop that serves the API here); NODE_ENV as an agency's build has it, not the tests'.
  const { NODE_ENV: _testEnv, ...env } = process.env;
  const script = `import { build } from 'vite'; await build({ root: process.env.APP_ROOT, logLevel: 'warn', build: { outDir: process.env.APP_OUT, emptyOutDir: true } });`;
  await timed('Vite', () =>
    succeed(node, ['--input-type=module', '-e', script], {
      cwd: appDir,
      env: { ...env, VITE_HEARTH_URL: url, APP_ROOT: appDir, APP_OUT: outDir },
    }),
  );
  return timings.join(', ');
}

beforeAll(async () => {
  if (chromiumMissing) return;
  const started = Date.now();
  outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-example-browser-'));
  site = await serveStatic(outDir);
  const serving = (async () => {
    database = await freshDatabase();
    const config = loadConfig(
      { NODE_ENV: 'test' },
      {
        databaseUrl: database.url,
        embeddedDataDir: null,
        port: 0,
        host: '127.0.0.1',
        seedDemoTenants: true,
        logLevel: 'silent',
        corsOrigins: [site.origin],
      },
    );
    server = await startServer(config, database.url ? {} : { db: database.db });
    return server.url;
  })();
  const built = await buildApp(() => serving);
  browser = await launchChromium();
  process.stdout.write(
    `test/exampleApp.test.ts: app built (${built}) and Hearth seeded in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await database?.drop();
  await site?.close();
  if (outDir) fs.rmSync(outDir, { recursive: true, force: true });
});

const demo = (slug: string) => {
  const tenant = DEMO_TENANTS.find((t) => t.slug === slug);
  if (!tenant) throw new Error(`no demo tenant ${slug} in core/src/demo/seed.ts`);
  return tenant;
};
const emailOf = (slug: string, part: StaffPart) => demo(slug).staff.find((s) => s.part === part)!.email;

/** The same person through the SDK, behind the page's back: what the page must agree with. */
async function asPerson(slug: string, part: StaffPart): Promise<{ client: HearthClient; me: Schema<'Principal'> }> {
  const client = createHearthClient({ baseUrl: server.url });
  await client.login({ tenant: slug, email: emailOf(slug, part), password: DEMO_PASSWORD });
  return { client, me: await unwrap(client.GET('/v1/auth/me')) };
}

/** A fresh browser profile (its own sessionStorage) on the app, recording what goes wrong in the page. */
async function openApp(origin = site.origin): Promise<{ context: BrowserContext; page: Page; faults: string[] }> {
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  const faults: string[] = [];
  page.on('pageerror', (error) => faults.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) faults.push(`console: ${message.text()}`);
  });
  await page.goto(`${origin}/`);
  return { context, page, faults };
}

async function logIn(page: Page, slug: string, email: string, password = DEMO_PASSWORD): Promise<void> {
  await page.getByRole('heading', { name: 'Log in to Hearth' }).waitFor();
  await page.getByLabel('Tenant').fill(slug);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

/** The text of each cell of each body row of a table. */
async function rowsOf(table: Locator): Promise<string[][]> {
  return table
    .locator('tbody tr')
    .evaluateAll((rows) =>
      rows.map((row) => [...row.querySelectorAll('th, td')].map((cell) => (cell.textContent ?? '').trim())),
    );
}

/** Reads an amount as the page writes it ("£1,234.56", "-$0.50") back into minor units, or null if it is not so written. */
function minorUnitsOf(text: string, symbol: string): number | null {
  const match = new RegExp(`^(-?)\\${symbol}(\\d{1,3}(?:,\\d{3})*)\\.(\\d{2})$`).exec(text.replace(/\u2212/g, '-'));
  if (!match) return null;
  return (match[1] ? -1 : 1) * Number(`${match[2]!.replace(/,/g, '')}${match[3]}`);
}

async function allOf<T>(
  page: (query: { cursor?: string }) => Promise<{ data: T[]; nextCursor?: string | null }>,
): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  do {
    const next = await page(cursor ? { cursor } : {});
    items.push(...next.data);
    cursor = next.nextCursor ?? undefined;
  } while (cursor);
  return items;
}

/** A child's tasks as the API lists them by subject: its own, and each of its placements'. */
async function tasksOfChild(client: HearthClient, childId: string): Promise<Schema<'Task'>[]> {
  const placements = await allOf((q) =>
    unwrap(client.GET('/v1/placements', { params: { query: { childId, limit: 200, ...q } } })),
  );
  const lists = await Promise.all([
    allOf((q) =>
      unwrap(
        client.GET('/v1/tasks', { params: { query: { subjectType: 'child', subjectId: childId, limit: 200, ...q } } }),
      ),
    ),
    ...placements.map((p) =>
      allOf((q) =>
        unwrap(
          client.GET('/v1/tasks', {
            params: { query: { subjectType: 'placement', subjectId: p.id, limit: 200, ...q } },
          }),
        ),
      ),
    ),
  ]);
  return lists.flat();
}

const inBrowser = chromiumMissing ? it.skip : it;

describe('the browser example on @hearth/sdk', () => {
  inBrowser('is built with the API’s address and served from an origin of its own, which Hearth lists for CORS', () => {
    expect(new URL(site.origin).origin).not.toBe(new URL(server.url).origin);
    const html = fs.readFileSync(path.join(outDir, 'index.html'), 'utf8');
    // VITE_HEARTH_URL went into the page's Content-Security-Policy: the page may call that origin and its own only.
    expect(html).toContain(`connect-src 'self' ${server.url};`);
    // The SDK came in as its package's ES module build, bundled: nothing is left for the browser to resolve.
    const scripts = fs.readdirSync(path.join(outDir, 'assets')).filter((f) => f.endsWith('.js'));
    expect(scripts).toHaveLength(1);
    const bundle = fs.readFileSync(path.join(outDir, 'assets', scripts[0]!), 'utf8');
    expect(bundle).toContain('/v1/auth/token/refresh');
    expect(bundle).not.toMatch(/\bimport\s*["'{*]|\brequire\(/);
  });

  inBrowser(
    'shows the API’s problem when a log-in fails, then shows the caseworker their caseload with each child’s overdue tasks',
    async () => {
      const { context, page, faults } = await openApp();
      const wrong = await fetch(`${server.url}/v1/auth/login`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          tenant: 'demo-uk',
          email: emailOf('demo-uk', 'caseworker'),
          password: 'not the password',
        }),
      });
      const problem = (await wrong.json()) as { type: string; title: string; detail: string };
      expect(problem.type).toBe('https://hearth.dev/problems/invalid-credentials');

      await logIn(page, 'demo-uk', emailOf('demo-uk', 'caseworker'), 'not the password either');
      const alert = page.getByRole('alert');
      await alert.waitFor();
      expect(await alert.innerText()).toEqual(expect.stringContaining(problem.title));
      expect(await alert.innerText()).toEqual(expect.stringContaining(problem.detail));
      expect(await alert.innerText()).toEqual(expect.stringContaining(problem.type));

      await page.getByLabel('Password').fill(DEMO_PASSWORD);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByRole('heading', { name: 'My caseload' }).waitFor();

      // What the API says: the children allocated to her, and each one's overdue tasks, child by child.
      const { client, me } = await asPerson('demo-uk', 'caseworker');
      const children = await allOf((q) =>
        unwrap(client.GET('/v1/children', { params: { query: { allocatedWorkerId: me.id, limit: 200, ...q } } })),
      );
      const expected = await Promise.all(
        children.map(async (child) => ({
          id: child.id,
          name: `${child.givenName} ${child.familyName}`,
          overdue: (await tasksOfChild(client, child.id)).filter((t) => t.overdue).length,
        })),
      );
      expect(children.length).toBeGreaterThan(10);
      expect(expected.filter((c) => c.overdue > 0).length).toBeGreaterThan(0);

      const table = page.getByRole('table', { name: /Children allocated to/ });
      const shown = await table.locator('tbody tr').evaluateAll((rows) =>
        rows.map((row) => ({
          id: (row.querySelector('a')?.getAttribute('href') ?? '').replace('#/children/', ''),
          name: row.querySelector('a')?.textContent ?? '',
          overdue: Number(row.lastElementChild?.textContent),
        })),
      );
      const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);
      expect(shown.sort(byId)).toEqual(expected.sort(byId));

      // A reload keeps the session (its tokens are in the tab's sessionStorage) and the screen.
      await page.reload();
      await page.getByRole('heading', { name: 'My caseload' }).waitFor();
      expect(faults).toEqual([]);
      await context.close();
    },
    120_000,
  );

  inBrowser(
    'opens a child and shows its tasks, the overdue ones marked, leaves payments to finance, and logs out',
    async () => {
      const { client, me } = await asPerson('demo-uk', 'caseworker');
      const children = await allOf((q) =>
        unwrap(client.GET('/v1/children', { params: { query: { allocatedWorkerId: me.id, limit: 200, ...q } } })),
      );
      let chosen: { child: Schema<'Child'>; tasks: Schema<'Task'>[] } | null = null;
      for (const child of children) {
        const tasks = await tasksOfChild(client, child.id);
        if (tasks.some((t) => t.overdue) && tasks.some((t) => t.status === 'open' && !t.overdue)) {
          chosen = { child, tasks };
          break;
        }
      }
      expect(chosen).not.toBeNull();
      const { child, tasks } = chosen!;

      const { context, page, faults } = await openApp();
      await logIn(page, 'demo-uk', emailOf('demo-uk', 'caseworker'));
      await page.getByRole('heading', { name: 'My caseload' }).waitFor();
      await page.locator(`a[href="#/children/${child.id}"]`).click();
      await page.getByRole('heading', { level: 1, name: `${child.givenName} ${child.familyName}` }).waitFor();

      const open = tasks.filter((t) => t.status === 'open');
      const order = (a: string[], b: string[]) => a[1]!.localeCompare(b[1]!) || a[0]!.localeCompare(b[0]!);
      const expected = open
        .map((t) => [t.stepName ?? t.cycleKey, t.dueDate, t.overdue ? 'Overdue' : 'Due'])
        .sort(order);
      const table = page.getByRole('table', { name: /^Open tasks/ });
      const shown = await table.locator('tbody tr').evaluateAll((rows) =>
        rows.map((row) => {
          const cells = [...row.querySelectorAll('th, td')];
          return [
            cells[0]?.textContent ?? '',
            cells[1]?.querySelector('time')?.getAttribute('datetime') ?? '',
            cells[3]?.textContent ?? '',
          ];
        }),
      );
      expect(shown.sort(order)).toEqual(expected);
      expect(await page.getByText(/^\d+ open, \d+ overdue\.$/).innerText()).toBe(
        `${open.length} open, ${open.filter((t) => t.overdue).length} overdue.`,
      );
      expect(await page.locator('details summary').innerText()).toBe(
        `Done or cancelled (${tasks.length - open.length})`,
      );

      // Her role reads carer households but not payments: the household says so, and asks nothing it would be refused.
      const refused: string[] = [];
      page.on('response', (response) => {
        if (response.status() === 403) refused.push(response.url());
      });
      await page
        .getByRole('main')
        .getByRole('link', { name: /household/ })
        .first()
        .click();
      await page.getByRole('heading', { name: 'Payments' }).waitFor();
      expect(await page.getByText('Payments are shown to finance staff').count()).toBe(1);
      expect(refused).toEqual([]);

      // Logging out ends the session on the server, not only in the tab.
      const savedTokens = () =>
        page.evaluate('sessionStorage.getItem("hearth-example.tokens")') as Promise<string | null>;
      const saved = await savedTokens();
      const { accessToken } = JSON.parse(saved ?? '{}') as { accessToken?: string };
      expect(
        (await fetch(`${server.url}/v1/auth/me`, { headers: { Authorization: `Bearer ${accessToken}` } })).status,
      ).toBe(200);
      await page.getByRole('button', { name: 'Log out' }).click();
      await page.getByRole('heading', { name: 'Log in to Hearth' }).waitFor();
      expect(await savedTokens()).toBeNull();
      expect(
        (await fetch(`${server.url}/v1/auth/me`, { headers: { Authorization: `Bearer ${accessToken}` } })).status,
      ).toBe(401);
      expect(faults).toEqual([]);
      await context.close();
    },
    120_000,
  );

  it.each([
    ['demo-uk', '£'],
    ['demo-usa', '$'],
  ])(
    chromiumMissing
      ? 'skipped: %s'
      : 'shows finance a %s household’s payments: every line and the total as the API has them, in the tenant’s currency (%s), and its statement',
    async (slug, symbol) => {
      if (chromiumMissing) return;
      const { client } = await asPerson(slug, 'financeCalculates');
      const [latest] = (await unwrap(client.GET('/v1/payment-runs', { params: { query: { limit: 1 } } }))).data;
      expect(latest).toBeDefined();
      const run = latest!;
      // Of the latest run's households, one with several lines and an amount in pence or cents (so a
      // slip of the decimal point shows), with its total as the run's own summary has it.
      const households = await allOf((q) =>
        unwrap(
          client.GET('/v1/payment-runs/{runId}/households', {
            params: { path: { runId: run.id }, query: { limit: 200, ...q } },
          }),
        ),
      );
      const linesOf = (householdId: string) =>
        allOf((q) =>
          unwrap(
            client.GET('/v1/payment-runs/{runId}/lines', {
              params: { path: { runId: run.id }, query: { householdId, limit: 200, ...q } },
            }),
          ),
        );
      const candidates = await Promise.all(
        households
          .filter((h) => h.lineCount > 1)
          .map(async (h) => ({ household: h, lines: await linesOf(h.householdId) })),
      );
      const chosen = candidates
        .filter((c) => c.lines.some((line) => line.amount % 100 !== 0))
        .sort((a, b) => b.lines.length - a.lines.length)[0];
      expect(chosen).toBeDefined();
      const { household, lines } = chosen!;

      const { context, page, faults } = await openApp();
      await logIn(page, slug, emailOf(slug, 'financeCalculates'));
      // Finance may not read children: the app starts them at the carer households.
      await page.getByRole('heading', { name: 'Carer households' }).waitFor();
      await page.locator(`a[href="#/households/${household.householdId}"]`).click();
      await page.getByRole('heading', { level: 1, name: household.householdName }).waitFor();

      const section = page.getByRole('region', { name: new RegExp(`^${run.reference}:`) });
      const table = section.getByRole('table', { name: `Lines of ${run.reference} for this household` });
      const rows = await rowsOf(table);
      expect(rows.map((cells) => [cells[0], minorUnitsOf(cells[4]!, symbol)])).toEqual(
        lines.map((line) => [line.description, line.amount]),
      );
      // The exact amounts ride along in <data value>, and the written ones read back to them.
      expect(
        await table
          .locator('tbody data')
          .evaluateAll((cells) => cells.map((cell) => Number(cell.getAttribute('value')))),
      ).toEqual(lines.map((line) => line.amount));
      const total = (await table.locator('tfoot td').last().innerText()).trim();
      expect(minorUnitsOf(total, symbol)).toBe(household.total);
      expect(household.total).toBe(lines.reduce((sum, line) => sum + line.amount, 0));

      await section.getByRole('button', { name: 'View statement' }).click();
      const statement = page.frameLocator(`iframe[title="Statement for ${run.reference}"]`);
      await statement
        .getByRole('heading', { name: /statement/i })
        .first()
        .waitFor();
      expect(await statement.locator('body').innerText()).toContain(household.householdName);

      const [download] = await Promise.all([
        page.waitForEvent('download'),
        section.getByRole('button', { name: 'Download statement (PDF)' }).click(),
      ]);
      const pdf = fs.readFileSync((await download.path())!);
      expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
      expect(faults).toEqual([]);
      await context.close();
    },
    120_000,
  );

  inBrowser(
    'says to check HEARTH_CORS_ORIGINS when the page’s origin is not listed, as the browser does not tell it why',
    async () => {
      // The same built app from another origin, which Hearth does not list.
      const elsewhere = await serveStatic(outDir);
      try {
        const { context, page } = await openApp(elsewhere.origin);
        await logIn(page, 'demo-uk', emailOf('demo-uk', 'caseworker'));
        const alert = page.getByRole('alert');
        await alert.waitFor();
        const said = await alert.innerText();
        expect(said).toContain(`Hearth did not answer at ${server.url}`);
        expect(said).toContain(`HEARTH_CORS_ORIGINS`);
        expect(said).toContain(elsewhere.origin);
        await context.close();
      } finally {
        await elsewhere.close();
      }
    },
    60_000,
  );
});
