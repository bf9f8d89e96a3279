import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../config';
import { EVENT_TYPES, VOCABULARY, publicEventFor } from './vocabulary';

/** Every TypeScript source under core/src, tests aside. */
function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sources(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [full] : [];
  });
}

describe('the public event vocabulary', () => {
  it('is listed in full in the contract', () => {
    const contract = fs.readFileSync(path.join(repoRoot, 'openapi', 'modules', 'events.yaml'), 'utf8');
    expect([...EVENT_TYPES].filter((type) => !contract.includes(`\`${type}\``))).toEqual([]);
  });

  it('maps only actions the code audits (a literal, or a template whose prefix and verbs it writes)', () => {
    const code = sources(path.join(repoRoot, 'core', 'src'))
      .map((file) => fs.readFileSync(file, 'utf8'))
      .join('\n');
    // Actions written from a template (`${spec.entityType}.${action}`, `payment_run.${input.step}`…): the
    // prefix appears as a string and the verb as a literal somewhere beside it.
    const unknown = Object.keys(VOCABULARY).filter((action) => {
      if (code.includes(`'${action}'`)) return false;
      const [prefix, verb] = [action.slice(0, action.lastIndexOf('.')), action.slice(action.lastIndexOf('.') + 1)];
      const templated = code.includes(`${prefix}.\${`) || code.includes(`'${prefix}'`);
      return !(templated && code.includes(`'${verb}'`));
    });
    expect(unknown).toEqual([]);
  });

  it('publishes no name or free text: only the fields an entry picks', () => {
    const event = publicEventFor({
      action: 'placement.started',
      entityType: 'child',
      entityId: '01900000-0000-7000-8000-000000000001',
      after: {
        id: '01900000-0000-7000-8000-000000000002',
        childId: '01900000-0000-7000-8000-000000000001',
        status: 'active',
        childName: 'Amy Smith',
        notes: 'moved after school',
      },
    });
    expect(event).toEqual({
      type: 'placement.started',
      subject: {
        type: 'placement',
        id: '01900000-0000-7000-8000-000000000002',
        path: '/v1/placements/01900000-0000-7000-8000-000000000002',
      },
      fence: { type: 'child', id: '01900000-0000-7000-8000-000000000001' },
      data: { status: 'active' },
    });
    expect(publicEventFor({ action: 'auth.login', entityType: 'user', entityId: 'x' })).toBeNull();
  });
});
