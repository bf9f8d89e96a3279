import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../core/src/config';

/**
 * What the README tells a newcomer about money and the ledger formats, held to the code: an amount
 * read as pounds where it is pence is a hundredfold error, and a folder named in the docs that is not
 * there sends an operator looking for the wrong plugin.
 */
const read = (file: string) => fs.readFileSync(path.join(repoRoot, file), 'utf8');

describe('the README', () => {
  it('says money is integer minor units (pence, cents) before the first amount it shows', () => {
    const readme = read('README.md');
    const stated = readme.search(/integer number of minor units[^.]*pence[^.]*cents/);
    const firstAmount = readme.search(/[£$]\d|\bamounts?\b/i);
    expect(stated).toBeGreaterThan(-1);
    expect(stated).toBeLessThan(firstAmount);
  });

  it('names only plugin folders that exist, in itself and in plugins/README.md', () => {
    const named = [
      ...read('README.md').matchAll(/`plugins\/([a-z0-9-]+)`/g),
      ...read('plugins/README.md').matchAll(/\| `([a-z0-9-]+)\/` \|/g),
    ].map((m) => m[1]!);
    expect(named.length).toBeGreaterThan(3);
    expect(named.filter((folder) => !fs.existsSync(path.join(repoRoot, 'plugins', folder, 'plugin.json')))).toEqual([]);
  });
});

describe('the project documents', () => {
  const tracked = () =>
    execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
      cwd: repoRoot,
      encoding: 'utf8',
    })
      .split('\0')
      .filter(
        (file: string) => file !== '' && file !== 'package-lock.json' && fs.existsSync(path.join(repoRoot, file)),
      );

  it('point at nothing outside the repository: a clone has nothing beside it', () => {
    // The folder beside the checkout that holds the team's own notes, spelled so this file does not name it.
    const beside = new RegExp(['\\.\\.', 'shared\\b'].join('/'));
    const outside = tracked().filter((file: string) => beside.test(read(file)));
    expect(outside).toEqual([]);
  });

  it('keep an ARCHITECTURE.md, linked from the README, whose every named path exists', () => {
    expect(read('README.md')).toContain('(ARCHITECTURE.md)');
    const architecture = read('ARCHITECTURE.md');
    const named = new Set<string>();
    // Paths in backticks, and the first column of the layout block.
    for (const m of architecture.matchAll(
      /`((?:core|plugins|packs|openapi|migrations|sdk|examples|bench|test)\/[A-Za-z0-9_./<>-]*)`/g,
    ))
      named.add(m[1]!);
    for (const m of architecture.matchAll(
      /^((?:core|plugins|packs|openapi|migrations|sdk|examples|bench|test)[A-Za-z0-9_/]*\/?)\s/gm,
    ))
      named.add(m[1]!);
    const concrete = [...named].filter((p) => !p.includes('<') && !p.includes('*'));
    expect(concrete.length).toBeGreaterThan(15);
    expect(concrete.filter((p) => !fs.existsSync(path.join(repoRoot, p)))).toEqual([]);
  });
});
