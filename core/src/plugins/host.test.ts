import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, repoRoot } from '../config';
import { startServer } from '../server';
import { startWorld, type World } from '../../../test/support/harness';
import { DEFAULT_PLUGIN_ROOTS, loadPlugins, PluginLoadError } from './host';
import type { PluginPoints } from './extensionPoints';

/** Writes a plugin folder: its plugin.json (a manifest, or raw text) and a CommonJS main, as an operator's own plugin would ship. */
function writePlugin(
  root: string,
  folder: string,
  options: { manifest?: Record<string, unknown> | string; main?: string },
): string {
  const dir = path.join(root, folder);
  fs.mkdirSync(dir, { recursive: true });
  const manifest = options.manifest ?? {
    id: folder,
    version: '1.0.0',
    name: folder,
    description: `The ${folder} test plugin`,
    main: 'index',
  };
  fs.writeFileSync(path.join(dir, 'plugin.json'), typeof manifest === 'string' ? manifest : JSON.stringify(manifest));
  if (options.main !== undefined) fs.writeFileSync(path.join(dir, 'index.js'), options.main);
  return dir;
}

/** A plugin adding one format: the signed amount of each entry, in minor units, so a journal's rows sum to zero. */
const SIGNED_FORMAT_PLUGIN = `
module.exports = () => ({
  id: 'ledger-signed',
  register(points) {
    points.ledgerExports.register({
      key: 'signed',
      contentType: 'text/csv',
      columns: ['journal', 'line', 'account', 'signed_minor', 'currency'],
      rowsFor: (entry, journal, tenant) => [[journal.number, entry.lineNumber, entry.accountCode, entry.amountMinor, tenant.currency]],
    });
  },
});
`;

const registering = (id: string, body: string) =>
  `module.exports = () => ({ id: '${id}', register(points) { ${body} } });\n`;

let scratch: string;
beforeEach(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-plugins-'));
});
afterEach(() => fs.rmSync(scratch, { recursive: true, force: true }));

describe('the first-party plugins', () => {
  it('load from plugins/ and register the generic, xero and quickbooks formats, the files checkpoint sink, the s3 document store and the smtp and sms-http channels', async () => {
    const plugins = await loadPlugins();
    expect(plugins.loaded.map((p) => [p.manifest.id, path.relative(repoRoot, p.folder)])).toEqual([
      ['audit-checkpoint-files', 'plugins/audit-checkpoint-files'],
      ['document-storage-s3', 'plugins/document-storage-s3'],
      ['ledger-generic', 'plugins/ledger-generic'],
      ['ledger-quickbooks', 'plugins/ledger-quickbooks'],
      ['ledger-xero', 'plugins/ledger-xero'],
      ['notify-sms-http', 'plugins/notify-sms-http'],
      ['notify-smtp', 'plugins/notify-smtp'],
    ]);
    expect(plugins.ledgerExports.keys()).toEqual(['generic', 'quickbooks', 'xero']);
    expect(plugins.ledgerExports.get('xero')!.columns[0]).toBe('*Narration');
    expect(plugins.auditCheckpointSinks.keys()).toEqual(['files']);
    expect(plugins.documentStorage.keys()).toEqual(['filesystem', 's3']);
    // Core's own mailbox is beside them: the embedded default for email.
    expect(plugins.notificationChannels.keys()).toEqual(['mailbox', 'sms-http', 'smtp']);
  });

  it('name each ledger plugin after the format key it adds (ledger-<key>), so the folder an operator reads is the format an integrator asks for', async () => {
    const plugins = await loadPlugins();
    for (const key of plugins.ledgerExports.keys())
      expect({ key, by: plugins.ledgerExports.registeredBy(key) }).toEqual({
        key,
        by: expect.stringContaining(`(plugins/ledger-${key}/`),
      });
  });

  it('give each start-up its own registries, so servers side by side keep their own plugin set', async () => {
    const first = await loadPlugins();
    const second = await loadPlugins();
    expect(second.ledgerExports).not.toBe(first.ledgerExports);
    writePlugin(scratch, 'ledger-signed', { main: SIGNED_FORMAT_PLUGIN });
    expect((await loadPlugins([...DEFAULT_PLUGIN_ROOTS, scratch])).ledgerExports.keys()).toContain('signed');
    expect(first.ledgerExports.keys()).not.toContain('signed');
  });

  it('reach into core only through its published plugin API (core/src/plugins/api.ts)', () => {
    const root = DEFAULT_PLUGIN_ROOTS[0]!;
    const api = path.join(repoRoot, 'core', 'src', 'plugins', 'api');
    const sources = fs.readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      const file = path.join(root, source);
      const specifiers = [...fs.readFileSync(file, 'utf8').matchAll(/from '([^']+)'/g)].map((m) => m[1]!);
      for (const specifier of specifiers) {
        if (!specifier.startsWith('.')) continue;
        const target = path.resolve(path.dirname(file), specifier);
        const ownFolder = path.dirname(file);
        expect({ file: source, specifier, allowed: target === api || target.startsWith(ownFolder + path.sep) }).toEqual(
          { file: source, specifier, allowed: true },
        );
      }
    }
  });

  it('refuse a registration from a view kept past start-up', async () => {
    const kept: { points?: PluginPoints } = {};
    (globalThis as { keptPoints?: typeof kept }).keptPoints = kept;
    writePlugin(scratch, 'ledger-keeper', {
      main: registering('ledger-keeper', 'globalThis.keptPoints.points = points;'),
    });
    await loadPlugins([scratch]);
    expect(() =>
      kept.points!.ledgerExports.register({ key: 'late', contentType: 'text/csv', columns: ['a'], rowsFor: () => [] }),
    ).toThrow(/after start-up/);
  });
});

