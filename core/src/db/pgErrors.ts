/** The parts of a PostgreSQL error that decide how it is reported. */
export interface PgError {
  code: string;
  constraint?: string;
  column?: string;
  detail?: string;
  message: string;
}

export function asPgError(error: unknown): PgError | null {
  // objection wraps the driver's error (db-errors' DBError) and keeps it as nativeError.
  const native = error && typeof error === 'object' ? (error as { nativeError?: unknown }).nativeError : undefined;
  if (native) return asPgError(native);
  if (error && typeof error === 'object' && typeof (error as { code?: unknown }).code === 'string') {
    const code = (error as { code: string }).code;
    if (/^[0-9A-Z]{5}$/.test(code)) return error as PgError;
  }
  return null;
}

export const PG = {
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  checkViolation: '23514',
  notNullViolation: '23502',
  invalidTextRepresentation: '22P02',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
  insufficientPrivilege: '42501',
  raiseException: 'P0001',
  /** statement_timeout, or pg_cancel_backend. */
  queryCanceled: '57014',
} as const;
