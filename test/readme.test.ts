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
    const named = [...read('README.md').matchAll(/`plugins\/([a-z0-9-]+)`/g), ...read('plugins/README.md').matchAll(/\| `([a-z0-9-]+)\/` \|/g)].map((m) => m[1]!);
    expect(named.length).toBeGreaterThan(3);
    expect(named.filter((folder) => !fs.existsSync(path.join(repoRoot, 'plugins', folder, 'plugin.json')))).toEqual([]);
  });
});
