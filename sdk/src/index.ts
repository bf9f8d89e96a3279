/**
 * @hearth/sdk: a typed client for the Hearth API. Every request and response type comes from
 * `schema.ts`, which `npm run generate` writes from openapi/hearth.yaml; nothing here restates one.
 */
import type { components } from './schema.js';

export { createHearthClient, HearthProblem, isProblem, unwrap, ifMatch } from './client.js';
export type { HearthClient, HearthClientOptions, Problem, FieldError, TokenPair, LoginRequest } from './client.js';
export type { paths, components, operations } from './schema.js';

/** Shorthand for a named schema: `Schema<'Child'>` is `components['schemas']['Child']`. */
export type Schema<Name extends keyof components['schemas']> = components['schemas'][Name];
