import { loadContract } from './contract';
import { docsViews } from './docs';

/** The views /docs offers, checked without a browser (test/swagger.test.ts drives one). */
describe('the API docs views', () => {
  const contract = loadContract();
  const views = docsViews(contract.document);

  it('offer every operation of the contract, under each of its tags, and no other', () => {
    const offered = views.flatMap((v) =>
      Object.values(v.document.paths as Record<string, Record<string, { operationId?: string }>>).flatMap((item) =>
        Object.values(item)
          .map((op) => op.operationId)
          .filter(Boolean),
      ),
    );
    expect([...new Set(offered)].sort()).toEqual(contract.operations.map((o) => o.operationId).sort());
  });

  it('are each a whole document: every $ref it holds resolves inside it, and its server is the origin it is served from', () => {
    for (const view of views) {
      const text = JSON.stringify(view.document);
      const refs = [...new Set([...text.matchAll(/"\$ref":"#\/([^"]+)"/g)].map((m) => m[1]!))];
      const missing = refs.filter(
        (ref) =>
          ref
            .split('/')
            .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], view.document) ===
          undefined,
      );
      expect({ view: view.name, missing }).toEqual({ view: view.name, missing: [] });
      expect(view.document.servers).toEqual([{ url: '/', description: 'This Hearth server' }]);
    }
  });

  it('hold only the components their operations reach, so each stays small', () => {
    const auth = views.find((v) => v.name === 'Auth')!;
    const schemas = Object.keys((auth.document.components as { schemas: Record<string, unknown> }).schemas);
    expect(schemas).toContain('LoginRequest');
    expect(schemas).not.toContain('PaymentRun');
  });
});