describe('a plugin from another folder (HEARTH_PLUGIN_PATHS)', () => {
  it('is read from the environment, separated by ":"', () => {
    const config = loadConfig({ NODE_ENV: 'test', HEARTH_PLUGIN_PATHS: `${scratch}:relative/plugins` });
    expect(config.extraPluginRoots).toEqual([scratch, path.resolve('relative/plugins')]);
    expect(loadConfig({ NODE_ENV: 'test' }).extraPluginRoots).toEqual([]);
  });

  describe('adds a fourth format that an export uses end to end', () => {
    let world: World;
    let root: string;
    beforeAll(async () => {
      root = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-plugins-world-'));
      writePlugin(root, 'ledger-signed', { main: SIGNED_FORMAT_PLUGIN });
      world = await startWorld({ extraPluginRoots: [root] });
    });
    afterAll(async () => {
      await world?.close();
      fs.rmSync(root, { recursive: true, force: true });
    });

    it('POST /v1/ledger/exports with format "signed" streams its CSV and records the export', async () => {
      expect(world.server.plugins.ledgerExports.keys()).toEqual(['generic', 'quickbooks', 'signed', 'xero']);
      const posted = await world.call('postLedgerJournal', {
        token: world.a.adminToken,
        body: {
          postingDate: '2026-10-31',
          description: 'Plugin export',
          lines: [
            { component: 'allowance', amount: 12345 },
            { component: 'fee', amount: 500 },
          ],
        },
      });
      expect(posted.status).toBe(201);
      const range = { journalFrom: posted.body.number, journalTo: posted.body.number };
      const r = await world.call('createLedgerExport', {
        token: world.a.adminToken,
        body: { format: 'signed', ...range },
      });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/^text\/csv/);
      const [header, ...rows] = r.text
        .split('\r\n')
        .filter(Boolean)
        .map((line) => line.split(','));
      expect(header).toEqual(['journal', 'line', 'account', 'signed_minor', 'currency']);
      expect(rows).toHaveLength(4);
      expect(rows.map((row) => row[1])).toEqual(['1', '2', '3', '4']);
      expect(rows.every((row) => row[0] === String(posted.body.number) && row[4] === 'GBP')).toBe(true);
      expect(rows.reduce((sum, row) => sum + Number(row[3]), 0)).toBe(0);
      expect(rows.filter((row) => Number(row[3]) > 0).reduce((sum, row) => sum + Number(row[3]), 0)).toBe(12345 + 500);

      const listed = await world.call('listLedgerExports', {
        token: world.a.adminToken,
        query: { format: 'signed', limit: 5 },
      });
      expect(listed.status).toBe(200);
      expect(listed.body.data[0]).toMatchObject({ format: 'signed', rowCount: 4, total: 12345 + 500 });
    });

    it('leaves unknown formats refused with 422, naming the plugin format among those on offer', async () => {
      const r = await world.call('createLedgerExport', { token: world.a.adminToken, body: { format: 'sage' } });
      expect(r.status).toBe(422);
      expect(r.body.errors).toEqual([
        { pointer: '/body/format', message: 'is not an export format (generic, quickbooks, signed, xero)' },
      ]);
    });
  });
});

