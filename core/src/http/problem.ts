/** RFC 9457 problem details. `type` is stable: clients branch on it, never on `title` or `detail`. */
export interface FieldError {
  /** JSON pointer into the request: /body/dateOfBirth, /query/limit, /path/childId, /header/if-match. */
  pointer: string;
  message: string;
  code?: string;
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  requestId?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

const TYPE_BASE = 'https://hearth.dev/problems/';

export const ProblemTypes = {
  validation: { slug: 'validation', title: 'The request does not match the contract', status: 400 },
  malformedJson: { slug: 'malformed-json', title: 'The body is not valid JSON', status: 400 },
  unauthorized: { slug: 'unauthorized', title: 'Authentication is required', status: 401 },
  invalidCredentials: { slug: 'invalid-credentials', title: 'The credentials are not valid', status: 401 },
  mfaRequired: { slug: 'mfa-required', title: 'A TOTP code is required', status: 401 },
  invalidToken: { slug: 'invalid-token', title: 'The token is invalid or expired', status: 401 },
  forbidden: { slug: 'forbidden', title: 'The credential lacks the permission', status: 403 },
  mfaEnrolmentRequired: { slug: 'mfa-enrolment-required', title: 'Enrol in MFA before using the API', status: 403 },
  portalStaffOnly: { slug: 'portal-staff-only', title: 'This operation is for staff, not carers', status: 403 },
  portalCarersOnly: {
    slug: 'portal-carers-only',
    title: 'This operation is for carers in the carer portal',
    status: 403,
  },
  portalFeatureOff: {
    slug: 'portal-feature-off',
    title: 'The tenant has turned this carer portal feature off',
    status: 403,
  },
  portalAccessEnded: {
    slug: 'portal-access-ended',
    title: 'This carer no longer has portal access (left the household, or its approval ended)',
    status: 403,
  },
  notFound: { slug: 'not-found', title: 'Not found', status: 404 },
  methodNotAllowed: { slug: 'method-not-allowed', title: 'Method not allowed', status: 405 },
  notAcceptable: { slug: 'not-acceptable', title: 'Not acceptable', status: 406 },
  conflict: { slug: 'conflict', title: 'Conflict', status: 409 },
  preconditionFailed: { slug: 'precondition-failed', title: 'The resource has changed since it was read', status: 412 },
  payloadTooLarge: { slug: 'payload-too-large', title: 'The body is too large', status: 413 },
  unsupportedMediaType: { slug: 'unsupported-media-type', title: 'The body must be application/json', status: 415 },
  fileTypeNotAllowed: {
    slug: 'file-type-not-allowed',
    title: 'The file is of a type this service does not keep',
    status: 415,
  },
  uploadIncomplete: { slug: 'upload-incomplete', title: 'The upload ended before the file did', status: 400 },
  documentQuarantined: {
    slug: 'document-quarantined',
    title: 'The scan quarantined this version; it is never served',
    status: 409,
  },
  unprocessable: { slug: 'unprocessable', title: 'A value breaks a rule', status: 422 },
  idempotencyKeyReused: {
    slug: 'idempotency-key-reused',
    title: 'The Idempotency-Key was used for another request',
    status: 422,
  },
  accountLocked: { slug: 'account-locked', title: 'The account is locked', status: 423 },
  preconditionRequired: { slug: 'precondition-required', title: 'If-Match is required', status: 428 },
  tooManyRequests: { slug: 'too-many-requests', title: 'Too many requests', status: 429 },
  internal: { slug: 'internal', title: 'Internal server error', status: 500 },
  unavailable: { slug: 'unavailable', title: 'Service unavailable', status: 503 },
  overloaded: {
    slug: 'overloaded',
    title: 'Too many requests are waiting; retry after the time in Retry-After',
    status: 503,
  },
  timeout: { slug: 'timeout', title: 'The request took longer than the server allows', status: 503 },
} as const;

export type ProblemKind = keyof typeof ProblemTypes;

export function problemTypeUri(kind: ProblemKind): string {
  return TYPE_BASE + ProblemTypes[kind].slug;
}

/** Thrown by handlers and middleware; the error handler turns it into the response. */
export class Problem extends Error {
  readonly status: number;
  readonly body: ProblemBody;

  constructor(kind: ProblemKind, detail?: string, extensions: Record<string, unknown> = {}) {
    const def = ProblemTypes[kind];
    super(detail ?? def.title);
    this.status = def.status;
    this.body = {
      type: problemTypeUri(kind),
      title: def.title,
      status: def.status,
      ...(detail ? { detail } : {}),
      ...extensions,
    };
  }

  static validation(errors: FieldError[], detail?: string): Problem {
    return new Problem('validation', detail ?? errors.map((e) => `${e.pointer}: ${e.message}`).join('; '), { errors });
  }

  static unprocessable(errors: FieldError[], detail?: string): Problem {
    return new Problem('unprocessable', detail ?? errors.map((e) => `${e.pointer}: ${e.message}`).join('; '), {
      errors,
    });
  }

  static notFound(what: string): Problem {
    return new Problem('notFound', `${what} was not found`);
  }
}
