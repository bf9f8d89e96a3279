import { asPgError, PG } from '../db/pgErrors';
import type { ContractOperation } from './contract';
import { Problem, type ProblemBody } from './problem';

function snakeToCamel(name: string): string {
  return name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Names the request field behind a constraint from PostgreSQL's detail, e.g. "Key (tenant_id, allocated_worker_id)=(…)". */
function fieldFromDetail(detail: string | undefined): string | null {
  const match = /Key \(([^)]+)\)/.exec(detail ?? '');
  if (!match) return null;
  const columns = match[1]!
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== 'tenant_id' && !c.startsWith('lower('));
  const column = columns[columns.length - 1];
  return column ? `/body/${snakeToCamel(column)}` : null;
}

/**
 * Turns anything a request can throw into a problem document. Database refusals that bad input can
 * cause become 4xx naming the field; anything else is a 500 that says nothing of the internals.
 */
export function problemFromError(error: unknown, _op?: ContractOperation): ProblemBody {
  if (error instanceof Problem) return error.body;
  // The router decodes path parameters before any route runs; a malformed escape (`%ff`) is the caller's.
  if (error instanceof URIError)
    return Problem.validation([{ pointer: '/path', message: 'holds a malformed percent-encoding' }]).body;
  const bodyParser = error as { type?: string; status?: number };
  if (bodyParser && typeof bodyParser.type === 'string' && typeof bodyParser.status === 'number') {
    if (bodyParser.type === 'entity.parse.failed')
      return new Problem('malformedJson', 'The body is not valid JSON').body;
    if (bodyParser.type === 'entity.too.large') return new Problem('payloadTooLarge').body;
    if (bodyParser.type === 'encoding.unsupported' || bodyParser.type === 'charset.unsupported')
      return new Problem('unsupportedMediaType').body;
  }
  const pg = asPgError(error);
  if (pg) {
    const pointer = fieldFromDetail(pg.detail);
    switch (pg.code) {
      case PG.foreignKeyViolation:
        return Problem.unprocessable([
          { pointer: pointer ?? '/body', message: 'refers to a record that does not exist' },
        ]).body;
      case PG.uniqueViolation:
        return new Problem(
          'conflict',
          'A record with the same key already exists',
          pointer ? { errors: [{ pointer, message: 'is already taken' }] } : {},
        ).body;
      case PG.checkViolation:
      case PG.notNullViolation:
        return Problem.unprocessable([{ pointer: pointer ?? '/body', message: 'breaks a rule of the record' }]).body;
      case PG.invalidTextRepresentation:
      case '22007':
      case '22008':
      case '22003':
        return Problem.validation([{ pointer: '/body', message: 'holds a value the database cannot accept' }]).body;
      case PG.serializationFailure:
      case PG.deadlockDetected:
        return new Problem('unavailable', 'The request clashed with another; retry it').body;
      case PG.queryCanceled:
        return new Problem('timeout', 'A database statement ran past the statement timeout and was cancelled').body;
      default:
        break;
    }
  }
  return new Problem('internal', 'Something went wrong; the request id in this response helps the operators find it')
    .body;
}
