import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../core/src/config';
import { startWorld, TEST_PASSWORD, type World } from './support/harness';
import { run, succeed } from './support/processes';
import { runJobs } from './support/fixtures/payments';
import { seedPortal } from './support/fixtures/portal';

/**
 * The node examples in examples/, compiled as their README says (`tsc -p examples/tsconfig.json`) and
 * run with node: against a running Hearth they do their work; when nothing answers, or Hearth answers
 * with a problem, they say so in a line or two (where they tried and what to do, or the problem's
 * title, detail and fields) and exit 1, with no stack trace.
 */

const EXAMPLES = ['create-api-key', 'frontend-children', 'integrator-pull', 'carer-portal'];

let world: World;
let out: string;

beforeAll(async () => {
  // Under the repository's dist/, so the compiled SDK finds openapi-fetch in node_modules as it does there.
  fs.mkdirSync(path.join(repoRoot, 'dist'), { recursive: true });
  out = fs.mkdtempSync(path.join(repoRoot, 'dist', 'examples-test-'));
  const compiled = succeed(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-p', path.join(repoRoot, 'examples', 'tsconfig.json'), '--outDir', out],
    { cwd: repoRoot },
  );
  [world] = await Promise.all([startWorld(), compiled]);
}, 180_000);

afterAll(async () => {
  await world?.close();
  if (out) fs.rmSync(out, { recursive: true, force: true });
});

function runExample(name: string, env: Record<string, string>, args: string[] = []) {
  return run(process.execPath, [path.join(out, 'examples', `${name}.js`), ...args], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH, ...env },
  });
}

/** A loopback port that nothing listens on (one the system just handed out and took back). */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

const STACK_FRAME = /^\s+at /m;

describe('the node examples', () => {
  it.each(EXAMPLES)(
    '%s says in one line where it tried and how to start Hearth when nothing answers, and exits 1',
    async (name) => {
      const url = `http://127.0.0.1:${await closedPort()}`;
      const ran = await runExample(name, { HEARTH_URL: url, HEARTH_API_KEY: 'hk_unused' });
      expect({ code: ran.code, stdout: ran.stdout, stderr: ran.stderr }).toEqual({
        code: 1,
        stdout: '',
        stderr: `Nothing answered at ${url} (ECONNREFUSED). Start Hearth with \`npm start\` in the repository, or set HEARTH_URL to where it runs.\n`,
      });
    },
  );

  it('prints a problem answer’s title, detail and type, not a stack', async () => {
    const env = {
      HEARTH_URL: world.url,
      HEARTH_TENANT: world.a.slug,
      HEARTH_EMAIL: world.a.adminEmail,
      HEARTH_PASSWORD: 'not the password',
    };
    const refused = await world.login(world.a.slug, world.a.adminEmail, 'nor this one');
    const problem = refused.body as { status: number; type: string; title: string; detail: string };
    expect(problem.type).toBe('https://hearth.dev/problems/invalid-credentials');
    const ran = await runExample('create-api-key', env);
    expect({ code: ran.code, stdout: ran.stdout, stderr: ran.stderr }).toEqual({
      code: 1,
      stdout: '',
      stderr: `Hearth answered ${problem.status} ${problem.title}: ${problem.detail} (${problem.type})\n`,
    });
  });

  it('prints each field a problem names, not a stack', async () => {
    const key = await world.call('createApiKey', {
      token: world.a.adminToken,
      body: { name: 'Examples test', permissions: ['children:read', 'audit:read'] },
    });
    expect(key.status).toBe(201);
    const ran = await runExample(
      'integrator-pull',
      { HEARTH_URL: world.url, HEARTH_API_KEY: key.body.secret as string, HEARTH_SINCE: 'last Tuesday' },
      [path.join(out, 'audit.csv')],
    );
    expect(ran.code).toBe(1);
    expect(ran.stderr).not.toMatch(STACK_FRAME);
    const [said, ...fields] = ran.stderr.trimEnd().split('\n');
    expect(said).toMatch(/^Hearth answered 400 .+ \(https:\/\/hearth\.dev\/problems\/validation\)$/);
    expect(fields).toEqual([expect.stringMatching(/^ {2}\/query\/from: .+/)]);
  });

  it('refuses a HEARTH_URL that is no web address, saying what it should be', async () => {
    const ran = await runExample('create-api-key', { HEARTH_URL: '127.0.0.1:3000' });
    expect({ code: ran.code, stdout: ran.stdout, stderr: ran.stderr }).toEqual({
      code: 2,
      stdout: '',
      stderr: 'HEARTH_URL must be an http or https address, such as http://127.0.0.1:3000, not "127.0.0.1:3000"\n',
    });
  });

  it('the carer portal: staff invite, the carer sets a password from the emailed link, lists placements, claims mileage and reads the remittance', async () => {
    // A household with a child placed and a finalised run that paid it (the portal fixtures' carer).
    await seedPortal({ world, tenant: world.a });
    const running = runExample('carer-portal', {
      HEARTH_URL: world.url,
      HEARTH_TENANT: world.a.slug,
      HEARTH_EMAIL: world.a.adminEmail,
      HEARTH_PASSWORD: TEST_PASSWORD,
      HEARTH_MAILBOX: world.config.notifications.emailTarget,
    });
    // The test's server runs no job worker: deliver the invitation's email while the example waits for it.
    let done = false;
    const delivering = (async () => {
      while (!done) {
        await runJobs(world);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    })();
    const ran = await running.finally(() => (done = true));
    await delivering;
    expect({ code: ran.code, stderr: ran.stderr }).toEqual({ code: 0, stderr: '' });
    expect(ran.stdout).toContain('to the carer portal (invited)');
    expect(ran.stdout).toContain('Logged in as a foster carer of household');
    expect(ran.stdout).toMatch(/current placement of /);
    expect(ran.stdout).toMatch(/Claim [0-9a-f]{8}: submitted, \d+ in minor units/);
    expect(ran.stdout).toMatch(/Remittance advice for \d{4}-\d{2}-\d{2}\.\.\d{4}-\d{2}-\d{2}: \d+ characters of HTML/);
    expect(ran.stdout.trimEnd().split('\n').pop()).toBe('Logged out');
  }, 120_000);

  it('do their work against a running Hearth: a front end’s calls, then an API key and an integrator’s pull with it', async () => {
    const login = {
      HEARTH_URL: world.url,
      HEARTH_TENANT: world.a.slug,
      HEARTH_EMAIL: world.a.adminEmail,
      HEARTH_PASSWORD: TEST_PASSWORD,
    };
    const frontEnd = await runExample('frontend-children', login);
    expect({ code: frontEnd.code, stderr: frontEnd.stderr }).toEqual({ code: 0, stderr: '' });
    expect(frontEnd.stdout).toContain('Updating again with the old ETag: 412');
    expect(frontEnd.stdout.trimEnd().split('\n').pop()).toBe('Logged out');

    const created = await runExample('create-api-key', login);
    expect(created.code).toBe(0);
    const secret = created.stdout.trim();
    const csv = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-examples-')), 'audit.csv');
    const pulled = await runExample('integrator-pull', { HEARTH_URL: world.url, HEARTH_API_KEY: secret }, [csv]);
    expect({ code: pulled.code, stderr: pulled.stderr }).toEqual({ code: 0, stderr: '' });
    expect(pulled.stdout).toContain(`Pulling for tenant ${world.a.slug}`);
    expect(fs.readFileSync(csv, 'utf8')).toContain('child.created');
    fs.rmSync(path.dirname(csv), { recursive: true, force: true });
  }, 60_000);
});
