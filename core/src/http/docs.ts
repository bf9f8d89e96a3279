import express from 'express';
import swaggerUi from 'swagger-ui-express';

/**
 * The API docs at /docs: Swagger UI over one document per tag (Auth, Children, Payments…), each
 * holding that tag's operations and only the components they reach, picked from the top bar.
 *
 * Why not the whole contract on one page: Swagger UI 5 resolves an OpenAPI 3.1 document far more
 * slowly than a 3.0 one, and on Hearth's (some 220 operations, 3,000 `$ref`s) it stopped rendering
 * after the first hundred-odd operations, so most of the API could not be tried at all. Each view
 * is a complete, valid document; the whole contract stays at /openapi.json for tools.
 *
 * Every view's server is relative (`/`), so "Try it out" calls the origin the page came from,
 * whatever host and port Hearth listens on, and the Content-Security-Policy (`connect-src 'self'`)
 * lets it.
 */

type Json = Record<string, unknown>;

export interface DocsView {
  name: string;
  slug: string;
  document: Json;
}

const slugOf = (tag: string) =>
  tag
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');

/** Every `#/components/<kind>/<name>` a node refers to, directly or through what it refers to. */
function reachableComponents(start: unknown, components: Record<string, Json>): Map<string, Set<string>> {
  const found = new Map<string, Set<string>>();
  const pending: unknown[] = [start];
  while (pending.length) {
    const node = pending.pop();
    if (Array.isArray(node)) pending.push(...node);
    else if (node && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if (key === '$ref' && typeof value === 'string' && value.startsWith('#/components/')) {
          const [, , kind, name] = value.split('/') as [string, string, string, string];
          const seen = found.get(kind) ?? found.set(kind, new Set()).get(kind)!;
          if (!seen.has(name)) {
            seen.add(name);
            pending.push(components[kind]?.[name]);
          }
        } else pending.push(value);
      }
    }
  }
  return found;
}

/** One document per tag of the contract, in the contract's tag order. */
export function docsViews(contract: Json): DocsView[] {
  const paths = (contract.paths ?? {}) as Record<string, Json>;
  const components = (contract.components ?? {}) as Record<string, Json>;
  const tags = (contract.tags ?? []) as Array<{ name: string }>;
  return tags.map((tag) => {
    const tagged: Record<string, Json> = {};
    for (const [path, item] of Object.entries(paths)) {
      const kept = Object.entries(item).filter(
        ([key, op]) => key === 'parameters' || ((op as { tags?: string[] } | null)?.tags ?? []).includes(tag.name),
      );
      if (kept.some(([key]) => key !== 'parameters')) tagged[path] = Object.fromEntries(kept);
    }
    const securitySchemes = components.securitySchemes;
    const reached = reachableComponents(tagged, components);
    const picked: Record<string, Json> = securitySchemes ? { securitySchemes } : {};
    for (const [kind, names] of reached)
      picked[kind] = Object.fromEntries([...names].sort().map((name) => [name, components[kind]![name]]));
    const document: Json = {
      ...contract,
      servers: [{ url: '/', description: 'This Hearth server' }],
      tags: [tag],
      paths: tagged,
      components: picked,
    };
    return { name: tag.name, slug: slugOf(tag.name), document };
  });
}

/** The /docs router: the views as JSON, and Swagger UI with a view picker (`?urls.primaryName=Auth` opens one). */
export function docsRouter(contract: Json): express.Router {
  const views = docsViews(contract);
  const router = express.Router();
  for (const view of views) {
    router.get(`/openapi/${view.slug}.json`, (_req, res) => {
      res.json(view.document);
    });
  }
  const urls = views.map((v) => ({ name: v.name, url: `/docs/openapi/${v.slug}.json` }));
  const options = {
    customSiteTitle: 'Hearth API',
    // The first view opens by default; without swaggerUrl the page would parse its own origin as a document.
    swaggerUrl: urls[0]?.url,
    swaggerOptions: { urls, deepLinking: true, persistAuthorization: false },
  };
  router.use('/', swaggerUi.serveFiles(undefined, options), swaggerUi.setup(undefined, options));
  return router;
}
