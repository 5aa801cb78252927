/**
 * One error type for the whole application. Codes are a closed union so that callers can switch on them
 * and the HTTP edge can map them to statuses in one table.
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'DB_UNAVAILABLE'
  | 'MIGRATION_FAILED'
  | 'MIGRATION_DRIFT'
  | 'PIPELINE_INVALID'
  | 'BAD_REQUEST'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'AI_NOT_CONFIGURED'
  | 'AI_TIMEOUT'
  | 'AI_RATE_LIMITED'
  | 'AI_UPSTREAM'
  | 'AI_REJECTED'
  /** A turn decided on cached state that no longer holds (nothing was written): it runs again on a fresh read. */
  | 'STALE_CONTEXT'
  | 'INTERNAL'

const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  BAD_REQUEST: 400,
  PAYLOAD_TOO_LARGE: 413,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  DB_UNAVAILABLE: 503,
}

export class AppError extends Error {
  override readonly name = 'AppError'
  readonly code: ErrorCode
  readonly details: unknown

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: unknown } = {}) {
    super(message, { cause: options.cause })
    this.code = code
    this.details = options.details
  }

  get status(): number {
    return HTTP_STATUS[this.code] ?? 500
  }
}

export const isAppError = (err: unknown, code?: ErrorCode): err is AppError =>
  err instanceof AppError && (code === undefined || err.code === code)

/** Wraps anything thrown into an AppError, keeping the original as `cause`. */
export function coerceError(err: unknown, code: ErrorCode = 'INTERNAL'): AppError {
  if (err instanceof AppError) return err
  const message = err instanceof Error ? err.message : String(err)
  return new AppError(code, message, { cause: err })
}

/** A short, log- and user-safe reason for an error (no stack, no secrets). */
export function reasonOf(err: unknown): string {
  if (err instanceof AppError) return `${err.code}: ${err.message}`
  if (err instanceof Error) return err.message
  return String(err)
}