describe('a broken plugin stops start-up, naming its folder and file', () => {
  const failure = async (roots: string[]) => {
    try {
      await loadPlugins(roots);
    } catch (error) {
      if (error instanceof PluginLoadError) return error;
      throw error;
    }
    throw new Error('the broken plugin loaded');
  };

  it('a key registered twice names both plugins', async () => {
    const folder = writePlugin(scratch, 'ledger-other-xero', {
      main: registering(
        'ledger-other-xero',
        "points.ledgerExports.register({ key: 'xero', contentType: 'text/csv', columns: ['a'], rowsFor: () => [] });",
      ),
    });
    const error = await failure([...DEFAULT_PLUGIN_ROOTS, scratch]);
    expect(error.folder).toBe(folder);
    expect(error.message).toBe(
      `plugin ${folder}: index.js: register failed: Ledger export format "xero" is registered twice: by plugin ledger-xero (plugins/ledger-xero/index.ts) and by plugin ledger-other-xero (${folder}/index.js)`,
    );
  });

  it('a manifest that fails its schema names plugin.json and the field', async () => {
    const folder = writePlugin(scratch, 'no-main', {
      manifest: { id: 'no-main', version: '1.0.0', name: 'No main', description: 'Has none' },
    });
    expect((await failure([scratch])).message).toBe(`plugin ${folder}: plugin.json at /main: is required`);
    fs.writeFileSync(
      path.join(folder, 'plugin.json'),
      JSON.stringify({ id: 'no-main', version: '1', name: 'x', description: 'x', main: 'index' }),
    );
    expect((await failure([scratch])).message).toMatch(/no-main: plugin\.json at \/version: must match pattern/);
    fs.writeFileSync(
      path.join(folder, 'plugin.json'),
      JSON.stringify({ id: 'no-main', version: '1.0.0', name: 'x', description: 'x', main: '../../etc/index' }),
    );
    expect((await failure([scratch])).message).toMatch(/no-main: plugin\.json at \/main: must match pattern/);
    fs.writeFileSync(
      path.join(folder, 'plugin.json'),
      JSON.stringify({
        id: 'no-main',
        version: '1.0.0',
        name: 'x',
        description: 'x',
        main: 'index',
        points: ['ledgerExports'],
      }),
    );
    expect((await failure([scratch])).message).toBe(`plugin ${folder}: plugin.json at /points: is not a known field`);
    fs.writeFileSync(path.join(folder, 'plugin.json'), '{ "id": ');
    expect((await failure([scratch])).message).toMatch(/no-main: plugin\.json: not valid JSON/);
  });

  it('a folder without plugin.json, a main that is not there, a factory of another id and two folders with one id are each refused', async () => {
    const bare = path.join(scratch, 'bare');
    fs.mkdirSync(bare);
    expect((await failure([scratch])).message).toBe(
      `plugin ${bare}: plugin.json: is missing: every folder in a plugin root is a plugin with a plugin.json`,
    );
    fs.rmSync(bare, { recursive: true });

    const missing = writePlugin(scratch, 'missing-main', {});
    expect((await failure([scratch])).message).toMatch(
      new RegExp(`^plugin ${missing}: plugin\\.json at /main: no module "index"`),
    );
    fs.rmSync(missing, { recursive: true });

    const renamed = writePlugin(scratch, 'renamed', { main: registering('another-name', '') });
    expect((await failure([scratch])).message).toBe(
      `plugin ${renamed}: index.js: the factory made plugin "another-name", but plugin.json says "renamed"`,
    );
    fs.rmSync(renamed, { recursive: true });

    const notAFactory = writePlugin(scratch, 'not-a-factory', {
      main: "module.exports = { id: 'not-a-factory', register() {} };",
    });
    expect((await failure([scratch])).message).toMatch(
      new RegExp(`^plugin ${notAFactory}: index.js: must export its factory as the default export`),
    );
    fs.rmSync(notAFactory, { recursive: true });

    writePlugin(scratch, 'twin', {
      manifest: { id: 'ledger-xero', version: '1.0.0', name: 'Twin', description: 'Same id', main: 'index' },
      main: registering('ledger-xero', ''),
    });
    expect((await failure([...DEFAULT_PLUGIN_ROOTS, scratch])).message).toBe(
      `plugin ${path.join(scratch, 'twin')}: plugin.json at /id: plugin "ledger-xero" is already loaded from plugins/ledger-xero`,
    );
  });

  it('a register step that throws, or that is async, names the plugin file', async () => {
    const folder = writePlugin(scratch, 'throws', {
      main: registering('throws', "throw new Error('no channel configured');"),
    });
    expect((await failure([scratch])).message).toBe(
      `plugin ${folder}: index.js: register failed: no channel configured`,
    );
    fs.rmSync(folder, { recursive: true });
    const later = writePlugin(scratch, 'later', {
      main: "module.exports = () => ({ id: 'later', async register() {} });",
    });
    expect((await failure([scratch])).message).toBe(
      `plugin ${later}: index.js: register must be synchronous (it only declares what the plugin adds)`,
    );
  });

  it('a format a plain JavaScript plugin got wrong is refused at start-up, not mid-export', async () => {
    const folder = writePlugin(scratch, 'no-columns', {
      main: registering(
        'no-columns',
        "points.ledgerExports.register({ key: 'bare', contentType: 'text/csv', rowsFor: () => [] });",
      ),
    });
    expect((await failure([scratch])).message).toBe(
      `plugin ${folder}: index.js: register failed: Ledger export format "bare" (by plugin no-columns (${folder}/index.js)) must have columns, a list of names`,
    );
  });

  it('a plugin root that is not there is named', async () => {
    const gone = path.join(scratch, 'gone');
    expect((await failure([gone])).message).toMatch(new RegExp(`^plugin ${gone}: is not a folder`));
  });

  it('the server refuses to start, before it listens', async () => {
    writePlugin(scratch, 'throws', { main: registering('throws', "throw new Error('no channel configured');") });
    const config = loadConfig(
      { NODE_ENV: 'test' },
      {
        databaseUrl: undefined,
        embeddedDataDir: null,
        port: 0,
        seedDemoTenants: false,
        logLevel: 'silent',
        extraPluginRoots: [scratch],
      },
    );
    await expect(startServer(config)).rejects.toThrow(/throws: index\.js: register failed: no channel configured/);
  });
});
